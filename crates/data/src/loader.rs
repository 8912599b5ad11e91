//! `DataLoader`: batches of a dataset per epoch (seeded shuffling, drop_last, optional shift
//! augmentation), built on the host and uploaded to a `Device` as tensors.

use soma_autograd::Tensor;
use soma_device::{Device, Error, Result};

use crate::augment::RandomShift;
use crate::dataset::Dataset;
use crate::rng::SplitMix64;

/// The shape of a batch's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputLayout {
    /// `[batch, features]`, e.g. `[64, 784]` for MNIST (for MLPs).
    #[default]
    Flat,
    /// `[batch, ...feature_shape]`, e.g. `[64, 1, 28, 28]` for MNIST (for CNNs).
    Image,
}

/// One batch on the host: inputs and labels as flat vectors, before upload.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// `input_shape.iter().product()` values, sample after sample.
    pub inputs: Vec<f32>,
    /// One label per sample (a class index as f32 for classification).
    pub labels: Vec<f32>,
    /// `[batch, features]` or `[batch, ...feature_shape]`, per the loader's [`InputLayout`].
    pub input_shape: Vec<usize>,
    /// The dataset index of each sample, in batch order.
    pub indices: Vec<usize>,
}

impl HostBatch {
    /// The number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Uploads the batch to `device`: inputs in `input_shape`, labels as `[batch]`.
    pub fn to_device(self, device: &Device) -> Result<Batch> {
        let batch = self.labels.len();
        Ok(Batch {
            inputs: Tensor::from_vec(self.inputs, self.input_shape, device)?,
            labels: Tensor::from_vec(self.labels, vec![batch], device)?,
            indices: self.indices,
        })
    }
}

/// One batch on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[batch, features]` or `[batch, ...feature_shape]`.
    pub inputs: Tensor,
    /// `[batch]`: class indices as f32.
    pub labels: Tensor,
    /// The dataset index of each sample, in batch order.
    pub indices: Vec<usize>,
}

impl Batch {
    /// The number of samples.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Batches of a dataset, epoch by epoch.
///
/// ```no_run
/// # fn main() -> soma_device::Result<()> {
/// use soma_data::{DataLoader, InputLayout, Mnist, RandomShift};
/// let mnist = Mnist::load()?;
/// let device = soma_device::Device::cpu();
/// let loader = DataLoader::new(&mnist.train, 64, &device)?
///     .shuffle(42)
///     .layout(InputLayout::Image)
///     .augment(RandomShift::new(2, 7))?;
/// for epoch in 0..3 {
///     for batch in loader.epoch(epoch) {
///         let batch = batch?; // batch.inputs: [64, 1, 28, 28], batch.labels: [64]
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DataLoader<D> {
    dataset: D,
    batch_size: usize,
    shuffle_seed: Option<u64>,
    drop_last: bool,
    layout: InputLayout,
    augment: Option<RandomShift>,
    device: Device,
}

impl<D: Dataset> DataLoader<D> {
    /// A loader of `dataset` in order, `batch_size` samples a batch (the last one may be smaller),
    /// uploading to `device`, flat layout, no augmentation.
    pub fn new(dataset: D, batch_size: usize, device: &Device) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::invalid("DataLoader::new", "batch_size must be at least 1"));
        }
        Ok(Self {
            dataset,
            batch_size,
            shuffle_seed: None,
            drop_last: false,
            layout: InputLayout::Flat,
            augment: None,
            device: device.clone(),
        })
    }

    /// Shuffles every epoch: epoch `e` of seed `s` always has the same order, other epochs and
    /// seeds (almost surely) another.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle_seed = Some(seed);
        self
    }

    /// Drops the last batch of an epoch when it is smaller than `batch_size`.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The shape of the inputs (flat by default).
    pub fn layout(mut self, layout: InputLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Shifts every image at random (seeded per sample and epoch), filling with the dataset's
    /// background; an error if the dataset's features are not images.
    pub fn augment(mut self, shift: RandomShift) -> Result<Self> {
        RandomShift::image_dims(self.dataset.feature_shape())?;
        self.augment = Some(shift);
        Ok(self)
    }

    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The number of batches in an epoch.
    pub fn num_batches(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last { n / self.batch_size } else { n.div_ceil(self.batch_size) }
    }

    /// The number of samples in an epoch (fewer than the dataset's with `drop_last`).
    pub fn num_samples(&self) -> usize {
        if self.drop_last { self.num_batches() * self.batch_size } else { self.dataset.len() }
    }

    /// The order in which epoch `epoch` visits the dataset (before dropping a last partial batch).
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if let Some(seed) = self.shuffle_seed {
            SplitMix64::for_stream(seed, epoch).shuffle(&mut order);
        }
        order
    }

    /// The batches of epoch `epoch` (counting from 0), uploaded to the loader's device.
    pub fn epoch(&self, epoch: u64) -> Batches<'_, D> {
        Batches { host: self.host_epoch(epoch) }
    }

    /// The batches of epoch `epoch` on the host, without upload.
    pub fn host_epoch(&self, epoch: u64) -> HostBatches<'_, D> {
        HostBatches { loader: self, epoch, order: self.order(epoch), next_batch: 0 }
    }

    /// Builds the batch of the samples at positions `start..end` of `order`.
    fn build(&self, order: &[usize], start: usize, end: usize, epoch: u64) -> Result<HostBatch> {
        let feature_shape = self.dataset.feature_shape();
        let feature_len = self.dataset.feature_len();
        let indices = order[start..end].to_vec();
        let mut inputs = Vec::with_capacity(indices.len() * feature_len);
        let mut labels = Vec::with_capacity(indices.len());
        let image_dims = match self.augment {
            Some(_) => Some(RandomShift::image_dims(feature_shape)?),
            None => None,
        };
        for (position, &index) in (start..end).zip(&indices) {
            let sample = self.dataset.get(index)?;
            if sample.features.len() != feature_len {
                return Err(Error::shape(
                    "DataLoader",
                    format!("sample {index} has {} features, expected {feature_len}", sample.features.len()),
                ));
            }
            match (self.augment, image_dims) {
                (Some(shift), Some((rows, cols))) => {
                    let fill = self.dataset.background();
                    inputs.extend(shift.apply(&sample.features, rows, cols, fill, epoch, position as u64)?);
                }
                _ => inputs.extend_from_slice(&sample.features),
            }
            labels.push(sample.label);
        }
        let input_shape = match self.layout {
            InputLayout::Flat => vec![indices.len(), feature_len],
            InputLayout::Image => std::iter::once(indices.len()).chain(feature_shape.iter().copied()).collect(),
        };
        Ok(HostBatch { inputs, labels, input_shape, indices })
    }
}

/// The host batches of one epoch (see [`DataLoader::host_epoch`]).
#[derive(Debug)]
pub struct HostBatches<'a, D> {
    loader: &'a DataLoader<D>,
    epoch: u64,
    order: Vec<usize>,
    next_batch: usize,
}

impl<D: Dataset> Iterator for HostBatches<'_, D> {
    type Item = Result<HostBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next_batch >= self.loader.num_batches() {
            return None;
        }
        let start = self.next_batch * self.loader.batch_size;
        let end = (start + self.loader.batch_size).min(self.order.len());
        self.next_batch += 1;
        Some(self.loader.build(&self.order, start, end, self.epoch))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.loader.num_batches() - self.next_batch.min(self.loader.num_batches());
        (left, Some(left))
    }
}

impl<D: Dataset> ExactSizeIterator for HostBatches<'_, D> {}

/// The device batches of one epoch (see [`DataLoader::epoch`]).
#[derive(Debug)]
pub struct Batches<'a, D> {
    host: HostBatches<'a, D>,
}

impl<D: Dataset> Iterator for Batches<'_, D> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        let host = self.host.next()?;
        Some(host.and_then(|b| b.to_device(&self.host.loader.device)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.host.size_hint()
    }
}

impl<D: Dataset> ExactSizeIterator for Batches<'_, D> {}
