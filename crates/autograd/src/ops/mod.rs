//! The ops of `Tensor`, one family per module.

mod elementwise;
mod index;
mod layout;
mod matmul;
mod operators;
mod recurrent;
mod reduce;
mod window;

pub(crate) use recurrent::cell_dims;
