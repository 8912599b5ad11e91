//! soma-nn: modules, layers, losses, initialisers, optimizers, schedulers and checkpoints.

pub mod init;
mod layers;
pub mod loss;
mod module;
mod param;

pub use layers::*;
pub use module::{Module, Sequential, join};
pub use param::Param;
