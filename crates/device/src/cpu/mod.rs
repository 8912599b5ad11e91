//! The CPU backend: contiguous `Vec<f32>` storage, rayon for large elementwise work and a blocked
//! GEMM for matmul.

mod cells;
mod conv;
mod cross_entropy;
mod elementwise;
mod fast_exp;
mod fill;
#[cfg(target_arch = "x86_64")]
mod gemm;
#[cfg(target_arch = "x86_64")]
mod gemm_kernel;
mod layout;
mod matmul;
mod pool;
mod reduce;
mod reduce_lines;
mod simd;
mod softmax;
mod update;

use std::sync::Arc;

use crate::random::{Distribution, Sampler};
use crate::{
    AxisDims, Backend, BinaryOp, CellDims, CellGrad, Conv2dGeometry, GatherDims, MatmulDims, ReduceOp, Result, Shape,
    StridedView, UnaryOp, UpdateRule,
};

/// Below this many elements, work stays on one thread (spawning costs more than it saves).
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 15;

#[derive(Clone, Debug, Default)]
pub struct CpuBackend;

/// A CPU tensor buffer, shared by reference count.
#[derive(Clone, Debug)]
pub struct CpuStorage(pub(crate) Arc<Buffer>);

impl CpuStorage {
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
    pub(crate) fn new(v: Vec<f32>) -> Self {
        CpuStorage(Arc::new(Buffer(v)))
    }
}

/// The values of a `CpuStorage`; a large one goes back to the `pool` when the last tensor using it
/// is dropped.
#[derive(Debug)]
pub(crate) struct Buffer(Vec<f32>);

impl std::ops::Deref for Buffer {
    type Target = Vec<f32>;
    fn deref(&self) -> &Vec<f32> {
        &self.0
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        pool::give_back(std::mem::take(&mut self.0));
    }
}

impl Backend for CpuBackend {
    type Storage = CpuStorage;

    fn name(&self) -> String {
        "cpu".into()
    }
    fn zeros(&self, len: usize) -> Result<CpuStorage> {
        Ok(CpuStorage::new(pool::zeroed(len)?))
    }
    fn full(&self, len: usize, value: f32) -> Result<CpuStorage> {
        let mut v = pool::take(len)?;
        v.resize(len, value);
        Ok(CpuStorage::new(v))
    }
    fn from_slice(&self, data: &[f32]) -> Result<CpuStorage> {
        let mut v = pool::take(data.len())?;
        v.extend_from_slice(data);
        Ok(CpuStorage::new(v))
    }
    fn to_vec(&self, x: &CpuStorage) -> Result<Vec<f32>> {
        Ok(x.0.to_vec())
    }
    fn random(&self, len: usize, distribution: Distribution) -> Result<CpuStorage> {
        let sampler = Sampler::new(distribution);
        // SAFETY: every element of each chunk is written.
        let values = unsafe {
            fill::filled(len, fill::CHUNK, |start, out| {
                for (i, o) in out.iter_mut().enumerate() {
                    o.write(sampler.sample((start + i) as u32));
                }
            })?
        };
        Ok(CpuStorage::new(values))
    }
    fn unary(&self, op: UnaryOp, x: &CpuStorage, alpha: f32) -> Result<CpuStorage> {
        Ok(CpuStorage::new(elementwise::unary(op, &x.0, alpha)?))
    }
    fn binary(
        &self,
        op: BinaryOp,
        a: &CpuStorage,
        a_shape: &Shape,
        b: &CpuStorage,
        b_shape: &Shape,
    ) -> Result<CpuStorage> {
        Ok(CpuStorage::new(elementwise::binary(op, &a.0, a_shape, &b.0, b_shape)?))
    }
    fn binary_scalar(&self, op: BinaryOp, x: &CpuStorage, scalar: f32, scalar_first: bool) -> Result<CpuStorage> {
        Ok(CpuStorage::new(elementwise::binary_scalar(op, &x.0, scalar, scalar_first)?))
    }
    fn where_cond(&self, cond: &CpuStorage, a: &CpuStorage, b: &CpuStorage) -> Result<CpuStorage> {
        Ok(CpuStorage::new(elementwise::where_cond(&cond.0, &a.0, &b.0)?))
    }
    fn mul_add(&self, a: &CpuStorage, b: &CpuStorage, c: &CpuStorage, relu: bool) -> Result<CpuStorage> {
        Ok(CpuStorage::new(elementwise::mul_add(&a.0, &b.0, &c.0, relu)?))
    }
    fn reduce(&self, op: ReduceOp, x: &CpuStorage, dims: AxisDims) -> Result<CpuStorage> {
        Ok(CpuStorage::new(reduce::reduce(op, &x.0, dims)?))
    }
    fn softmax(&self, x: &CpuStorage, rows: usize, cols: usize, log: bool) -> Result<CpuStorage> {
        Ok(CpuStorage::new(softmax::softmax(&x.0, rows, cols, log)?))
    }
    fn cross_entropy(&self, logits: &CpuStorage, targets: &CpuStorage, rows: usize, cols: usize) -> Result<CpuStorage> {
        Ok(CpuStorage::new(cross_entropy::cross_entropy(&logits.0, &targets.0, rows, cols)))
    }
    fn cross_entropy_grad(
        &self,
        logits: &CpuStorage,
        targets: &CpuStorage,
        grad: &CpuStorage,
        scale: f32,
        _rows: usize,
        cols: usize,
    ) -> Result<CpuStorage> {
        Ok(CpuStorage::new(cross_entropy::cross_entropy_grad(&logits.0, &targets.0, &grad.0, scale, cols)?))
    }
    fn cell_step(&self, gi: &CpuStorage, gh: &CpuStorage, state: &CpuStorage, dims: CellDims) -> Result<CpuStorage> {
        Ok(CpuStorage::new(cells::step(&gi.0, &gh.0, &state.0, dims)?))
    }
    fn cell_grad(
        &self,
        gi: &CpuStorage,
        gh: &CpuStorage,
        state: &CpuStorage,
        grad: &CpuStorage,
        dims: CellDims,
        wrt: CellGrad,
    ) -> Result<CpuStorage> {
        Ok(CpuStorage::new(cells::grad(&gi.0, &gh.0, &state.0, &grad.0, dims, wrt)?))
    }
    fn matmul(&self, a: &CpuStorage, b: &CpuStorage, dims: MatmulDims) -> Result<CpuStorage> {
        Ok(CpuStorage::new(matmul::matmul(&a.0, &b.0, dims)?))
    }
    fn relu_backward(
        &self,
        grad: &CpuStorage,
        out: &CpuStorage,
        _rows: usize,
        cols: usize,
    ) -> Result<(CpuStorage, CpuStorage)> {
        let (masked, sums) = matmul::relu_backward(&grad.0, &out.0, cols);
        Ok((CpuStorage::new(masked), CpuStorage::new(sums)))
    }
    fn linear(
        &self,
        a: &CpuStorage,
        b: &CpuStorage,
        dims: MatmulDims,
        bias: Option<&CpuStorage>,
        relu: bool,
    ) -> Result<CpuStorage> {
        let mut y = matmul::matmul(&a.0, &b.0, dims)?;
        matmul::bias_relu(&mut y, bias.map(|b| b.as_slice()), relu);
        Ok(CpuStorage::new(y))
    }
    fn copy_strided(&self, x: &CpuStorage, view: &StridedView) -> Result<CpuStorage> {
        Ok(CpuStorage::new(layout::copy_strided(&x.0, view)?))
    }
    fn pad_axis(
        &self,
        x: &CpuStorage,
        outer: usize,
        axis: usize,
        inner: usize,
        offset: usize,
        total: usize,
    ) -> Result<CpuStorage> {
        Ok(CpuStorage::new(layout::pad_axis(&x.0, outer, axis * inner, offset * inner, total * inner)?))
    }
    fn concat(&self, parts: &[(&CpuStorage, usize)], outer: usize, inner: usize) -> Result<CpuStorage> {
        let parts: Vec<(&[f32], usize)> = parts.iter().map(|(s, n)| (s.0.as_slice(), *n)).collect();
        Ok(CpuStorage::new(layout::concat(&parts, outer, inner)?))
    }
    fn gather(&self, src: &CpuStorage, index: &CpuStorage, dims: GatherDims) -> Result<CpuStorage> {
        Ok(CpuStorage::new(layout::gather(&src.0, &index.0, dims)?))
    }
    fn scatter_add(&self, src: &CpuStorage, index: &CpuStorage, dims: GatherDims) -> Result<CpuStorage> {
        Ok(CpuStorage::new(layout::scatter_add(&src.0, &index.0, dims)?))
    }
    fn im2col(&self, x: &CpuStorage, geom: Conv2dGeometry) -> Result<CpuStorage> {
        Ok(CpuStorage::new(conv::im2col(&x.0, geom)?))
    }
    fn col2im(&self, cols: &CpuStorage, geom: Conv2dGeometry) -> Result<CpuStorage> {
        Ok(CpuStorage::new(conv::col2im(&cols.0, geom)?))
    }
    fn update(
        &self,
        rule: &UpdateRule,
        param: &CpuStorage,
        grad: &CpuStorage,
        state: &[&CpuStorage],
    ) -> Result<(CpuStorage, Vec<CpuStorage>)> {
        let state: Vec<&[f32]> = state.iter().map(|s| s.0.as_slice()).collect();
        let (p, s) = update::update(rule, &param.0, &grad.0, &state)?;
        Ok((CpuStorage::new(p), s.into_iter().map(CpuStorage::new).collect()))
    }
    fn synchronize(&self) -> Result<()> {
        Ok(())
    }
}
