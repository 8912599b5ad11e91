//! soma-nn: modules, layers, losses, initialisers, optimizers, schedulers and checkpoints.

pub mod checkpoint;
mod clip;
mod early_stopping;
pub mod init;
mod layers;
pub mod loss;
mod module;
pub mod optim;
mod param;
pub mod schedule;
mod sequence;

pub use clip::{clip_grad_norm, clip_grad_value};
pub use early_stopping::{EarlyStopping, Mode};
pub use layers::*;
pub use module::{Module, Sequential, join};
pub use optim::{Adagrad, Adam, AdamW, Optimizer, PerceptronRule, RmsProp, Sgd, StateDict};
pub use param::Param;
pub use schedule::{CosineAnnealingLR, ExponentialLR, LrScheduler, StepLR};
pub use sequence::*;
