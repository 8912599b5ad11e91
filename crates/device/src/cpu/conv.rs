//! im2col and col2im on the CPU: convolution and pooling become matmuls and reductions.

use rayon::prelude::*;

use crate::{Conv2dGeometry, Result};

/// For image `b`, channel `c` and window offset `(ky, kx)`, calls `f(col_index, image_index)`
/// for every output position whose window reads inside the image.
fn for_each_tap(g: &Conv2dGeometry, c: usize, ky: usize, kx: usize, mut f: impl FnMut(usize, usize)) {
    let (oh, ow) = (g.out_h(), g.out_w());
    for oy in 0..oh {
        let y = (oy * g.stride + ky) as isize - g.padding as isize;
        if y < 0 || y >= g.h as isize {
            continue;
        }
        for ox in 0..ow {
            let x = (ox * g.stride + kx) as isize - g.padding as isize;
            if x < 0 || x >= g.w as isize {
                continue;
            }
            f(oy * ow + ox, (c * g.h + y as usize) * g.w + x as usize);
        }
    }
}

pub fn im2col(x: &[f32], g: Conv2dGeometry) -> Result<Vec<f32>> {
    let l = g.out_h() * g.out_w();
    let rows = g.c * g.kernel_h * g.kernel_w;
    let mut out = super::pool::zeroed(g.cols_len())?;
    if out.is_empty() {
        return Ok(out);
    }
    out.par_chunks_mut(rows * l).enumerate().for_each(|(b, cols)| {
        let image = &x[b * g.c * g.h * g.w..(b + 1) * g.c * g.h * g.w];
        for (r, row) in cols.chunks_mut(l).enumerate() {
            let (c, ky, kx) = (r / (g.kernel_h * g.kernel_w), r / g.kernel_w % g.kernel_h, r % g.kernel_w);
            for_each_tap(&g, c, ky, kx, |col, at| row[col] = image[at]);
        }
    });
    Ok(out)
}

pub fn col2im(cols: &[f32], g: Conv2dGeometry) -> Result<Vec<f32>> {
    let l = g.out_h() * g.out_w();
    let rows = g.c * g.kernel_h * g.kernel_w;
    let mut out = super::pool::zeroed(g.n * g.c * g.h * g.w)?;
    if out.is_empty() {
        return Ok(out);
    }
    out.par_chunks_mut(g.c * g.h * g.w).enumerate().for_each(|(b, image)| {
        let cols = &cols[b * rows * l..(b + 1) * rows * l];
        for (r, row) in cols.chunks(l).enumerate() {
            let (c, ky, kx) = (r / (g.kernel_h * g.kernel_w), r / g.kernel_w % g.kernel_h, r % g.kernel_w);
            for_each_tap(&g, c, ky, kx, |col, at| image[at] += row[col]);
        }
    });
    Ok(out)
}
