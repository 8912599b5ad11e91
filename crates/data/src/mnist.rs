//! MNIST: the standard four IDX files (gzipped or not) from `data/mnist/` or any directory.

use std::path::{Path, PathBuf};

use soma_device::{Error, Result};

use crate::dataset::InMemoryDataset;
use crate::idx::read_idx;
use crate::normalize::Normalization;

/// The directory MNIST is read from by default, relative to the working directory.
pub const DEFAULT_MNIST_DIR: &str = "data/mnist";

/// Which half of MNIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MnistSplit {
    /// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`.
    Train,
    /// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`.
    Test,
}

impl MnistSplit {
    fn prefix(self) -> &'static str {
        match self {
            MnistSplit::Train => "train",
            MnistSplit::Test => "t10k",
        }
    }
}

/// The MNIST training and test sets, as datasets of `[1, rows, cols]` images with labels 0..=9.
#[derive(Debug, Clone)]
pub struct Mnist {
    pub train: InMemoryDataset,
    pub test: InMemoryDataset,
}

impl Mnist {
    /// Loads [`Mnist::default_dir`] with the usual MNIST mean/std normalisation.
    pub fn load() -> Result<Self> {
        Self::load_with(Self::default_dir(), Normalization::MNIST)
    }

    /// Loads the four standard files from `dir` with the usual MNIST mean/std normalisation.
    pub fn load_from(dir: impl AsRef<Path>) -> Result<Self> {
        Self::load_with(dir, Normalization::MNIST)
    }

    /// Loads the four standard files from `dir`, mapping pixel bytes with `normalization`.
    pub fn load_with(dir: impl AsRef<Path>, normalization: Normalization) -> Result<Self> {
        let dir = dir.as_ref();
        Ok(Self {
            train: load_split(dir, MnistSplit::Train, normalization)?,
            test: load_split(dir, MnistSplit::Test, normalization)?,
        })
    }

    /// `data/mnist` if it exists relative to the working directory (examples run from the repo
    /// root), else the workspace's `data/mnist` (tests, which run in a crate directory).
    pub fn default_dir() -> PathBuf {
        let relative = PathBuf::from(DEFAULT_MNIST_DIR);
        if relative.is_dir() {
            return relative;
        }
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(DEFAULT_MNIST_DIR)
    }
}

/// Loads one split of MNIST from `dir` as a dataset of `[1, rows, cols]` images.
pub fn load_split(dir: &Path, split: MnistSplit, normalization: Normalization) -> Result<InMemoryDataset> {
    normalization.check()?;
    let images_path = find_file(dir, split.prefix(), "images", "idx3")?;
    let labels_path = find_file(dir, split.prefix(), "labels", "idx1")?;
    let images = read_idx(&images_path)?;
    images.expect_dims(&images_path, "images", &[None, None, None])?;
    let labels = read_idx(&labels_path)?;
    labels.expect_dims(&labels_path, "labels", &[None])?;
    let (count, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    if labels.dims[0] != count {
        return Err(Error::format(
            labels_path.display(),
            format!("{} labels for {count} images in {}", labels.dims[0], images_path.display()),
        ));
    }
    if let Some((i, bad)) = labels.data.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(Error::format(labels_path.display(), format!("label {bad} at index {i} is not a digit 0..=9")));
    }
    let features = normalization.apply_all(&images.data);
    let labels: Vec<f32> = labels.data.iter().map(|&l| f32::from(l)).collect();
    Ok(InMemoryDataset::new(features, labels, [1, rows, cols])?.with_background(normalization.apply(0)))
}

/// The path of `<prefix>-<kind>-<idx>-ubyte` in `dir`, raw or `.gz`, also accepting the
/// `<prefix>-<kind>.<idx>-ubyte` spelling some mirrors use.
fn find_file(dir: &Path, prefix: &str, kind: &str, idx: &str) -> Result<PathBuf> {
    let bases = [format!("{prefix}-{kind}-{idx}-ubyte"), format!("{prefix}-{kind}.{idx}-ubyte")];
    let candidates: Vec<PathBuf> = bases.iter().flat_map(|b| [dir.join(b), dir.join(format!("{b}.gz"))]).collect();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        Error::io(
            dir.join(&bases[0]).display(),
            format!("MNIST file not found (looked for {} and {}.gz in {})", bases[0], bases[0], dir.display()),
        )
    })
}
