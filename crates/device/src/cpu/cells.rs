//! Recurrent cells fused, forward and backward: one time step of an LSTM or a GRU per unit (the
//! gate activations, the state update and the output) in one pass, instead of a dozen
//! elementwise ops and their gradients. The activations are branch-free over the vectorisable
//! `exp` and each row's blocks are cut to `hidden` values, so the loops compile to SIMD (AVX2
//! where the CPU has it).

use super::fast_exp::exp;
use super::simd::multiversion;
use crate::{CellDims, CellGrad, CellKind, Result};
use rayon::prelude::*;

/// The logistic function, never overflowing: `1 / (1 + e^-|x|)`, mirrored for negative `x`.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    let e = exp(-x.abs());
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 { s } else { e * s }
}

/// `tanh` from `e^-2|x|`, never overflowing; below |x| = 1/8, where `1 - e^-2|x|` cancels (tanh
/// of 1e-8 would be 0), its series, exact there to 2e-9.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let e = exp(-2.0 * a);
    let a2 = a * a;
    let series = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 - a2 * (17.0 / 315.0))));
    (if a < 0.125 { series } else { (1.0 - e) / (1.0 + e) }).copysign(x)
}

/// Row `r` of `x` (`N` blocks of `h` values) as its blocks.
#[inline(always)]
fn blocks<const N: usize>(x: &[f32], r: usize, h: usize) -> [&[f32]; N] {
    let row = &x[r * N * h..][..N * h];
    std::array::from_fn(|k| &row[k * h..][..h])
}

/// From this many units a step's rows are split across threads: a cell does tens of operations
/// per unit, so it pays off far below the plain elementwise ops' threshold.
const PARALLEL_UNITS: usize = 2048;

/// The next state `[batch, state_width * hidden]`.
pub fn step(gi: &[f32], gh: &[f32], state: &[f32], d: CellDims) -> Result<Vec<f32>> {
    let mut out = super::pool::zeroed(d.state_len())?;
    for_rows(&mut out, d.kind.state_width() * d.hidden, d, |r, row| step_row(gi, gh, state, d, r, row));
    Ok(out)
}

/// The gradient `wrt` of the step from `grad`, that of the next state.
pub fn grad(gi: &[f32], gh: &[f32], state: &[f32], grad: &[f32], d: CellDims, wrt: CellGrad) -> Result<Vec<f32>> {
    let width = match wrt {
        CellGrad::Input | CellGrad::Hidden => d.kind.gates() * d.hidden,
        CellGrad::State => d.kind.state_width() * d.hidden,
    };
    let mut out = super::pool::zeroed(d.batch * width)?;
    for_rows(&mut out, width, d, |r, row| grad_row([gi, gh, state, grad], d, wrt, r, row));
    Ok(out)
}

/// Runs `f(r, out_row)` for every row `r` of `out`, on all cores when the step is large.
fn for_rows(out: &mut [f32], width: usize, d: CellDims, f: impl Fn(usize, &mut [f32]) + Sync) {
    if width == 0 {
        return;
    }
    if d.batch * d.hidden >= PARALLEL_UNITS {
        out.par_chunks_mut(width).enumerate().for_each(|(r, row)| f(r, row));
    } else {
        out.chunks_mut(width).enumerate().for_each(|(r, row)| f(r, row));
    }
}

multiversion! {
    /// Row `r` of the next state.
    fn step_row(gi: &[f32], gh: &[f32], state: &[f32], d: CellDims, r: usize, out: &mut [f32]) = step_row_body;
}

#[inline(always)]
fn step_row_body(gi: &[f32], gh: &[f32], state: &[f32], d: CellDims, r: usize, out: &mut [f32]) {
    let h = d.hidden;
    match d.kind {
        CellKind::Lstm => lstm_step(blocks::<4>(gi, r, h), blocks::<4>(gh, r, h), blocks::<2>(state, r, h), out),
        CellKind::Gru => gru_step(blocks::<3>(gi, r, h), blocks::<3>(gh, r, h), &state[r * h..][..h], out),
    }
}

multiversion! {
    /// Row `r` of the gradient `wrt`, from `[gi, gh, state, grad]`.
    fn grad_row(inputs: [&[f32]; 4], d: CellDims, wrt: CellGrad, r: usize, out: &mut [f32]) = grad_row_body;
}

#[inline(always)]
fn grad_row_body([gi, gh, state, grad]: [&[f32]; 4], d: CellDims, wrt: CellGrad, r: usize, out: &mut [f32]) {
    let h = d.hidden;
    match d.kind {
        CellKind::Lstm => {
            let (gi, gh, state, grad) =
                (blocks::<4>(gi, r, h), blocks::<4>(gh, r, h), blocks::<2>(state, r, h), blocks::<2>(grad, r, h));
            lstm_grad(gi, gh, state, grad, wrt, out);
        }
        CellKind::Gru => {
            let (gi, gh) = (blocks::<3>(gi, r, h), blocks::<3>(gh, r, h));
            gru_grad(gi, gh, &state[r * h..][..h], &grad[r * h..][..h], wrt, out);
        }
    }
}

/// LSTM unit `j`'s activated gates `[i, f, g, o]` and next cell value.
#[inline(always)]
fn lstm_unit(gi: &[&[f32]; 4], gh: &[&[f32]; 4], c_prev: f32, j: usize) -> ([f32; 4], f32) {
    let pre = |k: usize| gi[k][j] + gh[k][j];
    let [i, f, g, o] = [sigmoid(pre(0)), sigmoid(pre(1)), tanh(pre(2)), sigmoid(pre(3))];
    ([i, f, g, o], f * c_prev + i * g)
}

#[inline(always)]
fn lstm_step(gi: [&[f32]; 4], gh: [&[f32]; 4], [_, c_prev]: [&[f32]; 2], out: &mut [f32]) {
    let h = c_prev.len();
    let (next_h, next_c) = out.split_at_mut(h);
    for j in 0..h {
        let ([_, _, _, o], c) = lstm_unit(&gi, &gh, c_prev[j], j);
        next_h[j] = o * tanh(c);
        next_c[j] = c;
    }
}

#[inline(always)]
fn lstm_grad(
    gi: [&[f32]; 4],
    gh: [&[f32]; 4],
    [_, c_prev]: [&[f32]; 2],
    [grad_h, grad_c]: [&[f32]; 2],
    wrt: CellGrad,
    out: &mut [f32],
) {
    let h = c_prev.len();
    // The gradient reaching c' (directly and through h' = o tanh(c')), and tanh(c').
    let cell = |j: usize| {
        let (gates, c) = lstm_unit(&gi, &gh, c_prev[j], j);
        let tc = tanh(c);
        (gates, grad_c[j] + grad_h[j] * gates[3] * (1.0 - tc * tc), tc)
    };
    if wrt == CellGrad::State {
        let (zero_h, out_c) = out.split_at_mut(h);
        zero_h.fill(0.0);
        for (j, o) in out_c[..h].iter_mut().enumerate() {
            let ([_, f, _, _], gc, _) = cell(j);
            *o = gc * f;
        }
        return;
    }
    let [out_i, out_f, out_g, out_o]: [&mut [f32]; 4] = split_blocks(out, h);
    for j in 0..h {
        let ([i, f, g, o], gc, tc) = cell(j);
        out_i[j] = gc * g * i * (1.0 - i);
        out_f[j] = gc * c_prev[j] * f * (1.0 - f);
        out_g[j] = gc * i * (1.0 - g * g);
        out_o[j] = grad_h[j] * tc * o * (1.0 - o);
    }
}

/// `out` cut into its first `N` blocks of `h` values.
#[inline(always)]
fn split_blocks<const N: usize>(out: &mut [f32], h: usize) -> [&mut [f32]; N] {
    let mut rest = out;
    std::array::from_fn(|_| {
        let (block, tail) = std::mem::take(&mut rest).split_at_mut(h);
        rest = tail;
        block
    })
}

/// GRU unit `j`'s `[r, z, n]`.
#[inline(always)]
fn gru_unit(gi: &[&[f32]; 3], gh: &[&[f32]; 3], j: usize) -> [f32; 3] {
    let r = sigmoid(gi[0][j] + gh[0][j]);
    let z = sigmoid(gi[1][j] + gh[1][j]);
    [r, z, tanh(gi[2][j] + r * gh[2][j])]
}

#[inline(always)]
fn gru_step(gi: [&[f32]; 3], gh: [&[f32]; 3], h_prev: &[f32], out: &mut [f32]) {
    for (j, (next, &h)) in out.iter_mut().zip(h_prev).enumerate() {
        let [_, z, n] = gru_unit(&gi, &gh, j);
        *next = n + z * (h - n);
    }
}

#[inline(always)]
fn gru_grad(gi: [&[f32]; 3], gh: [&[f32]; 3], h_prev: &[f32], grad: &[f32], wrt: CellGrad, out: &mut [f32]) {
    let h = h_prev.len();
    if wrt == CellGrad::State {
        for (j, o) in out[..h].iter_mut().enumerate() {
            *o = grad[j] * gru_unit(&gi, &gh, j)[1];
        }
        return;
    }
    // gh's n block enters as r gh_n: its gradient is gi_n's scaled by r.
    let scale_n = wrt == CellGrad::Hidden;
    let [out_r, out_z, out_n]: [&mut [f32]; 3] = split_blocks(out, h);
    for j in 0..h {
        let [r, z, n] = gru_unit(&gi, &gh, j);
        let g = grad[j];
        let dn = g * (1.0 - z) * (1.0 - n * n);
        out_r[j] = dn * gh[2][j] * r * (1.0 - r);
        out_z[j] = g * (h_prev[j] - n) * z * (1.0 - z);
        out_n[j] = if scale_n { dn * r } else { dn };
    }
}
