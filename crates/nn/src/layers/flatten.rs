//! `Flatten`: folds every axis from `start_dim` on into one.

use soma_autograd::Tensor;
use soma_device::Result;

use crate::layers::bad_input;
use crate::{Module, Param};

/// `[n, c, h, w] -> [n, c*h*w]` by default (PyTorch's `nn.Flatten()`, `start_dim = 1`).
#[derive(Clone, Copy, Debug)]
pub struct Flatten {
    pub start_dim: usize,
}

impl Flatten {
    pub fn new() -> Self {
        Flatten { start_dim: 1 }
    }
    /// Flattens the axes from `start_dim` on.
    pub fn from_dim(start_dim: usize) -> Self {
        Flatten { start_dim }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.rank() <= self.start_dim {
            let expected = format!("at least {} axes", self.start_dim + 1);
            return Err(bad_input("Flatten", format!("start_dim {}", self.start_dim), &expected, x));
        }
        x.flatten(self.start_dim)
    }
    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}
