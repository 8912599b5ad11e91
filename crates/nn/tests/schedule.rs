//! Learning-rate schedules (PyTorch's values), gradient clipping and early stopping, on the CPU.

mod optim_support;

use optim_support::*;
use soma_autograd::{Device, Grads, Tensor};
use soma_device::Error;
use soma_device::testing::assert_close;
use soma_nn::*;

fn rates(s: &dyn LrScheduler, epochs: usize) -> Vec<f32> {
    (0..epochs).map(|e| s.lr_at(e)).collect()
}

#[test]
fn step_lr_decays_every_step_size_epochs() {
    // torch.optim.lr_scheduler.StepLR(opt(lr=0.1), step_size=3, gamma=0.1)
    let s = StepLR::new(&Sgd::new(0.1), 3, 0.1).unwrap();
    assert_close(&rates(&s, 7), &[0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001], 1e-6, 0.0);
    // Epochs whose count of decays passes an i32 keep decaying (a cast wrapped them to 1 or inf).
    let s = StepLR::new(&Sgd::new(0.1), 1, 0.5).unwrap();
    assert_eq!([s.lr_at(1 << 31), s.lr_at(1 << 32), s.lr_at(usize::MAX)], [0.0; 3]);
}

#[test]
fn exponential_lr_decays_every_epoch() {
    // ExponentialLR(opt(lr=0.1), gamma=0.5)
    let s = ExponentialLR::new(&Sgd::new(0.1), 0.5).unwrap();
    assert_close(&rates(&s, 4), &[0.1, 0.05, 0.025, 0.0125], 1e-6, 0.0);
}

#[test]
fn cosine_annealing_lr_follows_half_a_cosine() {
    // CosineAnnealingLR(opt(lr=0.1), T_max=10, eta_min=0.001):
    // epoch 2: 0.001 + 0.099 * (1 + cos(0.2 pi)) / 2 = 0.0905463; epoch 5: 0.0505; epoch 10: 0.001
    let s = CosineAnnealingLR::new(&Sgd::new(0.1), 10, 0.001).unwrap();
    assert_close(&[s.lr_at(0), s.lr_at(2), s.lr_at(5), s.lr_at(10)], &[0.1, 0.0905463, 0.0505, 0.001], 1e-5, 0.0);
    // Past t_max PyTorch's schedule comes back up: epoch 15 = epoch 5, epoch 20 = epoch 0.
    assert_close(&[s.lr_at(15), s.lr_at(20)], &[0.0505, 0.1], 1e-5, 0.0);
}

#[test]
fn step_sets_the_optimizer_learning_rate_each_epoch() {
    let mut opt = Sgd::new(0.1);
    let mut s = StepLR::new(&opt, 2, 0.5).unwrap();
    // As torch, the base rate is the optimizer's, so the epochs before the first step follow the
    // schedule too.
    assert_eq!(StepLR::new(&Adam::new(0.5), 3, 0.1).unwrap().lr_at(2), 0.5);
    let mut seen = vec![opt.learning_rate()];
    for _ in 0..4 {
        let lr = s.step(&mut opt);
        assert_eq!(lr, opt.learning_rate());
        seen.push(lr);
    }
    assert_eq!(s.epoch(), 4);
    assert_close(&seen, &[0.1, 0.1, 0.05, 0.05, 0.025], 1e-6, 0.0);
    // The new rate is what the next update uses: p -= 0.025 * p.
    let model = Vector::new(&[1.0], &Device::cpu());
    opt.step(&model, &half_square_grads(&model)).unwrap();
    assert_close(&model.values(), &[0.975], 1e-6, 0.0);
}

/// Two parameters with gradients `[3, 4]` and `[12]` (global norm 13).
fn two_params(device: &Device) -> (Vec<Param>, Grads) {
    let a = Param::new(Tensor::from_slice(&[1.5, 2.0], [2], device).unwrap());
    let b = Param::new(Tensor::from_slice(&[6.0], [1], device).unwrap());
    // loss = sum(a^2) + sum(b^2) has gradients 2a, 2b.
    let loss = (&a.get().square().unwrap().sum_all().unwrap() + &b.get().square().unwrap().sum_all().unwrap()).unwrap();
    (vec![a, b], loss.backward().unwrap())
}

fn grad_values(grads: &Grads, params: &[Param]) -> Vec<f32> {
    params.iter().flat_map(|p| grads.get(&p.get()).unwrap().to_vec().unwrap()).collect()
}

fn clip_norm_cases(device: &Device) {
    let (params, mut grads) = two_params(device);
    let norm = clip_grad_norm(&mut grads, &params, 20.0).unwrap();
    assert_close(&[norm], &[13.0], 1e-6, 0.0);
    assert_close(&grad_values(&grads, &params), &[3.0, 4.0, 12.0], 1e-6, 0.0);

    // scale = 6.5 / (13 + 1e-6) ≈ 0.5
    let norm = clip_grad_norm(&mut grads, &params, 6.5).unwrap();
    assert_close(&[norm], &[13.0], 1e-6, 0.0);
    assert_close(&grad_values(&grads, &params), &[1.5, 2.0, 6.0], 1e-6, 0.0);
    let norm = clip_grad_norm(&mut grads, &params, 6.5).unwrap();
    assert_close(&[norm], &[6.5], 1e-6, 0.0);

    let (params, mut grads) = two_params(device);
    clip_grad_value(&mut grads, &params, 3.5).unwrap();
    assert_close(&grad_values(&grads, &params), &[3.0, 3.5, 3.5], 0.0, 0.0);
}

#[test]
fn clip_grad_norm_and_value_by_hand() {
    clip_norm_cases(&Device::cpu());
}

#[test]
fn clipping_ignores_params_without_gradients_and_rejects_bad_limits() {
    let cpu = Device::cpu();
    let (mut params, mut grads) = two_params(&cpu);
    params.push(Param::new(Tensor::ones([3], &cpu).unwrap()));
    params.push(params[0].clone());
    assert_close(&[clip_grad_norm(&mut grads, &params, 100.0).unwrap()], &[13.0], 1e-6, 0.0);
    assert_eq!(clip_grad_norm(&mut Grads::default(), &params, 1.0).unwrap(), 0.0);
    let err = clip_grad_norm(&mut grads, &params, -1.0).unwrap_err();
    assert_eq!(err.to_string(), "clip_grad_norm: max_norm must be >= 0, got -1");
    assert!(matches!(clip_grad_value(&mut grads, &params, f32::NAN), Err(Error::Invalid { .. })));
}

#[test]
fn clipped_gradients_feed_the_optimizer() {
    let model = mlp(&Device::cpu());
    let (x, y) = batch(&Device::cpu());
    let (_, mut grads) = mse_grads(&model, &x, &y);
    let norm = clip_grad_norm(&mut grads, &model.parameters(), 1e-3).unwrap();
    assert!(norm > 1e-3);
    let before = snapshot(&model);
    Sgd::new(1.0).step(&model, &grads).unwrap();
    // The whole update has norm lr * 1e-3.
    let moved: f32 = snapshot(&model)
        .iter()
        .zip(&before)
        .flat_map(|((_, a), (_, b))| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)))
        .sum();
    assert_close(&[moved.sqrt()], &[1e-3], 1e-3, 0.0);
}

#[test]
fn early_stopping_min_with_patience_and_min_delta() {
    let mut stop = EarlyStopping::new(2, 0.01, Mode::Min).unwrap();
    assert!(!stop.should_stop(1.0)); // epoch 1: best 1.0
    assert!(stop.improved());
    assert!(!stop.should_stop(0.5)); // epoch 2: best 0.5
    assert!(!stop.should_stop(0.495)); // not better by more than 0.01
    assert!(!stop.improved());
    assert!(!stop.should_stop(0.48)); // epoch 4: best 0.48, counter reset
    assert!(!stop.should_stop(0.6));
    assert!(stop.should_stop(f32::NAN)); // second epoch in a row without improvement
    // Epochs count from 1, as MetricsLogger's rows.
    assert_eq!((stop.best(), stop.best_epoch()), (Some(0.48), Some(4)));
    assert_eq!(stop.epochs_without_improvement(), 2);
}

#[test]
fn early_stopping_max_for_accuracy() {
    let mut stop = EarlyStopping::new(3, 0.0, Mode::Max).unwrap();
    let accuracies = [0.5, 0.7, 0.7, 0.69, 0.71, 0.70, 0.70, 0.65];
    let stopped_at = accuracies.iter().position(|&a| stop.should_stop(a));
    assert_eq!(stopped_at, Some(7));
    assert_eq!((stop.best(), stop.best_epoch()), (Some(0.71), Some(5)));
    assert_eq!(EarlyStopping::new(0, 0.0, Mode::Max).unwrap().best(), None);
}

#[test]
fn bad_schedule_and_stopping_parameters_are_errors() {
    let err = StepLR::new(&Sgd::new(0.1), 3, -0.5).unwrap_err();
    assert_eq!(err.to_string(), "StepLR: gamma must be finite and >= 0, got -0.5");
    let err = ExponentialLR::new(&Sgd::new(f32::NAN), 0.5).unwrap_err();
    assert_eq!(err.to_string(), "ExponentialLR: base_lr must be finite and >= 0, got NaN");
    let err = CosineAnnealingLR::new(&Sgd::new(0.1), 10, -1.0).unwrap_err();
    assert_eq!(err.to_string(), "CosineAnnealingLR: eta_min must be finite and >= 0, got -1");
    // torch raises at the first step() for these; they were taken as 1.
    let err = StepLR::new(&Sgd::new(0.1), 0, 0.5).unwrap_err();
    assert_eq!(err.to_string(), "StepLR: step_size must be at least 1");
    let err = CosineAnnealingLR::new(&Sgd::new(0.1), 0, 0.0).unwrap_err();
    assert_eq!(err.to_string(), "CosineAnnealingLR: t_max must be at least 1");
    let err = EarlyStopping::new(3, f32::NAN, Mode::Min).unwrap_err();
    assert_eq!(err.to_string(), "EarlyStopping: min_delta must be finite, got NaN");
    // A growing rate that overflows is refused by the next step, before any weight turns NaN.
    let schedule = ExponentialLR::new(&Sgd::new(0.1), 1.5).unwrap();
    assert_eq!(schedule.lr_at(300), f32::INFINITY);
    let model = Vector::new(&[1.0], &Device::cpu());
    let mut opt = Adam::new(0.1);
    opt.set_learning_rate(schedule.lr_at(300));
    let err = opt.step(&model, &half_square_grads(&model)).unwrap_err();
    assert_eq!(err.to_string(), "adam: lr must be finite and >= 0, got inf");
    assert_eq!(model.values(), [1.0]);
}
