//! The AVX2+FMA GEMM microkernel: a 6×16 tile of C from packed panels of A and B.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Rows of A per packed micro-panel.
pub const MR: usize = 6;
/// Columns of B per packed micro-panel.
pub const NR: usize = 16;

/// Where the microkernel writes: the `rows × cols` block of C at `ptr` (rows ≤ MR, cols ≤ NR),
/// row stride `ldc`. `accumulate` adds to the block (later slices of k); otherwise the block is
/// overwritten, so it may start uninitialised (the first slice).
#[derive(Clone, Copy)]
pub struct Tile {
    pub ptr: *mut f32,
    pub ldc: usize,
    pub rows: usize,
    pub cols: usize,
    pub accumulate: bool,
}

/// `C[0..rows, 0..cols] (+)= A_panel · B_panel` over `kc` steps, where the A panel holds `MR`
/// values per step and the B panel `NR` values per step.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a` must hold `kc * MR` and `b` `kc * NR` readable values,
/// and `c` must address its block, initialised where `c.accumulate`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn kernel(kc: usize, a: *const f32, b: *const f32, c: Tile) {
    // SAFETY (whole body): every pointer offset stays inside the extents the caller guarantees.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 2]; MR];
        let (mut a, mut b) = (a, b);
        for _ in 0..kc {
            let b0 = _mm256_loadu_ps(b);
            let b1 = _mm256_loadu_ps(b.add(8));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*a.add(i));
                row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
            }
            a = a.add(MR);
            b = b.add(NR);
        }
        if c.rows == MR && c.cols == NR {
            for (i, row) in acc.iter_mut().enumerate() {
                let out = c.ptr.add(i * c.ldc);
                if c.accumulate {
                    row[0] = _mm256_add_ps(_mm256_loadu_ps(out), row[0]);
                    row[1] = _mm256_add_ps(_mm256_loadu_ps(out.add(8)), row[1]);
                }
                _mm256_storeu_ps(out, row[0]);
                _mm256_storeu_ps(out.add(8), row[1]);
            }
        } else {
            let mut tile = [0.0f32; MR * NR];
            for (i, row) in acc.iter().enumerate() {
                _mm256_storeu_ps(tile.as_mut_ptr().add(i * NR), row[0]);
                _mm256_storeu_ps(tile.as_mut_ptr().add(i * NR + 8), row[1]);
            }
            for i in 0..c.rows {
                for j in 0..c.cols {
                    let out = c.ptr.add(i * c.ldc + j);
                    *out = if c.accumulate { *out + tile[i * NR + j] } else { tile[i * NR + j] };
                }
            }
        }
    }
}
