//! Kernel inputs staged in textures on CPU-backed drivers (lavapipe): there a storage-buffer load
//! is a loop over the SIMD lanes, while a texture load is a vector gather, so reading 16 MB costs
//! ~15 ms from a buffer but ~3.4 ms from a texture (less again as a read-only storage texture),
//! and the driver's buffer-to-texture copy is a memcpy (~3 ms). Kernels with a `STAGED` override
//! take their inputs through `stage_all`, which binds a placeholder where nothing is staged.

use std::sync::atomic::Ordering;

use super::WgpuStorage;
use super::context::WgpuContext;

/// Texels (vec4s) per texture row: element `4 i + c` of a staged tensor is channel `c` of texel
/// `(i % STAGE_WIDTH, i / STAGE_WIDTH)`. A power of two, so kernels split `i` with a shift.
pub(crate) const STAGE_WIDTH: u32 = 4096;
/// Below this many elements a kernel reads its buffers: the copy's fixed cost outweighs the gain
/// (lavapipe, relu(a + b): staging 1.4x slower at 4K elements, 1.5x faster at 16K, 2x at 64K).
const STAGE_MIN: usize = 1 << 14;
/// Free staging textures kept for reuse, at most this many and this many bytes.
const KEEP_FREE: usize = 8;
const KEEP_FREE_BYTES: u64 = 256 << 20;

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
            let mut free = self.ctx.staging_textures.lock().unwrap_or_else(|p| p.into_inner());
            free.push(texture);
            let bytes = |t: &wgpu::Texture| u64::from(t.width()) * u64::from(t.height()) * 16;
            while free.len() > KEEP_FREE || free.iter().map(bytes).sum::<u64>() > KEEP_FREE_BYTES {
                free.remove(0);
            }
        }
    }
}

/// Records a copy of `x` into a pooled texture, or `None` where textures are not the faster path
/// (a GPU proper) or `x` does not fit the device's texture size.
fn stage<'a>(ctx: &'a WgpuContext, x: &WgpuStorage) -> Option<Staged<'a>> {
    let texels = x.len.div_ceil(4) as u64;
    let max = u64::from(ctx.limits.max_texture_dimension_2d);
    let rows = texels.div_ceil(u64::from(STAGE_WIDTH)).max(1).next_power_of_two();
    let wanted = ctx.texture_reads.load(Ordering::Relaxed) && x.len >= STAGE_MIN;
    if !wanted || u64::from(STAGE_WIDTH) > max || rows > max {
        return None;
    }
    let texture = take(ctx, rows as u32);
    ctx.copy_to_texture(x, &texture, texels);
    Some(Staged { ctx, view: texture.create_view(&Default::default()), texture: Some(texture) })
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

/// Stages every input of `xs` (which are equally long), or none.
pub(crate) fn stage_all<'a>(ctx: &'a WgpuContext, xs: &[&WgpuStorage]) -> StagedInputs<'a> {
    let staged: Option<Vec<Staged>> = xs.iter().map(|x| stage(ctx, x)).collect();
    match staged {
        Some(staged) => StagedInputs::Staged(staged),
        None => StagedInputs::Placeholder(
            ctx.texture_placeholder.get_or_init(|| take_sized(ctx, 1, 1).create_view(&Default::default())).clone(),
        ),
    }
}

fn take(ctx: &WgpuContext, rows: u32) -> wgpu::Texture {
    let mut free = ctx.staging_textures.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = free.iter().position(|t| t.height() == rows) {
        return free.swap_remove(i);
    }
    drop(free);
    take_sized(ctx, STAGE_WIDTH, rows)
}

fn take_sized(ctx: &WgpuContext, width: u32, height: u32) -> wgpu::Texture {
    ctx.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("soma staged input"),
        size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        // Bound as read-only storage textures: on lavapipe an image load measured 1.2-2x faster
        // than a sampled texel fetch.
        usage: wgpu::TextureUsages::COPY_DST | wgpu::TextureUsages::STORAGE_BINDING,
        view_formats: &[],
    })
}
