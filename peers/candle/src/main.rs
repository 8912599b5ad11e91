//! Candle's CPU backend on the CPU workloads of Soma's `examples/bench_report.rs`, timed the same
//! way (median of repeated runs after a warm-up), so Soma's CPU targets ("ahead of Candle, Burn and
//! PyTorch") are measured as ratios on the machine at hand.
//!
//! `cargo run --release -- <key>` prints one figure; `bench_report --peers` calls the built binary
//! once per CPU workload. Keys: matmul1024, matmul2048, relu_add, softmax, mlp_step.

use std::time::{Duration, Instant};

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{AdamW, Linear, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap};

/// How long `op` runs before it is timed, as in `bench_report` (`WARM_UP` there says why).
const WARM_UP: Duration = Duration::from_millis(300);

/// The median seconds of `runs` runs of `op` after `WARM_UP`.
fn median_seconds<T>(runs: usize, mut op: impl FnMut() -> Result<T>) -> Result<f64> {
    let warm_up = Instant::now();
    loop {
        op()?;
        if warm_up.elapsed() >= WARM_UP {
            break;
        }
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let out = op()?;
        times.push(start.elapsed().as_secs_f64());
        drop(out);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[runs / 2])
}

fn randn(shape: &[usize]) -> Result<Tensor> {
    Tensor::randn(0f32, 1f32, shape, &Device::Cpu)
}

/// One training step of the 784-256-128-10 MLP: forward, cross-entropy, backward, Adam (AdamW
/// without weight decay, which is Adam).
struct MlpStep {
    layers: [Linear; 3],
    optimizer: AdamW,
    x: Tensor,
    y: Tensor,
}

impl MlpStep {
    fn new() -> Result<MlpStep> {
        let vars = VarMap::new();
        let vb = VarBuilder::from_varmap(&vars, DType::F32, &Device::Cpu);
        let layers = [
            candle_nn::linear(784, 256, vb.pp("first"))?,
            candle_nn::linear(256, 128, vb.pp("second"))?,
            candle_nn::linear(128, 10, vb.pp("third"))?,
        ];
        let params = ParamsAdamW { lr: 1e-3, weight_decay: 0.0, ..Default::default() };
        let labels: Vec<u32> = (0..128).map(|i| i % 10).collect();
        Ok(MlpStep {
            layers,
            optimizer: AdamW::new(vars.all_vars(), params)?,
            x: randn(&[128, 784])?,
            y: Tensor::from_vec(labels, 128, &Device::Cpu)?,
        })
    }

    fn step(&mut self) -> Result<Tensor> {
        let h = self.layers[0].forward(&self.x)?.relu()?;
        let h = self.layers[1].forward(&h)?.relu()?;
        let loss = candle_nn::loss::cross_entropy(&self.layers[2].forward(&h)?, &self.y)?;
        self.optimizer.backward_step(&loss)?;
        Ok(loss)
    }
}

fn figure(key: &str) -> Result<f64> {
    let elements = 4usize << 20;
    Ok(match key {
        "matmul1024" | "matmul2048" => {
            let n = if key == "matmul1024" { 1024 } else { 2048 };
            let (a, b) = (randn(&[n, n])?, randn(&[n, n])?);
            2.0 * (n as f64).powi(3) / median_seconds(5, || a.matmul(&b))? / 1e9
        }
        "relu_add" => {
            let (a, b) = (randn(&[elements])?, randn(&[elements])?);
            (3 * elements * 4) as f64 / median_seconds(10, || (&a + &b)?.relu())? / 1e9
        }
        "softmax" => {
            let x = randn(&[4096, 1024])?;
            median_seconds(10, || candle_nn::ops::softmax_last_dim(&x))? * 1e3
        }
        "mlp_step" => {
            let mut mlp = MlpStep::new()?;
            median_seconds(50, || mlp.step())? * 1e3
        }
        other => panic!("unknown workload {other:?}"),
    })
}

fn main() -> Result<()> {
    let key = std::env::args().nth(1).expect("a workload key, e.g. matmul1024");
    println!("{}", figure(&key)?);
    Ok(())
}
