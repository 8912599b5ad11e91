//! Kernels that stage their inputs in textures on CPU-backed drivers give what their buffer
//! kernels give, and both what the CPU gives. One test: the switch is process-wide.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use soma_device::testing::{assert_close, gpu};
use soma_device::{Device, Storage};

/// Runs `f` on the CPU and on the GPU with texture reads off, then on.
fn on_cpu_and_both_gpu_paths(input: &[f32], f: impl Fn(&Device, &Storage) -> Vec<f32>) -> [Vec<f32>; 3] {
    let gpu = gpu();
    let Device::Wgpu(backend) = &gpu else { panic!("gpu() is a wgpu device") };
    let run = |dev: &Device| f(dev, &dev.from_slice(input).unwrap());
    let before = backend.set_texture_reads(false);
    let buffers = run(&gpu);
    backend.set_texture_reads(true);
    let staged = run(&gpu);
    backend.set_texture_reads(before);
    [run(&Device::cpu()), buffers, staged]
}

#[test]
fn staged_and_buffer_kernels_agree() {
    let mut r = StdRng::seed_from_u64(11);
    // Rows of whole vec4s: one texture row, exactly four, and one full row plus a partial one.
    for (rows, cols) in [(2, 256), (1, 65_536), (5, 4000), (3, 36)] {
        let x: Vec<f32> = (0..rows * cols).map(|_| r.random_range(-8.0..8.0)).collect();
        for log in [false, true] {
            let [cpu, buffers, staged] =
                on_cpu_and_both_gpu_paths(&x, |d, x| d.to_vec(&d.softmax(x, rows, cols, log).unwrap()).unwrap());
            assert_close(&buffers, &cpu, 1e-5, 1e-6);
            assert_close(&staged, &cpu, 1e-5, 1e-6);
        }
    }
}
