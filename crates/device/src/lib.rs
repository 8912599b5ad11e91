//! soma-device: the `Backend` trait, the CPU and wgpu backends, shapes, op tables and `Error`.

mod backend;
mod cpu;
mod device;
mod error;
mod ops;
pub mod optim;
pub mod random;
mod shape;
pub mod testing;
mod wgpu;

pub use backend::Backend;
pub use cpu::{CpuBackend, CpuStorage};
pub use device::{Device, Storage};
pub use error::{Error, Result};
pub use ops::{
    AxisDims, BinaryOp, CellDims, CellGrad, CellKind, Conv2dGeometry, GatherDims, MatmulDims, ReduceOp, StridedView,
    UnaryOp, stable_sigmoid, stable_tanh,
};
pub use optim::UpdateRule;
pub use shape::{MAX_RANK, Shape};
pub use wgpu::{WgpuBackend, WgpuStorage};
