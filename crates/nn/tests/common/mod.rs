//! Shared test helpers: gradient checks for modules (input and parameters) and CPU-vs-GPU agreement.
#![allow(dead_code)]

use soma_autograd::{Device, Rng, Tensor, gradcheck, no_grad};
use soma_device::testing::assert_close;
use soma_nn::Module;

pub const TOL: f32 = 2e-2;

/// `randn` pushed at least 0.2 away from zero, so kinks (relu, step, abs) are not crossed by
/// gradcheck's perturbation.
pub fn away_from_zero(shape: &[usize], seed: u64, dev: &Device) -> Tensor {
    let x = Tensor::randn(shape.to_vec(), &mut Rng::new(seed), dev).unwrap();
    (&x + &x.sign().unwrap().affine(0.2, 0.0).unwrap()).unwrap().detach()
}

/// Distinct values 0.1 apart (a shuffled, centred arange), so no max is ever tied or overtaken.
pub fn distinct(shape: &[usize], seed: u64, dev: &Device) -> Tensor {
    let n: usize = shape.iter().product();
    let mut v: Vec<f32> = (0..n).map(|i| (i as f32 - n as f32 / 2.0) * 0.1).collect();
    let mut rng = Rng::new(seed);
    for i in (1..n).rev() {
        v.swap(i, rng.below(i + 1));
    }
    Tensor::from_vec(v, shape.to_vec(), dev).unwrap()
}

/// Checks the module's gradient with respect to its input with the public `gradcheck`.
pub fn check_input(m: &dyn Module, x: &Tensor) {
    let report = gradcheck(|xs| m.forward(&xs[0]), std::slice::from_ref(x), TOL).unwrap();
    assert_eq!(report.checked, x.numel());
}

/// `gradcheck` for the trainable parameters: `Param::new` makes its own leaf, so the parameters
/// are perturbed in place with `Param::set`, with `gradcheck`'s formula (central differences,
/// `eps = 1e-2 max(1, |p|)`, `|analytic - numeric| <= tol max(1, |numeric|)`, a fixed random
/// projection of the output).
pub fn check_params(m: &dyn Module, x: &Tensor) {
    let out = m.forward(x).unwrap();
    let proj = Tensor::rand_range(out.shape().clone(), 0.5, 1.5, &mut Rng::new(7), x.device()).unwrap();
    let loss = || -> f64 { no_grad(|| (&m.forward(x)? * &proj)?.sum_all()?.item()).unwrap() as f64 };
    let grads = (&out * &proj).unwrap().sum_all().unwrap().backward().unwrap();
    let params = m.parameters();
    assert!(!params.is_empty(), "no trainable parameters");
    for (name, p) in m.named_params().into_iter().filter(|(_, p)| p.is_trainable()) {
        let original = p.get();
        let analytic = grads.get(&original).unwrap_or_else(|| panic!("{name}: no gradient")).to_vec().unwrap();
        let values = original.to_vec().unwrap();
        for i in 0..values.len() {
            let eps = 1e-2 * values[i].abs().max(1.0);
            let at = |delta: f32| {
                let mut v = values.clone();
                v[i] += delta;
                p.set(Tensor::from_vec(v, original.shape().clone(), x.device()).unwrap());
                loss()
            };
            let numeric = ((at(eps) - at(-eps)) / (2.0 * eps as f64)) as f32;
            p.set(original.clone());
            let rel = (analytic[i] - numeric).abs() / numeric.abs().max(1.0);
            assert!(rel <= TOL, "{name}[{i}]: backward gives {} but finite differences give {numeric}", analytic[i]);
        }
    }
}

/// Both checks.
pub fn check_module(m: &dyn Module, x: &Tensor) {
    check_input(m, x);
    check_params(m, x);
}

/// The forward output, the input gradient and every parameter gradient (by path), on the host.
pub struct Run {
    pub out: Vec<f32>,
    pub input_grad: Vec<f32>,
    pub param_grads: Vec<(String, Vec<f32>)>,
    pub params: Vec<(String, Vec<f32>)>,
}

/// Runs `m` on `x` (copied to the module's device) and backward of a fixed projection.
pub fn run(m: &dyn Module, x: &[f32], shape: &[usize], dev: &Device) -> Run {
    let x = Tensor::from_slice(x, shape.to_vec(), dev).unwrap().requires_grad();
    let out = m.forward(&x).unwrap();
    let proj = Tensor::rand_range(out.shape().clone(), 0.5, 1.5, &mut Rng::new(7), dev).unwrap();
    let grads = (&out * &proj).unwrap().sum_all().unwrap().backward().unwrap();
    let param_grads = m
        .named_params()
        .into_iter()
        .filter(|(_, p)| p.is_trainable())
        .map(|(n, p)| (n, grads.get(&p.get()).map(|g| g.to_vec().unwrap()).unwrap_or_default()))
        .collect();
    let params = m.named_params().into_iter().map(|(n, p)| (n, p.get().to_vec().unwrap())).collect();
    let input_grad = grads.get(&x).map(|g| g.to_vec().unwrap()).unwrap_or_default();
    Run { out: out.to_vec().unwrap(), input_grad, param_grads, params }
}

/// Builds the module on the CPU and on the GPU (same seed) and compares outputs, gradients and
/// (updated) parameters and buffers.
pub fn assert_devices_agree(make: impl Fn(&Device) -> Box<dyn Module>, x: &[f32], shape: &[usize], tol: f32) {
    let (cpu, gpu) = (Device::cpu(), soma_device::testing::gpu());
    let (m_cpu, m_gpu) = (make(&cpu), make(&gpu));
    let params_before: Vec<_> = m_gpu.named_params().into_iter().map(|(_, p)| p.get().to_vec().unwrap()).collect();
    for ((_, p), g) in m_cpu.named_params().into_iter().zip(&params_before) {
        // The same seed gives the same initial values (up to the devices' transcendental functions).
        assert_close(g, &p.get().to_vec().unwrap(), 1e-4, 1e-5);
    }
    let (a, b) = (run(m_gpu.as_ref(), x, shape, &gpu), run(m_cpu.as_ref(), x, shape, &cpu));
    assert_close(&a.out, &b.out, tol, tol);
    assert_close(&a.input_grad, &b.input_grad, tol, tol);
    assert_eq!(a.param_grads.len(), b.param_grads.len());
    for ((name, ga), (_, gb)) in a.param_grads.iter().zip(&b.param_grads) {
        assert!(!gb.is_empty(), "{name}: no gradient on the CPU");
        assert!(!ga.is_empty(), "{name}: no gradient on the GPU");
        assert_close(ga, gb, tol, tol);
    }
    for ((name, pa), (_, pb)) in a.params.iter().zip(&b.params) {
        assert_eq!(pa.len(), pb.len(), "{name}");
        assert_close(pa, pb, tol, tol);
    }
}

/// Seeded host data.
pub fn host_randn(shape: &[usize], seed: u64) -> Vec<f32> {
    Tensor::randn(shape.to_vec(), &mut Rng::new(seed), &Device::cpu()).unwrap().to_vec().unwrap()
}
