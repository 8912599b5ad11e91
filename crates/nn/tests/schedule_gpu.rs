//! Gradient clipping on the GPU: the norm is summed on the device (one readback).

use soma_autograd::{Grads, Tensor};
use soma_device::testing::{assert_close, gpu};
use soma_nn::*;

#[test]
fn clip_grad_norm_and_value_on_the_gpu() {
    let gpu = gpu();
    let a = Param::new(Tensor::from_slice(&[1.5, 2.0], [2], &gpu).unwrap());
    let b = Param::new(Tensor::from_slice(&[6.0], [1], &gpu).unwrap());
    let grads = || -> Grads {
        let loss =
            (&a.get().square().unwrap().sum_all().unwrap() + &b.get().square().unwrap().sum_all().unwrap()).unwrap();
        loss.backward().unwrap()
    };
    let params = [a.clone(), b.clone()];
    let values =
        |g: &Grads| -> Vec<f32> { params.iter().flat_map(|p| g.get(&p.get()).unwrap().to_vec().unwrap()).collect() };
    let mut g = grads();
    assert_close(&[clip_grad_norm(&mut g, &params, 6.5).unwrap()], &[13.0], 1e-6, 0.0);
    assert_close(&values(&g), &[1.5, 2.0, 6.0], 1e-6, 0.0);
    assert!(params.iter().all(|p| g.get(&p.get()).unwrap().device().is_gpu()));
    let mut g = grads();
    clip_grad_value(&mut g, &params, 3.5).unwrap();
    assert_close(&values(&g), &[3.0, 3.5, 3.5], 0.0, 0.0);
}
