//! Layers: each family in its own module, all implementing `Module`.

mod activation;
mod conv;
mod dropout;
mod embedding;
mod flatten;
mod linear;
mod norm;
mod pool;

pub use activation::{ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Step, Tanh};
pub use conv::{Conv2d, Size2};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use linear::Linear;
pub use norm::{BatchNorm1d, BatchNorm2d, LayerNorm};
pub use pool::{AvgPool2d, MaxPool2d};

use soma_autograd::Tensor;
use soma_device::Error;

/// The error for an input a layer cannot take: `Linear(784 -> 10): expected input [.., 784], got [32, 100]`.
pub(crate) fn bad_input(layer: &'static str, detail: impl std::fmt::Display, expected: &str, x: &Tensor) -> Error {
    Error::shape(layer, format!("{detail}: expected input {expected}, got {:?}", x.shape()))
}
