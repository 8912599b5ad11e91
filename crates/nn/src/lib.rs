//! soma-nn: modules, layers, losses, initialisers, optimizers, schedulers and checkpoints.

mod module;
mod param;

pub use module::{Module, Sequential, join};
pub use param::Param;
