//! Fresh output buffers written chunk by chunk (in parallel when large), never zeroed first.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::PARALLEL_THRESHOLD;
use crate::Result;

/// Elements per parallel work item of the elementwise maps.
pub const CHUNK: usize = 1 << 14;

/// A `Vec` of `len` elements whose chunk starting at element `start` is written by
/// `fill(start, chunk)`. Chunks are `chunk` long (the last may be shorter).
///
/// # Safety
/// `fill` must initialise every element of the chunk it is given.
pub unsafe fn filled(
    len: usize,
    chunk: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync,
) -> Result<Vec<f32>> {
    let mut out = super::pool::take(len)?;
    let spare = &mut out.spare_capacity_mut()[..len];
    let chunk = chunk.max(1);
    if len >= PARALLEL_THRESHOLD {
        spare.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| fill(i * chunk, c));
    } else {
        spare.chunks_mut(chunk).enumerate().for_each(|(i, c)| fill(i * chunk, c));
    }
    // SAFETY: the caller's `fill` initialised all `len` elements, and the capacity is `len`.
    unsafe { out.set_len(len) };
    Ok(out)
}
