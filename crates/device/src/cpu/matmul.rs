//! Batched matmul on the CPU through `matrixmultiply`'s blocked, multithreaded SGEMM.
//! Transposes cost nothing: they are passed as strides.

use crate::MatmulDims;

pub fn matmul(a: &[f32], b: &[f32], d: MatmulDims) -> Vec<f32> {
    let (m, n, k) = (d.m, d.n, d.k);
    let mut c = vec![0.0f32; d.batch * m * n];
    if m == 0 || n == 0 {
        return c;
    }
    let (rsa, csa) = if d.transpose_a { (1, m) } else { (k, 1) };
    let (rsb, csb) = if d.transpose_b { (1, k) } else { (n, 1) };
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
    c
}
