//! Soma's data: IDX/MNIST reading, datasets and loaders.
