//! Sequence models learn small tasks on the CPU: an LSTM adds two binary numbers (bits fed least
//! significant first); a causal transformer block copies the symbol seen two steps earlier.

use soma_autograd::{Device, Rng, Tensor, no_grad};
use soma_nn::{
    Adam, Embedding, Linear, Lstm, Module, Optimizer, Param, PositionalEmbedding, TransformerEncoderBlock, join, loss,
};

const BITS: usize = 8;

/// An LSTM reading `[a_t, b_t]` and a linear head giving the logit of sum bit `t`.
struct Adder {
    lstm: Lstm,
    head: Linear,
}

impl Module for Adder {
    fn forward(&self, x: &Tensor) -> soma_autograd::Result<Tensor> {
        let logits = self.head.forward(&self.lstm.forward(x)?)?;
        logits.reshape([x.dims()[0], BITS])
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.lstm.visit_params(&join(prefix, "lstm"), f);
        self.head.visit_params(&join(prefix, "head"), f);
    }
}

/// `batch` random pairs `a, b < 2^(BITS-1)`: inputs `[batch, BITS, 2]` and the bits of `a + b` `[batch, BITS]`.
fn additions(batch: usize, rng: &mut Rng, dev: &Device) -> (Tensor, Tensor) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..batch {
        let (a, b) = (rng.below(1 << (BITS - 1)), rng.below(1 << (BITS - 1)));
        for t in 0..BITS {
            x.extend([(a >> t & 1) as f32, (b >> t & 1) as f32]);
            y.push(((a + b) >> t & 1) as f32);
        }
    }
    (Tensor::from_vec(x, [batch, BITS, 2], dev).unwrap(), Tensor::from_vec(y, [batch, BITS], dev).unwrap())
}

/// The fraction of sums with every bit right.
fn exact_sums(model: &Adder, x: &Tensor, y: &Tensor) -> f32 {
    no_grad(|| {
        let right_bits = model.forward(x)?.step()?.eq(y)?.sum(1)?;
        right_bits.scalar_op(soma_device::BinaryOp::Eq, BITS as f32, false)?.mean_all()?.item()
    })
    .unwrap()
}

#[test]
fn lstm_learns_binary_addition() {
    let dev = Device::cpu();
    let mut rng = Rng::new(2024);
    let model =
        Adder { lstm: Lstm::new(2, 16, &dev, &mut rng).unwrap(), head: Linear::new(16, 1, &dev, &mut rng).unwrap() };
    let mut opt = Adam::new(0.02);
    let (test_x, test_y) = additions(500, &mut Rng::new(7), &dev);
    let start = std::time::Instant::now();
    let mut accuracy = 0.0;
    for step in 1..=600 {
        let (x, y) = additions(32, &mut rng, &dev);
        let loss = loss::binary_cross_entropy_with_logits(&model.forward(&x).unwrap(), &y).unwrap();
        opt.step(&model, &loss.backward().unwrap()).unwrap();
        if step % 50 == 0 {
            accuracy = exact_sums(&model, &test_x, &test_y);
            if accuracy >= 0.99 {
                break;
            }
        }
    }
    eprintln!("exact sums {accuracy:.3} after {:.2?}", start.elapsed());
    assert!(accuracy >= 0.95, "only {accuracy} of the sums are exact");
}

const SYMBOLS: usize = 6;
const LEN: usize = 8;
const DELAY: usize = 2;

/// Token and learned position embeddings, one causal pre-norm block, logits per symbol.
struct DelayedCopy {
    embed: Embedding,
    position: PositionalEmbedding,
    block: TransformerEncoderBlock,
    head: Linear,
}

impl Module for DelayedCopy {
    fn forward(&self, ids: &Tensor) -> soma_autograd::Result<Tensor> {
        let x = self.position.forward(&self.embed.forward(ids)?)?;
        self.head.forward(&self.block.forward(&x)?)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.embed.visit_params(&join(prefix, "embed"), f);
        self.position.visit_params(&join(prefix, "position"), f);
        self.block.visit_params(&join(prefix, "block"), f);
        self.head.visit_params(&join(prefix, "head"), f);
    }
}

/// `batch` random symbol sequences `[batch, LEN]`, the logits of steps `DELAY..` as
/// `[batch * (LEN - DELAY), SYMBOLS]` and their targets (the symbols `DELAY` steps earlier).
fn delayed_copy_batch(model: &DelayedCopy, batch: usize, rng: &mut Rng, dev: &Device) -> (Tensor, Tensor) {
    let ids: Vec<f32> = (0..batch * LEN).map(|_| rng.below(SYMBOLS) as f32).collect();
    let ids = Tensor::from_vec(ids, [batch, LEN], dev).unwrap();
    let n = batch * (LEN - DELAY);
    let logits = model.forward(&ids).unwrap().narrow(1, DELAY, LEN - DELAY).unwrap().reshape([n, SYMBOLS]).unwrap();
    (logits, ids.narrow(1, 0, LEN - DELAY).unwrap().reshape([n]).unwrap())
}

#[test]
fn causal_transformer_learns_a_delayed_copy() {
    let dev = Device::cpu();
    let mut rng = Rng::new(11);
    let model = DelayedCopy {
        embed: Embedding::new(SYMBOLS, 16, &dev, &mut rng).unwrap(),
        position: PositionalEmbedding::learned(LEN, 16, &dev, &mut rng).unwrap(),
        block: TransformerEncoderBlock::new(16, 2, 32, &dev, &mut rng).unwrap().causal(true).norm_first(true),
        head: Linear::new(16, SYMBOLS, &dev, &mut rng).unwrap(),
    };
    let mut opt = Adam::new(0.01);
    let start = std::time::Instant::now();
    let mut accuracy = 0.0;
    for step in 1..=600 {
        let (logits, targets) = delayed_copy_batch(&model, 32, &mut rng, &dev);
        let loss = loss::cross_entropy(&logits, &targets).unwrap();
        opt.step(&model, &loss.backward().unwrap()).unwrap();
        if step % 50 == 0 {
            let (logits, targets) = no_grad(|| delayed_copy_batch(&model, 200, &mut Rng::new(3), &dev));
            accuracy = loss::accuracy(&logits, &targets).unwrap();
            if accuracy >= 0.99 {
                break;
            }
        }
    }
    eprintln!("delayed copy accuracy {accuracy:.3} after {:.2?}", start.elapsed());
    assert!(accuracy >= 0.95, "only {accuracy} of the symbols are copied");
}
