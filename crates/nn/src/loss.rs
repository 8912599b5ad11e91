//! Losses, each reduced to a mean scalar, and `accuracy`.

use soma_autograd::{Tensor, no_grad};
use soma_device::{BinaryOp, Error, Result};

fn same_shape(op: &'static str, pred: &Tensor, target: &Tensor) -> Result<()> {
    if pred.shape() != target.shape() {
        return Err(Error::shape(
            op,
            format!("prediction {:?} and target {:?} must have the same shape", pred.shape(), target.shape()),
        ));
    }
    Ok(())
}

/// `mean((pred - target)²)`.
pub fn mse_loss(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    same_shape("mse_loss", pred, target)?;
    (pred - target)?.square()?.mean_all()
}

/// `mean(|pred - target|)`.
pub fn l1_loss(pred: &Tensor, target: &Tensor) -> Result<Tensor> {
    same_shape("l1_loss", pred, target)?;
    (pred - target)?.abs()?.mean_all()
}

/// Huber (smooth L1 for `delta = 1`): `0.5 d²` where `d = |pred - target| < delta`, else
/// `delta * (d - 0.5 delta)`; mean over elements.
pub fn huber_loss(pred: &Tensor, target: &Tensor, delta: f32) -> Result<Tensor> {
    same_shape("huber_loss", pred, target)?;
    if !delta.is_finite() || delta <= 0.0 {
        return Err(Error::invalid("huber_loss", format!("delta must be positive and finite, got {delta}")));
    }
    // With q = min(d, delta): 0.5 q² + delta (d - q) is both branches at once.
    let d = (pred - target)?.abs()?;
    let q = d.scalar_op(BinaryOp::Min, delta, false)?;
    let quadratic = q.square()?.affine(0.5, 0.0)?;
    let linear = (&d - &q)?.affine(delta, 0.0)?;
    (&quadratic + &linear)?.mean_all()
}

/// Binary cross-entropy on logits, stable for any magnitude:
/// `mean(max(x, 0) - x y + log(1 + e^-|x|))`, with `max(x, 0)` written as `(x + |x|) / 2` so
/// that the gradient at `x = 0` is `σ(0) - y` (relu and |x| both have slope 0 there).
pub fn binary_cross_entropy_with_logits(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    same_shape("binary_cross_entropy_with_logits", logits, targets)?;
    let magnitude = logits.abs()?;
    let softplus_tail = magnitude.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
    let positive_part = (logits + &magnitude)?.affine(0.5, 0.0)?;
    let linear = (&positive_part - &(logits * targets)?)?;
    (&linear + &softplus_tail)?.mean_all()
}

/// The floor of `binary_cross_entropy`'s logs (torch's): the loss stays finite at exactly 0 or 1.
const LOG_FLOOR: f32 = -100.0;

/// Binary cross-entropy on probabilities: `-mean(y log p + (1 - y) log(1 - p))`, each log at
/// least -100, with torch's gradient `(p - y) / max(p (1 - p), 1e-12)` (finite at 0 and 1).
/// Prefer `binary_cross_entropy_with_logits` (stable).
pub fn binary_cross_entropy(probs: &Tensor, targets: &Tensor) -> Result<Tensor> {
    same_shape("binary_cross_entropy", probs, targets)?;
    // As torch, probabilities outside [0, 1] are refused, where they can be read without a
    // readback (on the GPU they give a loss below 0 or NaN).
    if let soma_device::Storage::Cpu(s) = probs.storage()
        && let Some(bad) = s.as_slice().iter().find(|&&p| !p.is_nan() && !(0.0..=1.0).contains(&p))
    {
        let msg = format!("probabilities must be in [0, 1], got {bad}");
        return Err(Error::invalid("binary_cross_entropy", msg));
    }
    // The gradient through the floored logs would be 0 where a log is floored and `1 / p` where
    // not, which overflows for a subnormal p (a sigmoid of -90 gave the logit -inf). So the loss
    // is computed without a graph, and p and y join it through `(x - detach(x)) * slope`: zero
    // in value, `slope` in gradient.
    let (loss, slope_p, slope_y) = no_grad(|| {
        let log_p = floored_log(probs)?;
        let log_not_p = floored_log(&probs.affine(-1.0, 1.0)?)?;
        let not_y = targets.affine(-1.0, 1.0)?;
        let loss = (&(targets * &log_p)? + &(&not_y * &log_not_p)?)?.neg()?;
        let spread = (probs * &probs.affine(-1.0, 1.0)?)?.scalar_op(BinaryOp::Max, BCE_EPSILON, false)?;
        let slope_p = ((probs - targets)? / &spread)?;
        Ok((loss, slope_p, (&log_not_p - &log_p)?))
    })?;
    let moved_p = (probs - &probs.detach())?;
    let moved_y = (targets - &targets.detach())?;
    let loss = (&(&loss + &(&moved_p * &slope_p)?)? + &(&moved_y * &slope_y)?)?;
    loss.mean_all()
}

/// The floor of `p (1 - p)` in torch's gradient of `binary_cross_entropy`.
const BCE_EPSILON: f32 = 1e-12;

/// `max(log q, -100)`; NaN stays NaN.
fn floored_log(q: &Tensor) -> Result<Tensor> {
    q.log()?.scalar_op(BinaryOp::Max, LOG_FLOOR, false)
}

/// Checks `[n, c]` scores against `[n]` class indices.
fn check_class_targets(op: &'static str, scores: &Tensor, targets: &Tensor) -> Result<usize> {
    let &[n, c] = scores.dims() else {
        return Err(Error::shape(op, format!("expects scores [n, classes], got {:?}", scores.shape())));
    };
    if targets.dims() != [n] {
        return Err(Error::shape(
            op,
            format!("targets must be [{n}] class indices for scores {:?}, got {:?}", scores.shape(), targets.shape()),
        ));
    }
    if c == 0 {
        return Err(Error::shape(op, format!("scores {:?} have no classes", scores.shape())));
    }
    Ok(n)
}

/// Negative log-likelihood: `-mean(log_probs[i, targets[i]])` for log-probabilities `[n, c]` and
/// class indices `[n]` (stored as f32).
pub fn nll_loss(log_probs: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let n = check_class_targets("nll_loss", log_probs, targets)?;
    let picked = log_probs.gather(1, &targets.reshape([n, 1])?)?;
    picked.mean_all()?.neg()
}

/// Cross-entropy of logits `[n, c]` against class indices `[n]`: `nll_loss(log_softmax(logits))`,
/// stable for large logits, computed by one fused kernel per pass (`Tensor::cross_entropy_rows`).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    check_class_targets("cross_entropy", logits, targets)?;
    logits.cross_entropy_mean(targets)
}

/// `cross_entropy` that skips the rows whose target is `ignore_index` (PyTorch's `ignore_index`,
/// -100 there by default, for padding): the mean is over the other rows, and the skipped rows get
/// no gradient. With every row skipped the loss is NaN, as torch's.
pub fn cross_entropy_ignoring(logits: &Tensor, targets: &Tensor, ignore_index: i32) -> Result<Tensor> {
    check_class_targets("cross_entropy", logits, targets)?;
    let kept = targets.scalar_op(BinaryOp::Ne, ignore_index as f32, false)?;
    let zero = Tensor::zeros([1], targets.device())?;
    let rows = logits.cross_entropy_rows(&Tensor::where_cond(&kept, targets, &zero)?)?;
    // A select, not a product with the mask: a skipped row's loss may be inf or NaN.
    &Tensor::where_cond(&kept, &rows, &zero)?.sum_all()? / &kept.sum_all()?
}

/// The fraction of rows of `logits [n, c]` whose largest entry is at `targets [n]`.
pub fn accuracy(logits: &Tensor, targets: &Tensor) -> Result<f32> {
    check_class_targets("accuracy", logits, targets)?;
    no_grad(|| logits.argmax(1)?.eq(targets)?.mean_all()?.item())
}
