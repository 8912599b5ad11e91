//! The classic perceptron learning rule, `w += lr * (target - prediction) * x`.

use soma_autograd::{Tensor, no_grad};
use soma_device::{Error, Result};

use crate::Param;

/// Rosenblatt's rule for a single-layer perceptron with a step activation. It needs no gradient:
/// the error `target - prediction` (0 or ±1 per output) drives the update directly.
#[derive(Clone, Copy, Debug)]
pub struct PerceptronRule {
    pub lr: f32,
}

impl PerceptronRule {
    pub fn new(lr: f32) -> PerceptronRule {
        PerceptronRule { lr }
    }

    /// Updates `weight` (`[out, in]`) and `bias` (`[out]`) from a batch: `x` is `[n, in]` (or
    /// `[in]`), `prediction` and `target` are `[n, out]` (or `[out]`). Summed over the batch:
    /// `w += lr * (target - prediction)^T @ x`, `b += lr * sum(target - prediction)`.
    pub fn update(
        &self,
        weight: &Param,
        bias: Option<&Param>,
        x: &Tensor,
        prediction: &Tensor,
        target: &Tensor,
    ) -> Result<()> {
        super::state::check_lr("perceptron", self.lr)?;
        no_grad(|| {
            let w = weight.get();
            let x = as_batch(x)?;
            let prediction = as_batch(prediction)?;
            let target = as_batch(target)?;
            let (rows, cols) = match w.dims() {
                &[rows, cols] => (rows, cols),
                _ => return Err(Error::shape("perceptron", format!("weight must be [out, in], got {:?}", w.shape()))),
            };
            let n = x.dims()[0];
            if x.dims()[1] != cols || prediction.dims() != [n, rows] || target.shape() != prediction.shape() {
                return Err(Error::shape(
                    "perceptron",
                    format!(
                        "weight {:?} needs x [n, {cols}] and prediction, target [n, {rows}]; got x {:?}, \
                         prediction {:?}, target {:?}",
                        w.shape(),
                        x.shape(),
                        prediction.shape(),
                        target.shape()
                    ),
                ));
            }
            let error = (&target - &prediction)?;
            let delta = error.matmul_t(&x, true, false)?.affine(self.lr, 0.0)?;
            weight.set((&w + &delta)?);
            if let Some(bias) = bias {
                let b = bias.get();
                let delta = error.sum(0)?.affine(self.lr, 0.0)?;
                if b.shape() != delta.shape() {
                    return Err(Error::shape("perceptron", format!("bias must be [{rows}], got {:?}", b.shape())));
                }
                bias.set((&b + &delta)?);
            }
            Ok(())
        })
    }
}

/// A `[k]` vector as a `[1, k]` batch; a `[n, k]` batch as it is.
fn as_batch(t: &Tensor) -> Result<Tensor> {
    match t.rank() {
        1 => t.unsqueeze(0),
        2 => Ok(t.clone()),
        _ => Err(Error::shape("perceptron", format!("expected a vector or a batch of vectors, got {:?}", t.shape()))),
    }
}
