//! Fast sums, means, maxima and minima along an axis: contiguous lines with several independent
//! accumulators, and `[axis, inner]` blocks reduced a row at a time into a column accumulator, so
//! both vectorise. Sums accumulate in f64, as the reference reduction does.

use rayon::prelude::*;

use super::PARALLEL_THRESHOLD;
use super::simd::multiversion;
use crate::{AxisDims, ReduceOp, Result};

/// Columns per work item when reducing `[axis, inner]` blocks.
const COLS: usize = 256;
/// Elements per work item when one long line is split across threads.
const LINE_CHUNK: usize = 1 << 16;

/// `op` is Sum, Mean, Max or Min, and all of `d` is non-zero.
pub fn reduce(op: ReduceOp, x: &[f32], d: AxisDims) -> Result<Vec<f32>> {
    let parallel = d.len() >= PARALLEL_THRESHOLD;
    let mut out = super::pool::zeroed(d.outer * d.inner)?;
    if d.inner == 1 {
        if d.outer == 1 && parallel {
            out[0] = long_line(op, x);
        } else if parallel {
            let min_len = (LINE_CHUNK / d.axis).max(1);
            out.par_iter_mut().with_min_len(min_len).enumerate().for_each(|(o, dst)| {
                *dst = finish(op, line(op, &x[o * d.axis..(o + 1) * d.axis]), d.axis);
            });
        } else {
            out.iter_mut().enumerate().for_each(|(o, dst)| {
                *dst = finish(op, line(op, &x[o * d.axis..(o + 1) * d.axis]), d.axis);
            });
        }
        return Ok(out);
    }
    let block = |o: usize, c: usize, dst: &mut [f32]| {
        let block = &x[o * d.axis * d.inner..(o + 1) * d.axis * d.inner];
        columns(op, block, d.inner, c * COLS, dst);
    };
    if parallel {
        out.par_chunks_mut(d.inner).enumerate().for_each(|(o, dst)| {
            dst.par_chunks_mut(COLS).enumerate().for_each(|(c, dst)| block(o, c, dst));
        });
    } else {
        out.chunks_mut(d.inner).enumerate().for_each(|(o, dst)| {
            dst.chunks_mut(COLS).enumerate().for_each(|(c, dst)| block(o, c, dst));
        });
    }
    Ok(out)
}

fn finish(op: ReduceOp, value: f64, len: usize) -> f32 {
    if op == ReduceOp::Mean { (value / len as f64) as f32 } else { value as f32 }
}

/// Sum (for Sum and Mean), max or min of one contiguous line.
fn line(op: ReduceOp, x: &[f32]) -> f64 {
    match op {
        ReduceOp::Max => f64::from(line_max(x)),
        ReduceOp::Min => f64::from(line_min(x)),
        ReduceOp::Sum | ReduceOp::Mean | ReduceOp::ArgMax | ReduceOp::ArgMin => line_sum(x),
    }
}

fn long_line(op: ReduceOp, x: &[f32]) -> f32 {
    let parts: Vec<f64> = x.par_chunks(LINE_CHUNK).map(|c| line(op, c)).collect();
    let value = match op {
        ReduceOp::Max => parts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ReduceOp::Min => parts.iter().copied().fold(f64::INFINITY, f64::min),
        ReduceOp::Sum | ReduceOp::Mean | ReduceOp::ArgMax | ReduceOp::ArgMin => parts.iter().sum(),
    };
    finish(op, value, x.len())
}

multiversion! { fn line_sum(x: &[f32]) -> f64 = line_sum_body; }
multiversion! { fn line_max(x: &[f32]) -> f32 = line_max_body; }
multiversion! { fn line_min(x: &[f32]) -> f32 = line_min_body; }

#[inline(always)]
fn line_sum_body(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += f64::from(v);
        }
    }
    chunks.remainder().iter().fold(acc.iter().sum::<f64>(), |s, &v| s + f64::from(v))
}

#[inline(always)]
fn line_max_body(x: &[f32]) -> f32 {
    line_extreme(x, f32::NEG_INFINITY, |v, best| v > best)
}

#[inline(always)]
fn line_min_body(x: &[f32]) -> f32 {
    line_extreme(x, f32::INFINITY, |v, best| v < best)
}

/// NaNs are skipped, as `f32::max` and `f32::min` skip them.
#[inline(always)]
fn line_extreme(x: &[f32], init: f32, better: impl Fn(f32, f32) -> bool) -> f32 {
    let mut acc = [init; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if better(v, *a) { v } else { *a };
        }
    }
    chunks.remainder().iter().chain(&acc).fold(init, |best, &v| if better(v, best) { v } else { best })
}

/// Reduces columns `first..first + dst.len()` of the `[axis, inner]` block into `dst`.
fn columns(op: ReduceOp, block: &[f32], inner: usize, first: usize, dst: &mut [f32]) {
    let axis = block.len() / inner;
    match op {
        ReduceOp::Sum | ReduceOp::Mean | ReduceOp::ArgMax | ReduceOp::ArgMin => {
            let mut acc = [0.0f64; COLS];
            let acc = &mut acc[..dst.len()];
            columns_sum(block, inner, first, acc);
            for (d, &a) in dst.iter_mut().zip(acc.iter()) {
                *d = finish(op, a, axis);
            }
        }
        ReduceOp::Max => columns_extreme(block, inner, first, dst, f32::NEG_INFINITY, |v, best| v > best),
        ReduceOp::Min => columns_extreme(block, inner, first, dst, f32::INFINITY, |v, best| v < best),
    }
}

multiversion! { fn columns_sum(block: &[f32], inner: usize, first: usize, acc: &mut [f64]) = columns_sum_body; }

#[inline(always)]
fn columns_sum_body(block: &[f32], inner: usize, first: usize, acc: &mut [f64]) {
    let width = acc.len();
    for row in block.chunks_exact(inner) {
        for (a, &v) in acc.iter_mut().zip(&row[first..first + width]) {
            *a += f64::from(v);
        }
    }
}

fn columns_extreme(
    block: &[f32],
    inner: usize,
    first: usize,
    dst: &mut [f32],
    init: f32,
    better: impl Fn(f32, f32) -> bool,
) {
    dst.fill(init);
    let width = dst.len();
    for row in block.chunks_exact(inner) {
        for (a, &v) in dst.iter_mut().zip(&row[first..first + width]) {
            *a = if better(v, *a) { v } else { *a };
        }
    }
}
