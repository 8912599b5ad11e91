//! A small seeded random number generator (SplitMix64) so shuffles and augmentations are
//! reproducible across platforms and dependency versions.

/// SplitMix64: fast, seedable, statistically good enough for shuffling and augmentation.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one stream among many (e.g. one epoch or one sample) of a seeded run.
    pub fn for_stream(seed: u64, stream: u64) -> Self {
        let mut mixer = Self::new(seed ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        Self::new(mixer.next_u64() ^ stream)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (`n > 0`), by widening multiplication (bias below 2^-32 for our sizes).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// A uniform integer in `-k..=k` (`k` capped at half of `isize::MAX`, far past any image).
    pub fn offset(&mut self, k: usize) -> isize {
        let k = k.min(isize::MAX as usize / 2);
        self.below(2 * k + 1) as isize - k as isize
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let shuffled = |seed| {
            let mut v: Vec<usize> = (0..100).collect();
            SplitMix64::new(seed).shuffle(&mut v);
            v
        };
        let a = shuffled(1);
        assert_eq!(a, shuffled(1));
        assert_ne!(a, shuffled(2));
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn offsets_stay_in_range_and_reach_both_ends() {
        let mut rng = SplitMix64::new(7);
        let seen: Vec<isize> = (0..1000).map(|_| rng.offset(2)).collect();
        assert!(seen.iter().all(|o| (-2..=2).contains(o)));
        assert!(seen.contains(&-2) && seen.contains(&2) && seen.contains(&0));
    }
}
