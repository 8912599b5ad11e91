//! Elementwise kernels on the CPU: maps, broadcasting binary ops and select.
//!
//! The op is matched once, outside the loops (`with_unary!`, `with_binary!`), so every loop is
//! compiled for one formula and vectorises; outputs are written once, never zeroed first.

use std::mem::MaybeUninit;

use super::fill::{CHUNK, filled};
use crate::{BinaryOp, Error, Result, Shape, UnaryOp};

/// Binds `$f` to op `$op`'s formula as a closure with the op fixed at compile time, then runs `$body`.
macro_rules! with_binary {
    ($op:expr, $f:ident => $body:expr) => {
        with_binary!(@arms $op, $f, $body, [Add, Sub, Mul, Div, Pow, Max, Min, Eq, Ne, Lt, Le, Gt, Ge, ReluGrad])
    };
    (@arms $op:expr, $f:ident, $body:expr, [$($v:ident),*]) => {
        match $op {
            $(BinaryOp::$v => {
                let $f = |a: f32, b: f32| BinaryOp::$v.apply(a, b);
                $body
            })*
        }
    };
}

/// The unary counterpart of `with_binary!`; `$alpha` is the op's parameter.
macro_rules! with_unary {
    ($op:expr, $alpha:expr, $f:ident => $body:expr) => {
        with_unary!(@arms $op, $alpha, $f, $body, [Neg, Exp, Log, Sqrt, Abs, Sign, Recip, Square, Sin, Cos,
            Sigmoid, Tanh, Relu, LeakyRelu, Elu, Gelu, GeluGrad, Step])
    };
    (@arms $op:expr, $alpha:expr, $f:ident, $body:expr, [$($v:ident),*]) => {
        match $op {
            $(UnaryOp::$v => {
                let alpha: f32 = $alpha;
                let $f = |x: f32| UnaryOp::$v.apply(x, alpha);
                $body
            })*
        }
    };
}

pub fn unary(op: UnaryOp, x: &[f32], alpha: f32) -> Result<Vec<f32>> {
    with_unary!(op, alpha, f => map(x, f))
}

/// `op(x, scalar)`, or `op(scalar, x)` when `scalar_first`.
pub fn binary_scalar(op: BinaryOp, x: &[f32], scalar: f32, scalar_first: bool) -> Result<Vec<f32>> {
    with_binary!(op, f => if scalar_first { map(x, |v| f(scalar, v)) } else { map(x, |v| f(v, scalar)) })
}

/// Applies `f` to every element, on all cores for large inputs.
fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Result<Vec<f32>> {
    // SAFETY: each chunk is written element by element from the equally long input chunk.
    unsafe {
        filled(x.len(), CHUNK, |start, out| {
            write_map(out, &x[start..start + out.len()], &f);
        })
    }
}

#[inline(always)]
fn write_map(out: &mut [MaybeUninit<f32>], x: &[f32], f: &impl Fn(f32) -> f32) {
    out.iter_mut().zip(x).for_each(|(o, &x)| {
        o.write(f(x));
    });
}

#[inline(always)]
fn write_zip(out: &mut [MaybeUninit<f32>], a: &[f32], b: &[f32], f: &impl Fn(f32, f32) -> f32) {
    out.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&a, &b))| {
        o.write(f(a, b));
    });
}

pub fn where_cond(cond: &[f32], a: &[f32], b: &[f32]) -> Result<Vec<f32>> {
    // SAFETY: each chunk is written element by element from equally long input chunks.
    unsafe {
        filled(cond.len(), CHUNK, |s, out| {
            let r = s..s + out.len();
            out.iter_mut().zip(cond[r.clone()].iter().zip(a[r.clone()].iter().zip(&b[r]))).for_each(
                |(o, (&c, (&a, &b)))| {
                    o.write(if c != 0.0 { a } else { b }); // NaN picks `a`, as torch
                },
            );
        })
    }
}

/// `a * b + c`, then `max(·, 0)` when `relu` (as `UnaryOp::Relu`), in one pass.
pub fn mul_add(a: &[f32], b: &[f32], c: &[f32], relu: bool) -> Result<Vec<f32>> {
    let fill = |s: usize, out: &mut [MaybeUninit<f32>]| {
        let r = s..s + out.len();
        let inputs = a[r.clone()].iter().zip(&b[r.clone()]).zip(&c[r]);
        if relu {
            out.iter_mut().zip(inputs).for_each(|(o, ((&a, &b), &c))| {
                o.write(crate::ops::relu(a * b + c));
            });
        } else {
            out.iter_mut().zip(inputs).for_each(|(o, ((&a, &b), &c))| {
                o.write(a * b + c);
            });
        }
    };
    // SAFETY: each chunk is written element by element from equally long input chunks.
    unsafe { filled(a.len(), CHUNK, fill) }
}

/// `op(a, b)` with NumPy broadcasting.
pub fn binary(op: BinaryOp, a: &[f32], a_shape: &Shape, b: &[f32], b_shape: &Shape) -> Result<Vec<f32>> {
    // The kernels below write every output element only when the inputs fill their shapes.
    if a.len() != a_shape.numel() || b.len() != b_shape.numel() {
        let (la, lb) = (a.len(), b.len());
        return Err(Error::shape(
            op.name(),
            format!("{la} and {lb} values do not fill shapes {a_shape:?} and {b_shape:?}"),
        ));
    }
    with_binary!(op, f => broadcast(op, a, a_shape, b, b_shape, f))
}

/// The output is walked row by row (rows of the last dimension), each row reading `a` and `b`
/// with their own strides, so no index is divided per element; contiguous and broadcast-scalar
/// rows get their own loops.
fn broadcast(
    op: BinaryOp,
    a: &[f32],
    a_shape: &Shape,
    b: &[f32],
    b_shape: &Shape,
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> Result<Vec<f32>> {
    if a_shape == b_shape {
        // SAFETY: each chunk is written element by element from equally long input chunks.
        return unsafe { filled(a.len(), CHUNK, |s, out| write_zip(out, &a[s..s + out.len()], &b[s..], &f)) };
    }
    let out_shape = Shape::broadcast(op.name(), a_shape, b_shape)?;
    if b.len() == 1 {
        return map(a, |x| f(x, b[0]));
    }
    if a.len() == 1 {
        return map(b, |y| f(a[0], y));
    }
    let dims = out_shape.dims().to_vec();
    let sa = a_shape.broadcast_strides(&out_shape);
    let sb = b_shape.broadcast_strides(&out_shape);
    let rank = dims.len();
    let row_len = dims[rank - 1];
    if row_len == 0 || out_shape.numel() == 0 {
        return Ok(Vec::new());
    }
    let (ra, rb) = (sa[rank - 1], sb[rank - 1]);
    let fill_row = |row: usize, o: &mut [MaybeUninit<f32>]| {
        let (mut ia, mut ib, mut rem) = (0, 0, row);
        for d in (0..rank - 1).rev() {
            let i = rem % dims[d];
            rem /= dims[d];
            ia += i * sa[d];
            ib += i * sb[d];
        }
        match (ra, rb) {
            (1, 1) => write_zip(o, &a[ia..ia + row_len], &b[ib..ib + row_len], &f),
            (1, 0) => write_map(o, &a[ia..ia + row_len], &|x| f(x, b[ib])),
            (0, 1) => write_map(o, &b[ib..ib + row_len], &|y| f(a[ia], y)),
            _ => o.iter_mut().enumerate().for_each(|(j, o)| {
                o.write(f(a[ia + j * ra], b[ib + j * rb]));
            }),
        }
    };
    let rows_per_chunk = (CHUNK / row_len).max(1);
    // SAFETY: chunks are whole rows, and `fill_row` writes every element of its row.
    unsafe {
        filled(out_shape.numel(), rows_per_chunk * row_len, |s, out| {
            for (r, o) in out.chunks_mut(row_len).enumerate() {
                fill_row(s / row_len + r, o);
            }
        })
    }
}
