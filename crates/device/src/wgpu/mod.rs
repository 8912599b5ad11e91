//! The wgpu backend (in progress: the GPU helper replaces this placeholder).

use std::sync::Arc;

use crate::{
    AxisDims, Backend, BinaryOp, Conv2dGeometry, Error, GatherDims, MatmulDims, ReduceOp, Result, Shape, StridedView,
    UnaryOp, UpdateRule,
};

#[derive(Clone, Debug)]
pub struct WgpuBackend {
    ctx: Arc<()>,
}

#[derive(Clone, Debug)]
pub struct WgpuStorage;

fn pending<T>() -> Result<T> {
    Err(Error::Device("wgpu backend not built yet".into()))
}

impl WgpuBackend {
    pub fn shared() -> Result<WgpuBackend> {
        pending()
    }
    pub fn same_device(&self, other: &WgpuBackend) -> bool {
        Arc::ptr_eq(&self.ctx, &other.ctx)
    }
}

#[allow(unused_variables)]
impl Backend for WgpuBackend {
    type Storage = WgpuStorage;
    fn name(&self) -> String {
        "wgpu".into()
    }
    fn zeros(&self, len: usize) -> Result<WgpuStorage> {
        pending()
    }
    fn full(&self, len: usize, value: f32) -> Result<WgpuStorage> {
        pending()
    }
    fn from_slice(&self, data: &[f32]) -> Result<WgpuStorage> {
        pending()
    }
    fn to_vec(&self, x: &WgpuStorage) -> Result<Vec<f32>> {
        pending()
    }
    fn rand_uniform(&self, len: usize, seed: u64) -> Result<WgpuStorage> {
        pending()
    }
    fn unary(&self, op: UnaryOp, x: &WgpuStorage, alpha: f32) -> Result<WgpuStorage> {
        pending()
    }
    fn binary(
        &self,
        op: BinaryOp,
        a: &WgpuStorage,
        a_shape: &Shape,
        b: &WgpuStorage,
        b_shape: &Shape,
    ) -> Result<WgpuStorage> {
        pending()
    }
    fn binary_scalar(&self, op: BinaryOp, x: &WgpuStorage, scalar: f32, scalar_first: bool) -> Result<WgpuStorage> {
        pending()
    }
    fn where_cond(&self, cond: &WgpuStorage, a: &WgpuStorage, b: &WgpuStorage) -> Result<WgpuStorage> {
        pending()
    }
    fn reduce(&self, op: ReduceOp, x: &WgpuStorage, dims: AxisDims) -> Result<WgpuStorage> {
        pending()
    }
    fn softmax(&self, x: &WgpuStorage, rows: usize, cols: usize, log: bool) -> Result<WgpuStorage> {
        pending()
    }
    fn matmul(&self, a: &WgpuStorage, b: &WgpuStorage, dims: MatmulDims) -> Result<WgpuStorage> {
        pending()
    }
    fn copy_strided(&self, x: &WgpuStorage, view: &StridedView) -> Result<WgpuStorage> {
        pending()
    }
    fn concat(&self, parts: &[(&WgpuStorage, usize)], outer: usize, inner: usize) -> Result<WgpuStorage> {
        pending()
    }
    fn gather(&self, src: &WgpuStorage, index: &WgpuStorage, dims: GatherDims) -> Result<WgpuStorage> {
        pending()
    }
    fn scatter_add(&self, src: &WgpuStorage, index: &WgpuStorage, dims: GatherDims) -> Result<WgpuStorage> {
        pending()
    }
    fn im2col(&self, x: &WgpuStorage, geom: Conv2dGeometry) -> Result<WgpuStorage> {
        pending()
    }
    fn col2im(&self, cols: &WgpuStorage, geom: Conv2dGeometry) -> Result<WgpuStorage> {
        pending()
    }
    fn update(
        &self,
        rule: &UpdateRule,
        param: &WgpuStorage,
        grad: &WgpuStorage,
        state: &[&WgpuStorage],
    ) -> Result<(WgpuStorage, Vec<WgpuStorage>)> {
        pending()
    }
    fn synchronize(&self) -> Result<()> {
        pending()
    }
}
