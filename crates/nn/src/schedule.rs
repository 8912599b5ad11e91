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

/// Checks a count a schedule divides by: 0 is an error, as torch's first `step()` raises there.
fn positive(name: &'static str, what: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(Error::invalid(name, format!("{what} must be at least 1")));
    }
    Ok(())
}

/// A learning rate as a function of the epoch (counted from 0, where it is the base rate).
pub trait LrScheduler {
    /// The learning rate of `epoch`.
    fn lr_at(&self, epoch: usize) -> f32;
    /// The current epoch: how many times `step` has been called.
    fn epoch(&self) -> usize;
    /// Ends an epoch: advances the count and gives `optimizer` the new epoch's rate (returned).
    fn step(&mut self, optimizer: &mut dyn Optimizer) -> f32;
    /// What resuming needs, as text (PyTorch's `state_dict` of a scheduler): `"schedule"` (the
    /// kind), `"epoch"`, `"base_lr"` and the schedule's own settings (`"gamma"`, `"t_max"`, ...).
    /// See `checkpoint::save_schedule`.
    fn state_dict(&self) -> BTreeMap<String, String>;
    /// Restores a `state_dict` of the same kind, settings included (as torch's
    /// `load_state_dict`), and gives `optimizer` the rate of its epoch. The base rate comes from
    /// the state, not from the optimizer (whose rate, restored from a checkpoint, is annealed).
    fn load_state_dict(&mut self, state: &BTreeMap<String, String>, optimizer: &mut dyn Optimizer) -> Result<()>;
}

/// Value `key` of a saved state for a schedule of kind `name`.
fn saved<T: std::str::FromStr>(name: &'static str, state: &BTreeMap<String, String>, key: &str) -> Result<T> {
    let text = state.get(key).ok_or_else(|| Error::invalid(name, format!("the saved state has no {key:?}")))?;
    text.parse().map_err(|_| Error::invalid(name, format!("saved {key} {text:?} is not a number")))
}

/// Implements `LrScheduler` for a schedule with `epoch` and `base_lr` fields, an inherent `rate`,
/// and an inherent `check` of its settings (`fields`, which its state holds as well).
macro_rules! scheduler {
    ($name:ident { $($field:ident: $ty:ty),* }) => {
        impl LrScheduler for $name {
            fn lr_at(&self, epoch: usize) -> f32 {
                self.rate(epoch)
            }
            fn epoch(&self) -> usize {
                self.epoch
            }
            fn step(&mut self, optimizer: &mut dyn Optimizer) -> f32 {
                self.epoch = self.epoch.saturating_add(1);
                let lr = self.rate(self.epoch);
                optimizer.set_learning_rate(lr);
                lr
            }
            fn state_dict(&self) -> BTreeMap<String, String> {
                let mut state = BTreeMap::new();
                state.insert("schedule".to_string(), stringify!($name).to_string());
                state.insert("epoch".to_string(), self.epoch.to_string());
                state.insert("base_lr".to_string(), self.base_lr.to_string());
                $(state.insert(stringify!($field).to_string(), self.$field.to_string());)*
                state
            }
            fn load_state_dict(
                &mut self,
                state: &BTreeMap<String, String>,
                optimizer: &mut dyn Optimizer,
            ) -> Result<()> {
                let name = stringify!($name);
                let kind: String = saved(name, state, "schedule")?;
                if kind != name {
                    return Err(Error::invalid(name, format!("the saved state is of a {kind}")));
                }
                let loaded = $name {
                    epoch: saved(name, state, "epoch")?,
                    base_lr: saved(name, state, "base_lr")?,
                    $($field: saved::<$ty>(name, state, stringify!($field))?,)*
                };
                loaded.check()?;
                *self = loaded;
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
    /// The base rate is `optimizer`'s; `step_size` must be at least 1.
    pub fn new(optimizer: &dyn Optimizer, step_size: usize, gamma: f32) -> Result<StepLR> {
        let schedule = StepLR { base_lr: optimizer.learning_rate(), step_size, gamma, epoch: 0 };
        schedule.check()?;
        Ok(schedule)
    }
    fn check(&self) -> Result<()> {
        check_rates("StepLR", &[("base_lr", self.base_lr)], Some(self.gamma))?;
        positive("StepLR", "step_size", self.step_size)
    }
    fn rate(&self, epoch: usize) -> f32 {
        // Past i32::MAX decays the power is as good as infinite (and `as` would wrap it).
        let decays = i32::try_from(epoch / self.step_size).unwrap_or(i32::MAX);
        self.base_lr * self.gamma.powi(decays)
    }
}
scheduler!(StepLR { step_size: usize, gamma: f32 });

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
        let schedule = ExponentialLR { base_lr: optimizer.learning_rate(), gamma, epoch: 0 };
        schedule.check()?;
        Ok(schedule)
    }
    fn check(&self) -> Result<()> {
        check_rates("ExponentialLR", &[("base_lr", self.base_lr)], Some(self.gamma))
    }
    fn rate(&self, epoch: usize) -> f32 {
        (self.base_lr as f64 * (self.gamma as f64).powf(epoch as f64)) as f32
    }
}
scheduler!(ExponentialLR { gamma: f32 });

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
    /// The base rate is `optimizer`'s; `t_max` must be at least 1.
    pub fn new(optimizer: &dyn Optimizer, t_max: usize, eta_min: f32) -> Result<CosineAnnealingLR> {
        let schedule = CosineAnnealingLR { base_lr: optimizer.learning_rate(), t_max, eta_min, epoch: 0 };
        schedule.check()?;
        Ok(schedule)
    }
    fn check(&self) -> Result<()> {
        check_rates("CosineAnnealingLR", &[("base_lr", self.base_lr), ("eta_min", self.eta_min)], None)?;
        positive("CosineAnnealingLR", "t_max", self.t_max)
    }
    fn rate(&self, epoch: usize) -> f32 {
        let phase = std::f64::consts::PI * epoch as f64 / self.t_max as f64;
        let (base, min) = (self.base_lr as f64, self.eta_min as f64);
        (min + (base - min) * (1.0 + phase.cos()) / 2.0) as f32
    }
}
scheduler!(CosineAnnealingLR { t_max: usize, eta_min: f32 });
