//! `Rnn`: the Elman recurrent layer, `h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)`.

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Result};

use crate::sequence::recurrent::{Cell, Recurrent};
use crate::{Module, Param};

struct TanhCell;

impl Cell for TanhCell {
    const NAME: &'static str = "Rnn";
    const GATES: usize = 1;
    const HAS_CELL: bool = false;
    fn step(
        gi: &Tensor,
        gh: &Tensor,
        _h: &Tensor,
        _c: Option<&Tensor>,
        _hidden: usize,
    ) -> Result<(Tensor, Option<Tensor>)> {
        Ok(((gi + gh)?.tanh()?, None))
    }
}

/// `nn.RNN(input_size, hidden_size, num_layers, batch_first=True)` with tanh. Parameters
/// `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`.
pub struct Rnn {
    stack: Recurrent<TanhCell>,
}

impl Rnn {
    /// One layer.
    pub fn new(input_size: usize, hidden_size: usize, device: &Device, rng: &mut Rng) -> Result<Rnn> {
        Rnn::stacked(input_size, hidden_size, 1, device, rng)
    }
    /// `num_layers` layers, each reading the previous one's outputs.
    pub fn stacked(
        input_size: usize,
        hidden_size: usize,
        num_layers: usize,
        device: &Device,
        rng: &mut Rng,
    ) -> Result<Rnn> {
        Ok(Rnn { stack: Recurrent::new(input_size, hidden_size, num_layers, device, rng)? })
    }
    /// Runs over `x [batch, time, input]` from `h0 [num_layers, batch, hidden]` (zeros if `None`).
    /// Returns the outputs `[batch, time, hidden]` and the final state `h_n [num_layers, batch, hidden]`.
    pub fn forward_seq(&self, x: &Tensor, h0: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        let (out, state) = self.stack.run(x, h0, None)?;
        Ok((out, state.h))
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

impl Module for Rnn {
    /// The outputs `[batch, time, hidden]` from a zero state.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.forward_seq(x, None)?.0)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.stack.visit_params(prefix, f)
    }
}
