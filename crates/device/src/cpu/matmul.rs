//! Batched matmul on the CPU: the packed AVX2+FMA GEMM (`gemm`) where the CPU has AVX2 and FMA,
//! else (or with `SOMA_CPU_PORTABLE` set) `matrixmultiply`'s blocked, multithreaded SGEMM. Transposes cost nothing: they are strides.

use crate::{MatmulDims, Result};

pub fn matmul(a: &[f32], b: &[f32], d: MatmulDims) -> Result<Vec<f32>> {
    let (m, n, k) = (d.m, d.n, d.k);
    let (rsa, csa) = if d.transpose_a { (1, m) } else { (k, 1) };
    let (rsb, csb) = if d.transpose_b { (1, k) } else { (n, 1) };
    #[cfg(target_arch = "x86_64")]
    if super::simd::has_avx2_fma() && m > 0 && n > 0 && k > 0 {
        use super::gemm::{Operand, gemm};
        let len = d.batch * m * n;
        let mut c = super::pool::take(len)?;
        for (batch, c) in c.spare_capacity_mut()[..len].chunks_exact_mut(m * n).enumerate() {
            let a = Operand { data: &a[batch * m * k..(batch + 1) * m * k], rs: rsa, cs: csa };
            let b = Operand { data: &b[batch * k * n..(batch + 1) * k * n], rs: rsb, cs: csb };
            gemm(m, n, k, a, b, c);
        }
        // SAFETY: `gemm` wrote every element of each batch's m × n block, and the capacity is `len`.
        unsafe { c.set_len(len) };
        return Ok(c);
    }
    let mut c = super::pool::zeroed(d.batch * m * n)?;
    if m == 0 || n == 0 || k == 0 {
        return Ok(c);
    }
    for batch in 0..d.batch {
        let a = &a[batch * m * k..(batch + 1) * m * k];
        let b = &b[batch * k * n..(batch + 1) * k * n];
        let c = &mut c[batch * m * n..(batch + 1) * m * n];
        // SAFETY: the slices hold exactly the m*k, k*n and m*n elements the strides address.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                rsa as isize,
                csa as isize,
                b.as_ptr(),
                rsb as isize,
                csb as isize,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
    }
    Ok(c)
}

/// A linear layer's epilogue on rows of `bias.len()` outputs: `bias` added to every row, then a
/// ReLU when `relu`.
pub fn bias_relu(y: &mut [f32], bias: Option<&[f32]>, relu: bool) {
    match bias {
        Some(bias) if !bias.is_empty() => {
            for row in y.chunks_exact_mut(bias.len()) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v = if relu { crate::ops::relu(*v + b) } else { *v + b };
                }
            }
        }
        _ if relu => y.iter_mut().for_each(|v| *v = crate::ops::relu(*v)),
        _ => {}
    }
}

/// `grad`, or 0 where `out <= 0` (a NaN output passes it, as torch), over rows of `cols`, and the
/// column sums of that.
pub fn relu_backward(grad: &[f32], out: &[f32], cols: usize) -> (Vec<f32>, Vec<f32>) {
    let masked: Vec<f32> = grad.iter().zip(out).map(|(&g, &y)| if y <= 0.0 { 0.0 } else { g }).collect();
    // In f64, as every CPU sum (a bias over millions of rows would stall in f32).
    let mut sums = vec![0.0f64; cols];
    if cols > 0 {
        for row in masked.chunks_exact(cols) {
            sums.iter_mut().zip(row).for_each(|(s, &v)| *s += f64::from(v));
        }
    }
    (masked, sums.into_iter().map(|s| s as f32).collect())
}
