//! Row softmax and log-softmax on the CPU: rows in parallel, each in three vectorised passes
//! (maximum, exp and sum with the fast `exp`, scale), written into a fresh, unzeroed buffer.

use std::mem::MaybeUninit;

use super::fast_exp::exp;
use super::fill::filled;
use super::simd::multiversion;
use crate::Result;

/// Lanes of independent partial maxima and sums, so the passes vectorise.
const LANES: usize = 16;

/// Row softmax: subtract the row maximum before exponentiating, so ±1e4 logits stay finite.
pub fn softmax(x: &[f32], rows: usize, cols: usize, log: bool) -> Result<Vec<f32>> {
    if cols == 0 {
        return Ok(Vec::new());
    }
    let rows_per_chunk = (8192 / cols).max(1);
    // SAFETY: chunks are whole rows, and `row` writes every element of its row.
    unsafe {
        filled(rows * cols, rows_per_chunk * cols, |start, out| {
            for (r, dst) in out.chunks_mut(cols).enumerate() {
                let at = start + r * cols;
                row(&x[at..at + cols], dst, log);
            }
        })
    }
}

multiversion! { fn row_portable(src: &[f32], dst: &mut [MaybeUninit<f32>], log: bool) = row_body; }

/// One row, with the AVX2 kernel where the CPU has it (the `exp` there fuses its multiply-adds).
fn row(src: &[f32], dst: &mut [MaybeUninit<f32>], log: bool) {
    #[cfg(target_arch = "x86_64")]
    if !log && super::simd::has_avx2_fma() {
        // SAFETY: AVX2 and FMA were detected; `dst` is as long as `src`.
        return unsafe { avx2::softmax_row(src, dst) };
    }
    row_portable(src, dst, log)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::super::fast_exp::{exp, exp8_nonpositive};

    /// Softmax of one row in three passes of 8-float vectors: maximum, `exp` (stored) and its sum,
    /// then the scaling, which reads the row back from L1.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA, and `dst` must be as long as `src`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn softmax_row(src: &[f32], dst: &mut [MaybeUninit<f32>]) {
        let n = src.len();
        let whole = n / 8 * 8;
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr().cast::<f32>());
        // SAFETY (whole body): offsets below `whole` address full vectors inside both rows; the
        // tails are indexed by slice.
        unsafe {
            // `max_ps` returns its second operand unless the first is greater, so a NaN is skipped,
            // as `f32::max` does. Four running maxima: one waited on `max_ps`'s latency at every
            // vector (a fifth of the row's time on one thread).
            let mut max4 = [_mm256_set1_ps(f32::NEG_INFINITY); 4];
            let mut i = 0;
            while i + 32 <= whole {
                for (j, m) in max4.iter_mut().enumerate() {
                    *m = _mm256_max_ps(_mm256_loadu_ps(s.add(i + 8 * j)), *m);
                }
                i += 32;
            }
            while i < whole {
                max4[0] = _mm256_max_ps(_mm256_loadu_ps(s.add(i)), max4[0]);
                i += 8;
            }
            let max8 = _mm256_max_ps(_mm256_max_ps(max4[0], max4[1]), _mm256_max_ps(max4[2], max4[3]));
            let mut lanes = [0.0f32; 8];
            _mm256_storeu_ps(lanes.as_mut_ptr(), max8);
            let max = lanes.iter().chain(&src[whole..]).fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
            let max8 = _mm256_set1_ps(max);
            let (mut sum_a, mut sum_b) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut i = 0;
            while i + 16 <= whole {
                let ea = exp8_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(s.add(i)), max8));
                let eb = exp8_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(s.add(i + 8)), max8));
                _mm256_storeu_ps(d.add(i), ea);
                _mm256_storeu_ps(d.add(i + 8), eb);
                sum_a = _mm256_add_ps(sum_a, ea);
                sum_b = _mm256_add_ps(sum_b, eb);
                i += 16;
            }
            if i < whole {
                let e = exp8_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(s.add(i)), max8));
                _mm256_storeu_ps(d.add(i), e);
                sum_a = _mm256_add_ps(sum_a, e);
            }
            _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(sum_a, sum_b));
            let mut sum: f32 = lanes.iter().sum();
            for (o, &v) in dst[whole..].iter_mut().zip(&src[whole..]) {
                sum += *o.write(exp(v - max));
            }
            let inv = 1.0 / sum;
            let inv8 = _mm256_set1_ps(inv);
            for i in (0..whole).step_by(8) {
                _mm256_storeu_ps(d.add(i), _mm256_mul_ps(_mm256_loadu_ps(d.add(i)), inv8));
            }
            for o in &mut dst[whole..] {
                let v = o.assume_init_read();
                o.write(v * inv);
            }
        }
    }
}

/// Writes every element of `dst` (as long as `src`).
#[inline(always)]
fn row_body(src: &[f32], dst: &mut [MaybeUninit<f32>], log: bool) {
    let max = row_max(src);
    if log {
        // (s - max) - log_sum: adding max to the log-sum would lose its low bits for large logits.
        let log_sum = exp_sum(src, max).ln();
        dst.iter_mut().zip(src).for_each(|(d, &s)| {
            d.write((s - max) - log_sum);
        });
        return;
    }
    let mut acc = [0.0f32; LANES];
    let mut chunks = src.chunks_exact(LANES);
    let mut out = dst.chunks_exact_mut(LANES);
    for (s, d) in (&mut chunks).zip(&mut out) {
        for ((a, d), &s) in acc.iter_mut().zip(d.iter_mut()).zip(s) {
            *a += *d.write(exp(s - max));
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (d, &s) in out.into_remainder().iter_mut().zip(chunks.remainder()) {
        sum += *d.write(exp(s - max));
    }
    let inv = 1.0 / sum;
    dst.iter_mut().for_each(|d| {
        // SAFETY: the loops above wrote every element.
        let v = unsafe { d.assume_init_read() };
        d.write(v * inv);
    });
}

/// The sum of `exp(s - max)` over the row, in independent lanes.
#[inline(always)]
fn exp_sum(src: &[f32], max: f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut chunks = src.chunks_exact(LANES);
    for s in &mut chunks {
        for (a, &s) in acc.iter_mut().zip(s) {
            *a += exp(s - max);
        }
    }
    chunks.remainder().iter().fold(acc.iter().sum::<f32>(), |sum, &s| sum + exp(s - max))
}

/// The row maximum, skipping NaNs as `f32::max` does.
#[inline(always)]
fn row_max(src: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut chunks = src.chunks_exact(LANES);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = if v > *a { v } else { *a };
        }
    }
    chunks.remainder().iter().chain(&acc).fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 rows (every length mod 8, huge and tiny logits) agree with a float64 softmax.
    #[test]
    fn rows_match_reference() {
        for cols in (1..=40).chain([1000, 1024, 1031]) {
            let x: Vec<f32> = (0..3 * cols)
                .map(|i| match i % 13 {
                    0 => 1e4,
                    1 => -1e4,
                    _ => ((i * 7919) % 1013) as f32 / 50.0 - 10.0,
                })
                .collect();
            let got = softmax(&x, 3, cols, false).unwrap();
            for (row, out) in x.chunks(cols).zip(got.chunks(cols)) {
                let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
                let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
                for (&v, &o) in row.iter().zip(out) {
                    let want = (f64::from(v) - max).exp() / sum;
                    assert!((f64::from(o) - want).abs() <= 1e-6 * want.max(1e-30) + 1e-12, "{cols}: {o} vs {want}");
                }
            }
        }
    }
}
