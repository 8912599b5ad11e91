//! `PendingGrad`: a tensor's gradient while backward still collects it from the tensor's
//! consumers. Gradients of the slices that `narrow` took are kept apart and assembled once, so a
//! narrow's backward costs its slice, not its parent (a sequence cut into time steps, an LSTM's
//! gate blocks).

use soma_device::Result;

use crate::Tensor;

/// The gradient of one slice `start..start + len` along `axis` (`len` is the slice's extent).
struct Slice {
    axis: usize,
    start: usize,
    grad: Tensor,
}

impl Slice {
    fn end(&self) -> usize {
        self.start + self.grad.dims()[self.axis]
    }
}

/// Gradient contributions to one tensor: full-shape ones summed as they come, slices kept.
#[derive(Default)]
pub(crate) struct PendingGrad {
    whole: Option<Tensor>,
    slices: Vec<Slice>,
}

impl PendingGrad {
    pub(crate) fn whole(grad: Tensor) -> PendingGrad {
        PendingGrad { whole: Some(grad), slices: Vec::new() }
    }

    /// Adds a gradient of the tensor's full shape.
    pub(crate) fn add(&mut self, grad: Tensor) -> Result<()> {
        self.whole = Some(match self.whole.take() {
            Some(previous) => (&previous + &grad)?,
            None => grad,
        });
        Ok(())
    }

    /// Adds the gradient of the slice of `x.narrow(axis, start, _)`.
    pub(crate) fn add_slice(&mut self, axis: usize, start: usize, grad: Tensor) {
        self.slices.push(Slice { axis, start, grad });
    }

    /// The summed gradient of `x`. Disjoint slices along one axis are joined by one `cat` with
    /// zeros in the gaps; a slice overlapping another, or along another axis, is padded alone.
    pub(crate) fn total(mut self, x: &Tensor) -> Result<Tensor> {
        let mut slices = std::mem::take(&mut self.slices);
        if let [slice] = slices.as_slice() {
            // One pad kernel, rather than zeros and a cat.
            self.add(padded(x, slice.axis, slice.start, &slice.grad)?)?;
            slices.clear();
        }
        let Some(axis) = slices.first().map(|s| s.axis) else {
            return Ok(self.whole.expect("a pending gradient has a whole part or a slice"));
        };
        slices.sort_by_key(|s| (s.axis != axis, s.start));
        let mut parts = Vec::new();
        let mut covered = 0;
        for slice in slices {
            if slice.axis != axis || slice.start < covered {
                self.add(padded(x, slice.axis, slice.start, &slice.grad)?)?;
                continue;
            }
            if slice.start > covered {
                parts.push(zeros_along(x, axis, slice.start - covered)?);
            }
            covered = slice.end();
            parts.push(slice.grad);
        }
        if covered < x.dims()[axis] {
            parts.push(zeros_along(x, axis, x.dims()[axis] - covered)?);
        }
        let joined = if parts.len() == 1 { parts.pop().expect("one part") } else { Tensor::cat(&parts, axis)? };
        match self.whole {
            Some(whole) => &whole + &joined,
            None => Ok(joined),
        }
    }
}

/// Zeros of `x`'s shape but `len` along `axis`.
fn zeros_along(x: &Tensor, axis: usize, len: usize) -> Result<Tensor> {
    let mut dims = x.dims().to_vec();
    dims[axis] = len;
    Tensor::zeros(dims, x.device())
}

/// The gradient of `x` from that of its slice at `start` along `axis`: zeros around it.
pub(crate) fn padded(x: &Tensor, axis: usize, start: usize, grad: &Tensor) -> Result<Tensor> {
    let (outer, total, inner) = x.shape().split_at_axis(axis);
    let storage = grad.device().pad_axis(grad.storage(), outer, grad.dims()[axis], inner, start, total)?;
    Ok(Tensor::make(storage, x.shape().clone(), grad.device().clone(), None))
}
