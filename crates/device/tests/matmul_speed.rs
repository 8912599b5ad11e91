//! A 1024^3 matmul agrees with the CPU; prints GFLOP/s of both backends (timing is reported,
//! never asserted). `cargo test -p soma-device --test matmul_speed -- --nocapture`.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use soma_device::testing::{assert_close, gpu};
use soma_device::{Device, MatmulDims};

#[test]
fn matmul_1024_cubed() {
    let size = 1024;
    let mut r = StdRng::seed_from_u64(1);
    let a: Vec<f32> = (0..size * size).map(|_| r.random_range(-1.0..1.0)).collect();
    let b: Vec<f32> = (0..size * size).map(|_| r.random_range(-1.0..1.0)).collect();
    let flops = 2.0 * (size as f64).powi(3);
    let mut results = Vec::new();
    for dev in [gpu(), Device::cpu()] {
        for (transpose_a, transpose_b) in [(false, false), (false, true), (true, false), (true, true)] {
            let dims = MatmulDims { batch: 1, m: size, n: size, k: size, transpose_a, transpose_b };
            let (x, y) = (dev.from_slice(&a).unwrap(), dev.from_slice(&b).unwrap());
            dev.to_vec(&dev.matmul(&x, &y, dims).unwrap()).unwrap(); // warm-up: pipeline compile
            let runs = 2;
            let start = Instant::now();
            let mut out = None;
            for _ in 0..runs {
                out = Some(dev.matmul(&x, &y, dims).unwrap());
            }
            dev.synchronize().unwrap();
            let secs = start.elapsed().as_secs_f64() / runs as f64;
            println!("{} ta={transpose_a} tb={transpose_b}: {:.1} GFLOP/s", dev.name(), flops / secs / 1e9);
            results.push(dev.to_vec(&out.unwrap()).unwrap());
        }
    }
    for i in 0..4 {
        assert_close(&results[i], &results[i + 4], 1e-4, 1e-3);
    }
}
