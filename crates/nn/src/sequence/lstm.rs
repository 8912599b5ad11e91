//! `Lstm`: the long short-term memory layer with input, forget, cell and output gates.

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Error, Result};

use crate::sequence::recurrent::{Cell, Recurrent, gate};
use crate::{Module, Param};

struct LstmCell;

impl Cell for LstmCell {
    const NAME: &'static str = "Lstm";
    const GATES: usize = 4;
    const HAS_CELL: bool = true;
    /// Gate blocks `i, f, g, o` (PyTorch's order): `c' = f c + i g`, `h' = o tanh(c')`.
    fn step(
        gi: &Tensor,
        gh: &Tensor,
        _h: &Tensor,
        c: Option<&Tensor>,
        hidden: usize,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let c = c.ok_or_else(|| Error::invalid("Lstm", "the cell state is missing"))?;
        let gates = (gi + gh)?;
        let i = gate(&gates, 0, hidden)?.sigmoid()?;
        let f = gate(&gates, 1, hidden)?.sigmoid()?;
        let g = gate(&gates, 2, hidden)?.tanh()?;
        let o = gate(&gates, 3, hidden)?.sigmoid()?;
        let c_next = (&(&f * c)? + &(&i * &g)?)?;
        let h_next = (&o * &c_next.tanh()?)?;
        Ok((h_next, Some(c_next)))
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
    /// One layer.
    pub fn new(input_size: usize, hidden_size: usize, device: &Device, rng: &mut Rng) -> Result<Lstm> {
        Lstm::stacked(input_size, hidden_size, 1, device, rng)
    }
    /// `num_layers` layers, each reading the previous one's outputs.
    pub fn stacked(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        device: &Device,
        rng: &mut Rng,
    ) -> Result<Lstm> {
        Ok(Lstm { stack: Recurrent::new(input_size, hidden_size, num_layers, device, rng)? })
    }
    /// Runs over `x [batch, time, input]` from `state` (zeros if `None`). Returns the outputs
    /// `[batch, time, hidden]` and the final state.
    pub fn forward_seq(&self, x: &Tensor, state: Option<&LstmState>) -> Result<(Tensor, LstmState)> {
        let (out, last) = self.stack.run(x, state.map(|s| &s.h), state.map(|s| &s.c))?;
        let c = last.c.ok_or_else(|| Error::invalid("Lstm", "the cell state is missing"))?;
        Ok((out, LstmState { h: last.h, c }))
    }
    pub fn input_size(&self) -> usize {
        self.stack.input_size()
    }
    pub fn hidden_size(&self) -> usize {
        self.stack.hidden_size()
    }
    pub fn num_layers(&self) -> usize {
        self.stack.num_layers()
    }
}

impl Module for Lstm {
    /// The outputs `[batch, time, hidden]` from a zero state.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_seq(x, None)?.0)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.stack.visit_params(prefix, f)
    }
}
