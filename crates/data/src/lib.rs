//! Soma's data: IDX/MNIST reading, datasets, seeded splits, augmentation and data loaders.

mod augment;
mod dataset;
mod idx;
mod loader;
mod mnist;
mod normalize;
mod rng;
mod split;

pub use augment::{RandomShift, shift_image};
pub use dataset::{Dataset, InMemoryDataset, Sample};
pub use idx::{IdxArray, encode_idx, parse_idx, read_idx};
pub use loader::{Batch, Batches, DataLoader, HostBatch, HostBatches, InputLayout};
pub use mnist::{DEFAULT_MNIST_DIR, Mnist, MnistSplit, load_split};
pub use normalize::Normalization;
pub use rng::SplitMix64;
pub use split::{Subset, train_val_split};
