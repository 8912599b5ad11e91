//! Optimizers on the CPU: literal values from PyTorch's formulas, agreement with the pure
//! `UpdateRule::apply` over a multi-parameter model, minimising a bowl, skipping, state dicts.

mod optim_support;

use optim_support::*;
use soma_autograd::{Device, Tensor};
use soma_device::testing::assert_close;
use soma_device::{Error, UpdateRule};
use soma_nn::*;

/// Three steps on `0.5 * sum(w^2)` from `w = [1, -2]` (so the gradient is `w`).
fn three_steps(mut opt: impl Optimizer) -> Vec<Vec<f32>> {
    let model = Vector::new(&[1.0, -2.0], &Device::cpu());
    (0..3)
        .map(|_| {
            opt.step(&model, &half_square_grads(&model)).unwrap();
            model.values()
        })
        .collect()
}

#[track_caller]
fn assert_steps(got: Vec<Vec<f32>>, want: [[f32; 2]; 3]) {
    for (g, w) in got.iter().zip(want) {
        assert_close(g, &w, 1e-5, 1e-6);
    }
}

// Expected values: PyTorch's update formulas evaluated in float64 (torch.optim docs, 2.x).

#[test]
fn sgd_plain() {
    // p -= 0.1 * p: 0.9, 0.81, 0.729
    assert_steps(three_steps(Sgd::new(0.1)), [[0.9, -1.8], [0.81, -1.62], [0.729, -1.458]]);
}

#[test]
fn sgd_momentum_with_dampening_starts_undamped() {
    // buf1 = g1 (PyTorch clones the first gradient); buf_t = 0.9 buf + 0.5 g.
    // p1 = 0.9; buf2 = 0.9 + 0.45 = 1.35, p2 = 0.9 - 0.135 = 0.765; ...
    assert_steps(
        three_steps(Sgd::new(0.1).momentum(0.9).dampening(0.5)),
        [[0.9, -1.8], [0.765, -1.53], [0.60525, -1.2105]],
    );
}

#[test]
fn sgd_nesterov_with_weight_decay() {
    // g = 1.1 p; buf = g; step = g + 0.9 buf = 2.09 → p1 = 1 - 0.209 = 0.791
    assert_steps(
        three_steps(Sgd::new(0.1).momentum(0.9).nesterov(true).weight_decay(0.1)),
        [[0.791, -1.582], [0.536581, -1.073162], [0.2737675, -0.5475349]],
    );
}

#[test]
fn adagrad_with_lr_decay() {
    // s1 = 1, p1 = 1 - 0.1; clr2 = 0.1 / 1.5, s2 = 1 + 0.81, p2 = 0.9 - clr2 * 0.9 / sqrt(1.81)
    assert_steps(
        three_steps(Adagrad::new(0.1).lr_decay(0.5)),
        [[0.9, -1.9], [0.8554024, -1.854083], [0.828575, -1.826192]],
    );
}

#[test]
fn rmsprop_with_momentum_and_weight_decay() {
    // g = 1.1; v = 0.01 * 1.21; buf = g / sqrt(v) = 10; p1 = 1 - 0.01 * 10 = 0.9
    assert_steps(
        three_steps(RmsProp::new(0.01).momentum(0.9).weight_decay(0.1)),
        [[0.9, -1.9], [0.742918, -1.740943], [0.5529149, -1.54413]],
    );
}

#[test]
fn adam_with_l2_weight_decay() {
    // The first bias-corrected step is lr * sign(g): 1 - 0.1
    assert_steps(
        three_steps(Adam::new(0.1).weight_decay(0.1)),
        [[0.9, -1.9], [0.8004122, -1.800166], [0.7015863, -1.700623]],
    );
}

#[test]
fn adamw_decays_the_weight_directly() {
    // p1 = 1 * (1 - 0.1 * 0.5) - 0.1 = 0.85; -2 * 0.95 + 0.1 = -1.8
    assert_steps(
        three_steps(AdamW::new(0.1).weight_decay(0.5)),
        [[0.85, -1.8], [0.7082484, -1.610412], [0.5749739, -1.431025]],
    );
}

/// The rule an optimizer should apply at step `t` (counted from 1).
type RuleAt = Box<dyn Fn(u32) -> UpdateRule>;

/// Every optimizer with non-default settings and its expected rule.
fn optimizers() -> Vec<(Box<dyn Optimizer>, RuleAt)> {
    vec![
        (
            Box::new(Sgd::new(0.05).momentum(0.8).nesterov(true).weight_decay(0.01)),
            Box::new(|_| UpdateRule::Sgd {
                lr: 0.05,
                momentum: 0.8,
                dampening: 0.0,
                nesterov: true,
                weight_decay: 0.01,
            }),
        ),
        (
            Box::new(Adagrad::new(0.1).eps(1e-6).weight_decay(0.02)),
            Box::new(|_| UpdateRule::Adagrad { lr: 0.1, eps: 1e-6, weight_decay: 0.02 }),
        ),
        (
            Box::new(RmsProp::new(0.01).alpha(0.9).momentum(0.5)),
            Box::new(|_| UpdateRule::RmsProp { lr: 0.01, alpha: 0.9, eps: 1e-8, momentum: 0.5, weight_decay: 0.0 }),
        ),
        (
            Box::new(Adam::new(0.01).betas(0.8, 0.99).weight_decay(0.1)),
            Box::new(|step| UpdateRule::Adam {
                lr: 0.01,
                beta1: 0.8,
                beta2: 0.99,
                eps: 1e-8,
                weight_decay: 0.1,
                decoupled: false,
                step,
            }),
        ),
        (
            Box::new(AdamW::new(0.01)),
            Box::new(|step| UpdateRule::Adam {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
                decoupled: true,
                step,
            }),
        ),
    ]
}

#[test]
fn each_optimizer_matches_the_pure_rule_on_every_parameter() {
    let cpu = Device::cpu();
    for (mut opt, rule_for) in optimizers() {
        let model = mlp(&cpu);
        let (x, y) = batch(&cpu);
        let mut host: Vec<(Vec<f32>, Vec<Vec<f32>>)> = snapshot(&model)
            .into_iter()
            .map(|(_, v)| {
                let state = vec![vec![0.0; v.len()]; rule_for(1).state_count()];
                (v, state)
            })
            .collect();
        for step in 1..=4 {
            let (_, grads) = mse_grads(&model, &x, &y);
            let rule = rule_for(step);
            for ((value, state), (_, param)) in host.iter_mut().zip(model.named_params()) {
                let g = grads.get(&param.get()).unwrap().to_vec().unwrap();
                for i in 0..value.len() {
                    let mut cell: Vec<f32> = state.iter().map(|s| s[i]).collect();
                    value[i] = rule.apply(value[i], g[i], &mut cell);
                    for (s, c) in state.iter_mut().zip(cell) {
                        s[i] = c;
                    }
                }
            }
            opt.step(&model, &grads).unwrap();
            for ((name, got), (want, _)) in snapshot(&model).iter().zip(&host) {
                assert_close(got, want, 1e-6, 1e-7);
                assert!(got.iter().all(|v| v.is_finite()), "{} step {step}: {name}", rule.name());
            }
        }
    }
}

#[test]
fn each_optimizer_minimises_a_quadratic_bowl() {
    let cpu = Device::cpu();
    let optimizers: Vec<(Box<dyn Optimizer>, usize)> = vec![
        (Box::new(Sgd::new(0.1)), 200),
        (Box::new(Sgd::new(0.05).momentum(0.9).nesterov(true)), 200),
        (Box::new(Adagrad::new(0.5)), 300),
        (Box::new(RmsProp::new(0.01)), 600),
        (Box::new(Adam::new(0.1)), 300),
        (Box::new(AdamW::new(0.1).weight_decay(0.0)), 300),
    ];
    for (mut opt, steps) in optimizers {
        assert_close(&descend_bowl(opt.as_mut(), steps, &cpu), &[3.0, -1.0, 0.5], 0.0, 2e-2);
    }
}

/// A linear model with a frozen buffer, a parameter the loss does not use, and a tied weight.
struct Mixed {
    used: Param,
    unused: Param,
    frozen: Param,
}

impl Module for Mixed {
    fn forward(&self, _x: &Tensor) -> soma_device::Result<Tensor> {
        &self.used.get() * &self.frozen.get()
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join(prefix, "used"), &self.used);
        f(&join(prefix, "tied"), &self.used);
        f(&join(prefix, "unused"), &self.unused);
        f(&join(prefix, "frozen"), &self.frozen);
    }
}

#[test]
fn skips_buffers_and_params_without_gradient_and_updates_tied_params_once() {
    let cpu = Device::cpu();
    let two = |v: f32| Tensor::from_slice(&[v, v], [2], &cpu).unwrap();
    let model = Mixed { used: Param::new(two(1.0)), unused: Param::new(two(5.0)), frozen: Param::buffer(two(2.0)) };
    // The tied weight is one parameter, as torch counts it: used and unused, 2 scalars each.
    assert_eq!((model.parameters().len(), model.num_parameters()), (2, 4));
    // Make the buffer take part in the graph too: it must still not move.
    let loss = model.forward(&two(0.0)).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    Sgd::new(0.1).step(&model, &grads).unwrap();
    // d(sum(used * 2))/d used = 2 → 1 - 0.2, once (not twice through the tied path).
    assert_close(&model.used.get().to_vec().unwrap(), &[0.8, 0.8], 1e-6, 1e-7);
    assert_eq!(model.unused.get().to_vec().unwrap(), [5.0, 5.0]);
    assert_eq!(model.frozen.get().to_vec().unwrap(), [2.0, 2.0]);
    assert!(model.used.get().is_requires_grad() && !model.frozen.get().is_requires_grad());
}

#[test]
fn stale_gradients_are_ignored() {
    // Grads are keyed by tensor: after a step the parameter is a new tensor, so stepping again
    // with the old gradients changes nothing (no silent double update).
    let model = Vector::new(&[1.0, -2.0], &Device::cpu());
    let grads = half_square_grads(&model);
    let mut opt = Sgd::new(0.1);
    opt.step(&model, &grads).unwrap();
    opt.step(&model, &grads).unwrap();
    assert_close(&model.values(), &[0.9, -1.8], 1e-6, 1e-7);
}

#[test]
fn invalid_hyper_parameters_are_errors_naming_the_optimizer() {
    let model = Vector::new(&[1.0], &Device::cpu());
    let grads = half_square_grads(&model);
    let err = Sgd::new(0.1).nesterov(true).step(&model, &grads).unwrap_err();
    assert!(matches!(err, Error::Invalid { op: "sgd", .. }), "{err}");
    let err = Adam::new(0.1).betas(1.0, 0.999).step(&model, &grads).unwrap_err();
    assert_eq!(err.to_string(), "adam: beta1 must be in [0, 1), got 1");
    let err = AdamW::new(-1.0).step(&model, &grads).unwrap_err();
    assert_eq!(err.to_string(), "adamw: lr must be finite and >= 0, got -1");
    // Each would turn every parameter to NaN (or grow it) on the first step.
    let err = Adam::new(0.1).weight_decay(f32::NAN).step(&model, &grads).unwrap_err();
    assert_eq!(err.to_string(), "adam: weight_decay must be finite and >= 0, got NaN");
    let err = Adagrad::new(0.1).weight_decay(-1.0).step(&model, &grads).unwrap_err();
    assert_eq!(err.to_string(), "adagrad: weight_decay must be finite and >= 0, got -1");
    let err = RmsProp::new(0.1).eps(f32::NAN).step(&model, &grads).unwrap_err();
    assert_eq!(err.to_string(), "rmsprop: eps must be finite and >= 0, got NaN");
    let err = RmsProp::new(0.1).weight_decay(-0.5).step(&model, &grads).unwrap_err();
    assert_eq!(err.to_string(), "rmsprop: weight_decay must be finite and >= 0, got -0.5");
    // An infinite one too: NaN weights from the first step, or no update ever.
    let err = Sgd::new(0.1).weight_decay(f32::INFINITY).step(&model, &grads).unwrap_err();
    assert_eq!(err.to_string(), "sgd: weight_decay must be finite and >= 0, got inf");
    let err = Adam::new(0.1).eps(f32::INFINITY).step(&model, &grads).unwrap_err();
    assert_eq!(err.to_string(), "adam: eps must be finite and >= 0, got inf");
    // Dampening is only used from the second step: a NaN would poison the momentum buffer there.
    let err = Sgd::new(0.1).momentum(0.9).dampening(f32::NAN).step(&model, &grads).unwrap_err();
    assert_eq!(err.to_string(), "sgd: dampening must be finite, got NaN");
    assert_eq!(model.values(), [1.0]);
}

#[test]
fn learning_rate_can_be_changed_between_steps() {
    let model = Vector::new(&[1.0, -2.0], &Device::cpu());
    let mut opt = Sgd::new(0.1);
    assert_eq!(opt.learning_rate(), 0.1);
    opt.set_learning_rate(0.5);
    opt.step(&model, &half_square_grads(&model)).unwrap();
    assert_close(&model.values(), &[0.5, -1.0], 1e-6, 1e-7);
}

#[test]
fn state_dict_round_trip_continues_identically() {
    let cpu = Device::cpu();
    let make = || -> Vec<Box<dyn Optimizer>> {
        vec![
            Box::new(Sgd::new(0.05).momentum(0.9)),
            Box::new(Adagrad::new(0.1)),
            Box::new(RmsProp::new(0.01).momentum(0.5)),
            Box::new(Adam::new(0.01)),
            Box::new(AdamW::new(0.01)),
        ]
    };
    for (mut first, mut second) in make().into_iter().zip(make()) {
        let a = mlp(&cpu);
        let b = mlp(&cpu);
        train(&a, first.as_mut(), 3);
        for ((_, pa), (_, pb)) in a.named_params().iter().zip(b.named_params()) {
            pb.set(pa.get());
        }
        first.set_learning_rate(0.02);
        let state = first.state_dict();
        assert_eq!(state.meta["lr"], "0.02");
        assert_eq!(state.meta["0.weight.step"], "3");
        second.load_state_dict(state).unwrap();
        assert_eq!(second.learning_rate(), 0.02);
        train(&a, first.as_mut(), 2);
        train(&b, second.as_mut(), 2);
        for ((name, va), (_, vb)) in snapshot(&a).iter().zip(snapshot(&b)) {
            assert_eq!(va, &vb, "{name}");
        }
    }
}

#[test]
fn state_dict_names_follow_pytorch() {
    let model = Vector::new(&[1.0], &Device::cpu());
    let mut opt = Adam::new(0.1);
    opt.step(&model, &half_square_grads(&model)).unwrap();
    let state = opt.state_dict();
    assert_eq!(state.tensors.keys().collect::<Vec<_>>(), ["w.exp_avg", "w.exp_avg_sq"]);
    assert_eq!(state.meta["optimizer"], "adam");
    assert_eq!(state.meta["w.step"], "1");
    let sgd_state = Sgd::new(0.1).state_dict();
    let err = opt.load_state_dict(sgd_state).unwrap_err();
    assert!(err.to_string().contains("not \"adam\""), "{err}");
    let mut broken = opt.state_dict();
    broken.tensors.remove("w.exp_avg");
    let err = Adam::new(0.1).load_state_dict(broken).unwrap_err();
    assert_eq!(err.to_string(), "adam: state tensor w.exp_avg is missing");
}

#[test]
fn perceptron_rule_updates_by_hand() {
    let cpu = Device::cpu();
    let weight = Param::new(Tensor::from_slice(&[0.5, -0.5], [1, 2], &cpu).unwrap());
    let bias = Param::new(Tensor::from_slice(&[0.0], [1], &cpu).unwrap());
    let x = Tensor::from_slice(&[1.0, 2.0], [2], &cpu).unwrap();
    let prediction = Tensor::from_slice(&[0.0], [1], &cpu).unwrap();
    let target = Tensor::from_slice(&[1.0], [1], &cpu).unwrap();
    // error 1: w += 0.1 * [1, 2], b += 0.1
    PerceptronRule::new(0.1).update(&weight, Some(&bias), &x, &prediction, &target).unwrap();
    assert_close(&weight.get().to_vec().unwrap(), &[0.6, -0.3], 1e-6, 1e-7);
    assert_close(&bias.get().to_vec().unwrap(), &[0.1], 1e-6, 1e-7);
    let err = PerceptronRule::new(0.1).update(&weight, None, &target, &prediction, &target).unwrap_err();
    assert!(matches!(err, Error::Shape { op: "perceptron", .. }), "{err}");
    let err = PerceptronRule::new(f32::NAN).update(&weight, None, &x, &prediction, &target).unwrap_err();
    assert_eq!(err.to_string(), "perceptron: lr must be finite and >= 0, got NaN");
    assert_close(&weight.get().to_vec().unwrap(), &[0.6, -0.3], 1e-6, 1e-7);
}

#[test]
fn perceptron_learns_and_with_a_step_activation() {
    let cpu = Device::cpu();
    let layer =
        Linear::from_tensors(Tensor::zeros([1, 2], &cpu).unwrap(), Some(Tensor::zeros([1], &cpu).unwrap())).unwrap();
    let model = Sequential::new().add(layer).add(Step::new());
    let params = model.named_params();
    let (weight, bias) = (&params[0].1, &params[1].1);
    let x = Tensor::from_slice(&[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2], &cpu).unwrap();
    let target = Tensor::from_slice(&[0.0, 0.0, 0.0, 1.0], [4, 1], &cpu).unwrap();
    let rule = PerceptronRule::new(0.1);
    for _ in 0..20 {
        for i in 0..4 {
            let xi = x.narrow(0, i, 1).unwrap();
            let prediction = model.forward(&xi).unwrap();
            rule.update(weight, Some(bias), &xi, &prediction, &target.narrow(0, i, 1).unwrap()).unwrap();
        }
    }
    assert_eq!(model.forward(&x).unwrap().to_vec().unwrap(), [0.0, 0.0, 0.0, 1.0]);
}

/// Adam continued from a state dict whose step counts are `steps`, one more step on `0.5 w²`.
fn adam_resumed_at(steps: u32) -> (Vec<f32>, String) {
    let model = Vector::new(&[1.0, -2.0], &Device::cpu());
    let mut adam = Adam::new(0.1);
    adam.step(&model, &half_square_grads(&model)).unwrap();
    let mut state = adam.state_dict();
    for (key, value) in state.meta.iter_mut() {
        if key.ends_with(".step") {
            *value = steps.to_string();
        }
    }
    adam.load_state_dict(state).unwrap();
    adam.step(&model, &half_square_grads(&model)).unwrap();
    let step = adam.state_dict().meta.iter().find(|(k, _)| k.ends_with(".step")).unwrap().1.clone();
    (model.values(), step)
}

#[test]
fn a_step_count_past_i32_resumes_at_the_limit() {
    // From a corrupt or very long-lived checkpoint: the bias corrections take their limit, 1, as
    // they already have by step 10^9 in f32 (before, u32::MAX became the exponent -1).
    let (limit, _) = adam_resumed_at(1_000_000_000);
    let (got, step) = adam_resumed_at(u32::MAX);
    assert_eq!(got, limit);
    assert!(got.iter().all(|v| v.is_finite()) && got != [1.0, -2.0], "{got:?}");
    assert_eq!(step, u32::MAX.to_string(), "the count saturates");
}
