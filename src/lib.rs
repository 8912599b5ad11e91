//! Soma: train neural networks on any GPU through wgpu compute shaders, or on the CPU.
pub use soma_autograd as autograd;
pub use soma_data as data;
pub use soma_device as device;
pub use soma_nn as nn;
pub mod train;
