//! `Gru`: the gated recurrent unit with reset and update gates.

use soma_autograd::Tensor;
use soma_device::Result;

use crate::sequence::recurrent::{Cell, Recurrent, recurrent_layer};

struct GruCell;

impl Cell for GruCell {
    const NAME: &'static str = "Gru";
    const GATES: usize = 3;
    const HAS_CELL: bool = false;
    const FOLDS_HH_BIAS: bool = false;
    /// Gate blocks `r, z, n` (PyTorch's order): `n = tanh(gi_n + r gh_n)`, `h' = n + z (h - n)`,
    /// fused.
    fn step(gi: &Tensor, gh: &Tensor, h: &Tensor) -> Result<Tensor> {
        Tensor::gru_cell(gi, gh, h)
    }
}

/// `nn.GRU(input_size, hidden_size, num_layers, batch_first=True)`. Parameters
/// `weight_ih_l{k} [3 hidden, in]`, `weight_hh_l{k} [3 hidden, hidden]`, `bias_ih_l{k}`, `bias_hh_l{k}`.
pub struct Gru {
    stack: Recurrent<GruCell>,
}

impl Gru {
    /// Runs over `x [batch, time, input]` from `h0 [num_layers, batch, hidden]` (zeros if `None`).
    /// Returns the outputs `[batch, time, hidden]` and the final state `h_n [num_layers, batch, hidden]`.
    pub fn forward_seq(&self, x: &Tensor, h0: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let (out, state) = self.stack.run(x, h0, None)?;
        Ok((out, state.h))
    }
}

recurrent_layer!(Gru);
