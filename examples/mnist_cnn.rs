//! A LeNet-style CNN with batch norm and dropout on the bundled MNIST subset.
//!
//! `cargo run --release --example mnist_cnn -- --backend best`

mod common;

use soma::autograd::Rng;
use soma::data::{DataLoader, InputLayout, Mnist, RandomShift};
use soma::device::Result;
use soma::nn::{Adam, BatchNorm2d, Conv2d, CosineAnnealingLR, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential};

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let dev = &args.device;
    let mnist = Mnist::load()?;
    let mut rng = Rng::new(0);
    let mut model = Sequential::new()
        .add(Conv2d::new(1, 6, 5, dev, &mut rng)?.padding(2)) // [n, 6, 28, 28]
        .add(BatchNorm2d::new(6, dev)?)
        .add(ReLU::new())
        .add(MaxPool2d::new(2)) // [n, 6, 14, 14]
        .add(Conv2d::new(6, 16, 5, dev, &mut rng)?) // [n, 16, 10, 10]
        .add(BatchNorm2d::new(16, dev)?)
        .add(ReLU::new())
        .add(MaxPool2d::new(2)) // [n, 16, 5, 5]
        .add(Flatten::new())
        .add(Linear::new(400, 120, dev, &mut rng)?)
        .add(ReLU::new())
        .add(Dropout::new(0.25, &mut rng)?)
        .add(Linear::new(120, 84, dev, &mut rng)?)
        .add(ReLU::new())
        .add(Linear::new(84, 10, dev, &mut rng)?);
    let mut optimizer = Adam::new(2e-3);
    let train = DataLoader::new(args.subset(&mnist.train, 2000)?, 64, dev)?
        .shuffle(1)
        .layout(InputLayout::Image)
        .augment(RandomShift::new(2, 2))?;
    let test = DataLoader::new(&mnist.test, 250, dev)?.layout(InputLayout::Image);

    let epochs = args.epochs_or(15, 1);
    // The learning rate anneals to zero over the run, so the last epochs settle instead of jitter.
    let mut schedule = CosineAnnealingLR::new(&optimizer, epochs, 0.0)?;
    let accuracy = common::fit("mnist_cnn", &mut model, &mut optimizer, Some(&mut schedule), &train, &test, epochs)?;
    println!("test accuracy after {epochs} epochs: {:.2}%", 100.0 * accuracy);
    common::require("test accuracy", accuracy, if args.quick { 0.6 } else { 0.975 })
}
