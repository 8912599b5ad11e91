//! Host side of `cells.wgsl`: one LSTM or GRU time step and its gradients, one thread per unit.

use super::super::WgpuStorage;
use super::super::context::WgpuContext;
use super::super::pipelines::{Kernel, Shader};
use super::{alloc, per_element};
use crate::{CellDims, CellGrad, CellKind, Result};

/// Mirrors `Params` in cells.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct CellParams {
    batch: u32,
    hidden: u32,
    _pad: [u32; 2],
}

/// The next state (`grad: None`), or the gradient `wrt` given the next state's `grad`.
pub(crate) fn cell(
    ctx: &WgpuContext,
    [gi, gh, state]: [&WgpuStorage; 3],
    grad: Option<(&WgpuStorage, CellGrad)>,
    d: CellDims,
) -> Result<WgpuStorage> {
    let (entry, len) = match (d.kind, grad.map(|(_, wrt)| wrt)) {
        (CellKind::Lstm, None) => ("lstm_cell", d.state_len()),
        (CellKind::Lstm, Some(CellGrad::Input | CellGrad::Hidden)) => ("lstm_grad_gates", d.gates_len()),
        (CellKind::Lstm, Some(CellGrad::State)) => ("lstm_grad_state", d.state_len()),
        (CellKind::Gru, None) => ("gru_cell", d.state_len()),
        (CellKind::Gru, Some(CellGrad::Input | CellGrad::Hidden)) => ("gru_grad_gates", d.gates_len()),
        (CellKind::Gru, Some(CellGrad::State)) => ("gru_grad_state", d.state_len()),
    };
    let out = alloc(ctx, || entry.into(), len)?;
    let units = d.batch * d.hidden;
    if units == 0 {
        return Ok(out);
    }
    let params = CellParams { batch: d.batch as u32, hidden: d.hidden as u32, _pad: [0; 2] };
    let mut bindings = vec![(1, gi), (2, gh), (3, state), (4, &out)];
    bindings.extend(grad.map(|(g, _)| (5, g)));
    let mut kernel = Kernel::new(Shader::Cells, entry);
    if entry == "gru_grad_gates" {
        let hidden = grad.is_some_and(|(_, wrt)| wrt == CellGrad::Hidden);
        kernel = kernel.with("HIDDEN", f64::from(u8::from(hidden)));
    }
    ctx.dispatch(&kernel, &params, &bindings, per_element(ctx, entry, units)?)?;
    Ok(out)
}
