//! The performance issue's MLP workload, shared by the criterion benches and `bench_report`: the
//! MNIST example's 784-256-128-10 network and one Adam training step on a batch of 128.

use soma::autograd::{Rng, Tensor};
use soma::device::{Device, Result};
use soma::nn::{Adam, Linear, Module, Optimizer, ReLU, Sequential, loss};

pub struct MlpStep {
    model: Sequential,
    optimizer: Adam,
    x: Tensor,
    y: Tensor,
}

impl MlpStep {
    pub fn new(dev: &Device) -> Result<MlpStep> {
        let mut rng = Rng::new(5);
        let model = Sequential::new()
            .add(Linear::new(784, 256, dev, &mut rng)?)
            .add(ReLU::new())
            .add(Linear::new(256, 128, dev, &mut rng)?)
            .add(ReLU::new())
            .add(Linear::new(128, 10, dev, &mut rng)?);
        let x = Tensor::randn([128, 784], &mut rng, dev)?;
        let y = Tensor::from_vec((0..128).map(|i| (i % 10) as f32).collect(), [128], dev)?;
        Ok(MlpStep { model, optimizer: Adam::new(1e-3), x, y })
    }

    /// One forward, backward and optimizer step; returns the loss (not read back), detached: a
    /// caller keeping it (criterion keeps the last 8 results) keeps one value, not the step's graph
    /// and activations, as PyTorch frees a graph's saved tensors in `backward()`. (Keeping the
    /// graphs made criterion's GPU step 0.4-0.7 ms slower on lavapipe: 6.0-6.7 vs 5.4-6.0 ms.)
    pub fn step(&mut self) -> Result<Tensor> {
        let loss = loss::cross_entropy(&self.model.forward(&self.x)?, &self.y)?;
        self.optimizer.step(&self.model, &loss.backward()?)?;
        Ok(loss.detach())
    }
}
