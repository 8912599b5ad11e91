//! Row softmax and log-softmax on the CPU: rows in parallel, each in three vectorised passes
//! (maximum, exp and sum with the fast `exp`, scale), written into a fresh, unzeroed buffer.

use std::mem::MaybeUninit;

use super::fast_exp::exp;
use super::fill::filled;
use super::simd::multiversion;

/// Lanes of independent partial maxima and sums, so the passes vectorise.
const LANES: usize = 16;

/// Row softmax: subtract the row maximum before exponentiating, so ±1e4 logits stay finite.
pub fn softmax(x: &[f32], rows: usize, cols: usize, log: bool) -> Vec<f32> {
    if cols == 0 {
        return vec![0.0; rows * cols];
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

multiversion! { fn row(src: &[f32], dst: &mut [MaybeUninit<f32>], log: bool) = row_body; }

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
