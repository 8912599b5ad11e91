//! Host side of `lstm.wgsl`: one LSTM time step and its gradients, one thread per unit.

use super::super::WgpuStorage;
use super::super::context::WgpuContext;
use super::super::pipelines::{Kernel, Shader};
use super::{alloc, per_element};
use crate::{LstmDims, LstmGrad, Result};

/// Mirrors `Params` in lstm.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LstmParams {
    batch: u32,
    hidden: u32,
    _pad: [u32; 2],
}

/// The next state (`grad: None`), or the gradient `wrt` given the next state's `grad`.
pub(crate) fn lstm_cell(
    ctx: &WgpuContext,
    [gi, gh, state]: [&WgpuStorage; 3],
    grad: Option<(&WgpuStorage, LstmGrad)>,
    d: LstmDims,
) -> Result<WgpuStorage> {
    let (entry, width) = match grad {
        None => ("lstm_cell", 2),
        Some((_, LstmGrad::Gates)) => ("lstm_grad_gates", 4),
        Some((_, LstmGrad::State)) => ("lstm_grad_state", 2),
    };
    let out = alloc(ctx, || entry.into(), d.batch * width * d.hidden)?;
    let units = d.batch * d.hidden;
    if units == 0 {
        return Ok(out);
    }
    let params = LstmParams { batch: d.batch as u32, hidden: d.hidden as u32, _pad: [0; 2] };
    let mut bindings = vec![(1, gi), (2, gh), (3, state), (4, &out)];
    bindings.extend(grad.map(|(g, _)| (5, g)));
    ctx.dispatch(&Kernel::new(Shader::Lstm, entry), &params, &bindings, per_element(ctx, entry, units)?)?;
    Ok(out)
}
