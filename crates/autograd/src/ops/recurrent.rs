//! Fused recurrent cells: one LSTM or GRU time step as one op (one kernel forward, one per
//! gradient backward).

use soma_device::{CellDims, CellKind, Error, Result};

use crate::Tensor;
use crate::op::Op;

impl Tensor {
    /// One LSTM time step: from the gate pre-activations `gi + gh` (`[batch, 4 hidden]`, blocks
    /// i, f, g, o as in PyTorch) and the state `[batch, 2 hidden]` holding `(h, c)` per row, the
    /// next state `(h', c')` with `c' = σ(f) c + σ(i) tanh(g)` and `h' = σ(o) tanh(c')`.
    pub fn lstm_cell(gi: &Tensor, gh: &Tensor, state: &Tensor) -> Result<Tensor> {
        Tensor::cell(CellKind::Lstm, gi, gh, state)
    }

    /// One GRU time step: from the input and hidden projections `gi`, `gh` (`[batch, 3 hidden]`,
    /// blocks r, z, n as in PyTorch, `gh` with its bias) and `h [batch, hidden]`, the next `h'`:
    /// `r = σ(gi_r + gh_r)`, `z = σ(gi_z + gh_z)`, `n = tanh(gi_n + r gh_n)`, `h' = (1 - z) n + z h`.
    pub fn gru_cell(gi: &Tensor, gh: &Tensor, h: &Tensor) -> Result<Tensor> {
        Tensor::cell(CellKind::Gru, gi, gh, h)
    }

    fn cell(kind: CellKind, gi: &Tensor, gh: &Tensor, state: &Tensor) -> Result<Tensor> {
        gi.same_device(kind.name(), gh)?;
        gi.same_device(kind.name(), state)?;
        let dims = cell_dims(kind, gi, gh, state)?;
        let storage = gi.device().cell_step(gi.storage(), gh.storage(), state.storage(), dims)?;
        Ok(Tensor::from_op(storage, state.shape().clone(), gi.device(), &[gi, gh, state], || Op::Cell {
            kind,
            gi: gi.clone(),
            gh: gh.clone(),
            state: state.clone(),
        }))
    }
}

/// The step's sizes, once `gi` and `gh` are `[batch, gates * hidden]` and `state` is
/// `[batch, state_width * hidden]`.
pub(crate) fn cell_dims(kind: CellKind, gi: &Tensor, gh: &Tensor, state: &Tensor) -> Result<CellDims> {
    let (gates, width) = (kind.gates(), kind.state_width());
    if let (&[batch, gate_cols], &[rows, state_cols]) = (gi.dims(), state.dims())
        && gate_cols % gates == 0
        && gh.dims() == gi.dims()
        && rows == batch
        && state_cols * gates == gate_cols * width
    {
        return Ok(CellDims { kind, batch, hidden: gate_cols / gates });
    }
    Err(Error::shape(
        kind.name(),
        format!(
            "needs gates gi and gh [batch, {gates} hidden] and a state [batch, {}], got {:?}, {:?} and {:?}",
            if width == 1 { "hidden".to_string() } else { format!("{width} hidden") },
            gi.shape(),
            gh.shape(),
            state.shape()
        ),
    ))
}
