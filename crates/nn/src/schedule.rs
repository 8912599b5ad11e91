//! Learning-rate schedules with PyTorch's semantics: built from an optimizer, whose learning rate
//! is the base rate (epoch 0) as in torch; `lr_at(epoch)` is pure; `step` advances one epoch and
//! sets the optimizer's learning rate.

use std::collections::BTreeMap;

use soma_device::{Error, Result};

use crate::Optimizer;

/// Checks a schedule's rates and decay factor (finite, >= 0, as torch), naming the schedule.
fn check_rates(name: &'static str, rates: &[(&str, f32)], gamma: Option<f32>) -> Result<()> {
    if let Some(&(what, v)) = rates.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
        return Err(Error::invalid(name, format!("{what} must be finite and >= 0, got {v}")));
    }
    match gamma {
        Some(g) if !(g.is_finite() && g >= 0.0) => {
            Err(Error::invalid(name, format!("gamma must be finite and >= 0, got {g}")))
        }
        _ => Ok(()),
    }
}

/// A learning rate as a function of the epoch (counted from 0, where it is the base rate).
pub trait LrScheduler {
    /// The learning rate of `epoch`.
    fn lr_at(&self, epoch: usize) -> f32;
    /// The current epoch: how many times `step` has been called.
    fn epoch(&self) -> usize;
    /// Ends an epoch: advances the count and gives `optimizer` the new epoch's rate (returned).
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> f32;
    /// What resuming needs (PyTorch's `base_lrs` and `last_epoch`), as text: `"schedule"` (the
    /// kind), `"base_lr"` and `"epoch"`. See `checkpoint::save_schedule`.
    fn state_dict(&self) -> BTreeMap<String, String>;
    /// Restores a `state_dict` of the same kind and gives `optimizer` the rate of its epoch. The
    /// base rate comes from the state, not from the optimizer (whose rate, restored from a
    /// checkpoint, is already annealed).
    fn load_state_dict(&mut self, state: &BTreeMap<String, String>, optimizer: &mut dyn Optimizer) -> Result<()>;
}

/// The `(base_lr, epoch)` of a schedule `state_dict` for a schedule of kind `name`.
fn parse_state(name: &'static str, state: &BTreeMap<String, String>) -> Result<(f32, usize)> {
    let field =
        |key: &str| state.get(key).ok_or_else(|| Error::invalid(name, format!("the saved state has no {key:?}")));
    let kind = field("schedule")?;
    if kind != name {
        return Err(Error::invalid(name, format!("the saved state is of a {kind}")));
    }
    let bad = |key: &str, v: &String| Error::invalid(name, format!("saved {key} {v:?} is not a number"));
    let base_lr: f32 = field("base_lr")?.parse().map_err(|_| bad("base_lr", &state["base_lr"]))?;
    let epoch: usize = field("epoch")?.parse().map_err(|_| bad("epoch", &state["epoch"]))?;
    check_rates(name, &[("base_lr", base_lr)], None)?;
    Ok((base_lr, epoch))
}

/// Implements `epoch` and `step` for a schedule with an `epoch` field and an inherent `rate`.
macro_rules! scheduler {
    ($name:ident) => {
        impl LrScheduler for $name {
            fn lr_at(&self, epoch: usize) -> f32 {
                self.rate(epoch)
            }
            fn epoch(&self) -> usize {
                self.epoch
            }
            fn step(&mut self, optimizer: &mut dyn Optimizer) -> f32 {
                self.epoch += 1;
                let lr = self.rate(self.epoch);
                optimizer.set_learning_rate(lr);
                lr
            }
            fn state_dict(&self) -> BTreeMap<String, String> {
                [
                    ("schedule", stringify!($name).to_string()),
                    ("base_lr", self.base_lr.to_string()),
                    ("epoch", self.epoch.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect()
            }
            fn load_state_dict(
                &mut self,
                state: &BTreeMap<String, String>,
                optimizer: &mut dyn Optimizer,
            ) -> Result<()> {
                (self.base_lr, self.epoch) = parse_state(stringify!($name), state)?;
                optimizer.set_learning_rate(self.rate(self.epoch));
                Ok(())
            }
        }
    };
}

/// `base_lr * gamma^(epoch / step_size)` (integer division): decays by `gamma` every `step_size` epochs.
#[derive(Clone, Debug)]
pub struct StepLR {
    base_lr: f32,
    step_size: usize,
    gamma: f32,
    epoch: usize,
}

impl StepLR {
    /// The base rate is `optimizer`'s. `step_size` 0 is treated as 1.
    pub fn new(optimizer: &dyn Optimizer, step_size: usize, gamma: f32) -> Result<StepLR> {
        let base_lr = optimizer.learning_rate();
        check_rates("StepLR", &[("base_lr", base_lr)], Some(gamma))?;
        Ok(StepLR { base_lr, step_size: step_size.max(1), gamma, epoch: 0 })
    }
    fn rate(&self, epoch: usize) -> f32 {
        self.base_lr * self.gamma.powi((epoch / self.step_size) as i32)
    }
}
scheduler!(StepLR);

/// `base_lr * gamma^epoch`.
#[derive(Clone, Debug)]
pub struct ExponentialLR {
    base_lr: f32,
    gamma: f32,
    epoch: usize,
}

impl ExponentialLR {
    /// The base rate is `optimizer`'s. A `gamma` above 1 grows the rate; once it overflows, the
    /// optimizer's step reports it.
    pub fn new(optimizer: &dyn Optimizer, gamma: f32) -> Result<ExponentialLR> {
        let base_lr = optimizer.learning_rate();
        check_rates("ExponentialLR", &[("base_lr", base_lr)], Some(gamma))?;
        Ok(ExponentialLR { base_lr, gamma, epoch: 0 })
    }
    fn rate(&self, epoch: usize) -> f32 {
        (self.base_lr as f64 * (self.gamma as f64).powf(epoch as f64)) as f32
    }
}
scheduler!(ExponentialLR);

/// `eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / t_max)) / 2`: half a cosine from the
/// base rate down to `eta_min` over `t_max` epochs, then back up (PyTorch's schedule is periodic
/// too; it has no restarts).
#[derive(Clone, Debug)]
pub struct CosineAnnealingLR {
    base_lr: f32,
    t_max: usize,
    eta_min: f32,
    epoch: usize,
}

impl CosineAnnealingLR {
    /// The base rate is `optimizer`'s. `t_max` 0 is treated as 1.
    pub fn new(optimizer: &dyn Optimizer, t_max: usize, eta_min: f32) -> Result<CosineAnnealingLR> {
        let base_lr = optimizer.learning_rate();
        check_rates("CosineAnnealingLR", &[("base_lr", base_lr), ("eta_min", eta_min)], None)?;
        Ok(CosineAnnealingLR { base_lr, t_max: t_max.max(1), eta_min, epoch: 0 })
    }
    fn rate(&self, epoch: usize) -> f32 {
        let phase = std::f64::consts::PI * epoch as f64 / self.t_max as f64;
        let (base, min) = (self.base_lr as f64, self.eta_min as f64);
        (min + (base - min) * (1.0 + phase.cos()) / 2.0) as f32
    }
}
scheduler!(CosineAnnealingLR);
