//! Reductions along an axis or over all elements, softmax / log-softmax, and the fused
//! cross-entropy of logit rows.

use soma_device::{AxisDims, Error, ReduceOp, Result, Shape};

use crate::Tensor;
use crate::op::Op;

impl Tensor {
    /// Reduces `axis` away. ArgMax/ArgMin give indices (as f32) and record no gradient. An empty
    /// axis sums to 0 and averages to NaN (as torch); it has no max, min or index.
    pub fn reduce(&self, op: ReduceOp, axis: usize) -> Result<Tensor> {
        self.shape().check_axis(op.name(), axis)?;
        let mut dims = self.dims().to_vec();
        dims.remove(axis);
        // An empty input can have other dims too large to count: its output is not empty.
        Shape::new(dims.clone()).checked_numel(op.name())?;
        let (outer, len, inner) = self.shape().split_at_axis(axis);
        if len == 0 && !matches!(op, ReduceOp::Sum | ReduceOp::Mean) {
            return Err(Error::shape(op.name(), format!("cannot reduce an empty axis {axis} of {:?}", self.shape())));
        }
        let storage = self.device().reduce(op, self.storage(), AxisDims { outer, axis: len, inner })?;
        let differentiable = !matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin);
        let parents: &[&Tensor] = if differentiable { &[self] } else { &[] };
        Ok(Tensor::from_op(storage, Shape::new(dims), self.device(), parents, || Op::Reduce {
            op,
            x: self.clone(),
            axis,
        }))
    }
    pub fn sum(&self, axis: usize) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, axis)
    }
    pub fn mean(&self, axis: usize) -> Result<Tensor> {
        self.reduce(ReduceOp::Mean, axis)
    }
    pub fn max(&self, axis: usize) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, axis)
    }
    pub fn min(&self, axis: usize) -> Result<Tensor> {
        self.reduce(ReduceOp::Min, axis)
    }
    pub fn argmax(&self, axis: usize) -> Result<Tensor> {
        self.reduce(ReduceOp::ArgMax, axis)
    }
    pub fn argmin(&self, axis: usize) -> Result<Tensor> {
        self.reduce(ReduceOp::ArgMin, axis)
    }
    /// Like `reduce`, keeping `axis` with length 1 (so the result broadcasts against `self`).
    pub fn reduce_keepdim(&self, op: ReduceOp, axis: usize) -> Result<Tensor> {
        let mut dims = self.dims().to_vec();
        let reduced = self.reduce(op, axis)?;
        dims[axis] = 1;
        reduced.reshape(dims)
    }
    pub fn sum_keepdim(&self, axis: usize) -> Result<Tensor> {
        self.reduce_keepdim(ReduceOp::Sum, axis)
    }
    pub fn mean_keepdim(&self, axis: usize) -> Result<Tensor> {
        self.reduce_keepdim(ReduceOp::Mean, axis)
    }
    pub fn max_keepdim(&self, axis: usize) -> Result<Tensor> {
        self.reduce_keepdim(ReduceOp::Max, axis)
    }
    /// Reduces all elements to a 0-dimensional tensor.
    pub fn reduce_all(&self, op: ReduceOp) -> Result<Tensor> {
        self.reshape([self.numel()])?.reduce(op, 0)
    }
    pub fn sum_all(&self) -> Result<Tensor> {
        self.reduce_all(ReduceOp::Sum)
    }
    pub fn mean_all(&self) -> Result<Tensor> {
        self.reduce_all(ReduceOp::Mean)
    }
    pub fn max_all(&self) -> Result<Tensor> {
        self.reduce_all(ReduceOp::Max)
    }

    /// Softmax along `axis` (stable: the maximum is subtracted first).
    pub fn softmax(&self, axis: usize) -> Result<Tensor> {
        self.softmax_impl(axis, false)
    }
    /// Log-softmax along `axis`, computed without forming the softmax (stable for ±1e4 logits).
    pub fn log_softmax(&self, axis: usize) -> Result<Tensor> {
        self.softmax_impl(axis, true)
    }
    /// Per row of `[n, c]` logits, the cross-entropy `logsumexp(row) - row[target]` against
    /// `targets [n]` (class indices stored as f32; NaN for a row whose target is not one), fused:
    /// one kernel forward and one backward instead of log-softmax, gather and their gradients.
    pub fn cross_entropy_rows(&self, targets: &Tensor) -> Result<Tensor> {
        self.cross_entropy_impl(targets, false)
    }

    /// The mean of `cross_entropy_rows` (PyTorch's `F.cross_entropy`), a scalar: one op, whose
    /// backward is one kernel.
    pub fn cross_entropy_mean(&self, targets: &Tensor) -> Result<Tensor> {
        self.cross_entropy_impl(targets, true)
    }

    fn cross_entropy_impl(&self, targets: &Tensor, mean: bool) -> Result<Tensor> {
        self.same_device("cross_entropy", targets)?;
        let (&[rows, cols], &[n]) = (self.dims(), targets.dims()) else {
            return Err(Error::shape(
                "cross_entropy",
                format!("needs logits [n, c] and targets [n], got {:?} and {:?}", self.shape(), targets.shape()),
            ));
        };
        if n != rows || cols == 0 {
            return Err(Error::shape(
                "cross_entropy",
                format!("needs logits [n, c >= 1] and targets [n], got {:?} and {:?}", self.shape(), targets.shape()),
            ));
        }
        super::index::check_indices("cross_entropy", targets, cols)?;
        let (storage, shape) = if mean {
            (self.device().cross_entropy_mean(self.storage(), targets.storage(), rows, cols)?, Shape::new(Vec::new()))
        } else {
            (self.device().cross_entropy(self.storage(), targets.storage(), rows, cols)?, targets.shape().clone())
        };
        Ok(Tensor::from_op(storage, shape, self.device(), &[self], || Op::CrossEntropy {
            x: self.clone(),
            targets: targets.detach(),
            mean,
        }))
    }
    fn softmax_impl(&self, axis: usize, log: bool) -> Result<Tensor> {
        let name = if log { "log_softmax" } else { "softmax" };
        self.shape().check_axis(name, axis)?;
        let last = self.rank() - 1;
        if axis != last {
            return self.transpose(axis, last)?.softmax_impl(last, log)?.transpose(axis, last);
        }
        let cols = self.dims()[last];
        let rows = self.numel() / cols.max(1);
        let storage = self.device().softmax(self.storage(), rows, cols, log)?;
        Ok(Tensor::from_op(storage, self.shape().clone(), self.device(), &[self], || Op::Softmax {
            x: self.clone(),
            log,
        }))
    }
}
