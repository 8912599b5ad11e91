//! `Dropout`: zeroes elements with probability `p` in training, scaling the rest by `1 / (1 - p)`.

use std::sync::atomic::{AtomicU64, Ordering};

use soma_autograd::{Rng, Tensor, no_grad};
use soma_device::{BinaryOp, Error, Result};

use crate::{Module, Param};

/// Inverted dropout. Each training `forward` draws a fresh mask (the seed advances per call, so
/// runs are reproducible from the constructor's `Rng`); in eval mode it is the identity. The count
/// of masks drawn is not a checkpointed buffer (torch's `state_dict` keeps no RNG state either):
/// a run resumed from a checkpoint draws the masks a fresh layer would.
#[derive(Debug)]
pub struct Dropout {
    p: f32,
    seed: u64,
    calls: AtomicU64,
    training: bool,
}

impl Dropout {
    /// `nn.Dropout(p)`; `p` must lie in `[0, 1]`. Takes one seed from `rng`.
    pub fn new(p: f32, rng: &mut Rng) -> Result<Dropout> {
        if p.is_nan() || !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid("Dropout", format!("p must lie in [0, 1], got {p}")));
        }
        Ok(Dropout { p, seed: rng.next_seed(), calls: AtomicU64::new(0), training: true })
    }
    pub fn p(&self) -> f32 {
        self.p
    }
    pub fn is_training(&self) -> bool {
        self.training
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.training || self.p == 0.0 {
            return Ok(x.clone());
        }
        if self.p == 1.0 {
            return x.affine(0.0, 0.0);
        }
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let mut rng = Rng::new(self.seed ^ call.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mask = no_grad(|| {
            Tensor::rand(x.shape().clone(), &mut rng, x.device())?
                .scalar_op(BinaryOp::Ge, self.p, false)?
                .affine(1.0 / (1.0 - self.p), 0.0)
        })?;
        x * &mask
    }
    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
    fn train(&mut self, on: bool) {
        self.training = on;
    }
}
