//! soma-nn: modules, layers, losses, initialisers, optimizers, schedulers and checkpoints.

pub mod init;
mod layers;
pub mod loss;
mod module;
pub mod optim;
mod param;
mod sequence;

pub use layers::*;
pub use module::{Module, Sequential, join};
pub use optim::{Adagrad, Adam, AdamW, Optimizer, PerceptronRule, RmsProp, Sgd, StateDict};
pub use param::Param;
pub use sequence::*;
