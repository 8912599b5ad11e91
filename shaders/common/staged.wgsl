// Reads of tensors staged in textures on CPU-backed drivers (crates/device/src/wgpu/staged.rs):
// element 4 i + c of a staged tensor is channel c of texel i, 4096 texels per texture row.

fn staged_texel(t: texture_storage_2d<rgba32float, read>, i: u32) -> vec4<f32> {
    return textureLoad(t, vec2(i & 4095u, i >> 12u));
}

fn staged_element(t: texture_storage_2d<rgba32float, read>, i: u32) -> f32 {
    return staged_texel(t, i >> 2u)[i & 3u];
}

