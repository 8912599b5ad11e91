//! Host side of the kernels: one module per family builds the `Params` (mirroring the WGSL
//! struct), checks sizes against the device limits, and records the dispatches.

pub(crate) mod cells;
pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod layout;
pub(crate) mod matmul;
pub(crate) mod matmul_texture;
pub(crate) mod optim;
pub(crate) mod reduce;

use super::WgpuStorage;
use super::batch::TextureReads;
use super::context::WgpuContext;
use super::pipelines::Kernel;
use super::staged::stage_all;
use crate::{MAX_RANK, Result};

/// Threads per workgroup of the one-thread-per-element kernels.
pub(crate) const WORKGROUP: u64 = 256;

/// An uninitialised output of `len` f32s (the kernel writes every element), checked against the
/// device limits first.
pub(crate) fn alloc(ctx: &WgpuContext, op: impl Fn() -> String, len: usize) -> Result<WgpuStorage> {
    ctx.check_len(&op, len)?;
    Ok(WgpuStorage { buffer: ctx.pool.alloc(op, (len as u64 * 4).max(4))?, len })
}

/// vec4s per thread of the vec4 elementwise kernels (`VPT` in unary.wgsl and binary.wgsl).
pub(crate) const VEC4_PER_THREAD: u64 = 4;

/// The grid of the vec4 elementwise kernels: `WORKGROUP * VEC4_PER_THREAD` vec4s per workgroup.
pub(crate) fn per_vec4(ctx: &WgpuContext, op: &str, n: usize) -> Result<[u32; 3]> {
    ctx.grid(op, (n as u64).div_ceil(4).div_ceil(WORKGROUP * VEC4_PER_THREAD))
}

/// The grid for one thread per element.
pub(crate) fn per_element(ctx: &WgpuContext, op: &str, n: usize) -> Result<[u32; 3]> {
    ctx.grid(op, (n as u64).div_ceil(WORKGROUP))
}

/// The grid for one thread per 4 elements (kernels that compute elements one by one but store
/// them as a vec4).
pub(crate) fn per_four(ctx: &WgpuContext, op: &str, n: usize) -> Result<[u32; 3]> {
    per_element(ctx, op, n.div_ceil(4))
}

/// Packs up to `MAX_RANK` values into the `array<vec4<u32>, 2>` of a WGSL params struct.
pub(crate) fn pack(values: &[usize]) -> [u32; 8] {
    debug_assert!(values.len() <= MAX_RANK);
    let mut out = [0u32; 8];
    for (o, &v) in out.iter_mut().zip(values) {
        *o = v as u32;
    }
    out
}

/// Drops dimensions of size 1 and merges neighbours that are contiguous in every operand
/// (`stride[d] == stride[d + 1] * dim[d + 1]`), so kernels index as few dimensions as possible.
pub(crate) fn collapse(dims: &[usize], strides: &[&[usize]]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let mut out_dims: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<usize>> = vec![Vec::new(); strides.len()];
    for (d, &dim) in dims.iter().enumerate() {
        if dim == 1 {
            continue;
        }
        let mergeable =
            !out_dims.is_empty() && strides.iter().zip(&out_strides).all(|(s, o)| *o.last().unwrap() == s[d] * dim);
        if mergeable {
            *out_dims.last_mut().unwrap() *= dim;
            for (s, o) in strides.iter().zip(out_strides.iter_mut()) {
                *o.last_mut().unwrap() = s[d];
            }
        } else {
            out_dims.push(dim);
            for (s, o) in strides.iter().zip(out_strides.iter_mut()) {
                o.push(s[d]);
            }
        }
    }
    (out_dims, out_strides)
}

/// Dispatches a kernel with a `STAGED` override: each input `(buffer slot, texture slot, storage)`
/// is bound as a buffer and, at its texture slot, as a staged copy where `staged::stage_all`
/// makes them (then `STAGED` is true), or as the placeholder; `others` (outputs, and inputs read
/// only as buffers) are bound as they are.
/// The kernel is taken to load each element of its inputs once.
pub(crate) fn dispatch_staged<P: bytemuck::Pod>(
    ctx: &WgpuContext,
    kernel: Kernel,
    params: &P,
    inputs: &[(u32, u32, &WgpuStorage)],
    others: &[(u32, &WgpuStorage)],
    groups: [u32; 3],
) -> Result<()> {
    let reads = inputs.iter().map(|&(_, _, x)| x.len).sum();
    dispatch_staged_reading(ctx, kernel, params, inputs, others, groups, reads)
}

/// `dispatch_staged` for a kernel that loads `reads` elements of its inputs, counting repeats (a
/// view of a large tensor loads only its part; a broadcast input is loaded once per use).
pub(crate) fn dispatch_staged_reading<P: bytemuck::Pod>(
    ctx: &WgpuContext,
    kernel: Kernel,
    params: &P,
    inputs: &[(u32, u32, &WgpuStorage)],
    others: &[(u32, &WgpuStorage)],
    groups: [u32; 3],
    reads: usize,
) -> Result<()> {
    let xs: Vec<&WgpuStorage> = inputs.iter().map(|&(_, _, x)| x).collect();
    let since = ctx.failed_batches();
    let staged = stage_all(ctx, &xs, reads)?;
    let buffers: Vec<(u32, &WgpuStorage)> =
        inputs.iter().map(|&(slot, _, x)| (slot, x)).chain(others.iter().copied()).collect();
    let views: Vec<(u32, &wgpu::TextureView)> =
        inputs.iter().enumerate().map(|(i, &(_, slot, _))| (slot, staged.view(i))).collect();
    // The inputs are bound as buffers too, so the batch's checks see them.
    let reads = TextureReads { views: &views, sources: &[], since };
    ctx.dispatch_with_textures(&kernel.with("STAGED", staged.flag()), params, &buffers, reads, groups)
}

#[cfg(test)]
mod tests {
    use super::collapse;

    #[test]
    fn collapse_merges_contiguous_dims() {
        let (d, s) = collapse(&[2, 3, 4], &[&[12, 4, 1], &[0, 0, 1]]);
        assert_eq!(d, vec![6, 4]);
        assert_eq!(s, vec![vec![4, 1], vec![0, 1]]);
        let (d, s) = collapse(&[2, 1, 4], &[&[4, 4, 1]]);
        assert_eq!(d, vec![8]);
        assert_eq!(s, vec![vec![1]]);
    }
}
