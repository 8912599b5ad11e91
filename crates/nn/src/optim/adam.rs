//! Adam and AdamW: bias-corrected first and second moment estimates.

use soma_autograd::Grads;
use soma_device::{Result, UpdateRule};

use super::state::{ParamStates, check, check_lr, check_non_negative, rule_optimizer};
use super::{Optimizer, StateDict};
use crate::Module;

/// Adam with PyTorch's semantics and defaults (`betas = (0.9, 0.999)`, `eps = 1e-8`, L2 weight
/// decay added to the gradient). Bias correction counts steps per parameter.
#[derive(Clone, Debug)]
pub struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: bool,
    states: ParamStates,
}

impl Adam {
    const SLOTS: [&'static str; 2] = ["exp_avg", "exp_avg_sq"];

    pub fn new(lr: f32) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            states: ParamStates::default(),
        }
    }
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Adam {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }
    pub fn eps(mut self, eps: f32) -> Adam {
        self.eps = eps;
        self
    }
    pub fn weight_decay(mut self, weight_decay: f32) -> Adam {
        self.weight_decay = weight_decay;
        self
    }

    fn kind(&self) -> &'static str {
        if self.decoupled { "adamw" } else { "adam" }
    }
    fn rule(&self) -> Result<impl Fn(u32) -> UpdateRule + use<>> {
        let kind = self.kind();
        check_lr(kind, self.lr)?;
        check(kind, (0.0..1.0).contains(&self.beta1), "beta1 must be in [0, 1)", self.beta1)?;
        check(kind, (0.0..1.0).contains(&self.beta2), "beta2 must be in [0, 1)", self.beta2)?;
        check_non_negative(kind, "eps", self.eps)?;
        check_non_negative(kind, "weight_decay", self.weight_decay)?;
        let Adam { lr, beta1, beta2, eps, weight_decay, decoupled, .. } = *self;
        Ok(move |step| UpdateRule::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, step })
    }
}

rule_optimizer!(Adam);

/// Adam with decoupled weight decay (`p *= 1 - lr * weight_decay` before the Adam step), with
/// PyTorch's defaults (`weight_decay = 0.01`).
#[derive(Clone, Debug)]
pub struct AdamW(Adam);

impl AdamW {
    pub fn new(lr: f32) -> AdamW {
        AdamW(Adam { weight_decay: 0.01, decoupled: true, ..Adam::new(lr) })
    }
    pub fn betas(self, beta1: f32, beta2: f32) -> AdamW {
        AdamW(self.0.betas(beta1, beta2))
    }
    pub fn eps(self, eps: f32) -> AdamW {
        AdamW(self.0.eps(eps))
    }
    pub fn weight_decay(self, weight_decay: f32) -> AdamW {
        AdamW(self.0.weight_decay(weight_decay))
    }
}

impl Optimizer for AdamW {
    fn step(&mut self, model: &dyn Module, grads: &Grads) -> Result<()> {
        self.0.step(model, grads)
    }
    fn learning_rate(&self) -> f32 {
        self.0.learning_rate()
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.0.set_learning_rate(lr)
    }
    fn state_dict(&self) -> StateDict {
        self.0.state_dict()
    }
    fn load_state_dict(&mut self, state: StateDict) -> Result<()> {
        self.0.load_state_dict(state)
    }
}
