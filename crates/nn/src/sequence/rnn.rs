//! `Rnn`: the Elman recurrent layer, `h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)`.

use soma_autograd::Tensor;
use soma_device::Result;

use crate::sequence::recurrent::{Cell, Recurrent, recurrent_layer};

struct TanhCell;

impl Cell for TanhCell {
    const NAME: &'static str = "Rnn";
    const GATES: usize = 1;
    const HAS_CELL: bool = false;
    const FOLDS_HH_BIAS: bool = true;
    fn step(gi: &Tensor, gh: &Tensor, _h: &Tensor) -> Result<Tensor> {
        (gi + gh)?.tanh()
    }
}

/// `nn.RNN(input_size, hidden_size, num_layers, batch_first=True)` with tanh. Parameters
/// `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`.
pub struct Rnn {
    stack: Recurrent<TanhCell>,
}

impl Rnn {
    /// Runs over `x [batch, time, input]` from `h0 [num_layers, batch, hidden]` (zeros if `None`).
    /// Returns the outputs `[batch, time, hidden]` and the final state `h_n [num_layers, batch, hidden]`.
    pub fn forward_seq(&self, x: &Tensor, h0: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let (out, state) = self.stack.run(x, h0, None)?;
        Ok((out, state.h))
    }
}

recurrent_layer!(Rnn);
