//! Reductions along an axis on the CPU.

use rayon::prelude::*;

use super::PARALLEL_THRESHOLD;
use super::reduce_lines as lines;
use crate::{AxisDims, ReduceOp, Result};

/// Reduces `[outer, axis, inner]` to `[outer, inner]`. Sums accumulate in f64, so the CPU result
/// is the accurate reference the GPU's tree reductions are compared with.
pub fn reduce(op: ReduceOp, x: &[f32], d: AxisDims) -> Result<Vec<f32>> {
    if d.axis > 0 && d.outer > 0 && d.inner > 0 {
        match op {
            ReduceOp::Sum | ReduceOp::Mean | ReduceOp::Max | ReduceOp::Min => return lines::reduce(op, x, d),
            ReduceOp::ArgMax | ReduceOp::ArgMin => {}
        }
    }
    let mut out = super::pool::zeroed(d.outer * d.inner)?;
    if d.inner == 0 || d.outer == 0 {
        return Ok(out);
    }
    let reduce_block = |o: usize, dst: &mut [f32]| {
        let block = &x[o * d.axis * d.inner..(o + 1) * d.axis * d.inner];
        if d.inner > 1 && matches!(op, ReduceOp::ArgMax | ReduceOp::ArgMin) {
            return arg_columns(op, block, d.inner, dst);
        }
        for (n, dst) in dst.iter_mut().enumerate() {
            *dst = reduce_line(op, (0..d.axis).map(|a| block[a * d.inner + n]), d.axis);
        }
    };
    if d.len() >= PARALLEL_THRESHOLD && d.outer > 1 {
        out.par_chunks_mut(d.inner).enumerate().for_each(|(o, dst)| reduce_block(o, dst));
    } else if d.len() >= PARALLEL_THRESHOLD && d.inner > 1 {
        // One outer block: split the inner columns across threads instead.
        out.par_iter_mut().enumerate().for_each(|(n, dst)| {
            *dst = reduce_line(op, (0..d.axis).map(|a| x[a * d.inner + n]), d.axis);
        });
    } else if d.len() >= PARALLEL_THRESHOLD {
        out[0] = reduce_long_line(op, x);
    } else {
        out.chunks_mut(d.inner).enumerate().for_each(|(o, dst)| reduce_block(o, dst));
    }
    Ok(out)
}

fn reduce_line(op: ReduceOp, values: impl Iterator<Item = f32>, len: usize) -> f32 {
    match op {
        ReduceOp::Sum => values.map(f64::from).sum::<f64>() as f32,
        ReduceOp::Mean => (values.map(f64::from).sum::<f64>() / len as f64) as f32,
        ReduceOp::Max => values.fold(f32::NEG_INFINITY, f32::max),
        ReduceOp::Min => values.fold(f32::INFINITY, f32::min),
        ReduceOp::ArgMax => arg_extreme(values, |v, best| v > best),
        ReduceOp::ArgMin => arg_extreme(values, |v, best| v < best),
    }
}

/// One long contiguous line, split into chunks reduced in parallel and then combined.
fn reduce_long_line(op: ReduceOp, x: &[f32]) -> f32 {
    const CHUNK: usize = 1 << 16;
    let partial: Vec<(f32, usize)> = x
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| match op {
            ReduceOp::Sum | ReduceOp::Mean => (reduce_line(ReduceOp::Sum, chunk.iter().copied(), chunk.len()), 0),
            ReduceOp::ArgMax | ReduceOp::ArgMin | ReduceOp::Max | ReduceOp::Min => {
                let arg_op =
                    if matches!(op, ReduceOp::ArgMax | ReduceOp::Max) { ReduceOp::ArgMax } else { ReduceOp::ArgMin };
                let i = reduce_line(arg_op, chunk.iter().copied(), chunk.len()) as usize;
                (chunk[i], c * CHUNK + i)
            }
        })
        .collect();
    match op {
        ReduceOp::Sum => partial.iter().map(|p| f64::from(p.0)).sum::<f64>() as f32,
        ReduceOp::Mean => (partial.iter().map(|p| f64::from(p.0)).sum::<f64>() / x.len() as f64) as f32,
        ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax | ReduceOp::ArgMin => {
            let better = |a: f32, b: f32| if matches!(op, ReduceOp::Max | ReduceOp::ArgMax) { a > b } else { a < b };
            let mut best = partial[0];
            for &p in &partial[1..] {
                if (best.0.is_nan() && !p.0.is_nan()) || better(p.0, best.0) {
                    best = p;
                }
            }
            if matches!(op, ReduceOp::Max | ReduceOp::Min) { best.0 } else { best.1 as f32 }
        }
    }
}

/// `arg_extreme` of every column of one `[axis, inner]` block, sweeping it row by row (contiguous
/// loads, where a column at a time strides by `inner`).
fn arg_columns(op: ReduceOp, block: &[f32], inner: usize, dst: &mut [f32]) {
    let max = op == ReduceOp::ArgMax;
    let mut best = vec![f32::NAN; inner];
    dst.fill(0.0);
    for (a, row) in block.chunks_exact(inner).enumerate() {
        for ((best, index), &v) in best.iter_mut().zip(dst.iter_mut()).zip(row) {
            let better = if max { v > *best } else { v < *best };
            if better || (best.is_nan() && !v.is_nan()) {
                *best = v;
                *index = a as f32;
            }
        }
    }
}

/// The index of the extreme value, the first of ties; NaNs are skipped (as by `Max` and `Min`),
/// and a line of NaNs gives 0.
fn arg_extreme(values: impl Iterator<Item = f32>, better: impl Fn(f32, f32) -> bool) -> f32 {
    let mut best = (0usize, f32::NAN);
    for (i, v) in values.enumerate() {
        if (best.1.is_nan() && !v.is_nan()) || better(v, best.1) {
            best = (i, v);
        }
    }
    best.0 as f32
}
