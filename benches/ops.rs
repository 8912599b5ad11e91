//! Criterion benches: each workload of the performance issue, CPU and GPU side by side.
//!
//! GPU timings include completion: every measured batch ends with `synchronize`.

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use soma::autograd::{Rng, Tensor};
use soma::device::{Device, Result};

#[path = "shared/mlp_step.rs"]
mod mlp_step;
use mlp_step::MlpStep;

fn devices() -> Vec<(&'static str, Device)> {
    let mut list = vec![("cpu", Device::cpu())];
    match Device::gpu() {
        Ok(gpu) => list.push(("gpu", gpu)),
        Err(e) => eprintln!("benches: GPU unavailable ({e}); CPU only"),
    }
    list
}

/// Runs `op` `iters` times and waits for the device to finish.
fn time_on(device: &Device, iters: u64, mut op: impl FnMut() -> Result<Tensor>) -> Duration {
    let start = Instant::now();
    let mut keep = Vec::new();
    for _ in 0..iters {
        keep.push(op().expect("bench op"));
        if keep.len() > 8 {
            keep.remove(0);
        }
    }
    device.synchronize().expect("synchronize");
    start.elapsed()
}

fn matmul(c: &mut Criterion) {
    for n in [1024usize, 2048] {
        let mut group = c.benchmark_group(format!("matmul_{n}"));
        group.sample_size(10).throughput(Throughput::Elements(2 * (n * n * n) as u64));
        for (name, dev) in devices() {
            let mut rng = Rng::new(1);
            let a = Tensor::randn([n, n], &mut rng, &dev).unwrap();
            let b = Tensor::randn([n, n], &mut rng, &dev).unwrap();
            group.bench_function(BenchmarkId::new("flops", name), |bench| {
                bench.iter_custom(|iters| time_on(&dev, iters, || a.matmul(&b)))
            });
        }
        group.finish();
    }
}

fn relu_add(c: &mut Criterion) {
    let n = 4 << 20;
    let mut group = c.benchmark_group("relu_add_4M");
    group.throughput(Throughput::Bytes((3 * n * 4) as u64));
    for (name, dev) in devices() {
        let mut rng = Rng::new(2);
        let a = Tensor::randn([n], &mut rng, &dev).unwrap();
        let b = Tensor::randn([n], &mut rng, &dev).unwrap();
        group.bench_function(BenchmarkId::new("bytes", name), |bench| {
            bench.iter_custom(|iters| time_on(&dev, iters, || (&a + &b)?.relu()))
        });
    }
    group.finish();
}

/// The layer epilogue `relu(a * b + c)`: written as three ops (mul, add, relu; the wgpu backend
/// fuses them when the batch is submitted) against the one fused op.
fn relu_mul_add(c: &mut Criterion) {
    let n = 4 << 20;
    let mut group = c.benchmark_group("relu_mul_add_4M");
    group.throughput(Throughput::Bytes((4 * n * 4) as u64));
    for (name, dev) in devices() {
        let mut rng = Rng::new(4);
        let x: Vec<Tensor> = (0..3).map(|_| Tensor::randn([n], &mut rng, &dev).unwrap()).collect();
        group.bench_function(BenchmarkId::new("unfused", name), |bench| {
            bench.iter_custom(|iters| time_on(&dev, iters, || ((&x[0] * &x[1])? + &x[2])?.relu()))
        });
        group.bench_function(BenchmarkId::new("fused", name), |bench| {
            bench.iter_custom(|iters| time_on(&dev, iters, || x[0].mul_add_relu(&x[1], &x[2])))
        });
    }
    group.finish();
}

fn softmax(c: &mut Criterion) {
    let mut group = c.benchmark_group("softmax_4096x1024");
    for (name, dev) in devices() {
        let x = Tensor::randn([4096, 1024], &mut Rng::new(3), &dev).unwrap();
        group.bench_function(name, |bench| bench.iter_custom(|iters| time_on(&dev, iters, || x.softmax(1))));
    }
    group.finish();
}

fn mlp_train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("mlp_784_256_128_10_train_step_b128_adam");
    group.sample_size(20);
    for (name, dev) in devices() {
        let mut mlp = MlpStep::new(&dev).unwrap();
        group.bench_function(name, |bench| bench.iter_custom(|iters| time_on(&dev, iters, || mlp.step())));
    }
    group.finish();
}

fn one_element_readback(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_element_op_and_readback");
    for (name, dev) in devices() {
        let x = Tensor::ones([1], &dev).unwrap();
        group.bench_function(name, |bench| bench.iter(|| (&x + 1.0).unwrap().to_vec().unwrap()));
    }
    group.finish();
}

criterion_group!(benches, matmul, relu_add, relu_mul_add, softmax, mlp_train_step, one_element_readback);
criterion_main!(benches);
