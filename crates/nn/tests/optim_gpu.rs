//! Optimizers on the GPU (one fused dispatch per parameter): they agree with the CPU after
//! several steps, reproduce the literal CPU values, and minimise a bowl.

mod optim_support;

use optim_support::*;
use soma_autograd::{Device, Tensor};
use soma_device::testing::{assert_close, gpu};
use soma_nn::*;

fn optimizers() -> Vec<Box<dyn Optimizer>> {
    vec![
        Box::new(Sgd::new(0.05)),
        Box::new(Sgd::new(0.05).momentum(0.9).dampening(0.1).weight_decay(0.01)),
        Box::new(Sgd::new(0.05).momentum(0.8).nesterov(true)),
        Box::new(Adagrad::new(0.1).lr_decay(0.1).weight_decay(0.01)),
        Box::new(RmsProp::new(0.01)),
        Box::new(RmsProp::new(0.01).momentum(0.5).weight_decay(0.01)),
        Box::new(Adam::new(0.01).weight_decay(0.1)),
        Box::new(AdamW::new(0.01)),
    ]
}

#[test]
fn every_optimizer_agrees_with_the_cpu_after_several_steps() {
    let gpu = gpu();
    for (mut on_cpu, mut on_gpu) in optimizers().into_iter().zip(optimizers()) {
        let cpu_model = mlp(&Device::cpu());
        let gpu_model = mlp(&gpu);
        let cpu_loss = train(&cpu_model, on_cpu.as_mut(), 6);
        let gpu_loss = train(&gpu_model, on_gpu.as_mut(), 6);
        assert!((cpu_loss - gpu_loss).abs() <= 1e-4 * cpu_loss.abs().max(1.0), "{cpu_loss} vs {gpu_loss}");
        for ((name, c), (_, g)) in snapshot(&cpu_model).iter().zip(snapshot(&gpu_model)) {
            assert_close(&g, c, 1e-4, 1e-5);
            assert!(gpu_model.named_params().iter().all(|(_, p)| p.get().device().is_gpu()), "{name}");
        }
        // The state stays on the GPU too.
        for (name, t) in on_gpu.state_dict().tensors {
            assert!(t.device().is_gpu(), "{name}");
        }
    }
}

#[test]
fn adam_literal_values_on_the_gpu() {
    // Same numbers as the CPU test (PyTorch's formulas in float64).
    let model = Vector::new(&[1.0, -2.0], &gpu());
    let mut opt = Adam::new(0.1).weight_decay(0.1);
    let want = [[0.9, -1.9], [0.8004122, -1.800166], [0.7015863, -1.700623]];
    for w in want {
        opt.step(&model, &half_square_grads(&model)).unwrap();
        assert_close(&model.values(), &w, 1e-5, 1e-6);
    }
}

#[test]
fn every_optimizer_minimises_a_bowl_on_the_gpu() {
    let gpu = gpu();
    let optimizers: Vec<(Box<dyn Optimizer>, usize)> = vec![
        (Box::new(Sgd::new(0.05).momentum(0.9).nesterov(true)), 200),
        (Box::new(Adagrad::new(0.5)), 300),
        (Box::new(RmsProp::new(0.01)), 600),
        (Box::new(Adam::new(0.1)), 300),
        (Box::new(AdamW::new(0.1).weight_decay(0.0)), 300),
    ];
    for (mut opt, steps) in optimizers {
        assert_close(&descend_bowl(opt.as_mut(), steps, &gpu), &[3.0, -1.0, 0.5], 0.0, 2e-2);
    }
}

#[test]
fn perceptron_rule_on_the_gpu() {
    let gpu = gpu();
    let weight = Param::new(Tensor::from_slice(&[0.5, -0.5], [1, 2], &gpu).unwrap());
    let x = Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0], [2, 2], &gpu).unwrap();
    let prediction = Tensor::from_slice(&[1.0, 0.0], [2, 1], &gpu).unwrap();
    let target = Tensor::from_slice(&[0.0, 1.0], [2, 1], &gpu).unwrap();
    // errors [-1, 1]: w += 0.1 * (-[1, 2] + [3, 4]) = [0.2, 0.2]
    PerceptronRule::new(0.1).update(&weight, None, &x, &prediction, &target).unwrap();
    assert_close(&weight.get().to_vec().unwrap(), &[0.7, -0.3], 1e-6, 1e-6);
}
