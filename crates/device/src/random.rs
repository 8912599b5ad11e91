//! The counter-based random numbers shared by every backend (mirrored in `shaders/random.wgsl`).

/// The PCG hash of one 32-bit word (O'Neill's output permutation over one LCG step).
#[inline(always)]
pub fn pcg_hash(x: u32) -> u32 {
    let state = x.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277_803_737);
    (word >> 22) ^ word
}

/// The per-tensor key a seed turns into: both halves of the seed are mixed in.
pub fn seed_key(seed: u64) -> u32 {
    pcg_hash((seed as u32) ^ pcg_hash((seed >> 32) as u32))
}

/// A uniform number in [0, 1) for element `index` under `key` (24 random bits, exact in f32).
#[inline(always)]
pub fn uniform(key: u32, index: u32) -> f32 {
    (pcg_hash(index ^ key) >> 8) as f32 * (1.0 / 16_777_216.0)
}
