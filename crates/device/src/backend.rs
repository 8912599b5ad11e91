//! The `Backend` trait: the primitive ops every device implements.
//!
//! Shapes are checked once, in autograd; a backend trusts the dimensions it is given and reports
//! only device failures and device limits.

use crate::random::Distribution;
use crate::{
    AxisDims, BinaryOp, CellDims, CellGrad, Conv2dGeometry, GatherDims, MatmulDims, ReduceOp, Result, Shape,
    StridedView, UnaryOp, UpdateRule,
};

pub trait Backend: Clone + Send + Sync + std::fmt::Debug + 'static {
    /// A contiguous f32 buffer on the device.
    type Storage: Clone + Send + Sync + std::fmt::Debug;

    /// A human-readable name: `cpu`, or the adapter's name and API (`llvmpipe (vulkan)`).
    fn name(&self) -> String;

    fn zeros(&self, len: usize) -> Result<Self::Storage>;
    fn full(&self, len: usize, value: f32) -> Result<Self::Storage>;
    #[allow(clippy::wrong_self_convention)] // the name DESIGN.md gives: an upload from a slice
    fn from_slice(&self, data: &[f32]) -> Result<Self::Storage>;
    /// Blocking readback.
    fn to_vec(&self, x: &Self::Storage) -> Result<Vec<f32>>;
    /// Random numbers from a counter-based hash of `(seed, index)`, in one pass. The uniform ones
    /// are the same on every backend, so dropout masks and initial weights do not depend on the
    /// device; normal ones differ only by the device's `ln` and `cos`.
    fn random(&self, len: usize, distribution: Distribution) -> Result<Self::Storage>;

    fn unary(&self, op: UnaryOp, x: &Self::Storage, alpha: f32) -> Result<Self::Storage>;
    /// Broadcasting binary op; the output has the broadcast shape of `a_shape` and `b_shape`.
    fn binary(
        &self,
        op: BinaryOp,
        a: &Self::Storage,
        a_shape: &Shape,
        b: &Self::Storage,
        b_shape: &Shape,
    ) -> Result<Self::Storage>;
    /// `op(x, scalar)`, or `op(scalar, x)` when `scalar_first`.
    fn binary_scalar(&self, op: BinaryOp, x: &Self::Storage, scalar: f32, scalar_first: bool) -> Result<Self::Storage>;
    /// `cond != 0 ? a : b`, all three of the same length.
    fn where_cond(&self, cond: &Self::Storage, a: &Self::Storage, b: &Self::Storage) -> Result<Self::Storage>;
    /// `a * b + c`, or with `relu` `max(a * b + c, 0)`, all three of the same length: a layer's
    /// epilogue (scale, shift, activation) in one pass over memory instead of three.
    fn mul_add(&self, a: &Self::Storage, b: &Self::Storage, c: &Self::Storage, relu: bool) -> Result<Self::Storage>;

    /// The gradient through a ReLU whose output is `out` (`grad` where `out > 0`, else 0) for
    /// `[rows, cols]`, and its column sums (the gradient of a bias added before the ReLU): a linear
    /// layer's backward in one pass where the backend can. This default runs two ops.
    fn relu_backward(
        &self,
        grad: &Self::Storage,
        out: &Self::Storage,
        rows: usize,
        cols: usize,
    ) -> Result<(Self::Storage, Self::Storage)> {
        relu_backward_unfused(self, grad, out, rows, cols)
    }

    /// Reduces the middle axis of `[outer, axis, inner]`, giving `[outer, inner]`.
    fn reduce(&self, op: ReduceOp, x: &Self::Storage, dims: AxisDims) -> Result<Self::Storage>;
    /// Softmax (or log-softmax) of each row of a `[rows, cols]` matrix, numerically stable.
    fn softmax(&self, x: &Self::Storage, rows: usize, cols: usize, log: bool) -> Result<Self::Storage>;
    /// Per row of `[rows, cols]` logits, `logsumexp(row) - row[target]` for `targets [rows]`
    /// (class indices stored as f32; NaN for a row whose target is not one).
    fn cross_entropy(
        &self,
        logits: &Self::Storage,
        targets: &Self::Storage,
        rows: usize,
        cols: usize,
    ) -> Result<Self::Storage>;
    /// The mean over the rows of `cross_entropy` (PyTorch's `F.cross_entropy`), one value. Backends
    /// compute it in the loss kernel where they can; this default reduces the rows' losses.
    fn cross_entropy_mean(
        &self,
        logits: &Self::Storage,
        targets: &Self::Storage,
        rows: usize,
        cols: usize,
    ) -> Result<Self::Storage> {
        cross_entropy_mean_unfused(self, logits, targets, rows, cols)
    }
    /// The gradient of `cross_entropy` for row gradients `grad` (`[rows]`, or one value for every
    /// row) times `scale`: `(softmax(row) - onehot(target)) * grad[row] * scale`, `[rows, cols]`.
    /// A mean over the rows is `scale = 1 / rows` on its one gradient, with no op of its own.
    fn cross_entropy_grad(
        &self,
        logits: &Self::Storage,
        targets: &Self::Storage,
        grad: &Self::Storage,
        scale: f32,
        rows: usize,
        cols: usize,
    ) -> Result<Self::Storage>;
    fn matmul(&self, a: &Self::Storage, b: &Self::Storage, dims: MatmulDims) -> Result<Self::Storage>;
    /// `a · b` as `matmul`, then `bias` (`dims.n` values) added to every row and, with `relu`, a
    /// ReLU: a linear layer's forward. Backends fuse the bias and ReLU into the product where they
    /// can; this default runs the three ops.
    fn linear(
        &self,
        a: &Self::Storage,
        b: &Self::Storage,
        dims: MatmulDims,
        bias: Option<&Self::Storage>,
        relu: bool,
    ) -> Result<Self::Storage> {
        linear_unfused(self, a, b, dims, bias, relu)
    }
    /// One time step of the cell `dims.kind` per row, from its gate pre-activations `gi` and `gh`
    /// (`[batch, gates * hidden]`) and the state `[batch, state_width * hidden]`: the next state.
    fn cell_step(
        &self,
        gi: &Self::Storage,
        gh: &Self::Storage,
        state: &Self::Storage,
        dims: CellDims,
    ) -> Result<Self::Storage>;
    /// The gradient `wrt` of `cell_step`, given `grad`, that of the next state.
    fn cell_grad(
        &self,
        gi: &Self::Storage,
        gh: &Self::Storage,
        state: &Self::Storage,
        grad: &Self::Storage,
        dims: CellDims,
        wrt: CellGrad,
    ) -> Result<Self::Storage>;

    /// Copies a strided view (transpose, permute, narrow, broadcast-expand) into a contiguous buffer.
    fn copy_strided(&self, x: &Self::Storage, view: &StridedView) -> Result<Self::Storage>;
    /// Concatenates `[outer, axis_i, inner]` parts along the middle axis.
    fn concat(&self, parts: &[(&Self::Storage, usize)], outer: usize, inner: usize) -> Result<Self::Storage>;
    /// `[outer, axis, inner]` placed at `offset` along the middle axis of a zero
    /// `[outer, total, inner]` (a narrow's backward, in one pass).
    fn pad_axis(
        &self,
        x: &Self::Storage,
        outer: usize,
        axis: usize,
        inner: usize,
        offset: usize,
        total: usize,
    ) -> Result<Self::Storage>;
    /// `torch.gather`; indices are stored as f32 and must be in range (autograd checks them).
    fn gather(&self, src: &Self::Storage, index: &Self::Storage, dims: GatherDims) -> Result<Self::Storage>;
    /// The adjoint of `gather`: `out[o, index[o, i, n], n] += src[o, i, n]`, giving `[outer, src_axis, inner]`.
    fn scatter_add(&self, src: &Self::Storage, index: &Self::Storage, dims: GatherDims) -> Result<Self::Storage>;

    /// Unfolds windows of `[n, c, h, w]` into `[n, c * kh * kw, out_h * out_w]` (zero padding).
    fn im2col(&self, x: &Self::Storage, geom: Conv2dGeometry) -> Result<Self::Storage>;
    /// The adjoint of `im2col`: sums window columns back into `[n, c, h, w]`.
    fn col2im(&self, cols: &Self::Storage, geom: Conv2dGeometry) -> Result<Self::Storage>;

    /// One optimizer step for one parameter: returns the new parameter and the new state buffers.
    fn update(
        &self,
        rule: &UpdateRule,
        param: &Self::Storage,
        grad: &Self::Storage,
        state: &[&Self::Storage],
    ) -> Result<(Self::Storage, Vec<Self::Storage>)>;

    /// Waits until all queued work has finished (and reports any device error it raised).
    fn synchronize(&self) -> Result<()>;
}

/// `Backend::linear` as three ops (product, bias over the rows, ReLU): the default, and what a
/// backend that fuses them falls back to where it cannot.
pub(crate) fn linear_unfused<B: Backend>(
    backend: &B,
    a: &B::Storage,
    b: &B::Storage,
    dims: MatmulDims,
    bias: Option<&B::Storage>,
    relu: bool,
) -> Result<B::Storage> {
    let mut y = backend.matmul(a, b, dims)?;
    if let Some(bias) = bias {
        let rows = Shape::new([dims.batch * dims.m, dims.n]);
        y = backend.binary(BinaryOp::Add, &y, &rows, bias, &Shape::new([dims.n]))?;
    }
    if relu {
        y = backend.unary(UnaryOp::Relu, &y, 0.0)?;
    }
    Ok(y)
}

/// `Backend::cross_entropy_mean` as two ops (the rows' losses, then their mean).
pub(crate) fn cross_entropy_mean_unfused<B: Backend>(
    backend: &B,
    logits: &B::Storage,
    targets: &B::Storage,
    rows: usize,
    cols: usize,
) -> Result<B::Storage> {
    let losses = backend.cross_entropy(logits, targets, rows, cols)?;
    backend.reduce(ReduceOp::Mean, &losses, AxisDims { outer: 1, axis: rows, inner: 1 })
}

/// `Backend::relu_backward` as two ops (the masked gradient, then its column sums).
pub(crate) fn relu_backward_unfused<B: Backend>(
    backend: &B,
    grad: &B::Storage,
    out: &B::Storage,
    rows: usize,
    cols: usize,
) -> Result<(B::Storage, B::Storage)> {
    let shape = Shape::new([rows, cols]);
    let masked = backend.binary(BinaryOp::ReluGrad, grad, &shape, out, &shape)?;
    let sums = backend.reduce(ReduceOp::Sum, &masked, AxisDims { outer: 1, axis: rows, inner: cols })?;
    Ok((masked, sums))
}
