//! Adagrad: per-element steps scaled by the root of the summed squared gradients.

use soma_device::{Result, UpdateRule};

use super::state::{ParamStates, check_lr, check_non_negative, rule_optimizer};

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

    fn kind(&self) -> &'static str {
        "adagrad"
    }
    fn rule(&self) -> Result<impl Fn(u32) -> UpdateRule + use<>> {
        let kind = self.kind();
        check_lr(kind, self.lr)?;
        check_non_negative(kind, "lr_decay", self.lr_decay)?;
        check_non_negative(kind, "eps", self.eps)?;
        check_non_negative(kind, "weight_decay", self.weight_decay)?;
        let Adagrad { lr, lr_decay, eps, weight_decay, .. } = *self;
        Ok(move |step| UpdateRule::Adagrad { lr: lr / (1.0 + (step - 1) as f32 * lr_decay), eps, weight_decay })
    }
}

rule_optimizer!(Adagrad);
