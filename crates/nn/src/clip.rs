//! Gradient clipping, by global norm (PyTorch's `clip_grad_norm_`) and by value.

use std::collections::HashSet;

use soma_autograd::{Grads, Tensor, no_grad};
use soma_device::{Error, Result};

use crate::Param;

/// Scales the gradients of `params` so that their global L2 norm is at most `max_norm`, and
/// returns the norm before clipping. The norm is summed on the gradients' device with one
/// readback; when it exceeds `max_norm`, each gradient is multiplied by
/// `max_norm / (norm + 1e-6)`. A non-finite norm is returned as it is (check it to skip a step).
pub fn clip_grad_norm(grads: &mut Grads, params: &[Param], max_norm: f32) -> Result<f32> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::invalid("clip_grad_norm", format!("max_norm must be >= 0, got {max_norm}")));
    }
    no_grad(|| {
        let with_grads = params_with_grads(grads, params);
        let mut sum_of_squares: Option<Tensor> = None;
        for (_, g) in &with_grads {
            let part = g.square()?.sum_all()?;
            sum_of_squares = Some(match sum_of_squares {
                Some(total) => (&total + &part)?,
                None => part,
            });
        }
        let Some(sum_of_squares) = sum_of_squares else { return Ok(0.0) };
        let norm = sum_of_squares.item()?.sqrt();
        let scale = max_norm / (norm + 1e-6);
        if scale < 1.0 {
            for (param, g) in with_grads {
                grads.insert(&param, g.affine(scale, 0.0)?);
            }
        }
        Ok(norm)
    })
}

/// Clamps every gradient of `params` to `[-clip_value, clip_value]`.
pub fn clip_grad_value(grads: &mut Grads, params: &[Param], clip_value: f32) -> Result<()> {
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(Error::invalid("clip_grad_value", format!("clip_value must be >= 0, got {clip_value}")));
    }
    no_grad(|| {
        for (param, g) in params_with_grads(grads, params) {
            grads.insert(&param, g.clamp(-clip_value, clip_value)?);
        }
        Ok(())
    })
}

/// Each distinct parameter tensor that has a gradient, with that gradient.
fn params_with_grads(grads: &Grads, params: &[Param]) -> Vec<(Tensor, Tensor)> {
    let mut seen = HashSet::new();
    params
        .iter()
        .map(Param::get)
        .filter(|t| seen.insert(t.id()))
        .filter_map(|t| grads.get(&t).cloned().map(|g| (t, g)))
        .collect()
}
