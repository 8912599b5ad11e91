//! im2col / col2im (`shaders/conv.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{alloc, dispatch_staged, dispatch_staged_reading, per_element};
use crate::wgpu::WgpuStorage;
use crate::wgpu::context::WgpuContext;
use crate::wgpu::pipelines::{Kernel, Shader};
use crate::{Conv2dGeometry, Result};

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct ConvParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    kh: u32,
    kw: u32,
    padding: u32,
    oh: u32,
    ow: u32,
    total: u32,
    _pad: [u32; 2],
}

impl ConvParams {
    fn new(g: Conv2dGeometry, total: usize) -> ConvParams {
        ConvParams {
            n: g.n as u32,
            c: g.c as u32,
            h: g.h as u32,
            w: g.w as u32,
            kh: g.kernel_h as u32,
            kw: g.kernel_w as u32,
            padding: g.padding as u32,
            oh: g.out_h() as u32,
            ow: g.out_w() as u32,
            total: total as u32,
            _pad: [0; 2],
        }
    }
}

pub(crate) fn im2col(ctx: &WgpuContext, x: &WgpuStorage, g: Conv2dGeometry) -> Result<WgpuStorage> {
    let out = alloc(ctx, || "im2col".into(), g.cols_len())?;
    // One thread per row of output pixels of one (image, channel, ky, kx).
    let rows = g.n * g.c * g.kernel_h * g.kernel_w * g.out_h();
    let groups = per_element(ctx, "im2col", rows)?;
    // Each input element is loaded by up to kh * kw output columns.
    let (kernel, params) = (conv_kernel("im2col", g), ConvParams::new(g, rows));
    dispatch_staged_reading(ctx, kernel, &params, &[(1, 3, x)], &[(2, &out)], groups, g.cols_len())?;
    Ok(out)
}

pub(crate) fn col2im(ctx: &WgpuContext, cols: &WgpuStorage, g: Conv2dGeometry) -> Result<WgpuStorage> {
    let total = g.n * g.c * g.h * g.w;
    let out = alloc(ctx, || "col2im".into(), total)?;
    let groups = per_element(ctx, "col2im", total)?;
    dispatch_staged(ctx, conv_kernel("col2im", g), &ConvParams::new(g, total), &[(1, 3, cols)], &[(2, &out)], groups)?;
    Ok(out)
}

/// The entry point compiled for the geometry's stride.
fn conv_kernel(entry: &'static str, g: Conv2dGeometry) -> Kernel {
    Kernel::new(Shader::Conv, entry).with("STRIDE", g.stride as f64)
}
