//! Shared by the optimizer, scheduler and checkpoint tests: tiny models and a training step.
#![allow(dead_code)]

use soma_autograd::{Device, Grads, Rng, Tensor};
use soma_device::Result;
use soma_nn::{Linear, Module, Optimizer, Param, Sequential, Tanh};

/// A model that is just one parameter vector `w` (its forward ignores the input).
pub struct Vector {
    pub w: Param,
}

impl Vector {
    pub fn new(values: &[f32], device: &Device) -> Vector {
        Vector { w: Param::new(Tensor::from_slice(values, [values.len()], device).unwrap()) }
    }
    pub fn values(&self) -> Vec<f32> {
        self.w.get().to_vec().unwrap()
    }
}

impl Module for Vector {
    fn forward(&self, _x: &Tensor) -> Result<Tensor> {
        Ok(self.w.get())
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&soma_nn::join(prefix, "w"), &self.w);
    }
}

/// `0.5 * sum(w^2)`: its gradient is `w` itself.
pub fn half_square_grads(model: &Vector) -> Grads {
    let w = model.w.get();
    w.square().unwrap().sum_all().unwrap().affine(0.5, 0.0).unwrap().backward().unwrap()
}

/// Runs `steps` steps of `opt` on the bowl `sum((w - [3, -1, 0.5])^2)` from `w = 0` on `device`
/// and returns where `w` ended.
pub fn descend_bowl(opt: &mut dyn Optimizer, steps: usize, device: &Device) -> Vec<f32> {
    let target = Tensor::from_slice(&[3.0, -1.0, 0.5], [3], device).unwrap();
    let model = Vector::new(&[0.0, 0.0, 0.0], device);
    for _ in 0..steps {
        let loss = (&model.w.get() - &target).unwrap().square().unwrap().sum_all().unwrap();
        opt.step(&model, &loss.backward().unwrap()).unwrap();
    }
    model.values()
}

/// A 3 → 4 → 2 tanh MLP with fixed seeded weights; parameters `0.weight`, `0.bias`, `2.weight`, `2.bias`.
pub fn mlp(device: &Device) -> Sequential {
    let mut rng = Rng::new(7);
    Sequential::new()
        .add(Linear::new(3, 4, device, &mut rng).unwrap())
        .add(Tanh::new())
        .add(Linear::new(4, 2, device, &mut rng).unwrap())
}

/// A fixed batch of 5 inputs `[5, 3]` and regression targets `[5, 2]`.
pub fn batch(device: &Device) -> (Tensor, Tensor) {
    let x: Vec<f32> = (0..15).map(|i| ((i * 7 % 11) as f32 - 5.0) / 4.0).collect();
    let y: Vec<f32> = (0..10).map(|i| ((i * 3 % 7) as f32 - 3.0) / 3.0).collect();
    (Tensor::from_vec(x, [5, 3], device).unwrap(), Tensor::from_vec(y, [5, 2], device).unwrap())
}

/// The mean squared error of `model` on `batch` and its gradients.
pub fn mse_grads(model: &dyn Module, x: &Tensor, y: &Tensor) -> (f32, Grads) {
    let diff = (&model.forward(x).unwrap() - y).unwrap();
    let loss = diff.square().unwrap().mean_all().unwrap();
    (loss.item().unwrap(), loss.backward().unwrap())
}

/// Trains `model` for `steps` steps of MSE on the fixed batch; returns the last loss.
pub fn train(model: &dyn Module, opt: &mut dyn Optimizer, steps: usize) -> f32 {
    let (x, y) = batch(model.named_params()[0].1.get().device());
    let mut last = f32::NAN;
    for _ in 0..steps {
        let (loss, grads) = mse_grads(model, &x, &y);
        opt.step(model, &grads).unwrap();
        last = loss;
    }
    last
}

/// Every parameter's values by path.
pub fn snapshot(model: &dyn Module) -> Vec<(String, Vec<f32>)> {
    model.named_params().into_iter().map(|(name, p)| (name, p.get().to_vec().unwrap())).collect()
}
