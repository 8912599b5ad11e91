//! Unary, binary (broadcasting and scalar) and random kernels.

use bytemuck::{Pod, Zeroable};

use super::{alloc, collapse, dispatch_staged, dispatch_staged_reading, pack, per_element, per_four, per_vec4};
use crate::random::{Distribution, Sampler};
use crate::wgpu::WgpuStorage;
use crate::wgpu::context::{WgpuContext, static_name};
use crate::wgpu::pipelines::{Kernel, Shader};
use crate::{BinaryOp, Error, MAX_RANK, Result, Shape, UnaryOp};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct UnaryParams {
    n: u32,
    alpha: f32,
    _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct BinaryParams {
    n: u32,
    scalar: f32,
    scalar_first: u32,
    _pad: u32,
    dims: [u32; 8],
    a_strides: [u32; 8],
    b_strides: [u32; 8],
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct RandomParams {
    n: u32,
    keys: [u32; 2],
    _pad0: u32,
    scale: f32,
    shift: f32,
    cap: f32,
    _pad1: u32,
}

pub(crate) fn unary(ctx: &WgpuContext, op: UnaryOp, x: &WgpuStorage, alpha: f32) -> Result<WgpuStorage> {
    let name = || format!("unary {}", op.name());
    let out = alloc(ctx, name, x.len)?;
    let params = UnaryParams { n: x.len as u32, alpha, _pad: [0; 2] };
    let groups = per_vec4(ctx, &name(), x.len)?;
    let kernel = Kernel::new(Shader::Unary, op.entry_point());
    dispatch_staged(ctx, kernel, &params, &[(1, 3, x)], &[(2, &out)], groups)?;
    Ok(out)
}

/// `a * b + c` (then ReLU) over equally long tensors: `mul_add[_relu]` in binary.wgsl.
pub(crate) fn mul_add(
    ctx: &WgpuContext,
    a: &WgpuStorage,
    b: &WgpuStorage,
    c: &WgpuStorage,
    relu: bool,
) -> Result<WgpuStorage> {
    let out = alloc(ctx, || "mul_add".into(), a.len)?;
    let params = BinaryParams::zeroed_with(a.len);
    let groups = per_vec4(ctx, "mul_add", a.len)?;
    let entry = if relu { "mul_add_relu" } else { "mul_add" };
    dispatch_staged(
        ctx,
        Kernel::new(Shader::Binary, entry),
        &params,
        &[(1, 5, a), (2, 6, b), (4, 7, c)],
        &[(3, &out)],
        groups,
    )?;
    Ok(out)
}

fn binary_kernel(op: BinaryOp, entry: &'static str) -> Kernel {
    Kernel::new(Shader::Binary, entry).with("OP", f64::from(op.code()))
}

pub(crate) fn binary(
    ctx: &WgpuContext,
    op: BinaryOp,
    a: &WgpuStorage,
    a_shape: &Shape,
    b: &WgpuStorage,
    b_shape: &Shape,
) -> Result<WgpuStorage> {
    let name = || format!("binary {}", op.name());
    let out_shape = Shape::broadcast(op.name(), a_shape, b_shape)?;
    let n = out_shape.numel();
    let out = alloc(ctx, name, n)?;
    if a_shape == b_shape {
        let params = BinaryParams::zeroed_with(n);
        let groups = per_vec4(ctx, &name(), n)?;
        dispatch_staged(ctx, binary_kernel(op, "binary_same"), &params, &[(1, 5, a), (2, 6, b)], &[(3, &out)], groups)?;
        return Ok(out);
    }
    let sa = a_shape.broadcast_strides(&out_shape);
    let sb = b_shape.broadcast_strides(&out_shape);
    let (dims, strides) = collapse(out_shape.dims(), &[&sa, &sb]);
    if dims.len() > MAX_RANK {
        return Err(Error::limit(
            static_name(name()),
            format!("{a_shape:?} and {b_shape:?} broadcast over more than {MAX_RANK} dimensions"),
        ));
    }
    // The vec4 kernel where the innermost dimension is whole vec4s; there each input's innermost
    // stride is 1 or 0 (a vec4 load, or one element splatted).
    let vec4 =
        dims.last().is_some_and(|d| d.is_multiple_of(4)) && strides.iter().all(|s| s.last().is_some_and(|&s| s <= 1));
    let params = BinaryParams {
        dims: pack(&dims),
        a_strides: pack(&strides[0]),
        b_strides: pack(&strides[1]),
        ..BinaryParams::zeroed_with(n)
    };
    let (entry, groups) = if vec4 {
        ("binary_broadcast4", per_vec4(ctx, &name(), n)?)
    } else {
        ("binary_broadcast", per_four(ctx, &name(), n)?)
    };
    let kernel = binary_kernel(op, entry).with("RANK", dims.len() as f64);
    // Two loads per output element.
    dispatch_staged_reading(ctx, kernel, &params, &[(1, 5, a), (2, 6, b)], &[(3, &out)], groups, 2 * n)?;
    Ok(out)
}

impl BinaryParams {
    fn zeroed_with(n: usize) -> BinaryParams {
        BinaryParams { n: n as u32, ..Zeroable::zeroed() }
    }
}

pub(crate) fn binary_scalar(
    ctx: &WgpuContext,
    op: BinaryOp,
    x: &WgpuStorage,
    scalar: f32,
    scalar_first: bool,
) -> Result<WgpuStorage> {
    let name = || format!("binary {}", op.name());
    let out = alloc(ctx, name, x.len)?;
    let params = BinaryParams { scalar, scalar_first: scalar_first.into(), ..BinaryParams::zeroed_with(x.len) };
    let groups = per_vec4(ctx, &name(), x.len)?;
    dispatch_staged(ctx, binary_kernel(op, "binary_scalar"), &params, &[(1, 5, x)], &[(3, &out)], groups)?;
    Ok(out)
}

pub(crate) fn random(ctx: &WgpuContext, len: usize, distribution: Distribution) -> Result<WgpuStorage> {
    let out = alloc(ctx, || "rand".into(), len)?;
    let s = Sampler::new(distribution);
    let params =
        RandomParams { n: len as u32, keys: s.keys, _pad0: 0, scale: s.scale, shift: s.shift, cap: s.cap, _pad1: 0 };
    let groups = per_element(ctx, "rand", len)?;
    let entry = if s.normal { "rand_normal" } else { "rand_uniform" };
    ctx.dispatch(&Kernel::new(Shader::Random, entry), &params, &[(1, &out)], groups)?;
    Ok(out)
}

/// `Backend::relu_backward` in one pass (`relu_backward` in binary.wgsl) where rows are whole
/// vec4s; `None` where they are not (the caller runs the two ops).
pub(crate) fn relu_backward(
    ctx: &WgpuContext,
    grad: &WgpuStorage,
    out: &WgpuStorage,
    rows: usize,
    cols: usize,
) -> Result<Option<(WgpuStorage, WgpuStorage)>> {
    let threads = cols / 4;
    // One 8-lane subgroup a workgroup on CPU-backed drivers: a 256-wide layer is 8 workgroups, so
    // both cores of the machine this was measured on work (1 workgroup of 64: ~139 -> ~114 us).
    let workgroup = if ctx.cpu_subgroups { 8 } else { 64 };
    let groups = threads.div_ceil(workgroup);
    if !cols.is_multiple_of(4)
        || rows == 0
        || cols == 0
        || groups > ctx.limits.max_compute_workgroups_per_dimension as usize
    {
        return Ok(None);
    }
    let masked = alloc(ctx, || "relu_backward".into(), rows * cols)?;
    let sums = alloc(ctx, || "relu_backward".into(), cols)?;
    let params = BinaryParams::zeroed_with(threads);
    let kernel = Kernel::new(Shader::Binary, "relu_backward").with("RELU_BACKWARD_WG", workgroup as f64);
    let inputs = [(1, 5, grad), (2, 6, out)];
    dispatch_staged(ctx, kernel, &params, &inputs, &[(3, &masked), (8, &sums)], [groups as u32, 1, 1])?;
    Ok(Some((masked, sums)))
}
