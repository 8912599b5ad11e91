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

// The layout of `binary_same` and `mul_add` on CPU-backed drivers (their inputs staged): thread
// `t` maps the 4 adjacent vec4s 4 t .. 4 t + 3 of the `n4`, in one straight path that loads all
// four before it stores any, the ones past the end clamped to the last (which the thread then
// computes and stores again, the same value). On lavapipe, relu(a + b) over 4M elements: 3.8 ms
// with one vec4 a thread or 4 a thread 256 apart, 2.9 ms so; a second path for the tail cost as
// much as the layout saved, and a loop over the four (smaller code) saved nothing. The unrolled
// path makes lavapipe take 2-3x as long to compile a pipeline (binary_same 9 -> 22 ms,
// binary_scalar 13 -> 40 ms, paid by every process's first step), so the scalar and unary
// kernels, common in a model's set-up, keep the strided loop. (GPUs keep the strided layout, whose loads coalesce.) Kernels take `n4` from
// `arrayLength` of their output there: Mesa 22.3 inlines a parameter that picks a branch into
// the shader and compiles it again for each of its values.
fn adjacent_vec4s(t: u32, n4: u32) -> vec4<u32> {
    return four_indices(t, n4);
}
