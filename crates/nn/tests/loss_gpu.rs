//! Losses on the GPU: values and gradients agree with the CPU.

use soma_autograd::{Device, Result, Rng, Tensor};
use soma_device::testing::{assert_close, gpu};
use soma_nn::loss::*;

type Loss = fn(&Tensor, &Tensor) -> Result<Tensor>;

/// The loss and the gradient w.r.t. the prediction, on `dev`.
fn eval(loss: Loss, pred: &[f32], target: &[f32], shape: &[usize], tshape: &[usize], dev: &Device) -> Vec<f32> {
    let p = Tensor::from_slice(pred, shape.to_vec(), dev).unwrap().requires_grad();
    let t = Tensor::from_slice(target, tshape.to_vec(), dev).unwrap();
    let l = loss(&p, &t).unwrap();
    let g = l.backward().unwrap().get(&p).unwrap().to_vec().unwrap();
    let mut out = vec![l.item().unwrap()];
    out.extend(g);
    out
}

fn agree(loss: Loss, pred: &[f32], target: &[f32], shape: &[usize], tshape: &[usize]) {
    let a = eval(loss, pred, target, shape, tshape, &gpu());
    let b = eval(loss, pred, target, shape, tshape, &Device::cpu());
    assert_close(&a, &b, 1e-4, 1e-6);
}

fn data(shape: &[usize], low: f32, high: f32, seed: u64) -> Vec<f32> {
    Tensor::rand_range(shape.to_vec(), low, high, &mut Rng::new(seed), &Device::cpu()).unwrap().to_vec().unwrap()
}

#[test]
fn regression_losses() {
    let s = [7, 33];
    let (p, t) = (data(&s, -3.0, 3.0, 1), data(&s, -3.0, 3.0, 2));
    agree(mse_loss, &p, &t, &s, &s);
    agree(l1_loss, &p, &t, &s, &s);
    agree(|a, b| huber_loss(a, b, 1.0), &p, &t, &s, &s);
    agree(|a, b| huber_loss(a, b, 0.3), &p, &t, &s, &s);
}

#[test]
fn binary_losses() {
    let s = [300];
    let y: Vec<f32> = data(&s, 0.0, 1.0, 3).iter().map(|v| v.round()).collect();
    let mut logits = data(&s, -8.0, 8.0, 4);
    logits[0] = 1e4;
    logits[1] = -1e4;
    agree(binary_cross_entropy_with_logits, &logits, &y, &s, &s);
    agree(binary_cross_entropy, &data(&s, 0.01, 0.99, 5), &y, &s, &s);
}

#[test]
fn classification_losses() {
    let (n, c) = (37, 10);
    let mut logits = data(&[n, c], -5.0, 5.0, 6);
    logits[0] = 1e4;
    logits[15] = -1e4;
    let targets: Vec<f32> = (0..n).map(|i| ((i * 7) % c) as f32).collect();
    agree(cross_entropy, &logits, &targets, &[n, c], &[n]);
    let padded: Vec<f32> = targets.iter().enumerate().map(|(i, &t)| if i % 3 == 1 { -100.0 } else { t }).collect();
    agree(|a, b| cross_entropy_ignoring(a, b, -100), &logits, &padded, &[n, c], &[n]);
    agree(|a, b| nll_loss(&a.log_softmax(1)?, b), &logits, &targets, &[n, c], &[n]);
    let acc = |dev: &Device| {
        let l = Tensor::from_slice(&logits, [n, c], dev).unwrap();
        accuracy(&l, &Tensor::from_slice(&targets, [n], dev).unwrap()).unwrap()
    };
    assert_eq!(acc(&gpu()), acc(&Device::cpu()));
}
