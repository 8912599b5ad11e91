//! Kernel inputs staged in textures on CPU-backed drivers (lavapipe): there a storage-buffer load
//! is a loop over the SIMD lanes, while a texture load is a vector gather, so reading 16 MB costs
//! ~15 ms from a buffer but 1-2 ms from a read-only storage texture, and the driver's
//! buffer-to-texture copy is a memcpy (1.4-1.9 ms). Kernels with a `STAGED` override
//! take their inputs through `stage_all`, which binds a placeholder where nothing is staged.

use std::sync::atomic::Ordering;

use super::context::WgpuContext;
use super::{WgpuStorage, textures};

/// Texels (vec4s) per texture row: element `4 i + c` of a staged tensor is channel `c` of texel
/// `(i % STAGE_WIDTH, i / STAGE_WIDTH)`. A power of two, so kernels split `i` with a shift
/// (`shaders/common/access.wgsl`).
pub(crate) const STAGE_WIDTH: u32 = 4096;
/// When a kernel loads fewer elements from its inputs, it reads its buffers: the copies' fixed cost
/// outweighs the gain (lavapipe, relu(a + b), 2 loads an element: staging 1.4x slower at 4K
/// elements, 1.5x faster at 16K, 2x at 64K).
const STAGE_MIN: usize = 1 << 14;
/// Copies larger than this many times the elements a kernel loads cost more than loading from the
/// buffers: on lavapipe a copy takes ~0.4 ns an element and a buffer load ~3 ns more than a texel
/// fetch, so the break-even is near 8; 4 leaves room for each copy's fixed cost. (48 narrows
/// [32, 48, 512] -> [32, 512]: 11.3 ms staged, 5.3-6.6 ms from the buffer.)
const STAGE_RATIO: usize = 4;

/// A texture holding a copy of a tensor, returned to the pool when dropped (commands that read it
/// hold their own view, so it stays alive until they have run).
pub(crate) struct Staged<'a> {
    ctx: &'a WgpuContext,
    texture: Option<wgpu::Texture>,
    pub view: wgpu::TextureView,
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if let Some(texture) = self.texture.take() {
            textures::give_back(self.ctx, texture);
        }
    }
}

/// The texture rows a copy of `x` takes, or `None` where `x` does not fit the device's texture size.
fn staged_rows(ctx: &WgpuContext, x: &WgpuStorage) -> Option<u32> {
    let max = u64::from(ctx.limits.max_texture_dimension_2d);
    let rows = (x.len.div_ceil(4) as u64).div_ceil(u64::from(STAGE_WIDTH)).max(1).next_power_of_two();
    (u64::from(STAGE_WIDTH) <= max && rows <= max).then_some(rows as u32)
}

/// Records a copy of `x` into a pooled texture of `rows` rows.
fn stage<'a>(ctx: &'a WgpuContext, x: &WgpuStorage, rows: u32) -> Staged<'a> {
    let texture = textures::take(ctx, STAGE_WIDTH, rows);
    ctx.copy_to_texture(x, &texture, x.len.div_ceil(4) as u64);
    Staged { ctx, view: texture.create_view(&Default::default()), texture: Some(texture) }
}

/// Inputs of a kernel with a `STAGED` override: texture copies of every input, or (on GPUs, or when
/// one does not fit) none, with a 1x1 placeholder to bind in their place.
pub(crate) enum StagedInputs<'a> {
    Staged(Vec<Staged<'a>>),
    Placeholder(wgpu::TextureView),
}

impl StagedInputs<'_> {
    /// The `STAGED` override constant.
    pub fn flag(&self) -> f64 {
        f64::from(u8::from(matches!(self, StagedInputs::Staged(_))))
    }
    /// The view to bind for input `i`.
    pub fn view(&self, i: usize) -> &wgpu::TextureView {
        match self {
            StagedInputs::Staged(staged) => &staged[i].view,
            StagedInputs::Placeholder(view) => view,
        }
    }
}

/// Stages every input of `xs`, or none (then no copy is recorded), for a kernel that loads `reads`
/// elements of them, counting repeats: none on a GPU proper, when it loads few, when the copies
/// would be much larger than what it loads (a time step cut from a sequence), or when one does
/// not fit a texture. A bias added to a batch of rows is loaded once per row, so it is staged with
/// the batch.
pub(crate) fn stage_all<'a>(ctx: &'a WgpuContext, xs: &[&WgpuStorage], reads: usize) -> StagedInputs<'a> {
    let copied: usize = xs.iter().map(|x| x.len).sum();
    let wanted = ctx.texture_reads.load(Ordering::Relaxed) && reads >= STAGE_MIN && copied <= STAGE_RATIO * reads;
    let rows: Option<Vec<u32>> = xs.iter().map(|x| staged_rows(ctx, x).filter(|_| wanted)).collect();
    match rows {
        Some(rows) => StagedInputs::Staged(xs.iter().zip(rows).map(|(x, rows)| stage(ctx, x, rows)).collect()),
        None => StagedInputs::Placeholder(
            ctx.texture_placeholder.get_or_init(|| textures::take(ctx, 1, 1).create_view(&Default::default())).clone(),
        ),
    }
}
