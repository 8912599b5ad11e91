//! Kernel inputs staged in textures on CPU-backed drivers (lavapipe): there a storage-buffer load
//! is a loop over the SIMD lanes, while a texture load is a vector gather, so reading 16 MB costs
//! ~15 ms from a buffer but 1-2 ms from a read-only storage texture, and the driver's
//! buffer-to-texture copy is a memcpy (1.4-1.9 ms). Kernels with a `STAGED` override
//! take their inputs through `stage_all`, which binds a placeholder where nothing is staged. A
//! tensor is copied at most once (`texture_copy`): the copy lives as long as its buffer.

use std::sync::atomic::Ordering;

use super::context::WgpuContext;
use super::{WgpuStorage, textures};
use crate::Result;

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

/// The texture rows a copy of `x` takes, or `None` where `x` does not fit the device's texture size.
fn staged_rows(ctx: &WgpuContext, x: &WgpuStorage) -> Option<u32> {
    let max = u64::from(ctx.limits.max_texture_dimension_2d);
    let rows = (x.len.div_ceil(4) as u64).div_ceil(u64::from(STAGE_WIDTH)).max(1).next_power_of_two();
    (u64::from(STAGE_WIDTH) <= max && rows <= max).then_some(rows as u32)
}

/// Whether `x` already has a texture copy of `width` x at least `rows` texels.
fn has_copy(x: &WgpuStorage, width: u32, rows: u32) -> bool {
    let copy = x.buffer.texture_copy.lock().unwrap_or_else(|p| p.into_inner());
    copy.as_ref().is_some_and(|t| t.width() == width && t.height() >= rows)
}

/// A view of a texture of `width` x at least `rows` texels holding `x` (4 elements a texel, row
/// after row): the copy an earlier kernel made, or a new one recorded now and kept with `x`'s
/// buffer for later kernels (a layer's input is read by its forward and its backward).
pub(crate) fn texture_copy(ctx: &WgpuContext, x: &WgpuStorage, width: u32, rows: u32) -> Result<wgpu::TextureView> {
    cached_copy(ctx, x, (width, rows), x.len.div_ceil(4) as u64, width)
}

/// Texels of padding after each row of a `pitched_copy`: 64 bytes, so rows whose length is a multiple
/// of 1 KB do not all fall in the same cache sets.
pub(crate) const PITCH_PAD: u32 = 4;

/// A view of a copy of `x`, a matrix of `rows` rows of `row_texels` texels, one row to a texture row
/// of `row_texels + PITCH_PAD` texels and `slack` more rows at the end (read, never used, by a
/// kernel working in blocks). The row length must be a multiple of 256 bytes (a copy's row pitch).
/// Kept with `x`'s buffer like `texture_copy`'s copies (their widths are powers of two and these
/// never are, so a cached copy's width tells its layout).
pub(crate) fn pitched_copy(
    ctx: &WgpuContext,
    x: &WgpuStorage,
    row_texels: u32,
    rows: u32,
    slack: u32,
) -> Result<wgpu::TextureView> {
    let size = (row_texels + PITCH_PAD, (rows + slack).next_multiple_of(64));
    cached_copy(ctx, x, size, u64::from(rows) * u64::from(row_texels), row_texels)
}

/// `x`'s copy in a texture of `size` (width, and height at least), or a new one of `texels` texels
/// of `x`, `row_texels` to a texture row, replacing the copy `x` had.
fn cached_copy(
    ctx: &WgpuContext,
    x: &WgpuStorage,
    size: (u32, u32),
    texels: u64,
    row_texels: u32,
) -> Result<wgpu::TextureView> {
    let (width, height) = size;
    let slot = || x.buffer.texture_copy.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(texture) = slot().as_ref().filter(|t| t.width() == width && t.height() >= height) {
        return Ok(texture.create_view(&Default::default()));
    }
    // The slot is not held while the copy is recorded, which takes the batch lock and then sets
    // the slot (the order of a failed flush, which clears slots): two threads may both copy, and
    // the later copy is kept. The copy replaced is dropped, not pooled: a kernel recorded (or about
    // to be, on another thread) may still read it, and a pooled texture is soon written again.
    let texture = textures::take(ctx, width, height)?;
    ctx.copy_to_texture(x, &texture, texels, u64::from(row_texels));
    Ok(texture.create_view(&Default::default()))
}

/// Inputs of a kernel with a `STAGED` override: texture copies of every input, or (on GPUs, or when
/// one does not fit) none, with a 1x1 placeholder to bind in their place.
pub(crate) enum StagedInputs {
    Staged(Vec<wgpu::TextureView>),
    Placeholder(wgpu::TextureView),
}

impl StagedInputs {
    /// The `STAGED` override constant.
    pub fn flag(&self) -> f64 {
        f64::from(u8::from(matches!(self, StagedInputs::Staged(_))))
    }
    /// The view to bind for input `i`.
    pub fn view(&self, i: usize) -> &wgpu::TextureView {
        match self {
            StagedInputs::Staged(views) => &views[i],
            StagedInputs::Placeholder(view) => view,
        }
    }
}

/// Stages every input of `xs`, or none (then no copy is recorded), for a kernel that loads `reads`
/// elements of them, counting repeats: none on a GPU proper, when it loads few, when the copies it
/// would make (inputs without one already) are much larger than what it loads (a time step cut from
/// a sequence), or when one does not fit a texture. A bias added to a batch of rows is loaded once
/// per row, so it is staged with the batch.
pub(crate) fn stage_all(ctx: &WgpuContext, xs: &[&WgpuStorage], reads: usize) -> Result<StagedInputs> {
    let rows: Option<Vec<u32>> = xs.iter().map(|x| staged_rows(ctx, x)).collect();
    let copied: usize = match &rows {
        Some(rows) => xs.iter().zip(rows).filter(|&(x, &r)| !has_copy(x, STAGE_WIDTH, r)).map(|(x, _)| x.len).sum(),
        None => 0,
    };
    let wanted = ctx.texture_reads.load(Ordering::Relaxed) && reads >= STAGE_MIN && copied <= STAGE_RATIO * reads;
    match rows.filter(|_| wanted) {
        Some(rows) => Ok(StagedInputs::Staged(
            xs.iter().zip(rows).map(|(x, r)| texture_copy(ctx, x, STAGE_WIDTH, r)).collect::<Result<_>>()?,
        )),
        None => {
            let placeholder = match ctx.texture_placeholder.get() {
                Some(view) => view.clone(),
                None => {
                    let view = textures::take(ctx, 1, 1)?.create_view(&Default::default());
                    ctx.texture_placeholder.get_or_init(|| view).clone()
                }
            };
            Ok(StagedInputs::Placeholder(placeholder))
        }
    }
}
