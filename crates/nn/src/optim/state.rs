//! Per-parameter optimizer state (step count and buffers) and the shared update loop.

use std::collections::{HashMap, HashSet};

use soma_autograd::{Grads, Tensor, no_grad};
use soma_device::{Error, Result, UpdateRule};

use super::StateDict;
use crate::Module;

/// The state of one parameter: how many updates it has had and the rule's buffers.
#[derive(Clone, Debug)]
pub(crate) struct ParamState {
    pub step: u32,
    pub buffers: Vec<Tensor>,
}

/// State by parameter path, created lazily as zeros on the parameter's device.
#[derive(Clone, Debug, Default)]
pub(crate) struct ParamStates {
    by_path: HashMap<String, ParamState>,
}

impl ParamStates {
    /// Updates every trainable parameter of `model` that has a gradient with the rule that
    /// `rule_for(step)` gives for its step number (counted from 1, per parameter).
    pub fn step(&mut self, model: &dyn Module, grads: &Grads, rule_for: impl Fn(u32) -> UpdateRule) -> Result<()> {
        // A parameter shared by two paths (tied weights) is updated once.
        let mut done = HashSet::new();
        no_grad(|| {
            for (path, param) in model.named_params() {
                let value = param.get();
                if !param.is_trainable() || !done.insert(value.id()) {
                    continue;
                }
                let Some(grad) = grads.get(&value) else { continue };
                let rule = rule_for(1);
                if grad.shape() != value.shape() {
                    return Err(Error::shape(
                        rule.name(),
                        format!("gradient of {path} has shape {:?}, the parameter {:?}", grad.shape(), value.shape()),
                    ));
                }
                let device = value.device();
                let state = match self.by_path.entry(path.clone()) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        let buffers = (0..rule.state_count())
                            .map(|_| Tensor::zeros(value.shape().clone(), device))
                            .collect::<Result<_>>()?;
                        e.insert(ParamState { step: 0, buffers })
                    }
                };
                if let Some(b) = state.buffers.iter().find(|b| b.shape() != value.shape()) {
                    return Err(Error::shape(
                        rule.name(),
                        format!("state of {path} has shape {:?}, the parameter {:?}", b.shape(), value.shape()),
                    ));
                }
                let rule = rule_for(state.step.saturating_add(1));
                let buffers: Vec<_> = state.buffers.iter().map(Tensor::storage).collect();
                let (new_value, new_buffers) = device.update(&rule, value.storage(), grad.storage(), &buffers)?;
                param.set(Tensor::from_storage(new_value, value.shape().clone(), device)?);
                state.buffers = new_buffers
                    .into_iter()
                    .map(|s| Tensor::from_storage(s, value.shape().clone(), device))
                    .collect::<Result<_>>()?;
                state.step = state.step.saturating_add(1);
            }
            Ok(())
        })
    }

    /// The state as named tensors (`"<path>.<slot>"`) plus `optimizer`, `lr` and `<path>.step`.
    pub fn to_state_dict(&self, kind: &str, lr: f32, slots: &[&str]) -> StateDict {
        let mut dict = StateDict::default();
        dict.meta.insert("optimizer".into(), kind.into());
        dict.meta.insert("lr".into(), lr.to_string());
        for (path, state) in &self.by_path {
            dict.meta.insert(format!("{path}.step"), state.step.to_string());
            for (slot, buffer) in slots.iter().zip(&state.buffers) {
                dict.tensors.insert(format!("{path}.{slot}"), buffer.clone());
            }
        }
        dict
    }

    /// Reads a state written by `to_state_dict` for the same kind of optimizer; returns the
    /// learning rate. Strict: a missing slot or an unknown name is an error.
    pub fn load_state_dict(&mut self, mut dict: StateDict, kind: &'static str, slots: &[&str]) -> Result<f32> {
        match dict.meta.get("optimizer") {
            Some(k) if k == kind => {}
            other => {
                return Err(Error::invalid(kind, format!("state dict is for optimizer {other:?}, not {kind:?}")));
            }
        }
        let lr = parse_meta(&dict, kind, "lr")?;
        let mut by_path = HashMap::new();
        for key in dict.meta.keys().filter(|k| *k != "optimizer" && *k != "lr") {
            let Some(path) = key.strip_suffix(".step") else {
                return Err(Error::invalid(kind, format!("unknown state entry {key:?}")));
            };
            let step: u32 = parse_meta(&dict, kind, key)?;
            let buffers = slots
                .iter()
                .map(|slot| {
                    let name = format!("{path}.{slot}");
                    dict.tensors
                        .remove(&name)
                        .ok_or_else(|| Error::invalid(kind, format!("state tensor {name} is missing")))
                })
                .collect::<Result<_>>()?;
            by_path.insert(path.to_string(), ParamState { step, buffers });
        }
        if let Some(name) = dict.tensors.keys().next() {
            return Err(Error::invalid(kind, format!("unexpected state tensor {name} (no matching .step entry)")));
        }
        self.by_path = by_path;
        Ok(lr)
    }
}

/// Implements `Optimizer` for a type with fields `lr` and `states: ParamStates`, a constant
/// `SLOTS` (its state buffers' names), and methods `kind()` (its name) and `rule()` (the checked
/// hyper-parameters as an `UpdateRule` for each parameter's step number).
macro_rules! rule_optimizer {
    ($t:ty) => {
        impl $crate::optim::Optimizer for $t {
            fn step(&mut self, model: &dyn $crate::Module, grads: &soma_autograd::Grads) -> soma_device::Result<()> {
                let rule = self.rule()?;
                self.states.step(model, grads, rule)
            }
            fn learning_rate(&self) -> f32 {
                self.lr
            }
            fn set_learning_rate(&mut self, lr: f32) {
                self.lr = lr;
            }
            fn state_dict(&self) -> $crate::optim::StateDict {
                self.states.to_state_dict(self.kind(), self.lr, &Self::SLOTS)
            }
            fn load_state_dict(&mut self, state: $crate::optim::StateDict) -> soma_device::Result<()> {
                self.lr = self.states.load_state_dict(state, self.kind(), &Self::SLOTS)?;
                Ok(())
            }
        }
    };
}
pub(crate) use rule_optimizer;

/// Errors unless `ok`: a hyper-parameter outside its range, e.g. `adam: beta1 must be in [0, 1), got 1`.
pub(crate) fn check(kind: &'static str, ok: bool, what: &str, value: f32) -> Result<()> {
    if ok { Ok(()) } else { Err(Error::invalid(kind, format!("{what}, got {value}"))) }
}

/// Checks a learning rate: finite (an exponential schedule can overflow to inf) and >= 0.
pub(crate) fn check_lr(kind: &'static str, lr: f32) -> Result<()> {
    check_non_negative(kind, "lr", lr)
}

/// Checks a rate or a constant that must be finite and >= 0 (an infinite one makes every
/// parameter NaN or stops every update, with no error).
pub(crate) fn check_non_negative(kind: &'static str, name: &str, value: f32) -> Result<()> {
    check(kind, value >= 0.0 && value.is_finite(), &format!("{name} must be finite and >= 0"), value)
}

fn parse_meta<T: std::str::FromStr>(dict: &StateDict, kind: &'static str, key: &str) -> Result<T> {
    let text = dict.meta.get(key).ok_or_else(|| Error::invalid(kind, format!("state entry {key:?} is missing")))?;
    text.parse().map_err(|_| Error::invalid(kind, format!("state entry {key:?} is not a number: {text:?}")))
}
