//! Layers on the GPU: same seed ⇒ same init; forward outputs, input and parameter gradients and
//! updated buffers agree with the CPU.

mod common;

use common::{assert_devices_agree, host_randn};
use soma_autograd::{Device, Rng};
use soma_nn::*;

const TOL: f32 = 1e-4;

fn agree(make: impl Fn(&Device) -> Box<dyn Module>, shape: &[usize]) {
    assert_devices_agree(make, &host_randn(shape, 42), shape, TOL);
}

#[test]
fn linear() {
    agree(|d| Box::new(Linear::new(7, 5, d, &mut Rng::new(1)).unwrap()), &[3, 7]);
    agree(|d| Box::new(Linear::new(7, 5, d, &mut Rng::new(1)).unwrap()), &[2, 3, 7]);
    agree(|d| Box::new(Linear::with_bias(300, 257, false, d, &mut Rng::new(1)).unwrap()), &[33, 300]);
}

#[test]
fn conv2d() {
    agree(|d| Box::new(Conv2d::new(3, 4, 3, d, &mut Rng::new(2)).unwrap().stride(2).padding(1)), &[2, 3, 9, 9]);
    agree(|d| Box::new(Conv2d::new(1, 6, 5, d, &mut Rng::new(2)).unwrap().padding(2)), &[2, 1, 12, 12]);
    agree(|d| Box::new(Conv2d::with_bias(2, 3, (2, 3), false, d, &mut Rng::new(2)).unwrap()), &[1, 2, 5, 6]);
}

#[test]
fn pools() {
    agree(|_| Box::new(MaxPool2d::new(2)), &[2, 3, 8, 8]);
    agree(|_| Box::new(MaxPool2d::new(3).stride(2).padding(1)), &[2, 3, 7, 7]);
    agree(|_| Box::new(AvgPool2d::new(2)), &[2, 3, 8, 6]);
    agree(|_| Box::new(AvgPool2d::new((3, 2)).stride(1).padding(1)), &[1, 2, 5, 5]);
}

#[test]
fn flatten_and_activations() {
    let shape = [4, 3, 5];
    agree(|_| Box::new(Flatten::new()), &shape);
    agree(|_| Box::new(Step::new()), &shape);
    agree(|_| Box::new(Sigmoid::new()), &shape);
    agree(|_| Box::new(Tanh::new()), &shape);
    agree(|_| Box::new(ReLU::new()), &shape);
    agree(|_| Box::new(LeakyReLU::new(0.2)), &shape);
    agree(|_| Box::new(ELU::new(0.7)), &shape);
    agree(|_| Box::new(GELU::new()), &shape);
    agree(|_| Box::new(Softmax::new(2)), &shape);
    agree(|_| Box::new(Softmax::new(1)), &shape);
    agree(|_| Box::new(LogSoftmax::new(2)), &shape);
}

#[test]
fn dropout_train_and_eval() {
    // Same seed ⇒ the same masks on both devices.
    agree(|_| Box::new(Dropout::new(0.4, &mut Rng::new(5)).unwrap()), &[16, 33]);
    agree(
        |_| {
            let mut d = Dropout::new(0.4, &mut Rng::new(5)).unwrap();
            d.eval();
            Box::new(d)
        },
        &[16, 33],
    );
}

#[test]
fn batch_norm() {
    // Train mode: batch statistics, and running statistics updated identically.
    agree(|d| Box::new(BatchNorm2d::new(3, d).unwrap()), &[4, 3, 5, 5]);
    agree(|d| Box::new(BatchNorm1d::new(6, d).unwrap()), &[8, 6]);
    agree(|d| Box::new(BatchNorm1d::new(6, d).unwrap()), &[4, 6, 3]);
    agree(
        |d| {
            let mut bn = BatchNorm2d::new(3, d).unwrap();
            bn.running_mean().set(soma_autograd::Tensor::from_vec(vec![0.5, -1.0, 2.0], [3], d).unwrap());
            bn.running_var().set(soma_autograd::Tensor::from_vec(vec![2.0, 0.5, 1.5], [3], d).unwrap());
            bn.eval();
            Box::new(bn)
        },
        &[2, 3, 4, 4],
    );
}

#[test]
fn layer_norm() {
    agree(
        |d| {
            let ln = LayerNorm::new(9, d).unwrap();
            ln.weight().set(soma_autograd::Tensor::rand_range([9], 0.5, 1.5, &mut Rng::new(3), d).unwrap());
            Box::new(ln)
        },
        &[2, 5, 9],
    );
}

#[test]
fn embedding() {
    let ids = [3.0, 0.0, 9.0, 3.0, 5.0, 1.0];
    assert_devices_agree(|d| Box::new(Embedding::new(10, 4, d, &mut Rng::new(4)).unwrap()), &ids, &[2, 3], TOL);
}
