//! Limits, invalid shaders and the adapter name: clear errors, never panics.

use soma_device::testing::gpu;
use soma_device::{Backend, BinaryOp, Device, Error, MatmulDims, Shape, StridedView, UnaryOp, WgpuBackend};

fn wgpu_backend() -> WgpuBackend {
    match gpu() {
        Device::Wgpu(b) => b,
        Device::Cpu(_) => unreachable!("testing::gpu() gives the GPU"),
    }
}

fn max_binding() -> u64 {
    let l = wgpu_backend().limits();
    l.max_storage_buffer_binding_size.min(l.max_buffer_size)
}

#[track_caller]
fn assert_limit(err: Error, op: &str, bytes: u64) {
    let msg = err.to_string();
    assert!(matches!(err, Error::Limit { .. }), "not a limit error: {msg}");
    assert!(msg.starts_with(&format!("{op}: {bytes} bytes exceed the device's max")), "{msg}");
    assert!(msg.contains(&max_binding().to_string()), "{msg}");
}

#[test]
fn over_limit_allocations_are_limit_errors() {
    let g = gpu();
    let len = 1usize << 30;
    assert_limit(g.zeros(len).unwrap_err(), "zeros", 1 << 32);
    assert_limit(g.full(len, 1.0).unwrap_err(), "full", 1 << 32);
    assert_limit(g.rand_uniform(len, 1).unwrap_err(), "rand", 1 << 32);
    let one = g.from_slice(&[1.0]).unwrap();
    // A broadcast view of one element, 2^30 elements long.
    let view = StridedView { shape: vec![1 << 15, 1 << 15], strides: vec![0, 0], offset: 0 };
    assert_limit(g.copy_strided(&one, &view).unwrap_err(), "copy_strided", 1 << 32);
    let dims = MatmulDims { batch: 1, m: 1 << 15, n: 1 << 15, k: 1, transpose_a: false, transpose_b: false };
    let a = g.zeros(1 << 15).unwrap();
    assert_limit(g.matmul(&a, &a, dims).unwrap_err(), "matmul", 1 << 32);
    let (col, row) = (Shape::new([1 << 15, 1]), Shape::new([1, 1 << 15]));
    assert_limit(g.binary(BinaryOp::Add, &a, &col, &a, &row).unwrap_err(), "binary add", 1 << 32);
    // The device still works afterwards.
    let y = g.unary(UnaryOp::Neg, &one, 0.0).unwrap();
    assert_eq!(g.to_vec(&y).unwrap(), vec![-1.0]);
    g.synchronize().unwrap();
}

#[test]
fn products_of_operands_of_the_wrong_length_name_the_op() {
    let dims = MatmulDims { batch: 2, m: 3, n: 4, k: 5, transpose_a: false, transpose_b: false };
    for device in [Device::cpu(), gpu()] {
        let (x, y) = (device.from_slice(&[1.0; 30]).unwrap(), device.from_slice(&[1.0; 39]).unwrap());
        let err = device.matmul(&x, &y, dims).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "matmul: a batch of 2 [3, 5] x [5, 4] products needs 30 and 40 values, got 30 and 39"
        );
        let err = device.linear(&y, &x, dims, None, true).unwrap_err();
        assert!(err.to_string().starts_with("linear: a batch of 2"), "{err}");
    }
}

#[test]
fn unary_over_the_limit_names_the_op() {
    // Just past the binding limit, so no 4 GiB buffer is ever needed: the check comes first.
    let b = wgpu_backend();
    let len = (max_binding() / 4 + 1) as usize;
    let err = b.zeros(len).unwrap_err();
    assert_limit(err, "zeros", len as u64 * 4);
}

#[test]
fn an_invalid_shader_is_a_device_error() {
    let b = wgpu_backend();
    let err = b.compile_wgsl("@compute @workgroup_size(1) fn main() { let x: f32 = 1u; }", "main").unwrap_err();
    assert!(matches!(err, Error::Device(_)), "{err}");
    let err = b.compile_wgsl("@compute @workgroup_size(1) fn main() {}", "missing").unwrap_err();
    assert!(matches!(err, Error::Device(_)), "{err}");
    b.compile_wgsl("@compute @workgroup_size(1) fn main() {}", "main").unwrap();
    // Errors in scopes do not leak into later work.
    b.synchronize().unwrap();
}

#[test]
fn adapter_name() {
    let g = gpu();
    let name = g.name();
    println!("GPU adapter: {name}");
    assert!(name.ends_with(')'), "the name gives the API: {name}");
    if let Ok(expected) = std::env::var("SOMA_EXPECT_ADAPTER") {
        assert!(name.to_lowercase().contains(&expected.to_lowercase()), "adapter {name:?} is not {expected:?}");
    }
    assert_eq!(gpu(), g, "one shared device per process");
}

/// An optimizer step with the wrong number of state buffers, or buffers of another length, is an
/// error naming the rule, on both backends.
#[test]
fn update_checks_its_state() {
    let adam = soma_device::UpdateRule::Adam {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weight_decay: 0.0,
        decoupled: false,
        step: 1,
    };
    for device in [soma_device::Device::cpu(), soma_device::testing::gpu()] {
        let (four, three) = (device.from_slice(&[1.0; 4]).unwrap(), device.from_slice(&[1.0; 3]).unwrap());
        let err = device.update(&adam, &four, &four, &[&four]).unwrap_err();
        assert_eq!(err.to_string(), "adam: takes 2 state buffers, got 1");
        let err = device.update(&adam, &four, &four, &[&four, &three]).unwrap_err();
        assert_eq!(err.to_string(), "adam: parameter, gradient and state lengths differ: [4, 4, 4, 3]");
    }
}
