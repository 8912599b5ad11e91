//! The same MLP trained with SGD, momentum, Nesterov, Adagrad, RMSProp and Adam from the same
//! initial weights; the loss curves are plotted in one PNG.
//!
//! `cargo run --release --example optimizers -- --backend cpu`

mod common;

use soma::autograd::Rng;
use soma::data::{DataLoader, Mnist};
use soma::device::Result;
use soma::nn::{Adagrad, Adam, Linear, Module, Optimizer, ReLU, RmsProp, Sequential, Sgd, loss};

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let dev = &args.device;
    let mnist = Mnist::load()?;
    let train = DataLoader::new(args.subset(&mnist.train, 1600)?, 64, dev)?.shuffle(1);
    let epochs = args.epochs_or(3, 1);
    let window = if args.quick { 5 } else { 25 };
    let optimizers: Vec<(&str, Box<dyn Optimizer>)> = vec![
        ("SGD", Box::new(Sgd::new(0.05))),
        ("momentum", Box::new(Sgd::new(0.05).momentum(0.9))),
        ("Nesterov", Box::new(Sgd::new(0.05).momentum(0.9).nesterov(true))),
        ("Adagrad", Box::new(Adagrad::new(0.02))),
        ("RMSProp", Box::new(RmsProp::new(1e-3))),
        ("Adam", Box::new(Adam::new(1e-3))),
    ];

    let mut curves = Vec::new();
    for (name, mut optimizer) in optimizers {
        let mut rng = Rng::new(0); // the same initial weights for every optimizer
        let model = Sequential::new()
            .add(Linear::new(784, 128, dev, &mut rng)?)
            .add(ReLU::new())
            .add(Linear::new(128, 10, dev, &mut rng)?);
        let mut losses = Vec::new();
        for epoch in 0..epochs {
            for batch in train.epoch(epoch as u64) {
                let batch = batch?;
                let loss = loss::cross_entropy(&model.forward(&batch.inputs)?, &batch.labels)?;
                optimizer.step(&model, &loss.backward()?)?;
                losses.push(loss.item()?);
            }
        }
        // Smooth over `window` steps so the curves can be told apart.
        let smooth: Vec<f32> = losses.chunks(window).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect();
        println!(
            "{name:>9}: mean loss {:.3} over the first {window} steps, {:.3} over the last",
            smooth[0],
            smooth[smooth.len() - 1]
        );
        curves.push((name, smooth));
    }
    let path = "runs/optimizers/loss.png";
    let series: Vec<(&str, &[f32])> = curves.iter().map(|(n, c)| (*n, c.as_slice())).collect();
    soma::train::plot_curves(path, &format!("training loss (mean of {window} steps)"), &series)?;
    println!("loss curves saved to {path}");
    let learned = curves.iter().filter(|(_, c)| c[c.len() - 1] < 0.8 * c[0]).count();
    common::require("optimizers whose loss fell by 20%", learned as f32, curves.len() as f32)
}
