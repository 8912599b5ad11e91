// Memory access shaped for CPU-backed drivers (lavapipe), where a storage-buffer access is a loop
// over the SIMD lanes. Reads of tensors staged in textures (crates/device/src/wgpu/staged.rs):
// element 4 i + c of a staged tensor is channel c of texel i, 4096 texels per texture row.

fn staged_texel(t: texture_storage_2d<rgba32float, read>, i: u32) -> vec4<f32> {
    return textureLoad(t, vec2(i & 4095u, i >> 12u));
}

fn staged_element(t: texture_storage_2d<rgba32float, read>, i: u32) -> f32 {
    return staged_texel(t, i >> 2u)[i & 3u];
}

// The output elements 4 t .. 4 t + 3 of a thread that computes elements one by one but stores them
// as one vec4 (less than half the cost of 4 scalar stores there); past the end of `n` elements, the
// last one again, so nothing outside the inputs is read (bindings are rounded up to whole vec4s).
fn four_indices(t: u32, n: u32) -> vec4<u32> {
    return min(4u * t + vec4(0u, 1u, 2u, 3u), vec4(n - 1u));
}
