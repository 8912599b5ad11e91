//! An LSTM learns to add two binary numbers (bits fed least significant first) on the CPU.

use soma_autograd::{Device, Rng, Tensor, no_grad};
use soma_nn::{Adam, Linear, Lstm, Module, Optimizer, Param, join, loss};

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
