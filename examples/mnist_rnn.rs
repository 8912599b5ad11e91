//! An LSTM reads each digit of the bundled MNIST subset row by row (28 steps of 28 pixels) and
//! classifies it from its last hidden state.
//!
//! `cargo run --release --example mnist_rnn -- --backend best`

mod common;

use soma::autograd::{Rng, Tensor};
use soma::data::{DataLoader, Mnist, RandomShift};
use soma::device::{Device, Result};
use soma::nn::{Adam, CosineAnnealingLR, Linear, Lstm, Module, Param, join};

const SIDE: usize = 28;
const HIDDEN: usize = 64;

/// `[batch, 784]` pixels as 28 rows in time, an LSTM over them, and a linear layer on the last
/// step's hidden state.
struct RowReader {
    lstm: Lstm,
    head: Linear,
}

impl RowReader {
    fn new(device: &Device, rng: &mut Rng) -> Result<RowReader> {
        Ok(RowReader { lstm: Lstm::new(SIDE, HIDDEN, device, rng)?, head: Linear::new(HIDDEN, 10, device, rng)? })
    }
}

impl Module for RowReader {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let batch = x.dims()[0];
        let (_, last) = self.lstm.forward_seq(&x.reshape([batch, SIDE, SIDE])?, None)?;
        // The final state's h is `[layers, batch, hidden]`, one layer here.
        self.head.forward(&last.h.reshape([batch, HIDDEN])?)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.lstm.visit_params(&join(prefix, "lstm"), f);
        self.head.visit_params(&join(prefix, "head"), f);
    }
}

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let dev = &args.device;
    let mnist = Mnist::load()?;
    let mut model = RowReader::new(dev, &mut Rng::new(0))?;
    let mut optimizer = Adam::new(2e-3);
    let train =
        DataLoader::new(args.subset(&mnist.train, 2000)?, 64, dev)?.shuffle(1).augment(RandomShift::new(1, 2))?;
    let test = DataLoader::new(&mnist.test, 500, dev)?;

    let epochs = args.epochs_or(10, 1);
    let mut schedule = CosineAnnealingLR::new(&optimizer, epochs, 0.0)?;
    let accuracy = common::fit("mnist_rnn", &mut model, &mut optimizer, Some(&mut schedule), &train, &test, epochs)?;
    println!("test accuracy after {epochs} epochs: {:.2}%", 100.0 * accuracy);
    common::require("test accuracy", accuracy, if args.quick { 0.3 } else { 0.95 })
}
