//! A LeNet-style CNN with BatchNorm2d and Dropout: forward + backward on both backends, agreeing
//! gradients, a few training steps, and shape errors from inside the network.

mod common;

use common::run;
use soma_autograd::{Device, Rng, Tensor, gradcheck, no_grad};
use soma_device::testing::{assert_close, gpu};
use soma_nn::loss::{accuracy, cross_entropy};
use soma_nn::*;

/// Conv(1,6,5,p2)-BN-ReLU-MaxPool(2)-Conv(6,16,5)-BN-ReLU-MaxPool(2)-Flatten-Linear(400,120)-ReLU-
/// Dropout(0.5)-Linear(120,84)-ReLU-Linear(84,10).
fn lenet(dev: &Device, seed: u64) -> Sequential {
    let mut rng = Rng::new(seed);
    Sequential::new()
        .add(Conv2d::new(1, 6, 5, dev, &mut rng).unwrap().padding(2))
        .add(BatchNorm2d::new(6, dev).unwrap())
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Conv2d::new(6, 16, 5, dev, &mut rng).unwrap())
        .add(BatchNorm2d::new(16, dev).unwrap())
        .add(ReLU::new())
        .add(MaxPool2d::new(2))
        .add(Flatten::new())
        .add(Linear::new(400, 120, dev, &mut rng).unwrap())
        .add(ReLU::new())
        .add(Dropout::new(0.5, &mut rng).unwrap())
        .add(Linear::new(120, 84, dev, &mut rng).unwrap())
        .add(ReLU::new())
        .add(Linear::new(84, 10, dev, &mut rng).unwrap())
}

fn images(n: usize) -> Vec<f32> {
    Tensor::rand([n, 1, 28, 28], &mut Rng::new(11), &Device::cpu()).unwrap().to_vec().unwrap()
}

const LABELS: [f32; 4] = [3.0, 7.0, 0.0, 9.0];

/// Cross-entropy of the network on `x`, and every trainable parameter's gradient by path.
fn loss_and_grads(net: &Sequential, x: &[f32], dev: &Device) -> (f32, Vec<(String, Vec<f32>)>) {
    let x = Tensor::from_slice(x, [4, 1, 28, 28], dev).unwrap();
    let logits = net.forward(&x).unwrap();
    assert_eq!(logits.dims(), [4, 10]);
    let loss = cross_entropy(&logits, &Tensor::from_slice(&LABELS, [4], dev).unwrap()).unwrap();
    let grads = loss.backward().unwrap();
    let g = net
        .named_params()
        .into_iter()
        .filter(|(_, p)| p.is_trainable())
        .map(|(n, p)| (n.clone(), grads.get(&p.get()).unwrap_or_else(|| panic!("{n}: no gradient")).to_vec().unwrap()))
        .collect();
    (loss.item().unwrap(), g)
}

#[test]
fn lenet_parameters() {
    let net = lenet(&Device::cpu(), 1);
    // 156 + 12 + 2416 + 32 + 48120 + 10164 + 850
    assert_eq!(net.num_parameters(), 61_750);
    let names: Vec<_> = net.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(&names[..6], ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"]);
    assert_eq!(names.last().unwrap(), "14.bias");
}

#[test]
fn lenet_forward_backward_cpu_and_gpu_agree() {
    let x = images(4);
    let (cpu, gpu) = (Device::cpu(), gpu());
    let (net_cpu, net_gpu) = (lenet(&cpu, 1), lenet(&gpu, 1));
    let (loss_cpu, grads_cpu) = loss_and_grads(&net_cpu, &x, &cpu);
    let (loss_gpu, grads_gpu) = loss_and_grads(&net_gpu, &x, &gpu);
    assert!(loss_cpu.is_finite() && (loss_cpu - loss_gpu).abs() <= 1e-4 * loss_cpu.abs(), "{loss_cpu} vs {loss_gpu}");
    assert_eq!(grads_cpu.len(), 14);
    let scale = grads_cpu.iter().flat_map(|(_, g)| g).fold(0f32, |m, v| m.max(v.abs()));
    for ((name, gc), (_, gg)) in grads_cpu.iter().zip(&grads_gpu) {
        if name == "0.bias" || name == "4.bias" {
            // A conv bias followed by batch norm cancels out: its gradient is zero up to rounding.
            assert!(gc.iter().chain(gg).all(|v| v.abs() <= 1e-5 * scale), "{name}: {gc:?} {gg:?}");
            continue;
        }
        assert!(gc.iter().any(|&v| v != 0.0), "{name}: zero gradient");
        assert_close(gg, gc, 1e-3, 1e-5 * scale);
    }
    // The running statistics moved identically.
    for ((name, pc), (_, pg)) in net_cpu.named_params().iter().zip(net_gpu.named_params().iter()) {
        if name.contains("running") {
            assert_close(&pg.get().to_vec().unwrap(), &pc.get().to_vec().unwrap(), 1e-4, 1e-5);
        }
    }
}

#[test]
fn lenet_eval_mode_agrees_and_is_deterministic() {
    let x = images(4);
    let mut outs = Vec::new();
    for dev in [Device::cpu(), gpu()] {
        let mut net = lenet(&dev, 2);
        net.eval();
        let r = run(&net, &x, &[4, 1, 28, 28], &dev);
        assert_eq!(r.out, run(&net, &x, &[4, 1, 28, 28], &dev).out);
        outs.push(r);
    }
    assert_close(&outs[1].out, &outs[0].out, 1e-4, 1e-5);
    assert_close(&outs[1].input_grad, &outs[0].input_grad, 1e-3, 1e-5);
}

#[test]
fn lenet_input_gradcheck_in_eval_mode() {
    let dev = Device::cpu();
    let mut net = lenet(&dev, 3);
    net.eval();
    let x = Tensor::rand([1, 1, 28, 28], &mut Rng::new(5), &dev).unwrap();
    gradcheck(|xs| net.forward(&xs[0]), &[x], 2e-2).unwrap();
}

#[test]
fn lenet_learns_a_fixed_batch() {
    // Plain SGD (lr 0.05) in training mode: batch statistics and fresh dropout masks every step.
    let dev = Device::cpu();
    let net = lenet(&dev, 4);
    let x = Tensor::from_vec(images(4), [4, 1, 28, 28], &dev).unwrap();
    let y = Tensor::from_slice(&LABELS, [4], &dev).unwrap();
    let mut losses = Vec::new();
    for _ in 0..20 {
        let loss = cross_entropy(&net.forward(&x).unwrap(), &y).unwrap();
        losses.push(loss.item().unwrap());
        let grads = loss.backward().unwrap();
        no_grad(|| {
            for p in net.parameters() {
                let g = grads.get(&p.get()).unwrap();
                p.set((&p.get() - &g.affine(0.05, 0.0).unwrap()).unwrap());
            }
        });
    }
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    assert!(last < 0.25 * first, "training loss {losses:?}");
    assert_eq!(accuracy(&net.forward(&x).unwrap(), &y).unwrap(), 1.0);
}

#[test]
fn lenet_wrong_input_names_the_layer() {
    let net = lenet(&Device::cpu(), 1);
    let err = net.forward(&Tensor::zeros([4, 3, 28, 28], &Device::cpu()).unwrap()).unwrap_err().to_string();
    assert!(err.starts_with("Conv2d") && err.contains("[4, 3, 28, 28]"), "{err}");
    // 32x32 images reach Linear(400, 120) with 576 features.
    let err = net.forward(&Tensor::zeros([2, 1, 32, 32], &Device::cpu()).unwrap()).unwrap_err().to_string();
    assert!(err.starts_with("Linear") && err.contains("[2, 576]"), "{err}");
}
