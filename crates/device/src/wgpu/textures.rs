//! The Rgba32Float textures that kernels on CPU-backed drivers read their operands from (staged
//! inputs, the texture matmul's operands), reused by size: at most `KEEP_FREE` free textures and
//! `KEEP_FREE_BYTES` are kept.

use super::context::{WgpuContext, checked_create};
use super::pool::Pool;
use crate::Result;

/// Free textures kept for reuse: a training step's tensors keep their copies until they are
/// dropped together at its end (an MLP step returns ~25), and the next step takes them again.
const KEEP_FREE: usize = 64;
/// Bytes of free textures kept, at most.
const KEEP_FREE_BYTES: u64 = 256 << 20;

/// A free `width x height` texture, or a new one. Kernels bind them as read-only storage textures:
/// on lavapipe an image load measured 1.2-2x faster than a sampled texel fetch.
pub(crate) fn take(ctx: &WgpuContext, width: u32, height: u32) -> Result<wgpu::Texture> {
    let mut free = ctx.pool.textures.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(i) = free.iter().position(|t| t.width() == width && t.height() == height) {
        return Ok(free.swap_remove(i));
    }
    drop(free);
    let what = || format!("an operand texture of {width} x {height} texels");
    checked_create(&ctx.device, what, || {
        ctx.device.create_texture(&wgpu::TextureDescriptor {
            label: Some("soma operand texture"),
            size: wgpu::Extent3d { width, height, depth_or_array_layers: 1 },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba32Float,
            usage: wgpu::TextureUsages::COPY_DST
                | wgpu::TextureUsages::STORAGE_BINDING
                | wgpu::TextureUsages::TEXTURE_BINDING,
            view_formats: &[],
        })
    })
}

/// Returns a texture to the pool. Commands recorded before this run first, so a later command may
/// reuse it at once.
pub(crate) fn give_back(pool: &Pool, texture: wgpu::Texture) {
    let bytes = |t: &wgpu::Texture| u64::from(t.width()) * u64::from(t.height()) * 16;
    let mut free = pool.textures.lock().unwrap_or_else(|p| p.into_inner());
    free.push(texture);
    while free.len() > KEEP_FREE || free.iter().map(bytes).sum::<u64>() > KEEP_FREE_BYTES {
        free.remove(0);
    }
}
