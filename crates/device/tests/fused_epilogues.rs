//! Elementwise kernels whose intermediate result nothing else keeps run fused when the batch is
//! submitted: a ReLU into the sum before it (`relu(a + b)`: one pass over memory), a product into
//! the sum of it (`a * b + c`: `mul_add`), and both (`mul_add_relu`); where the intermediate is
//! kept, each runs. Either way the values are the CPU's.

use std::sync::{Mutex, MutexGuard};

use soma_device::testing::{assert_close, gpu};
use soma_device::{BinaryOp, Device, MatmulDims, Shape, UnaryOp, WgpuBackend};

/// The tests share the device's batch and count fusions, so they run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The GPU, as a device and as its backend (for the fusion count), with no other test of this file
/// running while the guard lives.
fn gpu_alone() -> (MutexGuard<'static, ()>, Device, WgpuBackend) {
    let one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let gpu = gpu();
    let Device::Wgpu(backend) = &gpu else { panic!("gpu() is a wgpu device") };
    let backend = backend.clone();
    (one, gpu, backend)
}

fn values(n: usize, seed: u32) -> Vec<f32> {
    (0..n).map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0).collect()
}

/// relu(a + b) on `device`, dropping the sum before the batch is submitted unless `keep_sum`;
/// returns the ReLU's values (and the sum's when kept).
fn relu_of_sum(device: &Device, a: &[f32], b: &[f32], keep_sum: bool) -> (Vec<f32>, Option<Vec<f32>>) {
    let shape = Shape::new(vec![a.len()]);
    let (a, b) = (device.from_slice(a).unwrap(), device.from_slice(b).unwrap());
    let sum = device.binary(BinaryOp::Add, &a, &shape, &b, &shape).unwrap();
    let relu = device.unary(UnaryOp::Relu, &sum, 0.0).unwrap();
    let kept = keep_sum.then_some(sum);
    (device.to_vec(&relu).unwrap(), kept.map(|s| device.to_vec(&s).unwrap()))
}

#[test]
fn relu_of_a_dropped_sum_is_fused_and_exact() {
    let (_one, gpu, backend) = gpu_alone();
    // Large enough that the ReLU reads a texture copy of the sum on lavapipe, and a small one.
    for n in [1 << 18, 1001] {
        let (a, b) = (values(n, 1), values(n, 7));
        let (want, _) = relu_of_sum(&Device::cpu(), &a, &b, false);
        assert!(want.contains(&0.0) && want.iter().any(|&v| v > 0.0));

        let before = backend.fused_epilogues();
        let (fused, _) = relu_of_sum(&gpu, &a, &b, false);
        assert_eq!(backend.fused_epilogues(), before + 1, "n = {n}: the ReLU was not fused");
        assert_close(&fused, &want, 0.0, 0.0);

        let before = backend.fused_epilogues();
        let (kept, sum) = relu_of_sum(&gpu, &a, &b, true);
        assert_eq!(backend.fused_epilogues(), before, "n = {n}: fused although the sum is kept");
        assert_close(&kept, &want, 0.0, 0.0);
        let want_sum: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert_close(&sum.unwrap(), &want_sum, 0.0, 0.0);
    }
}

/// `a * b + c` (or `c + a * b`), then a ReLU of it when `relu`, on `device`; the product is dropped
/// before the batch is submitted unless `keep_product`. Returns the result's values.
fn product_sum(
    device: &Device,
    [a, b, c]: [&[f32]; 3],
    product_first: bool,
    relu: bool,
    keep_product: bool,
) -> Vec<f32> {
    let shape = Shape::new(vec![a.len()]);
    let [a, b, c] = [a, b, c].map(|v| device.from_slice(v).unwrap());
    let product = device.binary(BinaryOp::Mul, &a, &shape, &b, &shape).unwrap();
    let (x, y) = if product_first { (&product, &c) } else { (&c, &product) };
    let mut out = device.binary(BinaryOp::Add, x, &shape, y, &shape).unwrap();
    if relu {
        out = device.unary(UnaryOp::Relu, &out, 0.0).unwrap();
    }
    let kept = keep_product.then_some(product);
    let values = device.to_vec(&out).unwrap();
    drop(kept);
    values
}

#[test]
fn a_dropped_product_is_summed_in_one_kernel_with_its_relu() {
    let (_one, gpu, backend) = gpu_alone();
    // Staged on lavapipe (a texture copy of the product between the kernels), and not.
    for n in [1 << 18, 1001] {
        let (a, b, c) = (values(n, 2), values(n, 9), values(n, 4));
        for (product_first, relu) in [(true, false), (false, false), (true, true), (false, true)] {
            let want = product_sum(&Device::cpu(), [&a, &b, &c], product_first, relu, false);
            assert!(!relu || want.contains(&0.0));
            let case = format!("n = {n}, product first {product_first}, relu {relu}");
            let before = backend.fused_epilogues();
            let fused = product_sum(&gpu, [&a, &b, &c], product_first, relu, false);
            // The product into the sum, then the ReLU into that.
            assert_eq!(backend.fused_epilogues(), before + 1 + u64::from(relu), "{case}");
            assert_close(&fused, &want, 1e-6, 1e-6);
            let before = backend.fused_epilogues();
            let kept = product_sum(&gpu, [&a, &b, &c], product_first, relu, true);
            // A kept product is computed on its own; only the ReLU joins the sum.
            assert_eq!(backend.fused_epilogues(), before + u64::from(relu), "{case}, product kept");
            assert_close(&kept, &want, 1e-6, 1e-6);
        }
    }
}

/// Chains recorded back to back without a readback span the batch's periodic submits; each is still
/// fused whole, since a batch is submitted before a dispatch is recorded and not while the last one
/// may be fused with the next.
#[test]
fn chains_across_periodic_submits_are_all_fused() {
    let (_one, gpu, backend) = gpu_alone();
    let n = 4096;
    let shape = Shape::new(vec![n]);
    let (a, b, c) = (values(n, 1), values(n, 2), values(n, 3));
    let want = product_sum(&Device::cpu(), [&a, &b, &c], true, true, false);
    let [a, b, c] = [&a, &b, &c].map(|v| gpu.from_slice(v).unwrap());
    gpu.synchronize().unwrap();
    let before = backend.fused_epilogues();
    let chains = 40;
    let outs: Vec<_> = (0..chains)
        .map(|_| {
            let product = gpu.binary(BinaryOp::Mul, &a, &shape, &b, &shape).unwrap();
            let sum = gpu.binary(BinaryOp::Add, &product, &shape, &c, &shape).unwrap();
            gpu.unary(UnaryOp::Relu, &sum, 0.0).unwrap()
        })
        .collect();
    gpu.synchronize().unwrap();
    assert_eq!(backend.fused_epilogues(), before + 2 * chains, "a chain was split or kept");
    for out in &outs {
        assert_close(&gpu.to_vec(out).unwrap(), &want, 1e-6, 1e-6);
    }
}

/// A matmul reads its operands' texture copies without binding their buffers: a sum it reads in
/// the same batch is not fused away with its copy, even when the tensor is dropped before the
/// batch is submitted.
#[test]
fn a_sum_a_later_matmul_reads_is_not_fused_away() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (m, k, n) = (96, 256, 8);
    let (a, b, w) = (values(m * k, 3), values(m * k, 5), values(k * n, 11));
    let run = |device: &Device| {
        let shape = Shape::new(vec![m * k]);
        let [a, b, w] = [&a, &b, &w].map(|v| device.from_slice(v).unwrap());
        let sum = device.binary(BinaryOp::Add, &a, &shape, &b, &shape).unwrap();
        let relu = device.unary(UnaryOp::Relu, &sum, 0.0).unwrap();
        let dims = MatmulDims { batch: 1, m, n, k, transpose_a: false, transpose_b: false };
        let product = device.matmul(&sum, &w, dims).unwrap();
        drop(sum);
        (device.to_vec(&relu).unwrap(), device.to_vec(&product).unwrap())
    };
    let (want_relu, want_product) = run(&Device::cpu());
    let (relu, product) = run(&gpu());
    assert_close(&relu, &want_relu, 0.0, 0.0);
    assert_close(&product, &want_product, 1e-4, 1e-5);
}

/// The gradient through a ReLU and its column sums (a linear layer's backward): one kernel on the
/// GPU where rows are whole vec4s (staged on lavapipe from 16K elements), two ops elsewhere; the
/// CPU's values, and the sums by hand.
#[test]
fn relu_backward_agrees_with_the_cpu() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    for (i, &(rows, cols)) in [(128, 256), (3, 8), (5, 7), (300, 64), (1, 4)].iter().enumerate() {
        let (grad, out) = (values(rows * cols, 13 + i as u32), values(rows * cols, 17 + i as u32));
        let run = |device: &Device| {
            let (g, y) = (device.from_slice(&grad).unwrap(), device.from_slice(&out).unwrap());
            let (masked, sums) = device.relu_backward(&g, &y, rows, cols).unwrap();
            (device.to_vec(&masked).unwrap(), device.to_vec(&sums).unwrap())
        };
        let (want_masked, want_sums) = run(&Device::cpu());
        let by_hand: Vec<f32> = grad.iter().zip(&out).map(|(&g, &y)| if y > 0.0 { g } else { 0.0 }).collect();
        assert_eq!(want_masked, by_hand);
        let sums_by_hand: Vec<f32> = (0..cols).map(|c| (0..rows).map(|r| by_hand[r * cols + c]).sum()).collect();
        assert_close(&want_sums, &sums_by_hand, 1e-5, 1e-6);
        let (masked, sums) = run(&gpu());
        assert_close(&masked, &want_masked, 0.0, 0.0);
        assert_close(&sums, &want_sums, 1e-5, 1e-5);
    }
    let cpu = Device::cpu();
    // The CPU sums in f64, as its other sums: past 2^24 rows of 1 an f32 sum stops growing.
    let rows = (1 << 24) + 8;
    let ones = cpu.from_slice(&vec![1.0; rows]).unwrap();
    let (_, sums) = cpu.relu_backward(&ones, &ones, rows, 1).unwrap();
    assert_eq!(cpu.to_vec(&sums).unwrap(), [rows as f32]);
    let err = cpu.relu_backward(&cpu.from_slice(&[1.0; 6]).unwrap(), &cpu.from_slice(&[1.0; 6]).unwrap(), 2, 4);
    assert_eq!(err.unwrap_err().to_string(), "relu_backward: needs a [2, 4] gradient and output, got 6 and 6 values");
}
