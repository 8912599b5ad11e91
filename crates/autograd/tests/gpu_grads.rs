//! Gradients computed on the GPU (by WGSL kernels) equal the CPU's, op by op.

mod common;

use soma_autograd::{Device, Tensor};
use soma_device::testing::{assert_close, gpu};

fn grads_on(device: &Device, case: &common::Case) -> Vec<Vec<f32>> {
    let inputs: Vec<Tensor> = common::inputs(case, device, 5).unwrap().into_iter().map(|t| t.requires_grad()).collect();
    let out = (case.f)(&inputs).unwrap();
    let weights = Tensor::arange(out.numel(), device).unwrap().affine(0.1, 0.5).unwrap();
    let loss = (&out.reshape([out.numel()]).unwrap() * &weights).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    let mut all = vec![out.to_vec().unwrap()];
    all.extend(inputs.iter().map(|x| grads.get(x).map(|g| g.to_vec().unwrap()).unwrap_or_default()));
    all
}

#[test]
fn gpu_gradients_equal_cpu_gradients() {
    let gpu = gpu();
    for case in common::cases() {
        let (on_cpu, on_gpu) = (grads_on(&Device::cpu(), &case), grads_on(&gpu, &case));
        for (c, g) in on_cpu.iter().zip(&on_gpu) {
            assert_eq!(c.len(), g.len(), "{}", case.name);
            let ok = std::panic::catch_unwind(|| assert_close(g, c, 1e-4, 1e-5));
            assert!(ok.is_ok(), "{}: GPU and CPU disagree", case.name);
        }
    }
}
