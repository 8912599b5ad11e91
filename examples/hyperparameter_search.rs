//! Random (Monte-Carlo) search over learning rate, batch size and hidden width for the MNIST
//! MLP, scored on a validation split held out of the training set; prints a ranked table.
//!
//! `cargo run --release --example hyperparameter_search -- --backend cpu`

mod common;

use soma::autograd::Rng;
use soma::data::{DataLoader, Mnist, train_val_split};
use soma::device::Result;
use soma::nn::{Adam, Linear, ReLU, Sequential};

struct Trial {
    lr: f32,
    batch_size: usize,
    hidden: usize,
    accuracy: f32,
}

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let dev = &args.device;
    let mnist = Mnist::load()?;
    let (train, val) = train_val_split(args.subset(&mnist.train, 1500)?, 0.2, 7)?;
    let (trials, epochs) = (if args.quick { 2 } else { 8 }, args.epochs_or(2, 1));

    let mut sampler = Rng::new(42);
    let mut results = Vec::new();
    for t in 1..=trials {
        // Learning rate log-uniform in [1e-4, 1e-2]; batch size and width from short lists.
        let lr = 10f32.powf(-4.0 + 2.0 * sampler.uniform() as f32);
        let batch_size = [32, 64, 128, 256][sampler.below(4)];
        let hidden = [32, 64, 128, 256][sampler.below(4)];
        let mut rng = Rng::new(t as u64);
        let mut model = Sequential::new()
            .add(Linear::new(784, hidden, dev, &mut rng)?)
            .add(ReLU::new())
            .add(Linear::new(hidden, 10, dev, &mut rng)?);
        let mut optimizer = Adam::new(lr);
        let train_loader = DataLoader::new(&train, batch_size, dev)?.shuffle(t as u64);
        let val_loader = DataLoader::new(&val, 500, dev)?;
        for epoch in 1..=epochs {
            common::train_epoch(&mut model, &mut optimizer, &train_loader, epoch, epochs)?;
        }
        let (_, accuracy) = common::evaluate(&mut model, &val_loader)?;
        println!("trial {t}: lr {lr:.2e}, batch {batch_size}, hidden {hidden} -> {:.2}%", 100.0 * accuracy);
        results.push(Trial { lr, batch_size, hidden, accuracy });
    }

    results.sort_by(|a, b| b.accuracy.total_cmp(&a.accuracy));
    println!("\n| rank | learning rate | batch | hidden | validation accuracy |\n|---|---|---|---|---|");
    for (rank, r) in results.iter().enumerate() {
        println!("| {} | {:.2e} | {} | {} | {:.2}% |", rank + 1, r.lr, r.batch_size, r.hidden, 100.0 * r.accuracy);
    }
    common::require("best validation accuracy", results[0].accuracy, if args.quick { 0.5 } else { 0.8 })
}
