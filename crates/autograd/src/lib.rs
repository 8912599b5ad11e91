//! soma-autograd: `Tensor`, a recorded op graph, `backward()` and a public `gradcheck`.
//!
//! Every op checks shapes, runs on the tensor's device and records itself only when grad mode is
//! on and a parent requires a gradient. The graph is the tensors themselves.

mod backward;
mod grad_mode;
mod gradcheck;
mod op;
mod ops;
mod pending;
mod rng;
mod tensor;

pub use backward::Grads;
pub use grad_mode::{is_grad_enabled, no_grad};
pub use gradcheck::{GradcheckReport, gradcheck};
pub use rng::Rng;
pub use soma_device::{Device, Error, Result, Shape};
pub use tensor::Tensor;
