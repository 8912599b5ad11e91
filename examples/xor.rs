//! A two-layer MLP with sigmoid units learns XOR by backpropagation, which a single perceptron
//! cannot.
//!
//! `cargo run --release --example xor -- --backend cpu`

mod common;

use soma::autograd::{Rng, Tensor};
use soma::device::Result;
use soma::nn::{Linear, Module, Optimizer, Sequential, Sgd, Sigmoid, loss};

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let dev = &args.device;
    let mut rng = Rng::new(1);
    let model = Sequential::new()
        .add(Linear::new(2, 4, dev, &mut rng)?)
        .add(Sigmoid::new())
        .add(Linear::new(4, 1, dev, &mut rng)?)
        .add(Sigmoid::new());
    let x = Tensor::from_vec(vec![0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], [4, 2], dev)?;
    let y = Tensor::from_vec(vec![0.0, 1.0, 1.0, 0.0], [4, 1], dev)?;
    let mut optimizer = Sgd::new(2.0).momentum(0.9);

    // Every step sees the whole truth table: a step is an epoch.
    let steps = args.epochs_or(2000, 600);
    for step in 1..=steps {
        let loss = loss::mse_loss(&model.forward(&x)?, &y)?;
        let grads = loss.backward()?;
        optimizer.step(&model, &grads)?;
        if step % (steps / 5).max(1) == 0 {
            println!("step {step:>4}: mse {:.5}", loss.item()?);
        }
    }

    let out = model.forward(&x)?.to_vec()?;
    println!("\n a b | xor | network");
    for (i, o) in out.iter().enumerate() {
        println!(" {} {} |  {}  | {o:.3}", i >> 1, i & 1, (i >> 1) ^ (i & 1));
    }
    let correct = out.iter().enumerate().filter(|&(i, &o)| (o > 0.5) == ((i >> 1) ^ (i & 1) == 1)).count();
    common::require("rows of the truth table right", correct as f32, 4.0)
}
