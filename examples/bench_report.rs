//! Runs the performance issue's workloads on each backend and prints a markdown table with the
//! GPU/CPU ratio, so a user on a real GPU sees the speed-up at a glance. Each workload runs in
//! rounds (3 unless `--rounds N`), the contenders taking turns; a figure is the median of its rounds.
//!
//! `cargo run --release --example bench_report [-- [--peers] [--rounds N]]`
//!
//! With `--peers`, PyTorch and NumPy (`benches/peers/pytorch_cpu.py`) run each CPU workload
//! between Soma's CPU and GPU runs, and the table gains their figures and Soma's ratio to them
//! (above 1x: Soma is faster). Candle and Burn's CPU backend (CPU workloads) and Burn's wgpu backend
//! (GPU workloads) join them when their peers are built: `peers/candle` and `peers/burn`, crates of
//! their own (`cargo build --release` in each; Burn's takes ~20 minutes).

use std::time::Instant;

use soma::autograd::{Rng, Tensor};
use soma::device::{Device, Result};

#[path = "../benches/shared/mlp_step.rs"]
mod mlp_step;
use mlp_step::MlpStep;

/// Runs a workload on a device, returning its median seconds.
type Runner = Box<dyn Fn(&Device) -> Result<f64>>;

/// How long every harness (this one and the peers') runs a workload before timing it, so each is
/// timed in its steady state: after a single warm-up run PyTorch's CPU softmax [4096, 1024] took
/// 4.9-6.1 ms, after 300 ms of runs 1.24-1.90 ms (its relu(a+b) 1-10 against 4-24 GB/s).
const WARM_UP: std::time::Duration = std::time::Duration::from_millis(300);

/// The median seconds of `runs` runs of `op`, each waited for on the device, after `WARM_UP`
/// (pipelines compiled, buffers pooled).
fn median_seconds(device: &Device, runs: usize, mut op: impl FnMut() -> Result<Tensor>) -> Result<f64> {
    let warm_up = Instant::now();
    loop {
        op()?;
        device.synchronize()?;
        if warm_up.elapsed() >= WARM_UP {
            break;
        }
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let out = op()?;
        device.synchronize()?;
        times.push(start.elapsed().as_secs_f64());
        drop(out);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[runs / 2])
}

struct Workload {
    name: &'static str,
    unit: &'static str,
    /// Turns seconds into the reported figure (GFLOP/s, GB/s or ms).
    figure: Box<dyn Fn(f64) -> f64>,
    higher_is_better: bool,
    /// The workload's key for the CPU peers (`benches/peers/pytorch_cpu.py`, `peers/candle`,
    /// Burn's CPU backend in `peers/burn`), if they run it.
    cpu_key: Option<&'static str>,
    /// The workload's key for the GPU peer (Burn's wgpu backend, `peers/burn`), if it runs it.
    gpu_key: Option<&'static str>,
    run: Runner,
}

fn matmul(n: usize) -> Workload {
    Workload {
        name: if n == 1024 { "matmul 1024³" } else { "matmul 2048³" },
        unit: "GFLOP/s",
        figure: Box::new(move |s| 2.0 * (n as f64).powi(3) / s / 1e9),
        higher_is_better: true,
        cpu_key: Some(if n == 1024 { "matmul1024" } else { "matmul2048" }),
        gpu_key: Some(if n == 1024 { "matmul1024" } else { "matmul2048" }),
        run: Box::new(move |dev| {
            let mut rng = Rng::new(1);
            let a = Tensor::randn([n, n], &mut rng, dev)?;
            let b = Tensor::randn([n, n], &mut rng, dev)?;
            median_seconds(dev, 5, || a.matmul(&b))
        }),
    }
}

/// The layer epilogue `relu(a * b + c)` over 4M elements: written as three ops (which the wgpu
/// backend fuses into one kernel when nothing keeps the intermediates), or as `mul_add_relu`.
fn relu_mul_add(fused: bool) -> Workload {
    let elements = 4usize << 20;
    Workload {
        name: if fused { "relu(a*b+c) as mul_add_relu, 4M" } else { "relu(a*b+c) as mul, add, relu, 4M" },
        unit: "GB/s",
        figure: Box::new(move |s| (4 * elements * 4) as f64 / s / 1e9),
        higher_is_better: true,
        cpu_key: None,
        gpu_key: Some("relu_mul_add"),
        run: Box::new(move |dev| {
            let mut rng = Rng::new(4);
            let x: Vec<Tensor> = (0..3).map(|_| Tensor::randn([elements], &mut rng, dev)).collect::<Result<_>>()?;
            if fused {
                median_seconds(dev, 10, || x[0].mul_add_relu(&x[1], &x[2]))
            } else {
                median_seconds(dev, 10, || ((&x[0] * &x[1])? + &x[2])?.relu())
            }
        }),
    }
}

/// Seconds from opening the GPU to the end of the first training step (pipelines compiled).
fn startup_seconds() -> Result<f64> {
    let start = Instant::now();
    let gpu = Device::gpu()?;
    MlpStep::new(&gpu)?.step()?.item()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Peak resident memory of this process so far (Linux), in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok());
    kib.unwrap_or(f64::NAN) / 1024.0
}

fn workloads() -> Vec<Workload> {
    let elements = 4usize << 20;
    vec![
        matmul(1024),
        matmul(2048),
        Workload {
            name: "relu(a+b), 4M elements",
            unit: "GB/s",
            figure: Box::new(move |s| (3 * elements * 4) as f64 / s / 1e9),
            higher_is_better: true,
            cpu_key: Some("relu_add"),
            gpu_key: Some("relu_add"),
            run: Box::new(move |dev| {
                let mut rng = Rng::new(2);
                let a = Tensor::randn([elements], &mut rng, dev)?;
                let b = Tensor::randn([elements], &mut rng, dev)?;
                median_seconds(dev, 10, || (&a + &b)?.relu())
            }),
        },
        relu_mul_add(false),
        relu_mul_add(true),
        Workload {
            name: "softmax [4096, 1024]",
            unit: "ms",
            figure: Box::new(|s| s * 1e3),
            higher_is_better: false,
            cpu_key: Some("softmax"),
            gpu_key: Some("softmax"),
            run: Box::new(|dev| {
                let x = Tensor::randn([4096, 1024], &mut Rng::new(3), dev)?;
                median_seconds(dev, 10, || x.softmax(1))
            }),
        },
        Workload {
            name: "MLP 784-256-128-10 train step, batch 128, Adam",
            unit: "ms",
            figure: Box::new(|s| s * 1e3),
            higher_is_better: false,
            cpu_key: Some("mlp_step"),
            gpu_key: Some("mlp_step"),
            run: Box::new(|dev| {
                let mut mlp = MlpStep::new(dev)?;
                // A step takes milliseconds and a slow spell of a shared machine tens of them: the
                // median of 50 (as the PyTorch peer) is steadier than of 20.
                median_seconds(dev, 50, || mlp.step())
            }),
        },
        Workload {
            name: "1-element op + readback",
            unit: "ms",
            figure: Box::new(|s| s * 1e3),
            higher_is_better: false,
            cpu_key: None,
            gpu_key: Some("readback"),
            run: Box::new(|dev| {
                let x = Tensor::ones([1], dev)?;
                median_seconds(dev, 50, || {
                    let y = (&x + 1.0)?;
                    y.to_vec()?;
                    Ok(y)
                })
            }),
        },
    ]
}

fn rounds_from(value: Option<&String>) -> Result<usize> {
    let rounds = value.and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0);
    rounds.ok_or_else(|| soma::device::Error::invalid("bench_report", "--rounds takes a positive whole number"))
}

/// The median of some figures (NaN, a peer that could not run, sorts last).
fn median(mut figures: Vec<f64>) -> f64 {
    figures.sort_by(f64::total_cmp);
    figures[figures.len() / 2]
}

/// A peer framework built as a binary of its own under `peers/`, which prints its figure for the
/// workload key it is given.
struct PeerBinary {
    /// Its column's title, e.g. "Burn wgpu".
    name: &'static str,
    path: std::path::PathBuf,
    /// Put before each workload key (`cpu:` runs Burn's peer on its CPU backend).
    prefix: &'static str,
    /// Compared with Soma's GPU figures (with its CPU figures otherwise).
    gpu: bool,
}

impl PeerBinary {
    /// The peer in `peers/<dir>`, if it has been built.
    fn built(dir: &str, name: &'static str, prefix: &'static str, gpu: bool) -> Option<PeerBinary> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("peers/{dir}/target/release/soma-peer-{dir}"));
        path.exists().then_some(PeerBinary { name, path, prefix, gpu })
    }

    /// Its key for workload `w`, if it runs it.
    fn key(&self, w: &Workload) -> Option<String> {
        if self.gpu { w.gpu_key } else { w.cpu_key }.map(|key| format!("{}{key}", self.prefix))
    }

    /// The peer's figure for one workload (NaN if it fails).
    fn run(&self, key: &str) -> f64 {
        self.run_with(key, &[])
    }

    /// `run`, with the environment variables `env` set for the peer.
    fn run_with(&self, key: &str, env: &[(&str, &str)]) -> f64 {
        let mut command = std::process::Command::new(&self.path);
        command.arg(key).envs(env.iter().copied());
        peer_output(&mut command, &format!("{} peer: {key}", self.name)).trim().parse().unwrap_or(f64::NAN)
    }
}

/// Mesa's drivers (lavapipe among them) keep compiled shaders in a disk cache: with it disabled, a
/// process compiles every pipeline, as on a machine's very first run.
const NO_SHADER_CACHE: [(&str, &str); 1] = [("MESA_SHADER_CACHE_DISABLE", "true")];

/// `startup_seconds` in a fresh process of this program with Mesa's shader cache disabled (NaN if
/// it fails).
fn cold_startup_seconds() -> f64 {
    let Ok(me) = std::env::current_exe() else { return f64::NAN };
    let mut command = std::process::Command::new(me);
    command.arg("--startup-only").envs(NO_SHADER_CACHE);
    peer_output(&mut command, "cold start-up").trim().parse().unwrap_or(f64::NAN)
}

/// What a peer's run printed, or nothing if it failed (then why goes to stderr after `label`).
fn peer_output(command: &mut std::process::Command, label: &str) -> String {
    match command.output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            eprintln!("{label}: {} ({})", stderr.lines().last().unwrap_or("no message"), o.status);
            String::new()
        }
        Err(e) => {
            eprintln!("{label}: {e}");
            String::new()
        }
    }
}

/// PyTorch's and NumPy's figures for one workload (NaN where a peer has none or can't run), from
/// `benches/peers/pytorch_cpu.py`.
fn run_peer(key: &str) -> [f64; 2] {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peers/pytorch_cpu.py");
    let text = peer_output(std::process::Command::new("python3").arg(script).arg(key), &format!("peers: {key}"));
    let mut figures = text.split_whitespace().map(|v| v.parse().unwrap_or(f64::NAN));
    [figures.next().unwrap_or(f64::NAN), figures.next().unwrap_or(f64::NAN)]
}

fn main() -> Result<()> {
    // `--peers`: also run PyTorch and NumPy on the CPU workloads (needs python3 with torch and numpy).
    // `--rounds N` (default 3): how many times each workload runs on each side.
    let (mut peers, mut rounds) = (false, 3);
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--peers" => peers = true,
            "--rounds" => rounds = rounds_from(words.next().as_ref())?,
            // For `cold_startup_seconds`: the first step's seconds alone.
            "--startup-only" => {
                println!("{}", startup_seconds()?);
                return Ok(());
            }
            other => {
                let msg = format!(
                    "unknown flag {other:?}; it takes --peers and --rounds N (and always compares CPU and GPU)"
                );
                return Err(soma::device::Error::invalid("bench_report", msg));
            }
        }
    }
    let binary_peers: Vec<PeerBinary> = [
        PeerBinary::built("candle", "Candle CPU", "", false),
        PeerBinary::built("burn", "Burn CPU", "cpu:", false),
        PeerBinary::built("burn", "Burn wgpu", "", true),
    ]
    .into_iter()
    .flatten()
    .filter(|_| peers)
    .collect();
    let startup = startup_seconds()?;
    let cpu = Device::cpu();
    let gpu = Device::gpu()?;
    println!("CPU: {cpu}  GPU: {gpu}\n");
    println!("first GPU training step (device open, pipelines compiled): {startup:.3} s");
    println!("... with Mesa's shader cache disabled (a first run): {:.3} s", cold_startup_seconds());
    for peer in binary_peers.iter().filter(|p| p.gpu) {
        println!("{}'s first training step: {:.3} s", peer.name, peer.run("startup"));
        let cold = peer.run_with("startup", &NO_SHADER_CACHE);
        println!("... with Mesa's shader cache disabled: {cold:.3} s");
    }
    let mut mlp = MlpStep::new(&gpu)?;
    for step in 1..=1000 {
        mlp.step()?;
        if step == 100 {
            gpu.synchronize()?;
            println!("peak RSS after 100 GPU training steps: {:.1} MiB", peak_rss_mib());
        }
    }
    gpu.synchronize()?;
    println!("peak RSS after 1000 GPU training steps: {:.1} MiB\n", peak_rss_mib());
    if !peers {
        println!("| workload | unit | CPU | GPU | GPU/CPU |");
        println!("|---|---|---|---|---|");
    } else {
        let (mut header, mut rule) = (
            "| workload | unit | CPU | GPU | GPU/CPU | PyTorch CPU | CPU vs PyTorch | NumPy | CPU vs NumPy |"
                .to_string(),
            "|---|---|---|---|---|---|---|---|---|".to_string(),
        );
        for peer in &binary_peers {
            let side = if peer.gpu { "GPU" } else { "CPU" };
            header += &format!(" {} | {side} vs {} |", peer.name, peer.name);
            rule += "---|---|";
        }
        println!("{header}\n{rule}");
    }
    for w in workloads() {
        // Rounds of CPU, CPU peers, GPU and GPU peer in turn, so a slow spell of this shared
        // machine falls on all of them; each column is the median of its rounds.
        let (mut cpu_figures, mut gpu_figures, mut peer_rounds) = (Vec::new(), Vec::new(), Vec::new());
        let mut binary_figures = vec![Vec::new(); binary_peers.len()];
        let mut run_binary_peers = |gpu_side: bool| {
            for (peer, figures) in binary_peers.iter().zip(&mut binary_figures) {
                if let (true, Some(key)) = (peer.gpu == gpu_side, peer.key(&w)) {
                    figures.push(peer.run(&key));
                }
            }
        };
        for _ in 0..rounds {
            cpu_figures.push((w.figure)((w.run)(&cpu)?));
            if let (true, Some(key)) = (peers, w.cpu_key) {
                peer_rounds.push(run_peer(key));
            }
            run_binary_peers(false);
            gpu_figures.push((w.figure)((w.run)(&gpu)?));
            run_binary_peers(true);
        }
        let (cpu_figure, gpu_figure) = (median(cpu_figures), median(gpu_figures));
        let peer_figures = (!peer_rounds.is_empty())
            .then(|| [0, 1].map(|i| median(peer_rounds.iter().map(|r: &[f64; 2]| r[i]).collect())));
        let better = |ours: f64, theirs: f64| if w.higher_is_better { ours / theirs } else { theirs / ours };
        let mut row = format!(
            "| {} | {} | {:.2} | {:.2} | {:.2}x |",
            w.name,
            w.unit,
            cpu_figure,
            gpu_figure,
            better(gpu_figure, cpu_figure)
        );
        let versus = |ours: f64, theirs: f64| {
            if theirs.is_nan() {
                " — | — |".to_string()
            } else {
                format!(" {theirs:.2} | {:.2}x |", better(ours, theirs))
            }
        };
        if peers {
            for theirs in peer_figures.unwrap_or([f64::NAN; 2]) {
                row += &versus(cpu_figure, theirs);
            }
        }
        for (peer, figures) in binary_peers.iter().zip(binary_figures) {
            let ours = if peer.gpu { gpu_figure } else { cpu_figure };
            row += &versus(ours, if figures.is_empty() { f64::NAN } else { median(figures) });
        }
        println!("{row}");
    }
    Ok(())
}
