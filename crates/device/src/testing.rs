//! Helpers for tests in every crate: the shared GPU test device and tolerant comparison.

use crate::Device;

/// The GPU device the tests run on. A missing adapter is a test failure, never a skip: on a
/// machine without a GPU, install Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`).
pub fn gpu() -> Device {
    match Device::gpu() {
        Ok(d) => d,
        Err(e) => panic!("GPU tests need an adapter ({e}); install mesa-vulkan-drivers for lavapipe"),
    }
}

/// Asserts `|a - b| <= atol + rtol * |b|` element by element, naming the first index that differs.
#[track_caller]
pub fn assert_close(a: &[f32], b: &[f32], rtol: f32, atol: f32) {
    assert_eq!(a.len(), b.len(), "lengths differ");
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        let same_special = (x.is_nan() && y.is_nan()) || x == y;
        assert!(
            same_special || (x - y).abs() <= atol + rtol * y.abs(),
            "element {i} differs: {x} vs {y} (rtol {rtol}, atol {atol})"
        );
    }
}

/// Asserts the GPU's values equal the CPU's within `tol` times the larger of 1 and the CPU's
/// largest finite magnitude (a GPU sums in another order); NaN and infinities must match exactly.
/// `what` names the values in the message.
#[track_caller]
pub fn assert_gpu_agrees(what: &str, cpu: &[f32], gpu: &[f32], tol: f32) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: lengths differ");
    let scale = cpu.iter().filter(|x| x.is_finite()).fold(1f32, |m, x| m.max(x.abs()));
    for (i, (c, g)) in cpu.iter().zip(gpu).enumerate() {
        let same = c == g || (c.is_nan() && g.is_nan()) || (c - g).abs() <= tol * scale;
        assert!(same, "{what}: element {i} is {c} on the CPU, {g} on the GPU");
    }
}

/// Makes `<name>_cpu` and `<name>_wgpu` tests from one body taking `dev: Device`.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, |$dev:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn run($dev: $crate::Device) $body
            #[test]
            fn cpu() {
                run($crate::Device::cpu())
            }
            #[test]
            fn wgpu() {
                run($crate::testing::gpu())
            }
        }
    };
}
