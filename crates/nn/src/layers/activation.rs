//! Activation modules: `Step`, `Sigmoid`, `Tanh`, `ReLU`, `LeakyReLU`, `ELU`, `GELU`, `Softmax`, `LogSoftmax`.

use soma_autograd::Tensor;
use soma_device::Result;

use crate::{Module, Param};

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr $(, is_relu: $is_relu:literal)?) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl $name {
            pub fn new() -> Self {
                $name
            }
        }

        impl Module for $name {
            fn forward(&self, $x: &Tensor) -> Result<Tensor> {
                $body
            }
            fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
            $(fn is_relu(&self) -> bool {
                $is_relu
            })?
        }
    };
}

activation!(
    /// The Heaviside step of the perceptron: 1 where x > 0, else 0 (zero gradient).
    Step, |x| x.step()
);
activation!(
    /// `1 / (1 + e^-x)`.
    Sigmoid, |x| x.sigmoid()
);
activation!(
    /// `tanh(x)`.
    Tanh, |x| x.tanh()
);
activation!(
    /// `max(x, 0)`.
    ReLU, |x| x.relu(), is_relu: true
);
activation!(
    /// GELU, tanh approximation (PyTorch's `nn.GELU(approximate="tanh")`).
    GELU, |x| x.gelu()
);

/// `x` where positive, else `negative_slope * x` (default slope 0.01).
#[derive(Clone, Copy, Debug)]
pub struct LeakyReLU {
    pub negative_slope: f32,
}

impl LeakyReLU {
    pub fn new(negative_slope: f32) -> Self {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

impl Module for LeakyReLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.leaky_relu(self.negative_slope)
    }
    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}

/// `x` where positive, else `alpha * (e^x - 1)` (default alpha 1).
#[derive(Clone, Copy, Debug)]
pub struct ELU {
    pub alpha: f32,
}

impl ELU {
    pub fn new(alpha: f32) -> Self {
        ELU { alpha }
    }
}

impl Default for ELU {
    fn default() -> Self {
        ELU::new(1.0)
    }
}

impl Module for ELU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.elu(self.alpha)
    }
    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}

/// Softmax along `axis`.
#[derive(Clone, Copy, Debug)]
pub struct Softmax {
    pub axis: usize,
}

impl Softmax {
    pub fn new(axis: usize) -> Self {
        Softmax { axis }
    }
}

impl Module for Softmax {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.softmax(self.axis)
    }
    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}

/// Log-softmax along `axis` (pairs with `nll_loss`).
#[derive(Clone, Copy, Debug)]
pub struct LogSoftmax {
    pub axis: usize,
}

impl LogSoftmax {
    pub fn new(axis: usize) -> Self {
        LogSoftmax { axis }
    }
}

impl Module for LogSoftmax {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.log_softmax(self.axis)
    }
    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}
