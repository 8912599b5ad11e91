//! The `Dataset` trait (indexed samples of features + label) and `InMemoryDataset`, a dataset held
//! in two flat vectors.

use std::borrow::Cow;
use std::sync::Arc;

use soma_device::{Error, Result};

/// One sample: its features (flattened, row-major in `feature_shape`) and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub features: Cow<'a, [f32]>,
    /// A class index (as f32) for classification, or a target value for regression.
    pub label: f32,
}

/// Indexed samples that all have the same feature shape.
pub trait Dataset {
    /// The number of samples.
    fn len(&self) -> usize;

    /// The shape of one sample's features, e.g. `[1, 28, 28]` for an MNIST digit.
    fn feature_shape(&self) -> &[usize];

    /// Sample `index`; an error when `index >= len()`.
    fn get(&self, index: usize) -> Result<Sample<'_>>;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of features of one sample (the product of `feature_shape`).
    fn feature_len(&self) -> usize {
        self.feature_shape().iter().product()
    }

    /// The value of an empty feature (a black pixel after normalisation), used to fill what an
    /// augmentation such as a shift uncovers.
    fn background(&self) -> f32 {
        0.0
    }
}

impl<D: Dataset + ?Sized> Dataset for &D {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn feature_shape(&self) -> &[usize] {
        (**self).feature_shape()
    }
    fn get(&self, index: usize) -> Result<Sample<'_>> {
        (**self).get(index)
    }
    fn background(&self) -> f32 {
        (**self).background()
    }
}

impl<D: Dataset + ?Sized> Dataset for Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn feature_shape(&self) -> &[usize] {
        (**self).feature_shape()
    }
    fn get(&self, index: usize) -> Result<Sample<'_>> {
        (**self).get(index)
    }
    fn background(&self) -> f32 {
        (**self).background()
    }
}

/// The error for an index past the end of a dataset of `len` samples.
pub(crate) fn out_of_range(index: usize, len: usize) -> Error {
    Error::invalid("dataset.get", format!("index {index} out of range for {len} samples"))
}

/// A dataset held in memory: `len * feature_len` features and `len` labels (like PyTorch's
/// `TensorDataset`).
#[derive(Debug, Clone, PartialEq)]
pub struct InMemoryDataset {
    features: Vec<f32>,
    labels: Vec<f32>,
    feature_shape: Vec<usize>,
    background: f32,
}

impl InMemoryDataset {
    /// Builds a dataset from flat features (`labels.len()` samples of `feature_shape` each).
    pub fn new(features: Vec<f32>, labels: Vec<f32>, feature_shape: impl Into<Vec<usize>>) -> Result<Self> {
        let feature_shape = feature_shape.into();
        let Some(per_sample) = feature_shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
            return Err(Error::shape("InMemoryDataset::new", format!("feature shape {feature_shape:?} is too large")));
        };
        if per_sample == 0 {
            return Err(Error::shape("InMemoryDataset::new", format!("empty feature shape {feature_shape:?}")));
        }
        if labels.len().checked_mul(per_sample) != Some(features.len()) {
            return Err(Error::shape(
                "InMemoryDataset::new",
                format!(
                    "{} features do not make {} samples of shape {feature_shape:?} ({per_sample} each)",
                    features.len(),
                    labels.len()
                ),
            ));
        }
        Ok(Self { features, labels, feature_shape, background: 0.0 })
    }

    /// Sets the value of an empty feature (see [`Dataset::background`]).
    pub fn with_background(mut self, background: f32) -> Self {
        self.background = background;
        self
    }

    /// All features, sample after sample.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// All labels.
    pub fn labels(&self) -> &[f32] {
        &self.labels
    }

    /// The features of sample `index` as a slice; `None` past the end.
    pub fn sample_features(&self, index: usize) -> Option<&[f32]> {
        if index >= self.labels.len() {
            return None;
        }
        let n = self.feature_len();
        self.features.get(index * n..(index + 1) * n)
    }

    /// Copies the samples at `indices` (in that order) into a new dataset.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        let n = self.feature_len();
        let mut features = Vec::with_capacity(indices.len() * n);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let x = self.sample_features(i).ok_or_else(|| out_of_range(i, self.len()))?;
            features.extend_from_slice(x);
            labels.push(self.labels[i]);
        }
        Ok(Self { features, labels, feature_shape: self.feature_shape.clone(), background: self.background })
    }
}

impl Dataset for InMemoryDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn feature_shape(&self) -> &[usize] {
        &self.feature_shape
    }
    fn get(&self, index: usize) -> Result<Sample<'_>> {
        let features = self.sample_features(index).ok_or_else(|| out_of_range(index, self.len()))?;
        Ok(Sample { features: Cow::Borrowed(features), label: self.labels[index] })
    }
    fn background(&self) -> f32 {
        self.background
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_dataset_gets_and_checks_shapes() {
        let ds = InMemoryDataset::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![0.0, 1.0, 2.0], [2]).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.feature_len(), 2);
        let s = ds.get(1).unwrap();
        assert_eq!((&s.features[..], s.label), (&[3.0, 4.0][..], 1.0));
        assert!(ds.get(3).unwrap_err().to_string().contains("index 3 out of range for 3 samples"));
        assert!(InMemoryDataset::new(vec![1.0; 5], vec![0.0; 3], [2]).is_err());
        // Samples times features past usize: an error, not a wrapped product that matches.
        assert!(InMemoryDataset::new(vec![], vec![0.0; 2], [1usize << 63]).is_err());
        let picked = ds.select(&[2, 0]).unwrap();
        assert_eq!(picked.features(), &[5.0, 6.0, 1.0, 2.0]);
        assert_eq!(picked.labels(), &[2.0, 0.0]);
    }
}
