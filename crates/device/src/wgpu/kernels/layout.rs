//! Data movement: fill, strided copy, concat, pad, gather, scatter_add and select (`shaders/layout.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{alloc, collapse, dispatch_staged, dispatch_staged_reading, pack, per_element, per_four};
use crate::wgpu::WgpuStorage;
use crate::wgpu::context::{WgpuContext, static_name};
use crate::wgpu::pipelines::{Kernel, Shader};
use crate::{Error, GatherDims, MAX_RANK, Result, StridedView};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct LayoutParams {
    n: u32,
    offset: u32,
    value: f32,
    outer: u32,
    src_axis: u32,
    index_axis: u32,
    inner: u32,
    axis_offset: u32,
    total_axis: u32,
    _pad: [u32; 3],
    shape: [u32; 8],
    strides: [u32; 8],
}

impl LayoutParams {
    fn new(n: usize) -> LayoutParams {
        LayoutParams { n: n as u32, ..Zeroable::zeroed() }
    }
    /// A block `[outer, axis, inner]` at `offset` of the middle axis of `[outer, total, inner]`
    /// (`concat_part`, `pad_axis`), over `n` threads.
    fn axis_block(outer: usize, axis: usize, inner: usize, offset: usize, total: usize, n: usize) -> LayoutParams {
        LayoutParams {
            outer: outer as u32,
            src_axis: axis as u32,
            inner: inner as u32,
            axis_offset: offset as u32,
            total_axis: total as u32,
            ..LayoutParams::new(n)
        }
    }
    fn gather(d: GatherDims, n: usize) -> LayoutParams {
        LayoutParams {
            outer: d.outer as u32,
            src_axis: d.src_axis as u32,
            index_axis: d.index_axis as u32,
            inner: d.inner as u32,
            ..LayoutParams::new(n)
        }
    }
}

fn kernel(entry: &'static str) -> Kernel {
    Kernel::new(Shader::Layout, entry)
}

/// Tensors of up to this many elements are filled by an upload, not a kernel: on lavapipe a 1-element
/// upload costs ~5 us against ~24 us for a dispatch (a loss's backward seed). Alone they break even
/// near 64K elements, but with up to 16K `char_lm --quick` took 3.6 s an epoch instead of 3.4 (each
/// upload is a new mapped staging buffer).
const FILL_BY_UPLOAD: usize = 1 << 10;

pub(crate) fn fill(ctx: &WgpuContext, op: &'static str, len: usize, value: f32) -> Result<WgpuStorage> {
    let out = alloc(ctx, || op.into(), len)?;
    if len <= FILL_BY_UPLOAD {
        ctx.upload(&out, &vec![value; len])?;
        return Ok(out);
    }
    let params = LayoutParams { value, ..LayoutParams::new(len) };
    ctx.dispatch(&kernel("fill"), &params, &[(4, &out)], per_four(ctx, op, len)?)?;
    Ok(out)
}

pub(crate) fn copy_strided(ctx: &WgpuContext, x: &WgpuStorage, view: &StridedView) -> Result<WgpuStorage> {
    // Countable: Device::copy_strided checked it (a 0 dim makes it 0 however large the others).
    let n = crate::shape::checked_product(&view.shape).unwrap_or(0);
    let out = alloc(ctx, || "copy_strided".into(), n)?;
    let (dims, strides) = collapse(&view.shape, &[&view.strides]);
    if dims.len() > MAX_RANK {
        return Err(Error::limit(
            static_name("copy_strided".into()),
            format!("a view of shape {:?} has more than {MAX_RANK} non-contiguous dimensions", view.shape),
        ));
    }
    let params = LayoutParams {
        offset: view.offset as u32,
        shape: pack(&dims),
        strides: pack(&strides[0]),
        ..LayoutParams::new(n)
    };
    let groups = per_four(ctx, "copy_strided", n)?;
    let kernel = kernel("copy_strided").with("RANK", dims.len() as f64);
    dispatch_staged_reading(ctx, kernel, &params, &[(1, 5, x)], &[(4, &out)], groups, n)?;
    Ok(out)
}

pub(crate) fn concat(
    ctx: &WgpuContext,
    parts: &[(&WgpuStorage, usize)],
    outer: usize,
    inner: usize,
) -> Result<WgpuStorage> {
    let total_axis: usize = parts.iter().map(|p| p.1).sum();
    let out = alloc(ctx, || "cat".into(), outer * total_axis * inner)?;
    let mut axis_offset = 0;
    ctx.record_together(|| {
        for &(part, axis) in parts {
            let n = outer * axis * inner;
            let params = LayoutParams::axis_block(outer, axis, inner, axis_offset, total_axis, n);
            let whole_vec4s = [axis, axis_offset, total_axis].iter().all(|a| (a * inner).is_multiple_of(4));
            let (entry, groups) = if whole_vec4s {
                ("concat_part4", per_four(ctx, "cat", n)?)
            } else {
                ("concat_part", per_element(ctx, "cat", n)?)
            };
            dispatch_staged(ctx, kernel(entry), &params, &[(1, 5, part)], &[(4, &out)], groups)?;
            axis_offset += axis;
        }
        Ok(())
    })?;
    Ok(out)
}

pub(crate) fn pad_axis(
    ctx: &WgpuContext,
    x: &WgpuStorage,
    outer: usize,
    axis: usize,
    inner: usize,
    offset: usize,
    total: usize,
) -> Result<WgpuStorage> {
    let n = outer * total * inner;
    let out = alloc(ctx, || "pad_axis".into(), n)?;
    let params = LayoutParams::axis_block(outer, axis, inner, offset, total, n);
    let groups = per_four(ctx, "pad_axis", n)?;
    dispatch_staged(ctx, kernel("pad_axis"), &params, &[(1, 5, x)], &[(4, &out)], groups)?;
    Ok(out)
}

pub(crate) fn gather(ctx: &WgpuContext, src: &WgpuStorage, index: &WgpuStorage, d: GatherDims) -> Result<WgpuStorage> {
    let n = d.outer * d.index_axis * d.inner;
    let out = alloc(ctx, || "gather".into(), n)?;
    let params = LayoutParams::gather(d, n);
    let groups = per_four(ctx, "gather", n)?;
    // An index and a source element per output: a large table is not staged for a few rows.
    let inputs = [(1, 5, src), (2, 6, index)];
    dispatch_staged_reading(ctx, kernel("gather"), &params, &inputs, &[(4, &out)], groups, 2 * n)?;
    Ok(out)
}

pub(crate) fn scatter_add(
    ctx: &WgpuContext,
    src: &WgpuStorage,
    index: &WgpuStorage,
    d: GatherDims,
) -> Result<WgpuStorage> {
    let n = d.outer * d.src_axis * d.inner;
    let out = alloc(ctx, || "scatter_add".into(), n)?;
    let params = LayoutParams::gather(d, n);
    let entry = if d.inner.is_multiple_of(4) { "scatter_add4" } else { "scatter_add" };
    let groups = per_four(ctx, "scatter_add", n)?;
    // Every output scans its column of the index and of the sources.
    let reads = 2 * d.index_axis * n;
    dispatch_staged_reading(ctx, kernel(entry), &params, &[(1, 5, src), (2, 6, index)], &[(4, &out)], groups, reads)?;
    Ok(out)
}

pub(crate) fn where_cond(
    ctx: &WgpuContext,
    cond: &WgpuStorage,
    a: &WgpuStorage,
    b: &WgpuStorage,
) -> Result<WgpuStorage> {
    let n = cond.len;
    let out = alloc(ctx, || "where".into(), n)?;
    let params = LayoutParams::new(n);
    let groups = per_four(ctx, "where", n)?;
    dispatch_staged(ctx, kernel("where_cond"), &params, &[(1, 5, cond), (2, 6, a), (3, 7, b)], &[(4, &out)], groups)?;
    Ok(out)
}
