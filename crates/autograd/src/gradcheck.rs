//! `gradcheck`: compares backward with central finite differences. Public, so users can check
//! the gradients of their own layers.

use soma_device::{Device, Error, Result};

use crate::{Rng, Tensor, no_grad};

/// The largest differences gradcheck found.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckReport {
    pub max_abs_error: f32,
    pub max_rel_error: f32,
    pub checked: usize,
}

/// Checks the gradient of `f` with respect to each input by central finite differences.
///
/// `f` may return any shape: its output is reduced to a scalar by a fixed random projection, so
/// every output element matters. Each input element is perturbed by `eps = 1e-2 * max(1, |x|)`
/// in f32, so `tolerance` is relative to the gradient's magnitude: `|analytic - numeric| <=
/// tolerance * max(1, |numeric|)`. 1e-2 suits most smooth ops in f32. The inputs are evaluated on
/// their own device. Returns the largest errors, or an `Error` naming the first element that
/// disagrees.
pub fn gradcheck(
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    inputs: &[Tensor],
    tolerance: f32,
) -> Result<GradcheckReport> {
    // A NaN tolerance would pass every gradient (no comparison with NaN is true).
    if !tolerance.is_finite() || tolerance < 0.0 {
        return Err(Error::invalid("gradcheck", format!("tolerance must be finite and >= 0, got {tolerance}")));
    }
    let device = inputs.first().map(|t| t.device().clone()).unwrap_or_else(Device::cpu);
    let leaves: Vec<Tensor> = inputs.iter().map(|t| t.detach().requires_grad()).collect();
    let out = f(&leaves)?;
    let projection = Tensor::rand_range(out.shape().clone(), 0.5, 1.5, &mut Rng::new(7), &device)?;
    let loss_of = |xs: &[Tensor]| -> Result<f64> { Ok((&f(xs)? * &projection)?.sum_all()?.item()? as f64) };
    let grads = (&out * &projection)?.sum_all()?.backward()?;

    let mut report = GradcheckReport { max_abs_error: 0.0, max_rel_error: 0.0, checked: 0 };
    for (which, leaf) in leaves.iter().enumerate() {
        let analytic = match grads.get(leaf) {
            Some(g) => g.to_vec()?,
            None => vec![0.0; leaf.numel()],
        };
        let values = leaf.to_vec()?;
        for i in 0..values.len() {
            let eps = 1e-2 * values[i].abs().max(1.0);
            let at = |delta: f32| -> Result<f64> {
                let mut v = values.clone();
                v[i] += delta;
                let mut xs = leaves.clone();
                xs[which] = Tensor::from_vec(v, leaf.shape().clone(), &device)?;
                no_grad(|| loss_of(&xs))
            };
            let numeric = ((at(eps)? - at(-eps)?) / (2.0 * eps as f64)) as f32;
            let abs = (analytic[i] - numeric).abs();
            let rel = abs / numeric.abs().max(1.0);
            report.max_abs_error = report.max_abs_error.max(abs);
            report.max_rel_error = report.max_rel_error.max(rel);
            report.checked += 1;
            if rel.is_nan() || rel > tolerance {
                return Err(Error::invalid(
                    "gradcheck",
                    format!(
                        "input {which} element {i}: backward gives {} but finite differences give {numeric}",
                        analytic[i]
                    ),
                ));
            }
        }
    }
    Ok(report)
}
