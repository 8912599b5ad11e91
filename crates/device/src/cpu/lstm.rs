//! One LSTM time step fused, forward and backward: per unit, the gate activations, the cell
//! update and the output in one pass (instead of a dozen elementwise ops and their gradients).

use crate::{LstmDims, LstmGrad, stable_sigmoid, stable_tanh};

/// Unit `j` of row `r`: its activated gates `[i, f, g, o]` and its previous cell value.
fn unit(gi: &[f32], gh: &[f32], state: &[f32], d: LstmDims, r: usize, j: usize) -> ([f32; 4], f32) {
    let h = d.hidden;
    let pre = |k: usize| gi[(r * 4 + k) * h + j] + gh[(r * 4 + k) * h + j];
    let gates = [stable_sigmoid(pre(0)), stable_sigmoid(pre(1)), stable_tanh(pre(2)), stable_sigmoid(pre(3))];
    (gates, state[(r * 2 + 1) * h + j])
}

/// The next state `[batch, 2 hidden]`: `(h', c')` per row.
pub fn lstm_cell(gi: &[f32], gh: &[f32], state: &[f32], d: LstmDims) -> Vec<f32> {
    let h = d.hidden;
    let mut out = vec![0.0; d.batch * 2 * h];
    for r in 0..d.batch {
        for j in 0..h {
            let ([i, f, g, o], c_prev) = unit(gi, gh, state, d, r, j);
            let c = f * c_prev + i * g;
            out[r * 2 * h + j] = o * stable_tanh(c);
            out[(r * 2 + 1) * h + j] = c;
        }
    }
    out
}

/// The gradient of the gates `[batch, 4 hidden]` or of the previous state `[batch, 2 hidden]`
/// from `grad`, that of the next state.
pub fn lstm_cell_grad(gi: &[f32], gh: &[f32], state: &[f32], grad: &[f32], d: LstmDims, wrt: LstmGrad) -> Vec<f32> {
    let h = d.hidden;
    let width = match wrt {
        LstmGrad::Gates => 4 * h,
        LstmGrad::State => 2 * h,
    };
    let mut out = vec![0.0; d.batch * width];
    for r in 0..d.batch {
        for j in 0..h {
            let ([i, f, g, o], c_prev) = unit(gi, gh, state, d, r, j);
            let tc = stable_tanh(f * c_prev + i * g);
            let (grad_h, grad_c) = (grad[r * 2 * h + j], grad[(r * 2 + 1) * h + j]);
            // Through h' = o tanh(c') as well as directly.
            let gc = grad_c + grad_h * o * (1.0 - tc * tc);
            let row = &mut out[r * width..][..width];
            match wrt {
                LstmGrad::Gates => {
                    row[j] = gc * g * i * (1.0 - i);
                    row[h + j] = gc * c_prev * f * (1.0 - f);
                    row[2 * h + j] = gc * i * (1.0 - g * g);
                    row[3 * h + j] = grad_h * tc * o * (1.0 - o);
                }
                LstmGrad::State => row[h + j] = gc * f,
            }
        }
    }
    out
}
