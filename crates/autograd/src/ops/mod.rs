//! The ops of `Tensor`, one family per module.

mod elementwise;
mod index;
mod layout;
mod matmul;
mod operators;
mod reduce;
mod window;
