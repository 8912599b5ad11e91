//! Batched matmul (`shaders/matmul.wgsl`); transposes are override constants, so each of the four
//! combinations is its own specialised pipeline.

use bytemuck::{Pod, Zeroable};

use super::alloc;
use crate::wgpu::WgpuStorage;
use crate::wgpu::context::WgpuContext;
use crate::wgpu::pipelines::{Kernel, Shader};
use crate::{MatmulDims, Result};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    row_offset: u32,
    batch_offset: u32,
    _pad: [u32; 3],
}

/// Threads per workgroup, rows per workgroup, columns per thread (the shader's overrides).
const WG: u32 = 64;
const TM: u32 = 8;
const TN: u32 = 1;

pub(crate) fn matmul(ctx: &WgpuContext, a: &WgpuStorage, b: &WgpuStorage, d: MatmulDims) -> Result<WgpuStorage> {
    let out = alloc(ctx, || "matmul".into(), d.batch * d.m * d.n)?;
    if out.len == 0 {
        return Ok(out);
    }
    let kernel = Kernel::new(Shader::Matmul, "matmul")
        .with("TRANS_A", f64::from(u8::from(d.transpose_a)))
        .with("TRANS_B", f64::from(u8::from(d.transpose_b)))
        .with("WG", f64::from(WG))
        .with("TM", f64::from(TM))
        .with("TN", f64::from(TN));
    let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
    let cols = (d.n as u64).div_ceil(u64::from(WG * TN)) as usize;
    let rows = d.m.div_ceil(TM as usize);
    if cols > max {
        return Err(crate::Error::limit("matmul", format!("{} columns need more than {max} workgroups", d.n)));
    }
    // Grids over the per-dimension limit are split into several dispatches.
    for batch_offset in (0..d.batch).step_by(max) {
        for row_offset in (0..rows).step_by(max) {
            let params = MatmulParams {
                m: d.m as u32,
                n: d.n as u32,
                k: d.k as u32,
                row_offset: row_offset as u32,
                batch_offset: batch_offset as u32,
                _pad: [0; 3],
            };
            let groups = [cols as u32, (rows - row_offset).min(max) as u32, (d.batch - batch_offset).min(max) as u32];
            ctx.dispatch(&kernel, &params, &[(1, a), (2, b), (3, &out)], groups)?;
        }
    }
    Ok(out)
}
