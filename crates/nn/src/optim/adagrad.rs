//! Adagrad: per-element steps scaled by the root of the summed squared gradients.

use soma_autograd::Grads;
use soma_device::{Result, UpdateRule};

use super::state::{ParamStates, check};
use super::{Optimizer, StateDict};
use crate::Module;

/// Adagrad with PyTorch's semantics and defaults (`eps = 1e-10`, no decay).
#[derive(Clone, Debug)]
pub struct Adagrad {
    lr: f32,
    lr_decay: f32,
    eps: f32,
    weight_decay: f32,
    states: ParamStates,
}

impl Adagrad {
    const KIND: &'static str = "adagrad";
    const SLOTS: [&'static str; 1] = ["sum"];

    pub fn new(lr: f32) -> Adagrad {
        Adagrad { lr, lr_decay: 0.0, eps: 1e-10, weight_decay: 0.0, states: ParamStates::default() }
    }
    /// The step-`t` learning rate is `lr / (1 + (t - 1) * lr_decay)`.
    pub fn lr_decay(mut self, lr_decay: f32) -> Adagrad {
        self.lr_decay = lr_decay;
        self
    }
    pub fn eps(mut self, eps: f32) -> Adagrad {
        self.eps = eps;
        self
    }
    pub fn weight_decay(mut self, weight_decay: f32) -> Adagrad {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self, model: &dyn Module, grads: &Grads) -> Result<()> {
        check(Self::KIND, self.lr >= 0.0, "lr must be >= 0", self.lr)?;
        check(Self::KIND, self.lr_decay >= 0.0, "lr_decay must be >= 0", self.lr_decay)?;
        check(Self::KIND, self.eps >= 0.0, "eps must be >= 0", self.eps)?;
        let Adagrad { lr, lr_decay, eps, weight_decay, .. } = *self;
        self.states.step(model, grads, |step| UpdateRule::Adagrad {
            lr: lr / (1.0 + (step - 1) as f32 * lr_decay),
            eps,
            weight_decay,
        })
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn state_dict(&self) -> StateDict {
        self.states.to_state_dict(Self::KIND, self.lr, &Self::SLOTS)
    }
    fn load_state_dict(&mut self, state: StateDict) -> Result<()> {
        self.lr = self.states.load_state_dict(state, Self::KIND, &Self::SLOTS)?;
        Ok(())
    }
}
