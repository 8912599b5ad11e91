//! Rosenblatt's perceptron: a step activation and the perceptron learning rule learn AND and OR,
//! and fail on XOR, which no single line can separate.
//!
//! `cargo run --release --example perceptron -- --backend cpu`

mod common;

use soma::autograd::{Rng, Tensor};
use soma::device::{Device, Result};
use soma::nn::{Linear, Module, PerceptronRule, Step};

const INPUTS: [f32; 8] = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];

/// Trains a 2-input perceptron on a truth table for at most `epochs`; returns the epochs it
/// needed, or None.
fn train(name: &str, truth: [f32; 4], epochs: usize, device: &Device) -> Result<Option<usize>> {
    let neuron = Linear::new(2, 1, device, &mut Rng::new(3))?;
    let step = Step::new();
    let rule = PerceptronRule::new(0.1);
    let x = Tensor::from_slice(&INPUTS, [4, 2], device)?;
    let target = Tensor::from_slice(&truth, [4, 1], device)?;
    // Epoch e checks the outputs after e updates, so the last update is checked too.
    let mut outputs = Vec::new();
    for epoch in 0..=epochs {
        let prediction = step.forward(&neuron.forward(&x)?)?;
        outputs = prediction.to_vec()?;
        if outputs == truth {
            println!("{name}: learned in {epoch} epochs; outputs {outputs:?}");
            return Ok(Some(epoch));
        }
        if epoch < epochs {
            rule.update(neuron.weight(), neuron.bias(), &x, &prediction, &target)?;
        }
    }
    println!("{name}: not learned after {epochs} epochs; outputs {outputs:?}, wanted {truth:?}");
    Ok(None)
}

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let epochs = args.epochs_or(100, 100);
    let and = train("AND", [0.0, 0.0, 0.0, 1.0], epochs, &args.device)?;
    let or = train("OR", [0.0, 1.0, 1.0, 1.0], epochs, &args.device)?;
    let xor = train("XOR", [0.0, 1.0, 1.0, 0.0], epochs, &args.device)?;
    if xor.is_none() {
        println!(
            "XOR is not linearly separable: a single perceptron provably cannot learn it (Minsky & Papert, 1969)."
        );
    }
    common::require("AND and OR learned, XOR not", (and.is_some() && or.is_some() && xor.is_none()) as u8 as f32, 1.0)
}
