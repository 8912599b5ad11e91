//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

use soma_device::{Result, UpdateRule};

use super::state::{ParamStates, check, check_lr, check_non_negative, rule_optimizer};

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

    fn kind(&self) -> &'static str {
        "sgd"
    }
    fn rule(&self) -> Result<impl Fn(u32) -> UpdateRule + use<>> {
        let kind = self.kind();
        check_lr(kind, self.lr)?;
        check_non_negative(kind, "momentum", self.momentum)?;
        check_non_negative(kind, "weight_decay", self.weight_decay)?;
        check(kind, self.dampening.is_finite(), "dampening must be finite", self.dampening)?;
        let nesterov_ok = !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0);
        check(kind, nesterov_ok, "nesterov needs momentum > 0 and dampening 0; momentum", self.momentum)?;
        let Sgd { lr, momentum, dampening, nesterov, weight_decay, .. } = *self;
        Ok(move |step| UpdateRule::Sgd {
            lr,
            momentum,
            // PyTorch starts the momentum buffer at the first gradient, undamped: with a zero
            // buffer, that is this rule with no dampening on the first step.
            dampening: if step == 1 { 0.0 } else { dampening },
            nesterov,
            weight_decay,
        })
    }
}

rule_optimizer!(Sgd);
