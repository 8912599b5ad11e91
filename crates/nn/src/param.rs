//! `Param`: a shared, replaceable tensor (a weight, or a buffer such as batch norm's running mean).

use std::sync::{Arc, RwLock};

use soma_autograd::Tensor;

/// A named slot holding a tensor. Cloning shares the slot, so an optimizer that `set`s a new
/// value is seen by the module. Trainable params hold a `requires_grad` leaf; buffers do not.
#[derive(Clone)]
pub struct Param {
    slot: Arc<RwLock<Tensor>>,
    trainable: bool,
}

impl Param {
    /// A trainable parameter.
    pub fn new(value: Tensor) -> Param {
        Param { slot: Arc::new(RwLock::new(value.detach().requires_grad())), trainable: true }
    }
    /// A buffer: saved in checkpoints, never given a gradient or updated by an optimizer.
    pub fn buffer(value: Tensor) -> Param {
        Param { slot: Arc::new(RwLock::new(value.detach())), trainable: false }
    }
    /// The current value (cheap: shares the buffer).
    pub fn get(&self) -> Tensor {
        self.slot.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Replaces the value (kept a leaf; trainable params keep requiring grad).
    pub fn set(&self, value: Tensor) {
        let value = if self.trainable { value.detach().requires_grad() } else { value.detach() };
        *self.slot.write().unwrap_or_else(|e| e.into_inner()) = value;
    }
    pub fn is_trainable(&self) -> bool {
        self.trainable
    }
}

impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({:?}, trainable={})", self.get().shape(), self.trainable)
    }
}
