//! Fused recurrent cells: one LSTM time step as one op (one kernel forward, two backward).

use soma_device::{Error, LstmDims, Result};

use crate::Tensor;
use crate::op::Op;

impl Tensor {
    /// One LSTM time step: from the gate pre-activations `gi + gh` (`[batch, 4 hidden]`, blocks
    /// i, f, g, o as in PyTorch) and the state `[batch, 2 hidden]` holding `(h, c)` per row, the
    /// next state `(h', c')` with `c' = σ(f) c + σ(i) tanh(g)` and `h' = σ(o) tanh(c')`.
    pub fn lstm_cell(gi: &Tensor, gh: &Tensor, state: &Tensor) -> Result<Tensor> {
        gi.same_device("lstm_cell", gh)?;
        gi.same_device("lstm_cell", state)?;
        let dims = lstm_dims(gi, gh, state)?;
        let storage = gi.device().lstm_cell(gi.storage(), gh.storage(), state.storage(), dims)?;
        Ok(Tensor::from_op(storage, state.shape().clone(), gi.device(), &[gi, gh, state], || Op::LstmCell {
            gi: gi.clone(),
            gh: gh.clone(),
            state: state.clone(),
        }))
    }
}

/// The step's sizes, once `gi` and `gh` are `[batch, 4 hidden]` and `state` is `[batch, 2 hidden]`.
pub(crate) fn lstm_dims(gi: &Tensor, gh: &Tensor, state: &Tensor) -> Result<LstmDims> {
    if let (&[batch, gates], &[rows, width]) = (gi.dims(), state.dims())
        && gates % 4 == 0
        && gh.dims() == gi.dims()
        && rows == batch
        && width * 2 == gates
    {
        return Ok(LstmDims { batch, hidden: gates / 4 });
    }
    Err(Error::shape(
        "lstm_cell",
        format!(
            "needs gates gi and gh [batch, 4 hidden] and a state [batch, 2 hidden], got {:?}, {:?} and {:?}",
            gi.shape(),
            gh.shape(),
            state.shape()
        ),
    ))
}
