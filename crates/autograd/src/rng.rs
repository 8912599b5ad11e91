//! `Rng`: a seedable source of seeds for the device's counter-based random numbers.

/// Hands out a fresh 64-bit seed per random tensor (SplitMix64), so a run is reproducible
/// from one seed on any device.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }
    pub fn next_seed(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A uniform number in [0, 1), for host-side choices (shuffles, hyper-parameter search).
    pub fn uniform(&mut self) -> f64 {
        (self.next_seed() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A uniform index in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize % n.max(1)
    }
}
