//! Elementwise kernels on the CPU: maps, broadcasting binary ops and select.

use rayon::prelude::*;

use super::PARALLEL_THRESHOLD;
use crate::{BinaryOp, Result, Shape};

const CHUNK: usize = 1 << 14;

/// Applies `f` to every element, on all cores for large inputs.
pub fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    if x.len() >= PARALLEL_THRESHOLD {
        out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(o, x)| {
            o.iter_mut().zip(x).for_each(|(o, &x)| *o = f(x));
        });
    } else {
        out.iter_mut().zip(x).for_each(|(o, &x)| *o = f(x));
    }
    out
}

pub fn where_cond(cond: &[f32], a: &[f32], b: &[f32]) -> Vec<f32> {
    cond.iter().zip(a.iter().zip(b)).map(|(&c, (&a, &b))| if c != 0.0 { a } else { b }).collect()
}

/// `op(a, b)` with NumPy broadcasting. The output is walked row by row (rows of the last
/// dimension), each row reading `a` and `b` with their own strides, so no index is divided per element.
pub fn binary(op: BinaryOp, a: &[f32], a_shape: &Shape, b: &[f32], b_shape: &Shape) -> Result<Vec<f32>> {
    if a_shape == b_shape {
        return Ok(zip_map(a, b, |x, y| op.apply(x, y)));
    }
    let out_shape = Shape::broadcast(op.name(), a_shape, b_shape)?;
    if b.len() == 1 {
        return Ok(map(a, |x| op.apply(x, b[0])));
    }
    if a.len() == 1 {
        return Ok(map(b, |y| op.apply(a[0], y)));
    }
    let dims = out_shape.dims().to_vec();
    let sa = a_shape.broadcast_strides(&out_shape);
    let sb = b_shape.broadcast_strides(&out_shape);
    let rank = dims.len();
    let row_len = dims[rank - 1];
    let (ra, rb) = (sa[rank - 1], sb[rank - 1]);
    let mut out = vec![0.0; out_shape.numel()];
    let fill_row = |row: usize, o: &mut [f32]| {
        let (mut ia, mut ib, mut rem) = (0, 0, row);
        for d in (0..rank - 1).rev() {
            let i = rem % dims[d];
            rem /= dims[d];
            ia += i * sa[d];
            ib += i * sb[d];
        }
        for (j, o) in o.iter_mut().enumerate() {
            *o = op.apply(a[ia + j * ra], b[ib + j * rb]);
        }
    };
    if row_len == 0 {
        return Ok(out);
    }
    if out.len() >= PARALLEL_THRESHOLD {
        out.par_chunks_mut(row_len).enumerate().for_each(|(r, o)| fill_row(r, o));
    } else {
        out.chunks_mut(row_len).enumerate().for_each(|(r, o)| fill_row(r, o));
    }
    Ok(out)
}

fn zip_map(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0.0; a.len()];
    if a.len() >= PARALLEL_THRESHOLD {
        out.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK))).for_each(|(o, (a, b))| {
            o.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&a, &b))| *o = f(a, b));
        });
    } else {
        out.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&a, &b))| *o = f(a, b));
    }
    out
}
