//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

use soma_autograd::Grads;
use soma_device::{Result, UpdateRule};

use super::state::{ParamStates, check};
use super::{Optimizer, StateDict};
use crate::Module;

/// SGD with PyTorch's semantics: `Sgd::new(0.1).momentum(0.9).nesterov(true).weight_decay(1e-4)`.
#[derive(Clone, Debug)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    dampening: f32,
    nesterov: bool,
    weight_decay: f32,
    states: ParamStates,
}

impl Sgd {
    const KIND: &'static str = "sgd";
    const SLOTS: [&'static str; 1] = ["momentum_buffer"];

    /// Plain SGD (`p -= lr * g`); add momentum etc. with the builder methods.
    pub fn new(lr: f32) -> Sgd {
        Sgd { lr, momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0, states: ParamStates::default() }
    }
    pub fn momentum(mut self, momentum: f32) -> Sgd {
        self.momentum = momentum;
        self
    }
    pub fn dampening(mut self, dampening: f32) -> Sgd {
        self.dampening = dampening;
        self
    }
    /// Nesterov momentum (needs `momentum > 0` and no dampening).
    pub fn nesterov(mut self, nesterov: bool) -> Sgd {
        self.nesterov = nesterov;
        self
    }
    /// L2 penalty: `weight_decay * p` is added to the gradient.
    pub fn weight_decay(mut self, weight_decay: f32) -> Sgd {
        self.weight_decay = weight_decay;
        self
    }

    fn validate(&self) -> Result<()> {
        check(Self::KIND, self.lr >= 0.0, "lr must be >= 0", self.lr)?;
        check(Self::KIND, self.momentum >= 0.0, "momentum must be >= 0", self.momentum)?;
        check(Self::KIND, self.weight_decay >= 0.0, "weight_decay must be >= 0", self.weight_decay)?;
        let nesterov_ok = !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0);
        check(Self::KIND, nesterov_ok, "nesterov needs momentum > 0 and dampening 0; momentum", self.momentum)
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, model: &dyn Module, grads: &Grads) -> Result<()> {
        self.validate()?;
        let Sgd { lr, momentum, dampening, nesterov, weight_decay, .. } = *self;
        self.states.step(model, grads, |step| UpdateRule::Sgd {
            lr,
            momentum,
            // PyTorch starts the momentum buffer at the first gradient, undamped: with a zero
            // buffer, that is this rule with no dampening on the first step.
            dampening: if step == 1 { 0.0 } else { dampening },
            nesterov,
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
