//! Kernel inputs staged in textures on CPU-backed drivers (lavapipe): there a storage-buffer load
//! is a loop over the SIMD lanes, while a texel fetch is a vector gather, so reading 16 MB costs
//! ~15 ms from a buffer but ~3.4 ms from a texture, and the driver's buffer-to-texture copy is a
//! memcpy (~3 ms). Read-heavy kernels (softmax) take their input through `stage`.

use std::sync::atomic::Ordering;

use super::WgpuStorage;
use super::context::WgpuContext;

/// Texels (vec4s) per texture row: element `4 i + c` of a staged tensor is channel `c` of texel
/// `(i % STAGE_WIDTH, i / STAGE_WIDTH)`. A power of two, so kernels split `i` with a shift.
pub(crate) const STAGE_WIDTH: u32 = 4096;
/// Free staging textures kept for reuse.
const KEEP_FREE: usize = 8;

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
            if free.len() == KEEP_FREE {
                free.remove(0);
            }
            free.push(texture);
        }
    }
}

/// Records a copy of `x` into a pooled texture, or `None` where textures are not the faster path
/// (a GPU proper) or `x` does not fit the device's texture size.
pub(crate) fn stage<'a>(ctx: &'a WgpuContext, x: &WgpuStorage) -> Option<Staged<'a>> {
    let texels = x.len.div_ceil(4) as u64;
    let max = u64::from(ctx.limits.max_texture_dimension_2d);
    let rows = texels.div_ceil(u64::from(STAGE_WIDTH)).max(1).next_power_of_two();
    if !ctx.texture_reads.load(Ordering::Relaxed) || u64::from(STAGE_WIDTH) > max || rows > max {
        return None;
    }
    let texture = take(ctx, rows as u32);
    ctx.copy_to_texture(x, &texture, texels);
    Some(Staged { ctx, view: texture.create_view(&Default::default()), texture: Some(texture) })
}

fn take(ctx: &WgpuContext, rows: u32) -> wgpu::Texture {
    let mut free = ctx.staging_textures.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = free.iter().position(|t| t.height() == rows) {
        return free.swap_remove(i);
    }
    drop(free);
    ctx.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("soma staged input"),
        size: wgpu::Extent3d { width: STAGE_WIDTH, height: rows, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::COPY_DST | wgpu::TextureUsages::TEXTURE_BINDING,
        view_formats: &[],
    })
}
