//! One LSTM time step fused, forward and backward: per unit, the gate activations, the cell
//! update and the output in one pass (instead of a dozen elementwise ops and their gradients).
//! The activations are branch-free over the vectorisable `exp`, so each row's loop compiles to SIMD.

use super::fast_exp::exp;
use crate::{LstmDims, LstmGrad};

/// The logistic function, never overflowing: `1 / (1 + e^-|x|)`, mirrored for negative `x`.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    let e = exp(-x.abs());
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 { s } else { e * s }
}

/// `tanh` from `e^-2|x|`, never overflowing.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let e = exp(-2.0 * x.abs());
    ((1.0 - e) / (1.0 + e)).copysign(x)
}

/// One row's operands, each cut to `hidden` values per block.
struct Row<'a> {
    /// Pre-activations of the gates i, f, g, o: `gi + gh`, block by block.
    gi: [&'a [f32]; 4],
    gh: [&'a [f32]; 4],
    c_prev: &'a [f32],
}

impl<'a> Row<'a> {
    fn new(gi: &'a [f32], gh: &'a [f32], state: &'a [f32], d: LstmDims, r: usize) -> Row<'a> {
        let h = d.hidden;
        let block = |x: &'a [f32], k: usize| &x[(r * 4 + k) * h..][..h];
        Row {
            gi: [0, 1, 2, 3].map(|k| block(gi, k)),
            gh: [0, 1, 2, 3].map(|k| block(gh, k)),
            c_prev: &state[(r * 2 + 1) * h..][..h],
        }
    }

    /// Unit `j`'s activated gates `[i, f, g, o]`, previous and next cell value.
    #[inline(always)]
    fn unit(&self, j: usize) -> ([f32; 4], f32, f32) {
        let pre = |k: usize| self.gi[k][j] + self.gh[k][j];
        let gates = [sigmoid(pre(0)), sigmoid(pre(1)), tanh(pre(2)), sigmoid(pre(3))];
        let c_prev = self.c_prev[j];
        (gates, c_prev, gates[1] * c_prev + gates[0] * gates[2])
    }
}

/// The next state `[batch, 2 hidden]`: `(h', c')` per row.
pub fn lstm_cell(gi: &[f32], gh: &[f32], state: &[f32], d: LstmDims) -> Vec<f32> {
    let h = d.hidden;
    if h == 0 {
        return Vec::new();
    }
    let mut out = vec![0.0; d.batch * 2 * h];
    for (r, next) in out.chunks_exact_mut(2 * h).enumerate() {
        let row = Row::new(gi, gh, state, d, r);
        let (next_h, next_c) = next.split_at_mut(h);
        for j in 0..h {
            let ([_, _, _, o], _, c) = row.unit(j);
            next_h[j] = o * tanh(c);
            next_c[j] = c;
        }
    }
    out
}

/// The gradient of the gates `[batch, 4 hidden]` or of the previous state `[batch, 2 hidden]`
/// from `grad`, that of the next state.
pub fn lstm_cell_grad(gi: &[f32], gh: &[f32], state: &[f32], grad: &[f32], d: LstmDims, wrt: LstmGrad) -> Vec<f32> {
    let h = d.hidden;
    if h == 0 {
        return Vec::new();
    }
    let width = match wrt {
        LstmGrad::Gates => 4 * h,
        LstmGrad::State => 2 * h,
    };
    let mut out = vec![0.0; d.batch * width];
    for (r, row_out) in out.chunks_exact_mut(width).enumerate() {
        let row = Row::new(gi, gh, state, d, r);
        let (grad_h, grad_c) = (&grad[r * 2 * h..][..h], &grad[(r * 2 + 1) * h..][..h]);
        for j in 0..h {
            let ([i, f, g, o], c_prev, c) = row.unit(j);
            let tc = tanh(c);
            // Through h' = o tanh(c') as well as directly.
            let gc = grad_c[j] + grad_h[j] * o * (1.0 - tc * tc);
            match wrt {
                LstmGrad::Gates => {
                    row_out[j] = gc * g * i * (1.0 - i);
                    row_out[h + j] = gc * c_prev * f * (1.0 - f);
                    row_out[2 * h + j] = gc * i * (1.0 - g * g);
                    row_out[3 * h + j] = grad_h[j] * tc * o * (1.0 - o);
                }
                LstmGrad::State => row_out[h + j] = gc * f,
            }
        }
    }
    out
}
