//! Optimizer update rules as pure per-element functions (PyTorch semantics).
//!
//! The CPU backend runs `UpdateRule::apply` over every element; the GPU runs the same formulas in
//! one fused kernel per parameter (`shaders/optim.wgsl`), so both stay testable by hand.

/// One optimizer step's rule and hyper-parameters. State buffers per parameter: see `state_count`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UpdateRule {
    /// State: velocity.
    Sgd { lr: f32, momentum: f32, dampening: f32, nesterov: bool, weight_decay: f32 },
    /// State: sum of squared gradients.
    Adagrad { lr: f32, eps: f32, weight_decay: f32 },
    /// State: running mean of squared gradients, momentum buffer.
    RmsProp { lr: f32, alpha: f32, eps: f32, momentum: f32, weight_decay: f32 },
    /// State: first and second moments. `decoupled` makes it AdamW; `step` counts from 1.
    Adam { lr: f32, beta1: f32, beta2: f32, eps: f32, weight_decay: f32, decoupled: bool, step: u32 },
}

impl UpdateRule {
    pub fn name(&self) -> &'static str {
        match self {
            UpdateRule::Sgd { .. } => "sgd",
            UpdateRule::Adagrad { .. } => "adagrad",
            UpdateRule::RmsProp { .. } => "rmsprop",
            UpdateRule::Adam { .. } => "adam",
        }
    }

    /// How many state buffers (each as long as the parameter) the rule keeps.
    pub fn state_count(&self) -> usize {
        match self {
            UpdateRule::Sgd { .. } | UpdateRule::Adagrad { .. } => 1,
            UpdateRule::RmsProp { .. } | UpdateRule::Adam { .. } => 2,
        }
    }

    /// Adam's bias corrections `1 - beta^t` for step `t` (counted from 1); a step past `i32::MAX`
    /// (a corrupt checkpoint) takes the limit, 1, rather than overflowing the exponent.
    pub fn bias_corrections(beta1: f32, beta2: f32, step: u32) -> (f32, f32) {
        let t = i32::try_from(step.max(1)).unwrap_or(i32::MAX);
        (1.0 - beta1.powi(t), 1.0 - beta2.powi(t))
    }

    /// Updates one element: returns the new parameter and updates `state` in place.
    #[inline(always)]
    pub fn apply(&self, p: f32, g: f32, state: &mut [f32]) -> f32 {
        match *self {
            UpdateRule::Sgd { lr, momentum, dampening, nesterov, weight_decay } => {
                let mut g = g + weight_decay * p;
                if momentum != 0.0 {
                    state[0] = momentum * state[0] + (1.0 - dampening) * g;
                    g = if nesterov { g + momentum * state[0] } else { state[0] };
                }
                p - lr * g
            }
            UpdateRule::Adagrad { lr, eps, weight_decay } => {
                let g = g + weight_decay * p;
                state[0] += g * g;
                p - lr * g / (state[0].sqrt() + eps)
            }
            UpdateRule::RmsProp { lr, alpha, eps, momentum, weight_decay } => {
                let g = g + weight_decay * p;
                state[0] = alpha * state[0] + (1.0 - alpha) * g * g;
                let step = g / (state[0].sqrt() + eps);
                if momentum > 0.0 {
                    state[1] = momentum * state[1] + step;
                    p - lr * state[1]
                } else {
                    p - lr * step
                }
            }
            UpdateRule::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, step } => {
                let (p, g) = if decoupled { (p * (1.0 - lr * weight_decay), g) } else { (p, g + weight_decay * p) };
                state[0] = beta1 * state[0] + (1.0 - beta1) * g;
                state[1] = beta2 * state[1] + (1.0 - beta2) * g * g;
                let (bias1, bias2) = UpdateRule::bias_corrections(beta1, beta2, step);
                let m_hat = state[0] / bias1;
                let v_hat = state[1] / bias2;
                p - lr * m_hat / (v_hat.sqrt() + eps)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_momentum_by_hand() {
        let rule = UpdateRule::Sgd { lr: 0.1, momentum: 0.9, dampening: 0.0, nesterov: false, weight_decay: 0.0 };
        let mut v = [0.0];
        let p = rule.apply(1.0, 2.0, &mut v); // v = 2, p = 1 - 0.2
        assert!((p - 0.8).abs() < 1e-7 && (v[0] - 2.0).abs() < 1e-7);
        let p = rule.apply(p, 1.0, &mut v); // v = 0.9*2 + 1 = 2.8, p = 0.8 - 0.28
        assert!((p - 0.52).abs() < 1e-6 && (v[0] - 2.8).abs() < 1e-6);
    }

    #[test]
    fn nesterov_by_hand() {
        let rule = UpdateRule::Sgd { lr: 0.1, momentum: 0.5, dampening: 0.0, nesterov: true, weight_decay: 0.0 };
        let mut v = [1.0];
        // v = 0.5*1 + 2 = 2.5; g = 2 + 0.5*2.5 = 3.25; p = 1 - 0.325
        let p = rule.apply(1.0, 2.0, &mut v);
        assert!((p - 0.675).abs() < 1e-6);
    }

    #[test]
    fn adagrad_by_hand() {
        let rule = UpdateRule::Adagrad { lr: 0.5, eps: 0.0, weight_decay: 0.0 };
        let mut s = [0.0];
        let p = rule.apply(1.0, 3.0, &mut s); // s = 9, p = 1 - 0.5 * 3 / 3
        assert!((p - 0.5).abs() < 1e-7 && s[0] == 9.0);
    }

    #[test]
    fn rmsprop_by_hand() {
        let rule = UpdateRule::RmsProp { lr: 0.01, alpha: 0.99, eps: 0.0, momentum: 0.0, weight_decay: 0.0 };
        let mut s = [0.0, 0.0];
        // sq = 0.01 * 4 = 0.04, step = 2 / 0.2 = 10, p = 1 - 0.1
        let p = rule.apply(1.0, 2.0, &mut s);
        assert!((p - 0.9).abs() < 1e-6);
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        // With bias correction, Adam's first step is lr * sign(g) (eps = 0).
        let rule = UpdateRule::Adam {
            lr: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            eps: 0.0,
            weight_decay: 0.0,
            decoupled: false,
            step: 1,
        };
        let mut s = [0.0, 0.0];
        let p = rule.apply(1.0, -5.0, &mut s);
        assert!((p - 1.001).abs() < 1e-6);
        assert!((s[0] + 0.5).abs() < 1e-6 && (s[1] - 0.025).abs() < 1e-6);
    }

    #[test]
    fn adamw_decays_the_weight_directly() {
        let rule = UpdateRule::Adam {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 0.0,
            weight_decay: 0.5,
            decoupled: true,
            step: 1,
        };
        let mut s = [0.0, 0.0];
        // p = 2 * (1 - 0.05) = 1.9, then - 0.1 * sign(1)
        let p = rule.apply(2.0, 1.0, &mut s);
        assert!((p - 1.8).abs() < 1e-6);
    }
}
