//! Soma's neural-network layers, losses, optimizers and checkpoints.
