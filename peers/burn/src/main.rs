//! Burn's wgpu backend on the workloads of Soma's `examples/bench_report.rs`, timed the same way
//! (median of repeated runs after a warm-up, each waited for on the device), so Soma's GPU targets
//! ("5x Burn wgpu's matmul", ...) are measured as ratios on the machine at hand.
//!
//! `cargo run --release -- <key>` prints one figure; `bench_report --peers` calls the built binary
//! once per workload, after Soma's own run on the same side. Keys: matmul1024, matmul2048,
//! relu_add, relu_mul_add, softmax, mlp_step, readback, startup; `cpu:<key>` runs it on Burn's CPU
//! backend (Flex) instead of wgpu.

use std::time::{Duration, Instant};

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Distribution, Int};

#[derive(Module, Debug)]
struct Mlp {
    first: Linear,
    second: Linear,
    third: Linear,
    activation: Relu,
}

impl Mlp {
    fn new(device: &Device) -> Mlp {
        Mlp {
            first: LinearConfig::new(784, 256).init(device),
            second: LinearConfig::new(256, 128).init(device),
            third: LinearConfig::new(128, 10).init(device),
            activation: Relu::new(),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = self.activation.forward(self.first.forward(x));
        let h = self.activation.forward(self.second.forward(h));
        self.third.forward(h)
    }
}

/// How long `op` runs before it is timed, as in Soma's `bench_report` (`WARM_UP` there says why).
const WARM_UP: Duration = Duration::from_millis(300);

/// The median seconds of `runs` runs of `op`, each waited for on the device, after `WARM_UP` of
/// runs (which also lets Burn autotune its kernels). The result is dropped only after the wait:
/// Burn's fusion records ops lazily, and would skip the work of a result dropped before it runs.
fn median_seconds<T>(device: &Device, runs: usize, mut op: impl FnMut() -> T) -> f64 {
    let warm_up = Instant::now();
    loop {
        let out = op();
        device.sync().expect("device sync");
        drop(out);
        if warm_up.elapsed() >= WARM_UP {
            break;
        }
    }
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = op();
            device.sync().expect("device sync");
            let seconds = start.elapsed().as_secs_f64();
            drop(out);
            seconds
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

fn randn<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// The MLP, its loss, optimizer and batch, for timing one training step at a time (forward,
/// cross-entropy, backward, Adam).
struct MlpStep {
    model: Option<Mlp>,
    loss: CrossEntropyLoss,
    optimizer: burn::optim::ModuleOptimizer,
    x: Tensor<2>,
    y: Tensor<1, Int>,
}

impl MlpStep {
    fn new(device: &Device) -> MlpStep {
        let device = device.clone().autodiff();
        let labels: Vec<i64> = (0..128).map(|i| i % 10).collect();
        MlpStep {
            model: Some(Mlp::new(&device)),
            loss: CrossEntropyLossConfig::new().init(&device),
            optimizer: AdamConfig::new().init(),
            x: randn([128, 784], &device),
            y: Tensor::from_ints(labels.as_slice(), &device),
        }
    }

    fn step(&mut self) -> Tensor<1> {
        let model = self.model.take().expect("model");
        let loss = self.loss.forward(model.forward(self.x.clone()), self.y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optimizer.step(1e-3, model, grads));
        loss
    }
}

/// Burn's figure for workload `key` on `device`.
fn figure(key: &str, device: &Device) -> f64 {
    let elements = 4usize << 20;
    match key {
        "matmul1024" | "matmul2048" => {
            let n = if key == "matmul1024" { 1024 } else { 2048 };
            let (a, b) = (randn([n, n], device), randn([n, n], device));
            let s = median_seconds(device, 5, || a.clone().matmul(b.clone()));
            2.0 * (n as f64).powi(3) / s / 1e9
        }
        "relu_add" => {
            let (a, b) = (randn([elements], device), randn([elements], device));
            let s = median_seconds(device, 10, || relu(a.clone() + b.clone()));
            (3 * elements * 4) as f64 / s / 1e9
        }
        "relu_mul_add" => {
            let (a, b, c) = (randn([elements], device), randn([elements], device), randn([elements], device));
            let s = median_seconds(device, 10, || relu(a.clone() * b.clone() + c.clone()));
            (4 * elements * 4) as f64 / s / 1e9
        }
        "softmax" => {
            let x = randn([4096, 1024], device);
            median_seconds(device, 10, || softmax(x.clone(), 1)) * 1e3
        }
        "mlp_step" => {
            let mut mlp = MlpStep::new(device);
            median_seconds(device, 50, || mlp.step()) * 1e3
        }
        "readback" => {
            let x: Tensor<1> = Tensor::ones([1], device);
            median_seconds(device, 50, || (x.clone() + 1.0).into_data()) * 1e3
        }
        other => panic!("unknown workload {other:?}"),
    }
}

fn main() {
    let key = std::env::args().nth(1).expect("a workload key, e.g. matmul1024");
    let start = Instant::now();
    // `cpu:<key>`: the workload on Burn's own CPU backend (Flex) instead of wgpu.
    let (device, key) = match key.strip_prefix("cpu:") {
        Some(key) => (Device::flex(), key),
        None => (Device::wgpu(Default::default()), key.as_str()),
    };
    if key == "startup" {
        // Seconds from opening the device to the end of the first training step, loss read back.
        MlpStep::new(&device).step().into_data();
        println!("{}", start.elapsed().as_secs_f64());
        return;
    }
    println!("{}", figure(key, &device));
}
