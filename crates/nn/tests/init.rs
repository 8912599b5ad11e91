//! Initialisers: statistics of large tensors against the formulas, gains, fans, errors.

use soma_autograd::{Device, Rng, Shape, Tensor};
use soma_nn::init::{self, FanMode, Nonlinearity};

fn stats(t: &Tensor) -> (f64, f64, f64) {
    let v = t.to_vec().unwrap();
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let max = v.iter().map(|&x| (x as f64).abs()).fold(0.0, f64::max);
    (mean, var.sqrt(), max)
}

#[test]
fn fans_and_gains() {
    assert_eq!(init::fans(&Shape::new([20, 30])).unwrap(), (30, 20));
    assert_eq!(init::fans(&Shape::new([16, 6, 5, 5])).unwrap(), (150, 400));
    assert!(init::fans(&Shape::new([5])).unwrap_err().to_string().contains("[5]"));
    assert_eq!(Nonlinearity::Linear.gain(), 1.0);
    assert_eq!(Nonlinearity::Sigmoid.gain(), 1.0);
    assert!((Nonlinearity::Tanh.gain() - 5.0 / 3.0).abs() < 1e-7);
    assert!((Nonlinearity::Relu.gain() - 2f32.sqrt()).abs() < 1e-7);
    // torch.nn.init.calculate_gain('leaky_relu', 0.2) = sqrt(2 / 1.04) = 1.3867504905630728
    assert!((Nonlinearity::LeakyRelu(0.2).gain() - 1.3867505).abs() < 1e-6);
}

#[test]
fn kaiming_normal_statistics() {
    // fan_in = 256 * 3 * 3 = 2304; std = sqrt(2) / sqrt(2304) = 0.029462782549439483
    let w =
        init::kaiming_normal([512, 256, 3, 3], FanMode::FanIn, Nonlinearity::Relu, &Device::cpu(), &mut Rng::new(1))
            .unwrap();
    let (mean, std, _) = stats(&w);
    assert!(mean.abs() < 2e-4, "mean {mean}");
    assert!((std / 0.029462782549439483 - 1.0).abs() < 0.01, "std {std}");
    // fan_out = 512 * 9 = 4608, tanh gain: std = (5/3) / sqrt(4608) = 0.024552318791199572
    let w =
        init::kaiming_normal([512, 256, 3, 3], FanMode::FanOut, Nonlinearity::Tanh, &Device::cpu(), &mut Rng::new(2))
            .unwrap();
    assert!((stats(&w).1 / ((5.0 / 3.0) / 4608f64.sqrt()) - 1.0).abs() < 0.01);
}

#[test]
fn kaiming_uniform_statistics() {
    // bound = sqrt(2) * sqrt(3 / 1000) = 0.07745966692414834; std of U(-b, b) = b / sqrt(3)
    let w = init::kaiming_uniform([1000, 1000], FanMode::FanIn, Nonlinearity::Relu, &Device::cpu(), &mut Rng::new(3))
        .unwrap();
    let (mean, std, max) = stats(&w);
    assert!(mean.abs() < 2e-4, "mean {mean}");
    assert!(max <= 0.07745967 && max > 0.0774, "max {max}");
    assert!((std / (0.07745966692414834 / 3f64.sqrt()) - 1.0).abs() < 0.01, "std {std}");
    // leaky_relu(0.01) with fan_out 500: bound = sqrt(2 / 1.0001) * sqrt(3 / 500) = 0.10954...
    let w = init::kaiming_uniform(
        [500, 2000],
        FanMode::FanOut,
        Nonlinearity::LeakyRelu(0.01),
        &Device::cpu(),
        &mut Rng::new(4),
    )
    .unwrap();
    let bound = (2.0f64 / 1.0001).sqrt() * (3.0f64 / 500.0).sqrt();
    assert!(stats(&w).2 <= bound + 1e-6 && stats(&w).2 > 0.999 * bound);
}

#[test]
fn xavier_statistics() {
    // xavier_uniform: a = sqrt(6 / (400 + 600)) = 0.07745966692414834
    let w = init::xavier_uniform([400, 600], 1.0, &Device::cpu(), &mut Rng::new(5)).unwrap();
    let (mean, std, max) = stats(&w);
    assert!(mean.abs() < 3e-4 && max <= 0.07745967 && (std / (0.07745966692414834 / 3f64.sqrt()) - 1.0).abs() < 0.01);
    // xavier_normal, tanh gain: std = 5/3 * sqrt(2 / 1000) = 0.07453559924999299
    let w = init::xavier_normal([400, 600], Nonlinearity::Tanh.gain(), &Device::cpu(), &mut Rng::new(6)).unwrap();
    let (mean, std, _) = stats(&w);
    assert!(mean.abs() < 3e-4 && (std / 0.07453559924999299 - 1.0).abs() < 0.01, "{mean} {std}");
}

#[test]
fn simple_initialisers() {
    let dev = Device::cpu();
    assert!(init::zeros([3, 4], &dev).unwrap().to_vec().unwrap().iter().all(|&v| v == 0.0));
    assert!(init::constant([3, 4], 0.25, &dev).unwrap().to_vec().unwrap().iter().all(|&v| v == 0.25));
    let u = init::uniform([10_000], -2.0, 3.0, &dev, &mut Rng::new(1)).unwrap().to_vec().unwrap();
    assert!(u.iter().all(|&v| (-2.0..3.0).contains(&v)));
    let (mean, std, _) = stats(&init::normal([100_000], 1.5, 0.5, &dev, &mut Rng::new(2)).unwrap());
    assert!((mean - 1.5).abs() < 0.01 && (std - 0.5).abs() < 0.01, "{mean} {std}");
    let b = init::fan_in_uniform([10_000], 25, &dev, &mut Rng::new(3)).unwrap().to_vec().unwrap();
    assert!(b.iter().all(|v| v.abs() <= 0.2) && b.iter().any(|v| v.abs() > 0.19));
    assert!(init::uniform([2], 1.0, 0.0, &dev, &mut Rng::new(1)).is_err());
    let err = init::uniform([2], f32::MIN, f32::MAX, &dev, &mut Rng::new(1)).unwrap_err();
    assert!(err.to_string().starts_with("init::uniform: needs finite low <= high"), "{err}");
    let err = soma_autograd::Tensor::rand_range([2], 0.0, f32::INFINITY, &mut Rng::new(1), &dev).unwrap_err();
    assert_eq!(err.to_string(), "rand_range: needs finite low <= high, got 0 and inf");
    // Half-open even when rounding would reach `high`: one ulp wide, every value is `low`.
    let narrow = soma_autograd::Tensor::rand_range([1000], 1.0, 1f32.next_up(), &mut Rng::new(1), &dev).unwrap();
    assert!(narrow.to_vec().unwrap().iter().all(|&v| v == 1.0));
    assert!(init::normal([2], 0.0, -1.0, &dev, &mut Rng::new(1)).is_err());
}

#[test]
fn same_seed_same_values_on_the_gpu() {
    let gpu = soma_device::testing::gpu();
    let a = init::kaiming_uniform([64, 32, 3, 3], FanMode::FanIn, Nonlinearity::Relu, &gpu, &mut Rng::new(9)).unwrap();
    let b = init::kaiming_uniform([64, 32, 3, 3], FanMode::FanIn, Nonlinearity::Relu, &Device::cpu(), &mut Rng::new(9))
        .unwrap();
    soma_device::testing::assert_close(&a.to_vec().unwrap(), &b.to_vec().unwrap(), 1e-6, 1e-7);
    let a = init::xavier_normal([64, 32], 1.0, &gpu, &mut Rng::new(9)).unwrap();
    let b = init::xavier_normal([64, 32], 1.0, &Device::cpu(), &mut Rng::new(9)).unwrap();
    soma_device::testing::assert_close(&a.to_vec().unwrap(), &b.to_vec().unwrap(), 1e-4, 1e-5);
}
