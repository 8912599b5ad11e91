//! Data movement on the CPU: strided copies, concatenation, gather and its adjoint.

use rayon::prelude::*;

use crate::{Error, GatherDims, Result, StridedView};

pub fn copy_strided(x: &[f32], view: &StridedView) -> Result<Vec<f32>> {
    // Countable: Device::copy_strided checked it (a 0 dim makes it 0 however large the others).
    let len = crate::shape::checked_product(&view.shape).unwrap_or(0);
    let rank = view.shape.len();
    if rank == 0 {
        return Ok(vec![x[view.offset]; len]);
    }
    let mut out = super::pool::take(len)?;
    let mut index = vec![0usize; rank];
    let mut pos = view.offset;
    let (last_dim, last_stride) = (view.shape[rank - 1], view.strides[rank - 1]);
    if len == 0 {
        return Ok(out);
    }
    loop {
        out.extend((0..last_dim).map(|j| x[pos + j * last_stride]));
        // Advance the odometer over all but the last dimension.
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return Ok(out);
            }
            d -= 1;
            index[d] += 1;
            pos += view.strides[d];
            if index[d] < view.shape[d] {
                break;
            }
            pos -= view.strides[d] * index[d];
            index[d] = 0;
        }
    }
}

pub fn concat(parts: &[(&[f32], usize)], outer: usize, inner: usize) -> Result<Vec<f32>> {
    let total_axis: usize = parts.iter().map(|p| p.1).sum();
    let mut out = super::pool::take(outer * total_axis * inner)?;
    for o in 0..outer {
        for &(data, axis) in parts {
            out.extend_from_slice(&data[o * axis * inner..(o + 1) * axis * inner]);
        }
    }
    Ok(out)
}

/// Each of `outer` blocks of `block` values placed at `offset` of a zero block of `total`.
pub fn pad_axis(x: &[f32], outer: usize, block: usize, offset: usize, total: usize) -> Result<Vec<f32>> {
    let mut out = super::pool::zeroed(outer * total)?;
    if block > 0 {
        for (dst, src) in out.chunks_mut(total).zip(x.chunks(block)) {
            dst[offset..offset + block].copy_from_slice(src);
        }
    }
    Ok(out)
}

pub fn gather(src: &[f32], index: &[f32], d: GatherDims) -> Result<Vec<f32>> {
    let mut out = super::pool::zeroed(d.outer * d.index_axis * d.inner)?;
    // One `[index_axis, inner]` block of the output per outer index, on all cores when large.
    let block = |o: usize, out: &mut [f32]| -> Result<()> {
        let (src, index) = (&src[o * d.src_axis * d.inner..], &index[o * d.index_axis * d.inner..]);
        for (at, out) in out.iter_mut().enumerate() {
            let j = axis_index("gather", index[at], d.src_axis)?;
            *out = src[j * d.inner + at % d.inner];
        }
        Ok(())
    };
    for_each_block(&mut out, d.index_axis * d.inner, block)?;
    Ok(out)
}

pub fn scatter_add(src: &[f32], index: &[f32], d: GatherDims) -> Result<Vec<f32>> {
    let mut out = super::pool::zeroed(d.outer * d.src_axis * d.inner)?;
    let block = |o: usize, out: &mut [f32]| -> Result<()> {
        let (src, index) = (&src[o * d.index_axis * d.inner..], &index[o * d.index_axis * d.inner..]);
        for at in 0..d.index_axis * d.inner {
            let j = axis_index("scatter_add", index[at], d.src_axis)?;
            out[j * d.inner + at % d.inner] += src[at];
        }
        Ok(())
    };
    if let (0, Some(&v)) = (d.src_axis, index.first()) {
        // No output blocks to visit, but an index into an empty axis is still out of range.
        axis_index("scatter_add", v, 0)?;
    }
    for_each_block(&mut out, d.src_axis * d.inner, block)?;
    Ok(out)
}

/// Runs `f(o, block)` over the `len`-element blocks of `out`, in parallel when `out` is large; the
/// first error wins.
fn for_each_block(out: &mut [f32], len: usize, f: impl Fn(usize, &mut [f32]) -> Result<()> + Sync) -> Result<()> {
    if len == 0 {
        return Ok(());
    }
    if out.len() >= super::PARALLEL_THRESHOLD {
        out.par_chunks_mut(len).enumerate().try_for_each(|(o, block)| f(o, block))
    } else {
        out.chunks_mut(len).enumerate().try_for_each(|(o, block)| f(o, block))
    }
}

/// An index stored as f32, checked to be a whole number in `0..len`.
fn axis_index(op: &'static str, v: f32, len: usize) -> Result<usize> {
    if v >= 0.0 && v.fract() == 0.0 && (v as usize) < len {
        return Ok(v as usize);
    }
    Err(Error::invalid(op, format!("index {v} is out of range for an axis of length {len}")))
}
