//! A 784-256-128-10 ReLU MLP trained with Adam on the bundled MNIST subset.
//!
//! `cargo run --release --example mnist_mlp -- --backend best`

mod common;

use soma::autograd::Rng;
use soma::data::{DataLoader, Mnist, RandomShift};
use soma::device::Result;
use soma::nn::{Adam, Linear, ReLU, Sequential};

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let dev = &args.device;
    let mnist = Mnist::load()?;
    let mut rng = Rng::new(0);
    let mut model = Sequential::new()
        .add(Linear::new(784, 256, dev, &mut rng)?)
        .add(ReLU::new())
        .add(Linear::new(256, 128, dev, &mut rng)?)
        .add(ReLU::new())
        .add(Linear::new(128, 10, dev, &mut rng)?);
    let mut optimizer = Adam::new(1e-3);
    // One-pixel shifts make 8,000 digits act like many more.
    let train =
        DataLoader::new(args.subset(&mnist.train, 2000)?, 64, dev)?.shuffle(1).augment(RandomShift::new(1, 2))?;
    let test = DataLoader::new(&mnist.test, 500, dev)?;

    let epochs = args.epochs_or(15, 1);
    let accuracy = common::fit("mnist_mlp", &mut model, &mut optimizer, None, &train, &test, epochs)?;
    println!("test accuracy after {epochs} epochs: {:.2}%", 100.0 * accuracy);
    common::require("test accuracy", accuracy, if args.quick { 0.6 } else { 0.95 })
}
