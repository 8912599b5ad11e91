//! Random tensors: the one-pass kernels compute what the ops they replaced computed.

use soma_autograd::{Device, Rng, Tensor};
use soma_device::{BinaryOp, UnaryOp};

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn normal_is_box_muller_over_two_uniform_streams() {
    let cpu = Device::cpu();
    let n = 50_000;
    let fused = Tensor::normal([n], 0.5, 2.0, &mut Rng::new(4), &cpu).unwrap();
    let mut rng = Rng::new(4);
    let u1 = Tensor::rand([n], &mut rng, &cpu).unwrap();
    let u2 = Tensor::rand([n], &mut rng, &cpu).unwrap();
    let radius = u1.affine(-1.0, 1.0).unwrap().log().unwrap().affine(-2.0, 0.0).unwrap().sqrt().unwrap();
    let angle = u2.affine(std::f32::consts::TAU, 0.0).unwrap().unary(UnaryOp::Cos, 0.0).unwrap();
    let composed = (&radius * &angle).unwrap().affine(2.0, 0.5).unwrap();
    assert_eq!(bits(&fused), bits(&composed));
    // randn is the standard normal of the same streams.
    let standard = Tensor::randn([n], &mut Rng::new(4), &cpu).unwrap();
    assert_eq!(bits(&standard), bits(&(&radius * &angle).unwrap()));
}

#[test]
fn rand_range_is_a_scaled_and_capped_rand() {
    let cpu = Device::cpu();
    let fused = Tensor::rand_range([10_000], -3.0, 5.0, &mut Rng::new(8), &cpu).unwrap();
    let u = Tensor::rand([10_000], &mut Rng::new(8), &cpu).unwrap();
    let composed = u.affine(8.0, -3.0).unwrap().scalar_op(BinaryOp::Min, 5f32.next_down(), false).unwrap();
    assert_eq!(bits(&fused), bits(&composed));
}

#[test]
fn normal_refuses_a_negative_or_infinite_spread() {
    let cpu = Device::cpu();
    let err = Tensor::normal([2], 0.0, -1.0, &mut Rng::new(1), &cpu).unwrap_err();
    assert_eq!(err.to_string(), "normal: needs a finite mean and std >= 0, got 0 and -1");
    assert!(Tensor::normal([2], f32::NAN, 1.0, &mut Rng::new(1), &cpu).is_err());
    assert!(Tensor::normal([2], 0.0, f32::INFINITY, &mut Rng::new(1), &cpu).is_err());
}
