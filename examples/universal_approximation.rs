//! The universal approximation theorem at work: one hidden layer of tanh units fits sin(x) on
//! [-π, π]. Prints the error and saves a plot of the fit against the target.
//!
//! `cargo run --release --example universal_approximation -- --backend cpu`

mod common;

use std::f32::consts::PI;

use soma::autograd::{Rng, Tensor};
use soma::device::Result;
use soma::nn::{Adam, Linear, Module, Optimizer, Sequential, Tanh, loss};

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let dev = &args.device;
    let points = 256;
    let xs: Vec<f32> = (0..points).map(|i| -PI + 2.0 * PI * i as f32 / (points - 1) as f32).collect();
    let x = Tensor::from_slice(&xs, [points, 1], dev)?;
    let y = x.sin()?;

    let hidden = 32;
    let mut rng = Rng::new(4);
    let model = Sequential::new()
        .add(Linear::new(1, hidden, dev, &mut rng)?)
        .add(Tanh::new())
        .add(Linear::new(hidden, 1, dev, &mut rng)?);
    let mut optimizer = Adam::new(0.01);
    // Every step sees all the points: a step is an epoch.
    let steps = args.epochs_or(3000, 500);
    for step in 1..=steps {
        let loss = loss::mse_loss(&model.forward(&x)?, &y)?;
        optimizer.step(&model, &loss.backward()?)?;
        if step % (steps / 6).max(1) == 0 {
            println!("step {step:>4}: mse {:.6}", loss.item()?);
        }
    }

    let fit = model.forward(&x)?.to_vec()?;
    // NaN-aware: `f32::max` would skip a NaN error and let a diverged fit pass the check below.
    let max_error =
        fit.iter().zip(&xs).map(|(f, x)| (f - x.sin()).abs()).fold(0.0, |m, e| if e > m || e.is_nan() { e } else { m });
    println!("{hidden} tanh units: max |fit - sin(x)| on [-π, π] = {max_error:.4}");
    let target: Vec<(f32, f32)> = xs.iter().map(|&x| (x, x.sin())).collect();
    let fitted: Vec<(f32, f32)> = xs.iter().zip(&fit).map(|(&x, &f)| (x, f)).collect();
    let path = "runs/universal_approximation/fit.png";
    soma::train::plot_xy(path, "one hidden layer fits sin(x)", &[("sin(x)", &target), ("network", &fitted)])?;
    println!("plot saved to {path}");
    common::require("1 - max error", 1.0 - max_error, if args.quick { 0.8 } else { 0.95 })
}
