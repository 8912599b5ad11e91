//! Axis reductions and row softmax (`shaders/reduce.wgsl`, `shaders/softmax.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{alloc, dispatch_staged, per_element};
use crate::wgpu::WgpuStorage;
use crate::wgpu::context::WgpuContext;
use crate::wgpu::pipelines::{Kernel, Shader};
use crate::{AxisDims, ReduceOp, Result};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ReduceParams {
    outer: u32,
    axis: u32,
    inner: u32,
    flags: u32,
    chunk: u32,
    chunks: u32,
    divisor: f32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct SoftmaxParams {
    rows: u32,
    cols: u32,
    log: u32,
    /// `cross_entropy_grad`: 1 where one gradient serves every row.
    shared_grad: u32,
    /// `cross_entropy_grad`: the factor on the gradient.
    grad_scale: f32,
    _pad: [u32; 3],
}

const FLAG_INDEX_IN: u32 = 1;
const FLAG_FINAL: u32 = 2;

/// Below this many outputs, a long axis is split into chunks reduced by separate workgroups, so
/// every core works on e.g. a full sum; a second pass combines the chunks.
const SPLIT_BELOW_OUTPUTS: usize = 256;
/// The longest axis one thread per output walks when there are few outputs.
const COLUMN_WALK: usize = 1024;
/// The shortest chunk worth a workgroup of its own.
const MIN_CHUNK: usize = 4096;

pub(crate) fn reduce(ctx: &WgpuContext, op: ReduceOp, x: &WgpuStorage, d: AxisDims) -> Result<WgpuStorage> {
    let name = op.name();
    let outputs = d.outer * d.inner;
    if d.axis == 0 {
        // What the CPU gives for an empty axis: 0, NaN (0 / 0), -inf, +inf, index 0.
        let value = match op {
            ReduceOp::Sum | ReduceOp::ArgMax | ReduceOp::ArgMin => 0.0,
            ReduceOp::Mean => f32::NAN,
            ReduceOp::Max => f32::NEG_INFINITY,
            ReduceOp::Min => f32::INFINITY,
        };
        return super::layout::fill(ctx, name, outputs, value);
    }
    let out = alloc(ctx, || name.into(), outputs)?;
    if outputs == 0 {
        return Ok(out);
    }
    let kernel = |entry| Kernel::new(Shader::Reduce, entry).with("OP", f64::from(op.code()));
    let base = ReduceParams {
        outer: d.outer as u32,
        axis: d.axis as u32,
        inner: d.inner as u32,
        flags: FLAG_FINAL,
        chunk: d.axis as u32,
        chunks: 1,
        divisor: d.axis as f32,
        _pad: 0,
    };
    // Short axes, enough outputs to fill the device, or columns (inner > 1, where neighbouring
    // threads read neighbouring elements) of enough outputs or of a moderate axis (a bias gradient
    // over a batch): one thread per output walks the axis (a workgroup per short row mostly idles;
    // lavapipe pays per workgroup and per barrier: [128, 128] summed over rows took 0.7 ms that way).
    let columns = d.inner > 1 && (outputs >= SPLIT_BELOW_OUTPUTS || d.axis <= COLUMN_WALK);
    if d.axis <= 32 || outputs >= 4096 || columns {
        let groups = per_element(ctx, name, outputs)?;
        dispatch_staged(ctx, kernel("reduce_cols"), &base, &[(1, 5, x)], &[(3, &out)], groups)?;
        return Ok(out);
    }
    let unused = alloc(ctx, || name.into(), 1)?;
    let chunks = if outputs >= SPLIT_BELOW_OUTPUTS {
        1
    } else {
        (SPLIT_BELOW_OUTPUTS / outputs).min(d.axis.div_ceil(MIN_CHUNK))
    };
    if chunks <= 1 {
        let groups = ctx.grid(name, outputs as u64)?;
        dispatch_staged(ctx, kernel("reduce_rows"), &base, &[(1, 5, x)], &[(2, x), (3, &out), (4, &unused)], groups)?;
        return Ok(out);
    }
    let chunk = d.axis.div_ceil(chunks);
    let chunks = d.axis.div_ceil(chunk);
    let partial = alloc(ctx, || name.into(), outputs * chunks)?;
    let partial_index = alloc(ctx, || name.into(), outputs * chunks)?;
    let first = ReduceParams { flags: 0, chunk: chunk as u32, chunks: chunks as u32, ..base };
    let groups = ctx.grid(name, (outputs * chunks) as u64)?;
    let others = [(2, x), (3, &partial), (4, &partial_index)];
    dispatch_staged(ctx, kernel("reduce_rows"), &first, &[(1, 5, x)], &others, groups)?;
    let second = ReduceParams {
        axis: chunks as u32,
        flags: FLAG_FINAL | FLAG_INDEX_IN,
        chunk: chunks as u32,
        chunks: 1,
        ..base
    };
    let groups = ctx.grid(name, outputs as u64)?;
    let others = [(2, &partial_index), (3, &out), (4, &unused)];
    dispatch_staged(ctx, kernel("reduce_rows"), &second, &[(1, 5, &partial)], &others, groups)?;
    Ok(out)
}

pub(crate) fn softmax(ctx: &WgpuContext, x: &WgpuStorage, rows: usize, cols: usize, log: bool) -> Result<WgpuStorage> {
    let name = if log { "log_softmax" } else { "softmax" };
    let out = alloc(ctx, || name.into(), rows * cols)?;
    if rows == 0 || cols == 0 {
        return Ok(out);
    }
    let params = SoftmaxParams { rows: rows as u32, cols: cols as u32, log: log.into(), ..Zeroable::zeroed() };
    let (entry, groups) = if cols <= 32 {
        ("softmax_small", per_element(ctx, name, rows)?)
    } else if cols.is_multiple_of(4) {
        let groups = ctx.grid(name, rows as u64)?;
        let kernel = Kernel::new(Shader::Softmax, "softmax_rows4");
        dispatch_staged(ctx, kernel, &params, &[(1, 3, x)], &[(2, &out)], groups)?;
        return Ok(out);
    } else {
        ("softmax_rows", ctx.grid(name, rows as u64)?)
    };
    ctx.dispatch(&Kernel::new(Shader::Softmax, entry), &params, &[(1, x), (2, &out)], groups)?;
    Ok(out)
}

/// The rows a workgroup of `cross_entropy` covers: a batch of up to this many gets its mean loss
/// from the same kernel.
const CLASS_ROWS_PER_WORKGROUP: usize = 256;

/// The mean of `cross_entropy` over `rows` in one kernel (`MEAN`), where one workgroup covers the
/// rows; `None` for more rows.
pub(crate) fn cross_entropy_mean(
    ctx: &WgpuContext,
    logits: &WgpuStorage,
    targets: &WgpuStorage,
    rows: usize,
    cols: usize,
) -> Result<Option<WgpuStorage>> {
    if rows == 0 || rows > CLASS_ROWS_PER_WORKGROUP {
        return Ok(None);
    }
    let out = alloc(ctx, || "cross_entropy".into(), 1)?;
    let params = SoftmaxParams { rows: rows as u32, cols: cols as u32, ..Zeroable::zeroed() };
    let kernel = Kernel::new(Shader::Softmax, "cross_entropy").with("MEAN", 1.0);
    ctx.dispatch(&kernel, &params, &[(1, logits), (2, &out), (4, targets)], [1, 1, 1])?;
    Ok(Some(out))
}

/// `cross_entropy` per row of `[rows, cols]` logits, or with row gradients `grad` (one per row, or
/// one for all) and their factor, its gradient.
pub(crate) fn cross_entropy(
    ctx: &WgpuContext,
    logits: &WgpuStorage,
    targets: &WgpuStorage,
    grad: Option<(&WgpuStorage, f32)>,
    rows: usize,
    cols: usize,
) -> Result<WgpuStorage> {
    let (name, len) = if grad.is_some() { ("cross_entropy_grad", rows * cols) } else { ("cross_entropy", rows) };
    let out = alloc(ctx, || name.into(), len)?;
    if rows == 0 {
        return Ok(out);
    }
    let mut params = SoftmaxParams { rows: rows as u32, cols: cols as u32, ..Zeroable::zeroed() };
    if let Some((g, scale)) = grad {
        params.shared_grad = u32::from(g.len == 1 && rows > 1);
        params.grad_scale = scale;
    }
    let mut bindings = vec![(1, logits), (2, &out), (4, targets)];
    bindings.extend(grad.map(|(g, _)| (5, g)));
    ctx.dispatch(&Kernel::new(Shader::Softmax, name), &params, &bindings, per_element(ctx, name, rows)?)?;
    Ok(out)
}
