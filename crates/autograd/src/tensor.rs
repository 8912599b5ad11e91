//! `Tensor`: an immutable, reference-counted buffer with a shape, a device and the op that made it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use soma_device::random::Distribution;
use soma_device::{Device, Error, Result, Shape, Storage};

use crate::grad_mode::is_grad_enabled;
use crate::op::Op;
use crate::rng::Rng;

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// An n-dimensional f32 array on a device. Cloning is cheap (shared buffer).
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) id: usize,
    pub(crate) storage: Storage,
    pub(crate) shape: Shape,
    pub(crate) device: Device,
    pub(crate) op: Option<Op>,
    pub(crate) requires_grad: bool,
}

impl Drop for Inner {
    /// Frees a long graph without recursion: a 10,000-op chain must not overflow the stack.
    fn drop(&mut self) {
        let Some(op) = self.op.take() else { return };
        let mut stack = op.into_parents();
        while let Some(t) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(t.0)
                && let Some(op) = inner.op.take()
            {
                stack.extend(op.into_parents());
            }
        }
    }
}

impl Tensor {
    pub(crate) fn make(storage: Storage, shape: Shape, device: Device, op: Option<Op>) -> Tensor {
        let requires_grad = op.is_some();
        Tensor::make_leaf_or_node(storage, shape, device, op, requires_grad)
    }

    fn make_leaf_or_node(
        storage: Storage,
        shape: Shape,
        device: Device,
        op: Option<Op>,
        requires_grad: bool,
    ) -> Tensor {
        Tensor(Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            storage,
            shape,
            device,
            op,
            requires_grad,
        }))
    }

    /// Makes the result of an op: the graph is recorded only if grad mode is on and a parent
    /// requires a gradient (`record` is not even called otherwise).
    pub(crate) fn from_op(
        storage: Storage,
        shape: Shape,
        device: &Device,
        parents: &[&Tensor],
        record: impl FnOnce() -> Op,
    ) -> Tensor {
        let track = is_grad_enabled() && parents.iter().any(|p| p.requires_grad_flag());
        Tensor::make(storage, shape, device.clone(), track.then(record))
    }

    /// A tensor from row-major data; `data.len()` must equal the shape's element count.
    pub fn from_vec(data: Vec<f32>, shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        Tensor::from_slice(&data, shape, device)
    }
    pub fn from_slice(data: &[f32], shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        let numel = shape.checked_numel("from_vec")?;
        if numel != data.len() {
            return Err(Error::shape(
                "from_vec",
                format!("{} values do not fill shape {shape:?} ({numel} elements)", data.len()),
            ));
        }
        Ok(Tensor::make(device.from_slice(data)?, shape, device.clone(), None))
    }
    /// A leaf tensor wrapping a storage made by `device` (e.g. by `Device::update`), without a copy.
    /// The storage must live on `device` and hold exactly `shape.numel()` values.
    pub fn from_storage(storage: Storage, shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        let len = match (&storage, device) {
            (Storage::Cpu(s), Device::Cpu(_)) => s.as_slice().len(),
            (Storage::Wgpu(s), Device::Wgpu(_)) => s.len(),
            _ => {
                return Err(Error::DeviceMismatch {
                    op: "from_storage",
                    a: device.name(),
                    b: storage.device_kind().into(),
                });
            }
        };
        let numel = shape.checked_numel("from_storage")?;
        if len != numel {
            return Err(Error::shape(
                "from_storage",
                format!("{len} values do not fill shape {shape:?} ({numel} elements)"),
            ));
        }
        Ok(Tensor::make(storage, shape, device.clone(), None))
    }
    /// A 0-dimensional tensor holding `value`.
    pub fn scalar(value: f32, device: &Device) -> Result<Tensor> {
        Tensor::full(Shape::scalar(), value, device)
    }
    pub fn zeros(shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        Tensor::full(shape, 0.0, device)
    }
    pub fn ones(shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        Tensor::full(shape, 1.0, device)
    }
    pub fn full(shape: impl Into<Shape>, value: f32, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        Ok(Tensor::make(device.full(shape.checked_numel("full")?, value)?, shape, device.clone(), None))
    }
    /// `[0, 1, ..., n - 1]`; at most 2^24 + 1 values, the integers an f32 holds exactly.
    pub fn arange(n: usize, device: &Device) -> Result<Tensor> {
        const EXACT: usize = (1 << 24) + 1;
        if n > EXACT {
            let msg = format!("{n} values: past {EXACT}, f32 cannot tell neighbouring integers apart");
            return Err(Error::invalid("arange", msg));
        }
        let data: Vec<f32> = (0..n).map(|i| i as f32).collect();
        Tensor::from_vec(data, [n], device)
    }
    /// Uniform numbers in [0, 1); the same values on every device for the same seed.
    pub fn rand(shape: impl Into<Shape>, rng: &mut Rng, device: &Device) -> Result<Tensor> {
        Tensor::random(shape, Distribution::standard_uniform(rng.next_seed()), device)
    }
    /// Uniform numbers in [low, high).
    pub fn rand_range(shape: impl Into<Shape>, low: f32, high: f32, rng: &mut Rng, device: &Device) -> Result<Tensor> {
        if low.is_nan() || high.is_nan() || low > high || !(high - low).is_finite() {
            return Err(Error::invalid("rand_range", format!("needs finite low <= high, got {low} and {high}")));
        }
        Tensor::random(shape, Distribution::Uniform { seed: rng.next_seed(), low, high }, device)
    }
    /// Standard normal numbers.
    pub fn randn(shape: impl Into<Shape>, rng: &mut Rng, device: &Device) -> Result<Tensor> {
        Tensor::normal(shape, 0.0, 1.0, rng, device)
    }
    /// Normal numbers of mean `mean` and standard deviation `std` (Box-Muller, one pass).
    pub fn normal(shape: impl Into<Shape>, mean: f32, std: f32, rng: &mut Rng, device: &Device) -> Result<Tensor> {
        if !mean.is_finite() || !std.is_finite() || std < 0.0 {
            return Err(Error::invalid("normal", format!("needs a finite mean and std >= 0, got {mean} and {std}")));
        }
        let seeds = [rng.next_seed(), rng.next_seed()];
        Tensor::random(shape, Distribution::Normal { seeds, mean, std }, device)
    }
    fn random(shape: impl Into<Shape>, distribution: Distribution, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        let numel = shape.checked_numel("rand")?;
        Ok(Tensor::make(device.random(numel, distribution)?, shape, device.clone(), None))
    }

    pub fn shape(&self) -> &Shape {
        &self.0.shape
    }
    pub fn dims(&self) -> &[usize] {
        self.0.shape.dims()
    }
    pub fn rank(&self) -> usize {
        self.0.shape.rank()
    }
    pub fn numel(&self) -> usize {
        self.0.shape.numel()
    }
    pub fn device(&self) -> &Device {
        &self.0.device
    }
    /// A process-unique id; `Grads` are keyed by it.
    pub fn id(&self) -> usize {
        self.0.id
    }
    pub fn storage(&self) -> &Storage {
        &self.0.storage
    }
    pub(crate) fn op(&self) -> Option<&Op> {
        self.0.op.as_ref()
    }
    pub(crate) fn requires_grad_flag(&self) -> bool {
        self.0.requires_grad
    }
    /// Whether backward computes a gradient for this tensor.
    pub fn is_requires_grad(&self) -> bool {
        self.0.requires_grad
    }
    /// A leaf sharing this buffer that backward computes a gradient for (a parameter).
    pub fn requires_grad(&self) -> Tensor {
        Tensor::make_leaf_or_node(self.0.storage.clone(), self.0.shape.clone(), self.0.device.clone(), None, true)
    }
    /// A leaf sharing this buffer, cut from the graph.
    pub fn detach(&self) -> Tensor {
        Tensor::make(self.0.storage.clone(), self.0.shape.clone(), self.0.device.clone(), None)
    }

    /// Copies the values to the host (blocking on the GPU).
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.0.device.to_vec(&self.0.storage)
    }
    /// The value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::shape("item", format!("needs one element, got shape {:?}", self.shape())));
        }
        Ok(self.to_vec()?[0])
    }
    /// A copy on `device` (a detached leaf that keeps `requires_grad`).
    pub fn to_device(&self, device: &Device) -> Result<Tensor> {
        if &self.0.device == device {
            return Ok(self.clone());
        }
        let t = Tensor::from_vec(self.to_vec()?, self.shape().clone(), device)?;
        Ok(if self.0.requires_grad && self.0.op.is_none() { t.requires_grad() } else { t })
    }

    /// Errors unless `other` lives on this tensor's device.
    pub(crate) fn same_device(&self, op: &'static str, other: &Tensor) -> Result<()> {
        if self.0.device == other.0.device {
            Ok(())
        } else {
            Err(Error::DeviceMismatch { op, a: self.0.device.name(), b: other.0.device.name() })
        }
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor(shape={:?}, device={}", self.shape(), self.device())?;
        if self.numel() <= 16
            && let Ok(v) = self.to_vec()
        {
            write!(f, ", values={v:?}")?;
        }
        if self.0.requires_grad {
            write!(f, ", requires_grad")?;
        }
        write!(f, ")")
    }
}
