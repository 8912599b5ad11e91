//! Optimizers: the `Optimizer` trait, its checkpointable `StateDict`, and the update rules.
//!
//! Every optimizer keeps its state by parameter path and updates each parameter with one
//! `Device::update` call (one fused dispatch on the GPU, no readback).

mod adagrad;
mod adam;
mod perceptron;
mod rmsprop;
mod sgd;
mod state;

use std::collections::BTreeMap;

use soma_autograd::{Grads, Tensor};
use soma_device::Result;

use crate::Module;

pub use adagrad::Adagrad;
pub use adam::{Adam, AdamW};
pub use perceptron::PerceptronRule;
pub use rmsprop::RmsProp;
pub use sgd::Sgd;

/// Updates a model's trainable parameters from the gradients of `loss.backward()`.
///
/// There is no `zero_grad`: each backward pass returns fresh `Grads`. Parameters that are not
/// trainable, or that have no gradient in `grads`, are left alone.
pub trait Optimizer {
    /// One update of every trainable parameter of `model` that has a gradient.
    fn step(&mut self, model: &dyn Module, grads: &Grads) -> Result<()>;
    fn learning_rate(&self) -> f32;
    /// Changes the learning rate of the next steps (schedulers call this).
    fn set_learning_rate(&mut self, lr: f32);
    /// The optimizer's state, for checkpoints: see `StateDict` for the names.
    fn state_dict(&self) -> StateDict;
    /// Restores a state made by `state_dict` of the same kind of optimizer, including the
    /// learning rate. Other hyper-parameters stay as constructed.
    fn load_state_dict(&mut self, state: StateDict) -> Result<()>;
}

/// An optimizer's state as named tensors and text values.
///
/// Tensors are named `"<param path>.<slot>"` with PyTorch's slot names (`"0.weight.momentum_buffer"`,
/// `"0.weight.exp_avg"`, ...). `meta` holds `"optimizer"` (its kind, e.g. `"adam"`), `"lr"`, and
/// `"<param path>.step"` (how many updates that parameter has had) for every parameter with state.
#[derive(Clone, Debug, Default)]
pub struct StateDict {
    pub tensors: BTreeMap<String, Tensor>,
    pub meta: BTreeMap<String, String>,
}
