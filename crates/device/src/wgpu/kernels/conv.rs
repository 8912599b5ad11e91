//! im2col / col2im (`shaders/conv.wgsl`).

use bytemuck::{Pod, Zeroable};

use super::{alloc, per_element};
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
    stride: u32,
    padding: u32,
    oh: u32,
    ow: u32,
    total: u32,
    _pad: u32,
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
            stride: g.stride as u32,
            padding: g.padding as u32,
            oh: g.out_h() as u32,
            ow: g.out_w() as u32,
            total: total as u32,
            _pad: 0,
        }
    }
}

pub(crate) fn im2col(ctx: &WgpuContext, x: &WgpuStorage, g: Conv2dGeometry) -> Result<WgpuStorage> {
    let total = g.cols_len();
    let out = alloc(ctx, || "im2col".into(), total)?;
    let groups = per_element(ctx, "im2col", total)?;
    ctx.dispatch(&Kernel::new(Shader::Conv, "im2col"), &ConvParams::new(g, total), &[(1, x), (2, &out)], groups)?;
    Ok(out)
}

pub(crate) fn col2im(ctx: &WgpuContext, cols: &WgpuStorage, g: Conv2dGeometry) -> Result<WgpuStorage> {
    let total = g.n * g.c * g.h * g.w;
    let out = alloc(ctx, || "col2im".into(), total)?;
    let groups = per_element(ctx, "col2im", total)?;
    ctx.dispatch(&Kernel::new(Shader::Conv, "col2im"), &ConvParams::new(g, total), &[(1, cols), (2, &out)], groups)?;
    Ok(out)
}
