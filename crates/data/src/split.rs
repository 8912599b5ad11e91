//! Seeded train/validation splits: `Subset`, a view of some samples of another dataset.

use soma_device::{Error, Result};

use crate::dataset::{Dataset, Sample, out_of_range};
use crate::rng::SplitMix64;

/// The samples of `base` at `indices`, in that order.
#[derive(Debug, Clone)]
pub struct Subset<D> {
    base: D,
    indices: Vec<usize>,
}

impl<D: Dataset> Subset<D> {
    /// A view of `base` at `indices`; an error if an index is out of range.
    pub fn new(base: D, indices: Vec<usize>) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= base.len()) {
            return Err(out_of_range(bad, base.len()));
        }
        Ok(Self { base, indices })
    }

    /// The indices into the base dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    fn len(&self) -> usize {
        self.indices.len()
    }
    fn feature_shape(&self) -> &[usize] {
        self.base.feature_shape()
    }
    fn get(&self, index: usize) -> Result<Sample<'_>> {
        let &i = self.indices.get(index).ok_or_else(|| out_of_range(index, self.len()))?;
        self.base.get(i)
    }
    fn background(&self) -> f32 {
        self.base.background()
    }
}

/// Splits `dataset` at random into `(train, validation)`, the validation part holding
/// `round(val_fraction * len)` samples. The same seed gives the same split; the two parts are
/// disjoint and cover the dataset. Pass `&dataset` (or an `Arc`) to keep the original.
pub fn train_val_split<D: Dataset + Clone>(dataset: D, val_fraction: f32, seed: u64) -> Result<(Subset<D>, Subset<D>)> {
    if !(0.0..=1.0).contains(&val_fraction) {
        return Err(Error::invalid("train_val_split", format!("val_fraction {val_fraction} is not in [0, 1]")));
    }
    let len = dataset.len();
    // The fraction as written (its shortest decimal, "0.35"), not the f32 widened (0.3499999940):
    // 0.35 of 10 is 3.5, which rounds to 4 as 0.15 of 10 rounds to 2.
    let fraction: f64 = val_fraction.to_string().parse().unwrap_or(f64::from(val_fraction));
    let val_len = ((len as f64) * fraction).round() as usize;
    let mut order: Vec<usize> = (0..len).collect();
    SplitMix64::new(seed).shuffle(&mut order);
    let train = order.split_off(val_len);
    Ok((Subset { base: dataset.clone(), indices: train }, Subset { base: dataset, indices: order }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::InMemoryDataset;

    fn counting(n: usize) -> InMemoryDataset {
        InMemoryDataset::new((0..n).map(|i| i as f32).collect(), (0..n).map(|i| i as f32).collect(), [1]).unwrap()
    }

    #[test]
    fn split_sizes_are_disjoint_cover_and_seeded() {
        let ds = counting(1000);
        let (train, val) = train_val_split(&ds, 0.1, 42).unwrap();
        assert_eq!((train.len(), val.len()), (900, 100));
        let mut all: Vec<usize> = train.indices().iter().chain(val.indices()).copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        let (_, val_again) = train_val_split(&ds, 0.1, 42).unwrap();
        assert_eq!(val.indices(), val_again.indices());
        let (_, val_other) = train_val_split(&ds, 0.1, 43).unwrap();
        assert_ne!(val.indices(), val_other.indices());
        assert_eq!(val.get(0).unwrap().label, val.indices()[0] as f32);
        assert_eq!(train_val_split(&ds, 0.0, 1).unwrap().1.len(), 0);
        assert_eq!(train_val_split(&counting(7), 0.5, 1).unwrap().1.len(), 4);
        // Half-way sizes round alike, however the fraction's f32 falls (0.35 is 0.3499999940).
        let sizes: Vec<usize> =
            [0.15, 0.35, 0.45, 0.65].iter().map(|&f| train_val_split(&counting(10), f, 1).unwrap().1.len()).collect();
        assert_eq!(sizes, [2, 4, 5, 7]);
        assert!(train_val_split(&ds, 1.5, 1).is_err());
    }

    #[test]
    fn subset_rejects_out_of_range_indices() {
        let ds = counting(3);
        assert!(Subset::new(&ds, vec![0, 3]).is_err());
        let s = Subset::new(&ds, vec![2, 0]).unwrap();
        assert_eq!(s.get(0).unwrap().label, 2.0);
        assert!(s.get(2).is_err());
    }
}
