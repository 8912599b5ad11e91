//! Batched matmul: the kernel choice, the portable kernels (`shaders/matmul.wgsl`) and the buffer
//! subgroup kernel for lavapipe-like drivers (`shaders/matmul_subgroup.wgsl`); transposes are
//! override constants there, so each of the four combinations is its own specialised pipeline.
//! The texture kernel those drivers use first is in `matmul_texture.rs`.

use bytemuck::{Pod, Zeroable};

use super::alloc;
use super::matmul_texture::{Epilogue, Plan, matmul_texture};
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

/// Threads per workgroup (the shader's `WG` override) and rows per workgroup (fixed in the shader).
const WG: usize = 64;
const TM: usize = 8;

/// On lavapipe-like drivers the texture kernel, or the subgroup kernel where the operands do not
/// fit in textures; the portable kernels elsewhere.
pub(crate) fn matmul(ctx: &WgpuContext, a: &WgpuStorage, b: &WgpuStorage, d: MatmulDims) -> Result<WgpuStorage> {
    if let Some(plan) = matmul_texture_plan(ctx, &d) {
        return matmul_texture(ctx, a, b, d, plan, Epilogue::default());
    }
    if ctx.cpu_subgroups && d.batch * d.m * d.n > 0 {
        return matmul_subgroup(ctx, a, b, d);
    }
    matmul_portable(ctx, a, b, d)
}

/// The texture kernel's plan for `d` on a lavapipe-like driver, where it fits; `None` elsewhere.
pub(crate) fn matmul_texture_plan(ctx: &WgpuContext, d: &MatmulDims) -> Option<Plan> {
    let work = d.batch * d.m * d.n > 0 && d.k > 0;
    (ctx.cpu_subgroups && work).then(|| Plan::new(d, &ctx.limits)).flatten()
}

/// The kernels of `shaders/matmul.wgsl`, for any adapter.
pub(crate) fn matmul_portable(
    ctx: &WgpuContext,
    a: &WgpuStorage,
    b: &WgpuStorage,
    d: MatmulDims,
) -> Result<WgpuStorage> {
    let out = alloc(ctx, || "matmul".into(), d.batch * d.m * d.n)?;
    if out.len == 0 {
        return Ok(out);
    }
    // The vec4 kernels need 16-byte aligned rows of B (and of C for `matmul_vec4`).
    let (entry, columns, slots) = if !d.transpose_b && d.n.is_multiple_of(4) {
        ("matmul_vec4", d.n / 4, [1, 4, 5])
    } else if d.transpose_b && d.k.is_multiple_of(4) && d.k > 0 {
        ("matmul_bt_vec4", d.n, [1, 4, 3])
    } else {
        ("matmul", d.n, [1, 2, 3])
    };
    let kernel = Kernel::new(Shader::Matmul, entry)
        .with("TRANS_A", f64::from(u8::from(d.transpose_a)))
        .with("TRANS_B", f64::from(u8::from(d.transpose_b)))
        .with("WG", WG as f64);
    let bindings = [(slots[0], a), (slots[1], b), (slots[2], &out)];
    dispatch_tiles(ctx, &kernel, &d, columns.div_ceil(WG), d.m.div_ceil(TM), &bindings)?;
    Ok(out)
}

/// Dispatches `cols x rows` tiles per batch entry; grids over the per-dimension limit are split
/// into several dispatches (`row_offset`, `batch_offset`).
fn dispatch_tiles(
    ctx: &WgpuContext,
    kernel: &Kernel,
    d: &MatmulDims,
    cols: usize,
    rows: usize,
    bindings: &[(u32, &WgpuStorage)],
) -> Result<()> {
    let max = ctx.limits.max_compute_workgroups_per_dimension as usize;
    if cols > max {
        return Err(crate::Error::limit("matmul", format!("{} columns need more than {max} workgroups", d.n)));
    }
    // One batch holds every grid: they all write C.
    ctx.record_together(|| {
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
                let groups =
                    [cols as u32, (rows - row_offset).min(max) as u32, (d.batch - batch_offset).min(max) as u32];
                ctx.dispatch(kernel, &params, bindings, groups)?;
            }
        }
        Ok(())
    })
}

/// The tile of `shaders/matmul_subgroup.wgsl`: one 8-lane workgroup computes 64 rows x 64 columns.
const TILE_ROWS: usize = 64;
const TILE_COLS: usize = 64;

/// The kernel for CPU-backed drivers (lavapipe), where every storage load is a loop over the SIMD
/// lanes: subgroup shuffles share A across the lanes, so a 64 x 64 tile costs 16 loads per 512
/// multiply-adds (about 30x faster than `matmul_portable` there). One dispatch covers all of k.
pub(crate) fn matmul_subgroup(
    ctx: &WgpuContext,
    a: &WgpuStorage,
    b: &WgpuStorage,
    d: MatmulDims,
) -> Result<WgpuStorage> {
    if d.k == 0 {
        return super::layout::fill(ctx, "matmul", d.batch * d.m * d.n, 0.0);
    }
    let out = alloc(ctx, || "matmul".into(), d.batch * d.m * d.n)?;
    let kernel = Kernel::new(Shader::MatmulSubgroup, "matmul_subgroup")
        .with("TRANS_A", f64::from(u8::from(d.transpose_a)))
        .with("TRANS_B", f64::from(u8::from(d.transpose_b)));
    let (cols, rows) = (d.n.div_ceil(TILE_COLS), d.m.div_ceil(TILE_ROWS));
    dispatch_tiles(ctx, &kernel, &d, cols, rows, &[(1, a), (2, b), (3, &out)])?;
    Ok(out)
}
