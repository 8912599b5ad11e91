//! `Op`: how a tensor was made, holding its parents and what its backward needs.

use soma_device::{BinaryOp, CellKind, Conv2dGeometry, ReduceOp, UnaryOp};

use crate::Tensor;

pub(crate) enum Op {
    Unary {
        op: UnaryOp,
        alpha: f32,
        x: Tensor,
    },
    Binary {
        op: BinaryOp,
        a: Tensor,
        b: Tensor,
    },
    Scalar {
        op: BinaryOp,
        x: Tensor,
        scalar: f32,
        scalar_first: bool,
    },
    /// `cond` only selects; it gets no gradient.
    Where {
        cond: Tensor,
        a: Tensor,
        b: Tensor,
    },
    /// `a * b + c`, then a ReLU when `relu` (all three of the output's shape).
    MulAdd {
        a: Tensor,
        b: Tensor,
        c: Tensor,
        relu: bool,
    },
    /// Sum, Mean, Max or Min along `axis`, which the output no longer has.
    Reduce {
        op: ReduceOp,
        x: Tensor,
        axis: usize,
    },
    Softmax {
        x: Tensor,
        log: bool,
    },
    /// Per row of `[n, c]` logits, `logsumexp(row) - row[target]`, or with `mean` their mean;
    /// `targets` gets no gradient.
    CrossEntropy {
        x: Tensor,
        targets: Tensor,
        mean: bool,
    },
    /// One recurrent time step (`Tensor::lstm_cell`, `Tensor::gru_cell`).
    Cell {
        kind: CellKind,
        gi: Tensor,
        gh: Tensor,
        state: Tensor,
    },
    /// A linear layer `x · wᵀ + bias`, then a ReLU when `relu`, over `x` `[rows, in]`; `out` is the
    /// output (detached) when `relu`, as the ReLU's mask.
    Linear {
        x: Tensor,
        w: Tensor,
        bias: Option<Tensor>,
        relu: bool,
        out: Option<Tensor>,
    },
    /// A batched matmul of the tensors as stored (rank 3), with transpose flags.
    Matmul {
        a: Tensor,
        b: Tensor,
        transpose_a: bool,
        transpose_b: bool,
    },
    Reshape {
        x: Tensor,
    },
    Permute {
        x: Tensor,
        perm: Vec<usize>,
    },
    Expand {
        x: Tensor,
    },
    Narrow {
        x: Tensor,
        axis: usize,
        start: usize,
    },
    Cat {
        parts: Vec<Tensor>,
        axis: usize,
    },
    /// `index` only selects; it gets no gradient.
    Gather {
        x: Tensor,
        axis: usize,
        index: Tensor,
    },
    Im2col {
        x: Tensor,
        geom: Conv2dGeometry,
    },
}

impl Op {
    /// The tensors a gradient may flow to, in a fixed order.
    pub(crate) fn parents(&self) -> Vec<&Tensor> {
        match self {
            Op::Unary { x, .. }
            | Op::Scalar { x, .. }
            | Op::Reduce { x, .. }
            | Op::Softmax { x, .. }
            | Op::CrossEntropy { x, .. }
            | Op::Reshape { x }
            | Op::Permute { x, .. }
            | Op::Expand { x }
            | Op::Narrow { x, .. }
            | Op::Gather { x, .. }
            | Op::Im2col { x, .. } => vec![x],
            Op::Binary { a, b, .. } | Op::Where { a, b, .. } | Op::Matmul { a, b, .. } => vec![a, b],
            Op::MulAdd { a, b, c, .. } => vec![a, b, c],
            Op::Linear { x, w, bias, .. } => [x, w].into_iter().chain(bias).collect(),
            Op::Cell { gi, gh, state, .. } => vec![gi, gh, state],
            Op::Cat { parts, .. } => parts.iter().collect(),
        }
    }

    /// Gives up every tensor the op holds (used to free long graphs iteratively).
    pub(crate) fn into_parents(self) -> Vec<Tensor> {
        match self {
            Op::Unary { x, .. }
            | Op::Scalar { x, .. }
            | Op::Reduce { x, .. }
            | Op::Softmax { x, .. }
            | Op::Reshape { x }
            | Op::Permute { x, .. }
            | Op::Expand { x }
            | Op::Narrow { x, .. }
            | Op::Im2col { x, .. } => vec![x],
            Op::Gather { x, index, .. } => vec![x, index],
            Op::CrossEntropy { x, targets, .. } => vec![x, targets],
            Op::Binary { a, b, .. } | Op::Matmul { a, b, .. } => vec![a, b],
            Op::Where { cond, a, b } => vec![cond, a, b],
            Op::MulAdd { a, b, c, .. } => vec![a, b, c],
            Op::Linear { x, w, bias, out, .. } => [x, w].into_iter().chain(bias).chain(out).collect(),
            Op::Cell { gi, gh, state, .. } => vec![gi, gh, state],
            Op::Cat { parts, .. } => parts,
        }
    }
}
