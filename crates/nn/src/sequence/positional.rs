//! `PositionalEmbedding`: adds a learned or a fixed sinusoidal vector per position.

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Error, Result, Shape};

use crate::sequence::check_sequence;
use crate::{Module, Param, init, join};

/// Adds `table[t]` to `x[:, t, :]` for `x [batch, time <= max_len, dim]`. The learned table is a
/// parameter named `weight` (`N(0, 1)` like `nn.Embedding`); the sinusoidal one is a buffer named
/// `pe` with `pe[p, 2i] = sin(p / 10000^(2i/dim))` and `pe[p, 2i+1] = cos(p / 10000^(2i/dim))`.
pub struct PositionalEmbedding {
    table: Param,
    learned: bool,
    max_len: usize,
    dim: usize,
}

impl PositionalEmbedding {
    /// A trainable table of `max_len` vectors.
    pub fn learned(max_len: usize, dim: usize, device: &Device, rng: &mut Rng) -> Result<PositionalEmbedding> {
        check_sizes(max_len, dim)?;
        let table = Param::new(init::normal([max_len, dim], 0.0, 1.0, device, rng)?);
        Ok(PositionalEmbedding { table, learned: true, max_len, dim })
    }
    /// The fixed encoding of "Attention Is All You Need".
    pub fn sinusoidal(max_len: usize, dim: usize, device: &Device) -> Result<PositionalEmbedding> {
        check_sizes(max_len, dim)?;
        let mut data = vec![0.0f32; max_len * dim];
        for pos in 0..max_len {
            for i in 0..dim {
                let angle = pos as f64 / 10000f64.powf((i - i % 2) as f64 / dim as f64);
                data[pos * dim + i] = if i % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
            }
        }
        let table = Param::buffer(Tensor::from_vec(data, [max_len, dim], device)?);
        Ok(PositionalEmbedding { table, learned: false, max_len, dim })
    }
    /// The `[max_len, dim]` table.
    pub fn table(&self) -> &Param {
        &self.table
    }
    pub fn is_learned(&self) -> bool {
        self.learned
    }
    pub fn max_len(&self) -> usize {
        self.max_len
    }
}

fn check_sizes(max_len: usize, dim: usize) -> Result<()> {
    if max_len == 0 || dim == 0 {
        return Err(Error::invalid("PositionalEmbedding", format!("max_len {max_len} and dim {dim} must be positive")));
    }
    Shape::new([max_len, dim]).checked_numel("PositionalEmbedding").map(|_| ())
}

impl Module for PositionalEmbedding {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, time) = check_sequence("PositionalEmbedding", self.dim, x)?;
        if time > self.max_len {
            return Err(Error::shape(
                "PositionalEmbedding",
                format!("input {:?} is longer than max_len {}", x.shape(), self.max_len),
            ));
        }
        x + &self.table.get().narrow(0, 0, time)?
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join(prefix, if self.learned { "weight" } else { "pe" }), &self.table);
    }
}
