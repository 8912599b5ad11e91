//! Row softmax and log-softmax on the CPU: rows in parallel, each in three vectorised passes
//! (maximum, exp and sum with the fast `exp`, scale).

use rayon::prelude::*;

use super::PARALLEL_THRESHOLD;
use super::fast_exp::exp;
use super::simd::multiversion;

/// Lanes of independent partial maxima and sums, so the passes vectorise.
const LANES: usize = 16;

/// Row softmax: subtract the row maximum before exponentiating, so ±1e4 logits stay finite.
pub fn softmax(x: &[f32], rows: usize, cols: usize, log: bool) -> Vec<f32> {
    let mut out = vec![0.0; rows * cols];
    if cols == 0 {
        return out;
    }
    if rows * cols >= PARALLEL_THRESHOLD {
        let min_rows = (8192 / cols).max(1);
        x.par_chunks(cols).zip(out.par_chunks_mut(cols)).with_min_len(min_rows).for_each(|(s, d)| row(s, d, log));
    } else {
        x.chunks(cols).zip(out.chunks_mut(cols)).for_each(|(s, d)| row(s, d, log));
    }
    out
}

multiversion! { fn row(src: &[f32], dst: &mut [f32], log: bool) = row_body; }

#[inline(always)]
fn row_body(src: &[f32], dst: &mut [f32], log: bool) {
    let max = row_max(src);
    let mut acc = [0.0f32; LANES];
    let mut chunks = src.chunks_exact(LANES);
    let mut out = dst.chunks_exact_mut(LANES);
    for (s, d) in (&mut chunks).zip(&mut out) {
        for ((a, d), &s) in acc.iter_mut().zip(d.iter_mut()).zip(s) {
            let e = exp(s - max);
            *d = e;
            *a += e;
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (d, &s) in out.into_remainder().iter_mut().zip(chunks.remainder()) {
        *d = exp(s - max);
        sum += *d;
    }
    if log {
        // (s - max) first: adding max to the log-sum would lose its low bits for large logits.
        let log_sum = sum.ln();
        dst.iter_mut().zip(src).for_each(|(d, &s)| *d = (s - max) - log_sum);
    } else {
        let inv = 1.0 / sum;
        dst.iter_mut().for_each(|d| *d *= inv);
    }
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
