//! A small vision transformer on the bundled MNIST subset: each digit cut into 16 patches of 7 × 7
//! pixels, embedded with their positions, one transformer encoder block (multi-head
//! self-attention and an MLP) over them, and a linear layer on the patches' mean.
//!
//! `cargo run --release --example mnist_attention -- --backend best`

mod common;

use soma::autograd::{Rng, Tensor};
use soma::data::{DataLoader, Mnist, RandomShift};
use soma::device::{Device, Result};
use soma::nn::{Adam, CosineAnnealingLR, Linear, Module, Param, PositionalEmbedding, TransformerEncoderBlock, join};

const PATCH: usize = 7;
/// Patches per side of a 28 × 28 digit.
const GRID: usize = 28 / PATCH;
const DIM: usize = 64;
const HEADS: usize = 4;

struct PatchTransformer {
    embed: Linear,
    position: PositionalEmbedding,
    block: TransformerEncoderBlock,
    head: Linear,
}

impl PatchTransformer {
    fn new(device: &Device, rng: &mut Rng) -> Result<PatchTransformer> {
        Ok(PatchTransformer {
            embed: Linear::new(PATCH * PATCH, DIM, device, rng)?,
            position: PositionalEmbedding::learned(GRID * GRID, DIM, device, rng)?,
            block: TransformerEncoderBlock::new(DIM, HEADS, 2 * DIM, device, rng)?,
            head: Linear::new(DIM, 10, device, rng)?,
        })
    }
}

impl Module for PatchTransformer {
    /// `[batch, 784]` to `[batch, 10]` logits.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let batch = x.dims()[0];
        // [batch, row of patches, row in patch, column of patches, column in patch] to one
        // sequence of patches, each its 49 pixels row by row.
        let patches = x.reshape([batch, GRID, PATCH, GRID, PATCH])?.permute(&[0, 1, 3, 2, 4])?.reshape([
            batch,
            GRID * GRID,
            PATCH * PATCH,
        ])?;
        let tokens = self.position.forward(&self.embed.forward(&patches)?)?;
        self.head.forward(&self.block.forward(&tokens)?.mean(1)?)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.embed.visit_params(&join(prefix, "embed"), f);
        self.position.visit_params(&join(prefix, "position"), f);
        self.block.visit_params(&join(prefix, "block"), f);
        self.head.visit_params(&join(prefix, "head"), f);
    }
}

fn main() -> Result<()> {
    let args = common::Args::parse()?;
    let dev = &args.device;
    let mnist = Mnist::load()?;
    let mut model = PatchTransformer::new(dev, &mut Rng::new(0))?;
    let mut optimizer = Adam::new(2e-3);
    let train =
        DataLoader::new(args.subset(&mnist.train, 2000)?, 64, dev)?.shuffle(1).augment(RandomShift::new(1, 2))?;
    let test = DataLoader::new(&mnist.test, 500, dev)?;

    let epochs = args.epochs_or(15, 1);
    let mut schedule = CosineAnnealingLR::new(&optimizer, epochs, 0.0)?;
    let accuracy =
        common::fit("mnist_attention", &mut model, &mut optimizer, Some(&mut schedule), &train, &test, epochs)?;
    println!("test accuracy after {epochs} epochs: {:.2}%", 100.0 * accuracy);
    common::require("test accuracy", accuracy, if args.quick { 0.3 } else { 0.95 })
}
