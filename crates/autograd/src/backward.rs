//! Reverse-mode differentiation: an iterative topological sort and one vector-Jacobian product
//! per op, run as ordinary tensor ops under `no_grad` (so on the tensors' own device).

use std::collections::{HashMap, HashSet};

use soma_device::{BinaryOp, CellGrad, CellKind, Error, ReduceOp, Result, Shape, UnaryOp};

use crate::op::Op;
use crate::ops::cell_dims;
use crate::pending::{PendingGrad, padded};
use crate::{Tensor, no_grad};

/// Gradients of a backward pass, by tensor: the leaves that require grad (parameters, inputs).
#[derive(Default, Debug)]
pub struct Grads {
    by_id: HashMap<usize, Tensor>,
}

impl Grads {
    /// The gradient of the loss with respect to `t`, if `t` took part in the loss.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.by_id.get(&t.id())
    }
    /// Takes the gradient out (optimizers use it to drop buffers early).
    pub fn remove(&mut self, t: &Tensor) -> Option<Tensor> {
        self.by_id.remove(&t.id())
    }
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
    /// Replaces the gradient of `t` (gradient clipping uses it).
    pub fn insert(&mut self, t: &Tensor, grad: Tensor) {
        self.by_id.insert(t.id(), grad);
    }
}

impl Tensor {
    /// Gradients of this one-element loss with respect to every leaf that requires grad.
    pub fn backward(&self) -> Result<Grads> {
        if self.numel() != 1 {
            return Err(Error::invalid(
                "backward",
                format!("needs a one-element loss, got shape {:?}; pass a seed with backward_with", self.shape()),
            ));
        }
        self.backward_with(&Tensor::ones(self.shape().clone(), self.device())?)
    }

    /// Backward from a seed gradient of this tensor's shape (a vector-Jacobian product).
    pub fn backward_with(&self, seed: &Tensor) -> Result<Grads> {
        if seed.shape() != self.shape() {
            return Err(Error::shape(
                "backward",
                format!("seed shape {:?} differs from tensor shape {:?}", seed.shape(), self.shape()),
            ));
        }
        self.same_device("backward", seed)?;
        if !self.is_requires_grad() {
            return Err(Error::invalid("backward", "the tensor does not depend on any tensor that requires grad"));
        }
        no_grad(|| {
            let mut pending = HashMap::from([(self.id(), PendingGrad::whole(seed.detach()))]);
            let mut grads = Grads::default();
            for node in topological_order(self).iter().rev() {
                let Some(g) = pending.remove(&node.id()) else { continue };
                let g = g.total(node)?;
                let Some(op) = node.op() else {
                    grads.by_id.insert(node.id(), g);
                    continue;
                };
                if let Op::Narrow { x, axis, start } = op
                    && x.is_requires_grad()
                {
                    pending.entry(x.id()).or_default().add_slice(*axis, *start, g);
                    continue;
                }
                let parents = op.parents();
                for (parent, grad) in parents.iter().zip(vjp(op, &g)?) {
                    let Some(grad) = grad else { continue };
                    if parent.is_requires_grad() {
                        pending.entry(parent.id()).or_default().add(grad)?;
                    }
                }
            }
            Ok(grads)
        })
    }
}

/// Tensors that require grad, parents before children, found without recursion.
fn topological_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, children_done)) = stack.pop() {
        if children_done {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        let parents: Vec<Tensor> = t.op().map(|op| op.parents().into_iter().cloned().collect()).unwrap_or_default();
        stack.push((t, true));
        for p in parents {
            if p.is_requires_grad() && !seen.contains(&p.id()) {
                stack.push((p, false));
            }
        }
    }
    order
}

/// Sums a broadcast gradient back down to `shape`.
pub(crate) fn sum_to(g: Tensor, shape: &Shape) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g);
    }
    let mut g = g;
    while g.rank() > shape.rank() {
        g = g.sum(0)?;
    }
    for (axis, &d) in shape.dims().iter().enumerate() {
        if d == 1 && g.dims()[axis] != 1 {
            g = g.sum_keepdim(axis)?;
        }
    }
    g.reshape(shape.clone())
}

/// The gradients of an op's parents (in `Op::parents` order) given the output gradient `g`.
fn vjp(op: &Op, g: &Tensor) -> Result<Vec<Option<Tensor>>> {
    Ok(match op {
        Op::Unary { op, alpha, x } => vec![Some(unary_vjp(*op, *alpha, x, g)?)],
        Op::Binary { op, a, b } => {
            let (ga, gb) = binary_vjp(*op, a, b, g)?;
            vec![Some(sum_to(ga, a.shape())?), Some(sum_to(gb, b.shape())?)]
        }
        Op::Scalar { op, x, scalar, scalar_first } => vec![Some(scalar_vjp(*op, x, *scalar, *scalar_first, g)?)],
        Op::Where { cond, a, b } => {
            let zeros = Tensor::zeros(g.shape().clone(), g.device())?;
            vec![
                if_needed(a, || Tensor::where_cond(cond, g, &zeros))?,
                if_needed(b, || Tensor::where_cond(cond, &zeros, g))?,
            ]
        }
        Op::MulAdd { a, b, c, relu } => {
            // Through the ReLU, the gradient passes where the pre-activation was positive.
            let pre = || a.detach().mul_add(&b.detach(), &c.detach());
            let g = if *relu { &g.binary(BinaryOp::ReluGrad, &pre()?)? } else { g };
            vec![if_needed(a, || g * b)?, if_needed(b, || g * a)?, Some(g.clone())]
        }
        Op::Reduce { op, x, axis } => vec![Some(reduce_vjp(*op, x, *axis, g)?)],
        Op::Softmax { x, log } => {
            let last = x.rank() - 1;
            let gx = if *log {
                (g - &(&x.softmax(last)? * &g.sum_keepdim(last)?)?)?
            } else {
                let y = x.softmax(last)?;
                (&y * &(g - &(g * &y)?.sum_keepdim(last)?)?)?
            };
            vec![Some(gx)]
        }
        Op::CrossEntropy { x, targets, mean } => {
            let (rows, cols) = (x.dims()[0], x.dims()[1]);
            // The mean's one gradient reaches every row, divided by their number.
            let scale = if *mean { 1.0 / rows as f32 } else { 1.0 };
            let storage =
                g.device().cross_entropy_grad(x.storage(), targets.storage(), g.storage(), scale, rows, cols)?;
            vec![Some(Tensor::make(storage, x.shape().clone(), g.device().clone(), None))]
        }
        Op::Cell { kind, gi, gh, state } => {
            let dims = cell_dims(*kind, gi, gh, state)?;
            let grad = |wrt, shape: &Shape| -> Result<Tensor> {
                let storage =
                    g.device().cell_grad(gi.storage(), gh.storage(), state.storage(), g.storage(), dims, wrt)?;
                Ok(Tensor::make(storage, shape.clone(), g.device().clone(), None))
            };
            let gi_grad = if_needed(gi, || grad(CellGrad::Input, gi.shape()))?;
            // An LSTM's gates are gi + gh: both get the same gradient.
            let gh_grad = match (kind, &gi_grad) {
                (CellKind::Lstm, Some(same)) if gh.is_requires_grad() => Some(same.clone()),
                _ => if_needed(gh, || grad(CellGrad::Hidden, gh.shape()))?,
            };
            vec![gi_grad, gh_grad, if_needed(state, || grad(CellGrad::State, state.shape()))?]
        }
        Op::Linear { x, w, bias, relu, out } => {
            let (rows, outputs) = (x.dims()[0], w.dims()[0]);
            let g = g.reshape([rows, outputs])?;
            // Through the ReLU, the gradient passes where the output (so the pre-activation) is
            // positive; with a bias, its gradient (the column sums) comes from the same pass.
            let (g, bias_grad) = match (out, bias) {
                (Some(y), Some(b)) if *relu && b.is_requires_grad() => {
                    let (masked, sums) = g.device().relu_backward(g.storage(), y.storage(), rows, outputs)?;
                    let device = g.device().clone();
                    let sums = Tensor::make(sums, b.shape().clone(), device.clone(), None);
                    (Tensor::make(masked, g.shape().clone(), device, None), Some(sums))
                }
                (Some(y), _) if *relu => (g.binary(BinaryOp::ReluGrad, y)?, None),
                _ => (g, None),
            };
            let mut grads =
                vec![if_needed(x, || g.matmul_3d(w, false, false))?, if_needed(w, || g.matmul_3d(x, true, false))?];
            if let Some(b) = bias {
                grads.push(match bias_grad {
                    Some(sums) => Some(sums),
                    None => if_needed(b, || sum_to(g.clone(), b.shape()))?,
                });
            }
            grads
        }
        Op::Matmul { a, b, transpose_a, transpose_b } => {
            let (ta, tb) = (*transpose_a, *transpose_b);
            // A layer's input rarely requires grad: its product is the costliest one to skip.
            let ga = if_needed(a, || if ta { b.matmul_3d(g, tb, true) } else { g.matmul_3d(b, false, !tb) })?;
            let gb = if_needed(b, || if tb { g.matmul_3d(a, true, ta) } else { a.matmul_3d(g, !ta, false) })?;
            vec![ga, gb]
        }
        Op::Reshape { x } => vec![Some(g.reshape(x.shape().clone())?)],
        Op::Permute { perm, .. } => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            vec![Some(g.permute(&inverse)?)]
        }
        Op::Expand { x } => vec![Some(sum_to(g.clone(), x.shape())?)],
        // Not reached from `backward`, whose loop routes narrows through `PendingGrad`; kept so that
        // every op has its vector-Jacobian product here.
        Op::Narrow { x, axis, start } => vec![Some(padded(x, *axis, *start, g)?)],
        Op::Cat { parts, axis } => {
            let mut start = 0;
            let mut grads = Vec::with_capacity(parts.len());
            for p in parts {
                let len = p.dims()[*axis];
                grads.push(Some(g.narrow(*axis, start, len)?));
                start += len;
            }
            grads
        }
        Op::Gather { x, axis, index } => {
            let (outer, src_axis, inner) = x.shape().split_at_axis(*axis);
            let dims = soma_device::GatherDims { outer, src_axis, index_axis: index.dims()[*axis], inner };
            let storage = g.device().scatter_add(g.storage(), index.storage(), dims)?;
            vec![Some(Tensor::make(storage, x.shape().clone(), g.device().clone(), None))]
        }
        Op::Im2col { x, geom } => {
            let storage = g.device().col2im(g.storage(), *geom)?;
            vec![Some(Tensor::make(storage, x.shape().clone(), g.device().clone(), None))]
        }
    })
}

/// `Some(grad())` when `parent` requires grad, else `None` without computing it.
fn if_needed(parent: &Tensor, grad: impl FnOnce() -> Result<Tensor>) -> Result<Option<Tensor>> {
    if parent.is_requires_grad() { grad().map(Some) } else { Ok(None) }
}

fn unary_vjp(op: UnaryOp, alpha: f32, x: &Tensor, g: &Tensor) -> Result<Tensor> {
    match op {
        UnaryOp::Neg => g.neg(),
        UnaryOp::Exp => g * &x.exp()?,
        UnaryOp::Log => g / x,
        UnaryOp::Sqrt => g / &x.sqrt()?.affine(2.0, 0.0)?,
        UnaryOp::Abs => g * &x.sign()?,
        UnaryOp::Sign | UnaryOp::Step => Tensor::zeros(g.shape().clone(), g.device()),
        UnaryOp::Recip => (g / &x.square()?)?.neg(),
        UnaryOp::Square => g * &x.affine(2.0, 0.0)?,
        UnaryOp::Sin => g * &x.cos()?,
        UnaryOp::Cos => (g * &x.sin()?)?.neg(),
        UnaryOp::Sigmoid => {
            let s = x.sigmoid()?;
            g * &(&s * &s.affine(-1.0, 1.0)?)?
        }
        UnaryOp::Tanh => g * &x.tanh()?.square()?.affine(-1.0, 1.0)?,
        UnaryOp::Relu => g.binary(BinaryOp::ReluGrad, x),
        UnaryOp::LeakyRelu => g * &x.step()?.affine(1.0 - alpha, alpha)?,
        UnaryOp::Elu => {
            // d/dx = alpha * exp(x) where x <= 0 (not elu(x) + alpha, which cancels to 0 far below
            // zero), else 1, NaN included, as torch.
            let slope = x.scalar_op(BinaryOp::Min, 0.0, false)?.exp()?.affine(alpha, 0.0)?;
            let ones = Tensor::ones(x.shape().clone(), x.device())?;
            g * &Tensor::where_cond(&x.scalar_op(BinaryOp::Le, 0.0, false)?, &slope, &ones)?
        }
        UnaryOp::Gelu => g * &x.unary(UnaryOp::GeluGrad, 0.0)?,
        UnaryOp::GeluGrad => Err(Error::invalid("backward", "gelu_grad is not differentiable (no double backward)")),
    }
}

fn binary_vjp(op: BinaryOp, a: &Tensor, b: &Tensor, g: &Tensor) -> Result<(Tensor, Tensor)> {
    match op {
        BinaryOp::Add => Ok((g.clone(), g.clone())),
        BinaryOp::Sub => Ok((g.clone(), g.neg()?)),
        BinaryOp::Mul => Ok(((g * b)?, (g * a)?)),
        BinaryOp::Div => {
            let ga = (g / b)?;
            let gb = (&(&ga * a)? / b)?.neg()?;
            Ok((ga, gb))
        }
        BinaryOp::Pow => {
            // As torch: no gradient to the base where the exponent is 0, nor to the exponent
            // where the base is 0 and the exponent >= 0 (0 * inf there otherwise).
            let zero = Tensor::zeros([1], g.device())?;
            let da = (b * &a.pow(&b.affine(1.0, -1.0)?)?)?;
            let da = Tensor::where_cond(&b.scalar_op(BinaryOp::Eq, 0.0, false)?, &zero, &da)?;
            let db = (&a.pow(b)? * &a.log()?)?;
            let flat = (&a.scalar_op(BinaryOp::Eq, 0.0, false)? * &b.scalar_op(BinaryOp::Ge, 0.0, false)?)?;
            let db = Tensor::where_cond(&flat, &zero, &db)?;
            Ok(((g * &da)?, (g * &db)?))
        }
        BinaryOp::Max | BinaryOp::Min => {
            // As torch: an input takes the gradient unless the other one wins (then exactly 0, even
            // for an infinite gradient), half of it on a tie; where either is NaN neither wins, so
            // both take all of it.
            let (a_loses, b_loses) = if op == BinaryOp::Max { (a.lt(b)?, a.gt(b)?) } else { (a.gt(b)?, a.lt(b)?) };
            let shared = (g * &a.eq(b)?.affine(-0.5, 1.0)?)?;
            let zero = Tensor::zeros([1], g.device())?;
            Ok((Tensor::where_cond(&a_loses, &zero, &shared)?, Tensor::where_cond(&b_loses, &zero, &shared)?))
        }
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            Ok((Tensor::zeros(g.shape().clone(), g.device())?, Tensor::zeros(g.shape().clone(), g.device())?))
        }
        // relu_grad(a, b) = a * step(b): linear in a, flat in b.
        BinaryOp::ReluGrad => Ok((g.binary(BinaryOp::ReluGrad, b)?, Tensor::zeros(g.shape().clone(), g.device())?)),
    }
}

fn scalar_vjp(op: BinaryOp, x: &Tensor, s: f32, scalar_first: bool, g: &Tensor) -> Result<Tensor> {
    match (op, scalar_first) {
        (BinaryOp::Add, _) | (BinaryOp::Sub, false) => Ok(g.clone()),
        (BinaryOp::Sub, true) => g.neg(),
        (BinaryOp::Mul, _) | (BinaryOp::Div, false) => g * if op == BinaryOp::Mul { s } else { 1.0 / s },
        (BinaryOp::Div, true) => (g / &x.square()?)? * -s,
        // x^0 is constant (torch gives 0 even at x = 0, where 0 * 0^-1 would be NaN).
        (BinaryOp::Pow, false) if s == 0.0 => Tensor::zeros(g.shape().clone(), g.device()),
        (BinaryOp::Pow, false) => g * &x.powf(s - 1.0)?.affine(s, 0.0)?,
        // 0^x: no gradient where x >= 0, as torch (0 * -inf otherwise).
        (BinaryOp::Pow, true) if s == 0.0 => {
            let zero = Tensor::zeros([1], g.device())?;
            let slope = x.scalar_op(BinaryOp::Pow, s, true)?.affine(s.ln(), 0.0)?;
            g * &Tensor::where_cond(&x.scalar_op(BinaryOp::Ge, 0.0, false)?, &zero, &slope)?
        }
        (BinaryOp::Pow, true) => g * &x.scalar_op(BinaryOp::Pow, s, true)?.affine(s.ln(), 0.0)?,
        // The scalar is a bound (`clamp`): x takes the whole gradient where it is strictly inside
        // the bound, none at the bound itself or at NaN, as torch.clamp does (checked with torch 2.15).
        (BinaryOp::Max | BinaryOp::Min, _) => {
            let cmp = if op == BinaryOp::Max { BinaryOp::Gt } else { BinaryOp::Lt };
            g * &x.scalar_op(cmp, s, false)?
        }
        (BinaryOp::ReluGrad, false) => g * if s > 0.0 { 1.0 } else { 0.0 },
        (
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge
            | BinaryOp::ReluGrad,
            _,
        ) => Tensor::zeros(g.shape().clone(), g.device()),
    }
}

fn reduce_vjp(op: ReduceOp, x: &Tensor, axis: usize, g: &Tensor) -> Result<Tensor> {
    let spread = g.unsqueeze(axis)?.broadcast_to(x.shape().clone())?;
    match op {
        ReduceOp::Sum => Ok(spread),
        ReduceOp::Mean => spread * (1.0 / x.dims()[axis] as f32),
        ReduceOp::Max | ReduceOp::Min => {
            // The extreme elements share the gradient evenly (torch.amax semantics).
            let extreme = x.reduce_keepdim(op, axis)?;
            let hits = x.eq(&extreme)?;
            let count = hits.sum_keepdim(axis)?;
            &spread * &(&hits / &count)?
        }
        ReduceOp::ArgMax | ReduceOp::ArgMin => Err(Error::invalid("backward", "argmax/argmin have no gradient")),
    }
}
