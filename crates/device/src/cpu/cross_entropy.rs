//! Cross-entropy of logit rows against class indices, and its gradient, in one pass per row
//! (instead of log-softmax, gather, negate and their backward ops).

use crate::Result;

/// The class a target names, if it is one: a whole number in `0..cols`.
fn class(target: f32, cols: usize) -> Option<usize> {
    (target >= 0.0 && target < cols as f32 && target.fract() == 0.0).then_some(target as usize)
}

/// The row's maximum and `log(sum(exp(x - max)))`.
fn max_and_log_sum(row: &[f32]) -> (f32, f32) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
    (max, sum.ln())
}

/// Per row: `logsumexp(row) - row[target]`, NaN where the target is not a class.
pub fn cross_entropy(logits: &[f32], targets: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..rows)
        .map(|r| {
            let row = &logits[r * cols..(r + 1) * cols];
            match class(targets[r], cols) {
                Some(t) => {
                    // Not max + log_sum - row[t]: that sum rounds log_sum away for large logits.
                    let (max, log_sum) = max_and_log_sum(row);
                    (max - row[t]) + log_sum
                }
                None => f32::NAN,
            }
        })
        .collect()
}

/// Per row: `(softmax(row) - onehot(target)) * grad[row] * scale` (`grad` has a value per row, or
/// one for all), NaN where the target is not a class.
pub fn cross_entropy_grad(logits: &[f32], targets: &[f32], grad: &[f32], scale: f32, cols: usize) -> Result<Vec<f32>> {
    let mut out = super::pool::zeroed(logits.len())?;
    for (r, (dst, row)) in out.chunks_mut(cols).zip(logits.chunks(cols)).enumerate() {
        let Some(t) = class(targets[r], cols) else {
            dst.fill(f32::NAN);
            continue;
        };
        let g = grad[if grad.len() == 1 { 0 } else { r }] * scale;
        let (max, log_sum) = max_and_log_sum(row);
        for (d, &v) in dst.iter_mut().zip(row) {
            *d = (v - max - log_sum).exp() * g;
        }
        dst[t] -= g;
    }
    Ok(out)
}
