//! `Lstm`: the long short-term memory layer with input, forget, cell and output gates.

use soma_autograd::Tensor;
use soma_device::{Error, Result};

use crate::sequence::recurrent::{Cell, Recurrent, recurrent_layer};

struct LstmCell;

impl Cell for LstmCell {
    const NAME: &'static str = "Lstm";
    const GATES: usize = 4;
    const HAS_CELL: bool = true;
    const FOLDS_HH_BIAS: bool = true;
    /// Gate blocks `i, f, g, o` (PyTorch's order): `c' = f c + i g`, `h' = o tanh(c')`, fused.
    fn step(gi: &Tensor, gh: &Tensor, state: &Tensor) -> Result<Tensor> {
        Tensor::lstm_cell(gi, gh, state)
    }
}

/// An LSTM's state: `h` and `c`, each `[num_layers, batch, hidden]`.
#[derive(Clone, Debug)]
pub struct LstmState {
    pub h: Tensor,
    pub c: Tensor,
}

impl LstmState {
    /// A state cut from the graph (truncated backpropagation through time).
    pub fn detach(&self) -> LstmState {
        LstmState { h: self.h.detach(), c: self.c.detach() }
    }
}

/// `nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)`. Parameters
/// `weight_ih_l{k} [4 hidden, in]`, `weight_hh_l{k} [4 hidden, hidden]`, `bias_ih_l{k}`, `bias_hh_l{k}`.
pub struct Lstm {
    stack: Recurrent<LstmCell>,
}

impl Lstm {
    /// Runs over `x [batch, time, input]` from `state` (zeros if `None`). Returns the outputs
    /// `[batch, time, hidden]` and the final state.
    pub fn forward_seq(&self, x: &Tensor, state: Option<&LstmState>) -> Result<(Tensor, LstmState)> {
        let (out, last) = self.stack.run(x, state.map(|s| &s.h), state.map(|s| &s.c))?;
        let c = last.c.ok_or_else(|| Error::invalid("Lstm", "the cell state is missing"))?;
        Ok((out, LstmState { h: last.h, c }))
    }
}

recurrent_layer!(Lstm);
