//! Matmul through textures for lavapipe-like drivers (`shaders/matmul_texture.wgsl`): both operands
//! are copied into Rgba32Float textures (rows whose length is a multiple of 2 KB one to a texture
//! row, `pitched_rows`) and, unless they can be read in place (k-contiguous or k-major), packed
//! into k-contiguous panels; a subgroup kernel then computes 32 x 32 tiles from texel loads.

use bytemuck::{Pod, Zeroable};

use super::alloc;
use crate::wgpu::WgpuStorage;
use crate::wgpu::batch::TextureReads;
use crate::wgpu::context::WgpuContext;
use crate::wgpu::pipelines::{Kernel, Shader};
use crate::wgpu::staged::{PITCH_PAD, pitched_copy, texture_copy};
use crate::wgpu::textures::{give_back, take};
use crate::{MatmulDims, Result};

/// Rows (of A) and columns (of B) per panel, and so per tile of C.
const PANEL: usize = 32;
/// Texels per texture row, at most (a power of two; the texture is a sequence of texels).
const MAX_WIDTH: u32 = 4096;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct PackParams {
    rows: u32,
    k: u32,
    k4: u32,
    panels: u32,
    log2_width: u32,
    last_texel: u32,
    _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    m: u32,
    n: u32,
    k4: u32,
    log2_width_a: u32,
    /// Texel strides of A and of B: per batch, per panel of 32 rows, per 4 steps of k, and per row
    /// (k-contiguous) or per step of k (k-major).
    a: [u32; 4],
    b: [u32; 4],
    log2_width_b: u32,
    /// `EPILOGUE_BIAS` and `EPILOGUE_RELU` bits.
    epilogue: u32,
    _pad: [u32; 2],
}

/// The epilogue bits of `Params` (as in the shader).
const EPILOGUE_BIAS: u32 = 1;
const EPILOGUE_RELU: u32 = 2;

/// The texture sizes and grids of one matmul; `None` when it does not fit the device limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    log2_width: u32,
    k4: usize,
    panels_m: usize,
    panels_n: usize,
    height_a: u32,
    height_b: u32,
    /// Texture rows of the copies of a and b as stored.
    raw_a: u32,
    raw_b: u32,
}

impl Plan {
    pub fn new(d: &MatmulDims, limits: &wgpu::Limits) -> Option<Plan> {
        let max_dim = limits.max_texture_dimension_2d.min(1 << 16);
        let width = MAX_WIDTH.min(max_dim);
        if width == 0 {
            return None;
        }
        let log2_width = 31 - width.leading_zeros();
        let k4 = d.k.div_ceil(4);
        let (panels_m, panels_n) = (d.m.div_ceil(PANEL), d.n.div_ceil(PANEL));
        let max_groups = limits.max_compute_workgroups_per_dimension as usize;
        if [k4, panels_m, panels_n, d.batch].iter().any(|&g| g == 0 || g > max_groups) {
            return None;
        }
        // Texture rows for `texels`, in buckets of powers of two so textures are reused.
        let height = |texels: Option<usize>| -> Option<u32> {
            let rows = u32::try_from(texels?.div_ceil(1 << log2_width).next_power_of_two()).ok()?;
            (rows <= max_dim).then_some(rows)
        };
        let packed = |panels: usize| d.batch.checked_mul(panels)?.checked_mul(k4)?.checked_mul(PANEL);
        // Read in place, a copy is read up to 32 rows past its end (rows of a partial panel).
        let raw = |rows: usize| d.batch.checked_mul(rows)?.checked_add(PANEL)?.checked_mul(d.k.div_ceil(4));
        Some(Plan {
            log2_width,
            k4,
            panels_m,
            panels_n,
            height_a: height(packed(panels_m))?,
            height_b: height(packed(panels_n))?,
            raw_a: height(raw(d.m))?,
            raw_b: height(raw(d.n))?,
        })
    }
}

/// What the kernel does to C before storing it: a linear layer's bias (`n` values added to every
/// row) and ReLU (bits of the kernel's parameters, so every epilogue shares the plain product's
/// pipeline).
#[derive(Clone, Copy, Default)]
pub(crate) struct Epilogue<'a> {
    pub bias: Option<&'a WgpuStorage>,
    pub relu: bool,
}

/// `a · b` as planned (`Plan::new` accepted `d`), then `epilogue`; `d.k > 0` and the output is not
/// empty.
pub(crate) fn matmul_texture(
    ctx: &WgpuContext,
    a: &WgpuStorage,
    b: &WgpuStorage,
    d: MatmulDims,
    plan: Plan,
    epilogue: Epilogue<'_>,
) -> Result<WgpuStorage> {
    let out = alloc(ctx, || "matmul".into(), d.batch * d.m * d.n)?;
    let since = ctx.failed_batches();
    let width = 1 << plan.log2_width;
    let mut views = Vec::with_capacity(2);
    let mut strides = Vec::with_capacity(2);
    let mut textures = Vec::with_capacity(4);
    let mut k_major_reads = [false; 2];
    let mut log2_widths = [plan.log2_width; 2];
    // A is m x k as stored unless transposed; B is read as its transpose, n x k.
    for (operand, (src, raw_height, packed_height, rows, panels, k_major)) in [
        (a, plan.raw_a, plan.height_a, d.m, plan.panels_m, d.transpose_a),
        (b, plan.raw_b, plan.height_b, d.n, plan.panels_n, !d.transpose_b),
    ]
    .into_iter()
    .enumerate()
    {
        let texels = (d.batch * rows * d.k).div_ceil(4);
        let k4 = plan.k4 as u32;
        if let Some(pitched_rows) = pitched_rows(ctx, &d, rows, k_major) {
            // Texel (kq, row) is index `row << 16 | kq`.
            views.push(pitched_copy(ctx, src, k4, pitched_rows, PANEL as u32)?);
            strides.push([(rows as u32) << 16, (PANEL as u32) << 16, 1, 1 << 16]);
            log2_widths[operand] = 16;
            continue;
        }
        let raw_view = texture_copy(ctx, src, width, raw_height)?;
        let in_place = match read_in_place(rows, d.k, k_major) {
            // Texels of 4 steps of k: per batch, panel of 32 rows, texel of k, row.
            Some(false) => Some([rows as u32 * k4, PANEL as u32 * k4, 1, k4]),
            // Texels of 4 rows: per batch, panel, 4 steps of k, step of k.
            Some(true) => Some([rows as u32 * k4, PANEL as u32 / 4, rows as u32, rows as u32 / 4]),
            None => None,
        };
        if let Some(operand_strides) = in_place {
            views.push(raw_view);
            strides.push(operand_strides);
            k_major_reads[operand] = k_major;
            continue;
        }
        let packed = take(ctx, width, packed_height)?;
        let view = packed.create_view(&Default::default());
        let mode = match (k_major, rows.is_multiple_of(4)) {
            (false, _) => 0,
            (true, false) => 1,
            (true, true) => 2,
        };
        let params = PackParams {
            rows: rows as u32,
            k: d.k as u32,
            k4,
            panels: panels as u32,
            log2_width: plan.log2_width,
            last_texel: texels as u32 - 1,
            _pad: [0; 2],
        };
        let row_groups = if mode == 2 { panels.div_ceil(4) } else { panels };
        let groups = [k4, row_groups as u32, d.batch as u32];
        let pack = Kernel::new(Shader::MatmulTexture, "pack")
            .with("MODE", f64::from(mode))
            .with("K_WHOLE", f64::from(u8::from(d.k.is_multiple_of(4))));
        let reads = TextureReads { views: &[(1, &raw_view), (2, &view)], sources: &[src], since };
        ctx.dispatch_with_textures(&pack, &params, &[], reads, groups)?;
        views.push(view);
        strides.push([panels as u32 * k4 * PANEL as u32, k4 * PANEL as u32, PANEL as u32, 1]);
        textures.push(packed);
    }
    let params = Params {
        m: d.m as u32,
        n: d.n as u32,
        k4: plan.k4 as u32,
        log2_width_a: log2_widths[0],
        a: strides[0],
        b: strides[1],
        log2_width_b: log2_widths[1],
        epilogue: if epilogue.bias.is_some() { EPILOGUE_BIAS } else { 0 }
            | if epilogue.relu { EPILOGUE_RELU } else { 0 },
        _pad: [0; 2],
    };
    let groups = [plan.panels_n as u32, plan.panels_m as u32, d.batch as u32];
    let entry = if d.n.is_multiple_of(4) { "matmul_store4" } else { "matmul" };
    let kernel = Kernel::new(Shader::MatmulTexture, entry)
        .with("A_KMAJOR", f64::from(u8::from(k_major_reads[0])))
        .with("B_KMAJOR", f64::from(u8::from(k_major_reads[1])));
    let bias = match epilogue.bias {
        Some(bias) => bias,
        None => placeholder(ctx)?,
    };
    let buffers = [(3, &out), (4, bias)];
    let reads = TextureReads { views: &[(1, &views[0]), (2, &views[1])], sources: &[a, b], since };
    ctx.dispatch_with_textures(&kernel, &params, &buffers, reads, groups)?;
    // Commands run in the order recorded, so a later matmul may reuse the textures at once.
    for texture in textures {
        give_back(&ctx.pool, texture);
    }
    Ok(out)
}

/// The buffer bound in place of an absent bias (never read: `EPILOGUE_BIAS` is off).
fn placeholder(ctx: &WgpuContext) -> Result<&WgpuStorage> {
    if ctx.buffer_placeholder.get().is_none() {
        let buffer = alloc(ctx, || "placeholder".into(), 4)?;
        // Never written, so never invalid: a failed batch that binds it must not mark it.
        buffer.buffer.submitted.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = ctx.buffer_placeholder.set(buffer);
    }
    Ok(ctx.buffer_placeholder.get().expect("set just above"))
}

/// A k-contiguous operand (`rows` x `k` per batch entry) whose rows are a multiple of 2 KB long is
/// read from a `pitched_copy`, one row to a texture row and 64 bytes more apart than their length:
/// read in place as stored, the 32 rows of a panel fall in a few cache sets. On lavapipe, against
/// reading in place: 1024^3 49.5 -> 56.5 GFLOP/s (k = 1000, 1028 or 1040 ran at 59-61 in place);
/// 1024 x 512 x 1024 46-53 -> 53-61. Rows of 1 KB gained 3-8%, less than the extra copy costs
/// where the tensor's other readers want the plain copy (the MNIST MLP's 256-wide layer). The
/// texture rows it takes, or `None` to read it otherwise.
fn pitched_rows(ctx: &WgpuContext, d: &MatmulDims, rows: usize, k_major: bool) -> Option<u32> {
    let max = ctx.limits.max_texture_dimension_2d.min(1 << 16) as usize;
    let all_rows = d.batch.checked_mul(rows)?;
    let height = (all_rows + PANEL).next_multiple_of(64);
    let fits = d.k / 4 + PITCH_PAD as usize <= max && height <= max.min(1 << 15);
    (!k_major && d.k.is_multiple_of(512) && fits).then_some(all_rows as u32)
}

/// How the kernel reads an operand (`rows` x `k`, k-major or not) straight from the copy of its
/// buffer, without packing: `Some(k_major)`, or `None` to pack it. Either way k must be whole
/// texels.
/// - k-contiguous: k below 2048. On lavapipe that was as fast or faster for k = 1024 (1024^3 best
///   50 vs 72 ms) and much faster for the MLP's small products (128 x 256 x 784: 2.0 vs 5.7 ms),
///   but slower for k = 2048 (2048^3: 46 vs 53 GFLOP/s): a step reads 32 rows a whole row apart.
/// - k-major: rows of whole texels. Faster than packing at every size measured (B of a·b: 512^3
///   31 vs 24 GFLOP/s, 1024^3 43 vs 42, 2048^3 53 vs 51).
fn read_in_place(rows: usize, k: usize, k_major: bool) -> Option<bool> {
    if !k.is_multiple_of(4) {
        return None;
    }
    if k_major { rows.is_multiple_of(4).then_some(true) } else { (k < 2048).then_some(false) }
}

#[cfg(test)]
mod tests {
    use super::Plan;
    use crate::MatmulDims;

    fn dims(batch: usize, m: usize, n: usize, k: usize) -> MatmulDims {
        MatmulDims { batch, m, n, k, transpose_a: false, transpose_b: true }
    }

    #[test]
    fn plans_power_of_two_textures_within_the_limits() {
        let limits = wgpu::Limits::default();
        let plan = Plan::new(&dims(1, 1024, 1024, 1024), &limits).unwrap();
        // 32 panels x 256 texels of k x 32 rows = 262,144 texels: 64 rows of 4096.
        assert_eq!((plan.log2_width, plan.k4, plan.panels_m, plan.height_a, plan.height_b), (12, 256, 32, 64, 64));
        let plan = Plan::new(&dims(3, 65, 130, 33), &limits).unwrap();
        assert_eq!((plan.k4, plan.panels_m, plan.panels_n), (9, 3, 5));
        assert_eq!((plan.height_a, plan.height_b), (1, 2));
        // 3 x 65 x 33 = 6435 elements, 1609 texels; 3 x 130 x 33 in 3218.
        assert_eq!((plan.raw_a, plan.raw_b), (1, 1));
    }

    #[test]
    fn declines_what_does_not_fit() {
        let mut limits = wgpu::Limits::default();
        assert_eq!(Plan::new(&dims(1, 1, 1, 4 * 65_536), &limits), None);
        assert_eq!(Plan::new(&dims(1, 0, 5, 5), &limits), None);
        // 64 x 64 texels hold 64 rows of 64 texels of k: one row of 32-row panels and its slack.
        limits.max_texture_dimension_2d = 64;
        assert!(Plan::new(&dims(1, 32, 32, 4 * 64), &limits).is_some());
        assert_eq!(Plan::new(&dims(1, 64, 32, 4 * 64), &limits), None);
    }
}
