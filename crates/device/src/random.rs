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

/// What `Backend::random` draws; element `i` comes from the uniform numbers at index `i`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Uniform in [low, high): `u * (high - low) + low`, capped at the float below `high` (the
    /// rounding can reach `high`). The caller checks that `low <= high`, both finite.
    Uniform { seed: u64, low: f32, high: f32 },
    /// Normal by Box-Muller over two uniform streams: `sqrt(-2 ln(1 - u1)) cos(2π u2) * std + mean`.
    Normal { seeds: [u64; 2], mean: f32, std: f32 },
}

impl Distribution {
    /// The uniform numbers in [0, 1) themselves.
    pub fn standard_uniform(seed: u64) -> Distribution {
        Distribution::Uniform { seed, low: 0.0, high: 1.0 }
    }
}

/// A distribution as a kernel computes it, element by element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampler {
    /// The hash keys of the uniform stream (Uniform) or of u1 and u2 (Normal).
    pub keys: [u32; 2],
    pub normal: bool,
    /// Applied last: `min(v * scale + shift, cap)`.
    pub scale: f32,
    pub shift: f32,
    pub cap: f32,
}

impl Sampler {
    pub fn new(distribution: Distribution) -> Sampler {
        match distribution {
            Distribution::Uniform { seed, low, high } => {
                let key = seed_key(seed);
                let cap = if low < high { high.next_down() } else { high };
                Sampler { keys: [key, key], normal: false, scale: high - low, shift: low, cap }
            }
            Distribution::Normal { seeds, mean, std } => {
                Sampler { keys: seeds.map(seed_key), normal: true, scale: std, shift: mean, cap: f32::INFINITY }
            }
        }
    }

    /// Element `index` (the CPU backend's loop, and the reference for `shaders/random.wgsl`).
    #[inline(always)]
    pub fn sample(&self, index: u32) -> f32 {
        let u1 = uniform(self.keys[0], index);
        let v = if self.normal {
            // 1 - u1 lies in (0, 1], so the log is finite.
            let radius = ((1.0 - u1).ln() * -2.0).sqrt();
            radius * (uniform(self.keys[1], index) * std::f32::consts::TAU).cos()
        } else {
            u1
        };
        (v * self.scale + self.shift).min(self.cap)
    }
}
