//! RMSProp: steps scaled by a running root mean square of the gradients, with optional momentum.

use soma_device::{Result, UpdateRule};

use super::state::{ParamStates, check, check_lr, check_non_negative, rule_optimizer};

/// RMSProp with PyTorch's semantics and defaults (`alpha = 0.99`, `eps = 1e-8`; not centered).
#[derive(Clone, Debug)]
pub struct RmsProp {
    lr: f32,
    alpha: f32,
    eps: f32,
    momentum: f32,
    weight_decay: f32,
    states: ParamStates,
}

impl RmsProp {
    const SLOTS: [&'static str; 2] = ["square_avg", "momentum_buffer"];

    pub fn new(lr: f32) -> RmsProp {
        RmsProp { lr, alpha: 0.99, eps: 1e-8, momentum: 0.0, weight_decay: 0.0, states: ParamStates::default() }
    }
    /// Smoothing of the squared-gradient average.
    pub fn alpha(mut self, alpha: f32) -> RmsProp {
        self.alpha = alpha;
        self
    }
    pub fn eps(mut self, eps: f32) -> RmsProp {
        self.eps = eps;
        self
    }
    pub fn momentum(mut self, momentum: f32) -> RmsProp {
        self.momentum = momentum;
        self
    }
    pub fn weight_decay(mut self, weight_decay: f32) -> RmsProp {
        self.weight_decay = weight_decay;
        self
    }

    fn kind(&self) -> &'static str {
        "rmsprop"
    }
    fn rule(&self) -> Result<impl Fn(u32) -> UpdateRule + use<>> {
        let kind = self.kind();
        check_lr(kind, self.lr)?;
        check(kind, (0.0..=1.0).contains(&self.alpha), "alpha must be in [0, 1]", self.alpha)?;
        check_non_negative(kind, "momentum", self.momentum)?;
        check_non_negative(kind, "eps", self.eps)?;
        check_non_negative(kind, "weight_decay", self.weight_decay)?;
        let RmsProp { lr, alpha, eps, momentum, weight_decay, .. } = *self;
        Ok(move |_| UpdateRule::RmsProp { lr, alpha, eps, momentum, weight_decay })
    }
}

rule_optimizer!(RmsProp);
