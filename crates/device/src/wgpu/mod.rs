//! The wgpu backend: WGSL compute kernels (`shaders/*.wgsl`) on Vulkan, Metal or DX12.
//!
//! `context` opens the device once per process, `pool` recycles buffers, `pipelines` caches
//! compiled kernels, `batch` records dispatches and submits them lazily, and `kernels` holds one
//! host-side module per kernel family (parameters, grid and bindings).

mod batch;
mod context;
mod kernels;
mod pipelines;
mod pool;
mod staged;
mod textures;

use std::sync::Arc;

use context::WgpuContext;
use kernels::matmul_texture::Epilogue;
use pool::PooledBuffer;

use crate::random::Distribution;
use crate::{
    AxisDims, Backend, BinaryOp, CellDims, CellGrad, Conv2dGeometry, Error, GatherDims, MatmulDims, ReduceOp, Result,
    Shape, StridedView, UnaryOp, UpdateRule,
};

/// A handle to the process-wide GPU context (cheap to clone).
#[derive(Clone, Debug)]
pub struct WgpuBackend {
    ctx: Arc<WgpuContext>,
}

/// A tensor buffer on the GPU: `len` f32s at the start of a pooled buffer. Dropping the last
/// clone returns the buffer to the pool.
#[derive(Clone)]
pub struct WgpuStorage {
    buffer: Arc<PooledBuffer>,
    len: usize,
}

impl WgpuStorage {
    /// The number of f32 elements.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for WgpuStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WgpuStorage({} f32)", self.len)
    }
}

impl WgpuBackend {
    /// The shared GPU context: opened on first use (honouring `WGPU_BACKEND` and
    /// `WGPU_ADAPTER_NAME`); without an adapter every call returns `Error::NoAdapter`.
    pub fn shared() -> Result<WgpuBackend> {
        WgpuContext::shared().map(|ctx| WgpuBackend { ctx })
    }
    pub fn same_device(&self, other: &WgpuBackend) -> bool {
        Arc::ptr_eq(&self.ctx, &other.ctx)
    }
    /// The device's limits (as requested: the adapter's own).
    pub fn limits(&self) -> wgpu::Limits {
        self.ctx.limits.clone()
    }
    /// Bytes held by free buffers in the pool, waiting for reuse.
    pub fn pooled_bytes(&self) -> u64 {
        self.ctx.pool.free_bytes()
    }
    /// How many device buffers the pool has created so far (flat once memory is in a steady state).
    pub fn buffers_created(&self) -> u64 {
        self.ctx.pool.created()
    }
    /// Matmul through the portable kernels (`shaders/matmul.wgsl`) even where the subgroup kernel
    /// would run, so that tests on lavapipe check the kernels other GPUs use.
    pub fn matmul_portable(&self, a: &WgpuStorage, b: &WgpuStorage, dims: MatmulDims) -> Result<WgpuStorage> {
        kernels::matmul::matmul_portable(&self.ctx, a, b, dims)
    }
    /// Matmul through the buffer-only subgroup kernel (`shaders/matmul_subgroup.wgsl`), which
    /// lavapipe-like drivers fall back to where the operands do not fit in textures; `None` on
    /// other adapters.
    pub fn matmul_subgroup(&self, a: &WgpuStorage, b: &WgpuStorage, dims: MatmulDims) -> Option<Result<WgpuStorage>> {
        self.ctx.cpu_subgroups.then(|| kernels::matmul::matmul_subgroup(&self.ctx, a, b, dims))
    }
    /// How many elementwise kernels have run fused into the one before them, because nothing else
    /// read that one's result (`relu(a + b)`, `a * b + c`): for tests and benchmarks.
    pub fn fused_epilogues(&self) -> u64 {
        self.ctx.fused_epilogues.load(std::sync::atomic::Ordering::Relaxed)
    }
    /// Whether read-heavy kernels stage their inputs in textures (on by default on CPU-backed
    /// drivers, where that is faster; see `staged.rs`); returns the previous setting. For tests and
    /// benchmarks that compare the two paths: the setting is process-wide.
    pub fn set_texture_reads(&self, on: bool) -> bool {
        self.ctx.texture_reads.swap(on, std::sync::atomic::Ordering::Relaxed)
    }
    /// Compiles a WGSL compute entry point outside the kernel set; an invalid shader is an
    /// `Error::Device` naming the problem (used to test the error path).
    pub fn compile_wgsl(&self, source: &str, entry: &str) -> Result<()> {
        let module = pipelines::compile_module(&self.ctx.device, "user shader", source)?;
        pipelines::create_pipeline(&self.ctx.device, &module, "user shader", entry, &[]).map(drop)
    }
}

impl Backend for WgpuBackend {
    type Storage = WgpuStorage;

    fn name(&self) -> String {
        self.ctx.name.clone()
    }
    fn zeros(&self, len: usize) -> Result<WgpuStorage> {
        kernels::layout::fill(&self.ctx, "zeros", len, 0.0)
    }
    fn full(&self, len: usize, value: f32) -> Result<WgpuStorage> {
        kernels::layout::fill(&self.ctx, "full", len, value)
    }
    fn from_slice(&self, data: &[f32]) -> Result<WgpuStorage> {
        let out = kernels::alloc(&self.ctx, || "from_slice".into(), data.len())?;
        self.ctx.upload(&out, data)?;
        Ok(out)
    }
    fn to_vec(&self, x: &WgpuStorage) -> Result<Vec<f32>> {
        self.ctx.read(x)
    }
    fn random(&self, len: usize, distribution: Distribution) -> Result<WgpuStorage> {
        kernels::elementwise::random(&self.ctx, len, distribution)
    }
    fn unary(&self, op: UnaryOp, x: &WgpuStorage, alpha: f32) -> Result<WgpuStorage> {
        kernels::elementwise::unary(&self.ctx, op, x, alpha)
    }
    fn binary(
        &self,
        op: BinaryOp,
        a: &WgpuStorage,
        a_shape: &Shape,
        b: &WgpuStorage,
        b_shape: &Shape,
    ) -> Result<WgpuStorage> {
        kernels::elementwise::binary(&self.ctx, op, a, a_shape, b, b_shape)
    }
    fn binary_scalar(&self, op: BinaryOp, x: &WgpuStorage, scalar: f32, scalar_first: bool) -> Result<WgpuStorage> {
        kernels::elementwise::binary_scalar(&self.ctx, op, x, scalar, scalar_first)
    }
    fn where_cond(&self, cond: &WgpuStorage, a: &WgpuStorage, b: &WgpuStorage) -> Result<WgpuStorage> {
        kernels::layout::where_cond(&self.ctx, cond, a, b)
    }
    fn mul_add(&self, a: &WgpuStorage, b: &WgpuStorage, c: &WgpuStorage, relu: bool) -> Result<WgpuStorage> {
        kernels::elementwise::mul_add(&self.ctx, a, b, c, relu)
    }
    fn reduce(&self, op: ReduceOp, x: &WgpuStorage, dims: AxisDims) -> Result<WgpuStorage> {
        kernels::reduce::reduce(&self.ctx, op, x, dims)
    }
    fn softmax(&self, x: &WgpuStorage, rows: usize, cols: usize, log: bool) -> Result<WgpuStorage> {
        kernels::reduce::softmax(&self.ctx, x, rows, cols, log)
    }
    fn cross_entropy(
        &self,
        logits: &WgpuStorage,
        targets: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> Result<WgpuStorage> {
        kernels::reduce::cross_entropy(&self.ctx, logits, targets, None, rows, cols)
    }
    fn cross_entropy_mean(
        &self,
        logits: &WgpuStorage,
        targets: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> Result<WgpuStorage> {
        match kernels::reduce::cross_entropy_mean(&self.ctx, logits, targets, rows, cols)? {
            Some(mean) => Ok(mean),
            None => crate::backend::cross_entropy_mean_unfused(self, logits, targets, rows, cols),
        }
    }
    fn cross_entropy_grad(
        &self,
        logits: &WgpuStorage,
        targets: &WgpuStorage,
        grad: &WgpuStorage,
        scale: f32,
        rows: usize,
        cols: usize,
    ) -> Result<WgpuStorage> {
        kernels::reduce::cross_entropy(&self.ctx, logits, targets, Some((grad, scale)), rows, cols)
    }
    fn cell_step(
        &self,
        gi: &WgpuStorage,
        gh: &WgpuStorage,
        state: &WgpuStorage,
        dims: CellDims,
    ) -> Result<WgpuStorage> {
        kernels::cells::cell(&self.ctx, [gi, gh, state], None, dims)
    }
    fn cell_grad(
        &self,
        gi: &WgpuStorage,
        gh: &WgpuStorage,
        state: &WgpuStorage,
        grad: &WgpuStorage,
        dims: CellDims,
        wrt: CellGrad,
    ) -> Result<WgpuStorage> {
        kernels::cells::cell(&self.ctx, [gi, gh, state], Some((grad, wrt)), dims)
    }
    fn matmul(&self, a: &WgpuStorage, b: &WgpuStorage, dims: MatmulDims) -> Result<WgpuStorage> {
        kernels::matmul::matmul(&self.ctx, a, b, dims)
    }
    fn relu_backward(
        &self,
        grad: &WgpuStorage,
        out: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> Result<(WgpuStorage, WgpuStorage)> {
        match kernels::elementwise::relu_backward(&self.ctx, grad, out, rows, cols)? {
            Some(both) => Ok(both),
            None => crate::backend::relu_backward_unfused(self, grad, out, rows, cols),
        }
    }
    fn linear(
        &self,
        a: &WgpuStorage,
        b: &WgpuStorage,
        dims: MatmulDims,
        bias: Option<&WgpuStorage>,
        relu: bool,
    ) -> Result<WgpuStorage> {
        let epilogue = Epilogue { bias, relu };
        match kernels::matmul::matmul_texture_plan(&self.ctx, &dims) {
            Some(plan) => kernels::matmul_texture::matmul_texture(&self.ctx, a, b, dims, plan, epilogue),
            None => crate::backend::linear_unfused(self, a, b, dims, bias, relu),
        }
    }
    fn copy_strided(&self, x: &WgpuStorage, view: &StridedView) -> Result<WgpuStorage> {
        kernels::layout::copy_strided(&self.ctx, x, view)
    }
    fn pad_axis(
        &self,
        x: &WgpuStorage,
        outer: usize,
        axis: usize,
        inner: usize,
        offset: usize,
        total: usize,
    ) -> Result<WgpuStorage> {
        kernels::layout::pad_axis(&self.ctx, x, outer, axis, inner, offset, total)
    }
    fn concat(&self, parts: &[(&WgpuStorage, usize)], outer: usize, inner: usize) -> Result<WgpuStorage> {
        kernels::layout::concat(&self.ctx, parts, outer, inner)
    }
    fn gather(&self, src: &WgpuStorage, index: &WgpuStorage, dims: GatherDims) -> Result<WgpuStorage> {
        kernels::layout::gather(&self.ctx, src, index, dims)
    }
    fn scatter_add(&self, src: &WgpuStorage, index: &WgpuStorage, dims: GatherDims) -> Result<WgpuStorage> {
        kernels::layout::scatter_add(&self.ctx, src, index, dims)
    }
    fn im2col(&self, x: &WgpuStorage, geom: Conv2dGeometry) -> Result<WgpuStorage> {
        kernels::conv::im2col(&self.ctx, x, geom)
    }
    fn col2im(&self, cols: &WgpuStorage, geom: Conv2dGeometry) -> Result<WgpuStorage> {
        kernels::conv::col2im(&self.ctx, cols, geom)
    }
    fn update(
        &self,
        rule: &UpdateRule,
        param: &WgpuStorage,
        grad: &WgpuStorage,
        state: &[&WgpuStorage],
    ) -> Result<(WgpuStorage, Vec<WgpuStorage>)> {
        if state.len() != rule.state_count() {
            return Err(Error::invalid(
                rule.name(),
                format!("expected {} state buffers, got {}", rule.state_count(), state.len()),
            ));
        }
        kernels::optim::update(&self.ctx, rule, param, grad, state)
    }
    fn synchronize(&self) -> Result<()> {
        self.ctx.synchronize()
    }
}

#[cfg(test)]
mod tests {
    use super::pipelines::{Kernel, Shader};
    use super::*;

    /// The tests that compose a batch on the shared device and refuse it: one flushing while the
    /// other records would split or spoil the other's batch.
    static ONE_BATCH_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// An op stages its inputs, then records its dispatch. A flush on another thread between the
    /// two may submit the copies in a batch the device refuses: the dispatch must fail, not read
    /// textures the copies never wrote. Here that flush runs on this thread, between the two steps.
    #[test]
    fn a_dispatch_whose_texture_copies_were_refused_fails() {
        use super::batch::TextureReads;
        let _alone = ONE_BATCH_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let b = WgpuBackend::shared().expect("a GPU adapter (lavapipe on CPU-only machines)");
        let n = 1 << 16;
        let x = b.from_slice(&(0..n).map(|i| i as f32).collect::<Vec<_>>()).unwrap();
        let spoiler = b.from_slice(&[1.0; 4]).unwrap();
        let out = b.zeros(n).unwrap();
        b.synchronize().unwrap();
        // Minus x, staged as `kernels::dispatch_staged` does, with a refused batch between its
        // copy and its dispatch when `refuse_between`.
        let neg = |refuse_between: bool| -> Result<()> {
            let since = b.ctx.failed_batches();
            let staged = super::staged::stage_all(&b.ctx, &[&x], n).unwrap();
            if refuse_between {
                // The refused batch of the test below.
                let kernel = Kernel::new(Shader::Unary, "unary_neg");
                b.ctx.dispatch(&kernel, &[4u32, 0, 0, 0], &[(1, &spoiler), (2, &spoiler)], [1, 1, 1]).unwrap();
                assert!(b.synchronize().is_err());
            }
            let kernel = Kernel::new(Shader::Unary, "unary_neg").with("STAGED", staged.flag());
            let reads = TextureReads { views: &[(3, staged.view(0))], sources: &[], since };
            let groups = kernels::per_vec4(&b.ctx, "neg", n).unwrap();
            b.ctx.dispatch_with_textures(&kernel, &[n as u32, 0, 0, 0], &[(1, &x), (2, &out)], reads, groups)
        };
        let err = neg(true).unwrap_err().to_string();
        assert_eq!(err, "device error: unary_neg: a batch of GPU work that was to copy an input into a texture failed");
        // Staged again after the failure, the same op reads the right values.
        neg(false).unwrap();
        assert_eq!(b.to_vec(&out).unwrap(), (0..n).map(|i| -(i as f32)).collect::<Vec<_>>());
    }

    #[test]
    fn a_refused_batch_is_an_error_and_what_it_was_to_write_is_refused_after() {
        let _alone = ONE_BATCH_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let b = WgpuBackend::shared().expect("a GPU adapter (lavapipe on CPU-only machines)");
        let w = b.from_slice(&[3.0, 4.0]).unwrap();
        let ones = b.from_slice(&[1.0; 64 * 64]).unwrap();
        b.synchronize().unwrap();
        // In one batch: an op reading `w` (made by an earlier batch), then the same buffer bound
        // read-only and read-write in one dispatch, a validation error that drops the batch whole.
        let y = b.unary(UnaryOp::Neg, &w, 0.0).unwrap();
        // A product without a bias binds the shared placeholder bias, which no batch writes: it
        // must stay valid for later products.
        let dims = crate::MatmulDims { batch: 1, m: 64, n: 64, k: 64, transpose_a: false, transpose_b: false };
        let _lost_product = b.matmul(&ones, &ones, dims).unwrap();
        let x = b.from_slice(&[1.0, 2.0]).unwrap();
        let params = [2u32, 0, 0, 0];
        b.ctx.dispatch(&Kernel::new(Shader::Unary, "unary_neg"), &params, &[(1, &x), (2, &x)], [1, 1, 1]).unwrap();
        match b.synchronize() {
            Err(Error::Device(msg)) => assert!(msg.starts_with("a batch of GPU work failed"), "{msg}"),
            other => panic!("expected a device error, got {other:?}"),
        }
        // Reported once.
        b.synchronize().unwrap();
        // What the batch was to write (`y`, and `x` by its upload) is refused, not read as whatever
        // its buffer held; `w`, which it only read, is intact.
        let err = b.to_vec(&y).unwrap_err().to_string();
        assert!(
            err.contains("to_vec: an operand is not valid, a batch of GPU work that was to write it failed"),
            "{err}"
        );
        let err = b.unary(UnaryOp::Exp, &x, 0.0).unwrap_err().to_string();
        assert!(err.contains("an operand is not valid"), "{err}");
        assert_eq!(b.to_vec(&w).unwrap(), vec![3.0, 4.0]);
        // The device keeps working, products without a bias included.
        let z = b.unary(UnaryOp::Neg, &w, 0.0).unwrap();
        assert_eq!(b.to_vec(&z).unwrap(), vec![-3.0, -4.0]);
        assert_eq!(b.to_vec(&b.matmul(&ones, &ones, dims).unwrap()).unwrap(), vec![64.0; 64 * 64]);
    }

    #[test]
    fn a_texture_the_driver_refuses_is_an_error_not_a_handle() {
        let b = WgpuBackend::shared().expect("a GPU adapter (lavapipe on CPU-only machines)");
        let too_wide = b.ctx.limits.max_texture_dimension_2d + 1;
        let err = super::textures::take(&b.ctx, too_wide, 1).unwrap_err().to_string();
        assert!(err.contains(&format!("an operand texture of {too_wide} x 1 texels")), "{err}");
    }
}
