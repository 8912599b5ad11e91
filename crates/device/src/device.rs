//! `Device` and `Storage`: the two enums that forward to the concrete backends.
//!
//! Public types are not generic over the backend; one macro does the forwarding.

use crate::random::Distribution;
use crate::shape::checked_product;
use crate::{
    AxisDims, Backend, BinaryOp, CellDims, CellGrad, Conv2dGeometry, CpuBackend, CpuStorage, Error, GatherDims,
    MatmulDims, ReduceOp, Result, Shape, StridedView, UnaryOp, UpdateRule, WgpuBackend, WgpuStorage,
};

/// Where tensors live and ops run.
#[derive(Clone, Debug)]
pub enum Device {
    Cpu(CpuBackend),
    Wgpu(WgpuBackend),
}

/// A buffer on some device.
#[derive(Clone, Debug)]
pub enum Storage {
    Cpu(CpuStorage),
    Wgpu(WgpuStorage),
}

impl PartialEq for Device {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Device::Cpu(_), Device::Cpu(_)) => true,
            (Device::Wgpu(a), Device::Wgpu(b)) => a.same_device(b),
            _ => false,
        }
    }
}

impl Device {
    pub fn cpu() -> Device {
        Device::Cpu(CpuBackend)
    }
    /// The first GPU adapter (Vulkan, Metal or DX12), honouring `WGPU_BACKEND` and
    /// `WGPU_ADAPTER_NAME`. The device is opened once per process and shared.
    pub fn gpu() -> Result<Device> {
        WgpuBackend::shared().map(Device::Wgpu)
    }
    /// The GPU if there is one, else the CPU.
    pub fn best() -> Device {
        Device::gpu().unwrap_or_else(|_| Device::cpu())
    }
    /// Parses `cpu`, `gpu` or `best` (the examples' `--backend` flag).
    pub fn from_name(name: &str) -> Result<Device> {
        match name {
            "cpu" => Ok(Device::cpu()),
            "gpu" | "wgpu" => Device::gpu(),
            "best" => Ok(Device::best()),
            other => Err(Error::invalid("device", format!("unknown backend {other:?}; use cpu, gpu or best"))),
        }
    }
    pub fn is_gpu(&self) -> bool {
        matches!(self, Device::Wgpu(_))
    }
    pub fn name(&self) -> String {
        match self {
            Device::Cpu(b) => b.name(),
            Device::Wgpu(b) => b.name(),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Storage {
    pub fn device_kind(&self) -> &'static str {
        match self {
            Storage::Cpu(_) => "cpu",
            Storage::Wgpu(_) => "gpu",
        }
    }
    /// The number of f32 elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.as_slice().len(),
            Storage::Wgpu(s) => s.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs `$body` with the concrete backend bound to `$b` and each listed storage unwrapped to the
/// same backend's storage; a storage from the other backend is an `Error::DeviceMismatch`.
macro_rules! on_backend {
    ($self:expr, $op:expr, |$b:ident $(, $s:ident)*| $body:expr) => {
        match $self {
            Device::Cpu($b) => {
                $(let $s = match $s { Storage::Cpu(s) => s, other => return Err(mismatch($op, "cpu", other)) };)*
                $body.map(Wrap::cpu).map_err(|e| e.for_op($op))
            }
            Device::Wgpu($b) => {
                $(let $s = match $s { Storage::Wgpu(s) => s, other => return Err(mismatch($op, "gpu", other)) };)*
                $body.map(Wrap::wgpu)
            }
        }
    };
}

/// Checks that `x` holds the values of `what` (e.g. "input"), `dims` as the op sees it.
fn check_len(op: &'static str, what: &str, x: &Storage, dims: &[usize]) -> Result<()> {
    let want = checked_product(dims);
    if want == Some(x.len()) {
        return Ok(());
    }
    let want = want.map_or_else(|| "more values than fit in memory".to_string(), |w| format!("{w} values"));
    Err(Error::shape(op, format!("{what} {dims:?} needs {want}, got {}", x.len())))
}

/// Checks that a strided view reads inside `x`'s elements.
fn check_view(x: &Storage, view: &StridedView) -> Result<()> {
    let last = view.shape.iter().zip(&view.strides).try_fold(view.offset, |at, (&d, &s)| {
        d.checked_sub(1).map_or(Some(at), |steps| steps.checked_mul(s).and_then(|reach| at.checked_add(reach)))
    });
    let empty = view.shape.contains(&0);
    let countable = checked_product(&view.shape).is_some();
    if view.shape.len() == view.strides.len() && countable && (empty || last.is_some_and(|last| last < x.len())) {
        return Ok(());
    }
    Err(Error::shape(
        "copy_strided",
        format!(
            "a view of shape {:?}, strides {:?} from offset {} reads past a {}-element input",
            view.shape,
            view.strides,
            view.offset,
            x.len()
        ),
    ))
}

/// The operands of a product: `batch` matrices of `m x k` and of `k x n` values.
fn check_matmul_operands(op: &'static str, x: &Storage, y: &Storage, d: &MatmulDims) -> Result<()> {
    let (Some(want_x), Some(want_y), Some(_)) = (
        checked_product(&[d.batch, d.m, d.k]),
        checked_product(&[d.batch, d.k, d.n]),
        checked_product(&[d.batch, d.m, d.n]),
    ) else {
        let msg = format!("a batch of {} [{}, {}] x [{}, {}] products is too large", d.batch, d.m, d.k, d.k, d.n);
        return Err(Error::limit(op, msg));
    };
    if x.len() != want_x || y.len() != want_y {
        return Err(Error::shape(
            op,
            format!(
                "a batch of {} [{}, {}] x [{}, {}] products needs {want_x} and {want_y} values, got {} and {}",
                d.batch,
                d.m,
                d.k,
                d.k,
                d.n,
                x.len(),
                y.len()
            ),
        ));
    }
    Ok(())
}

fn check_class_rows(
    op: &'static str,
    logits: &Storage,
    targets: &Storage,
    grad: Option<&Storage>,
    rows: usize,
    cols: usize,
) -> Result<()> {
    let grad_ok = grad.is_none_or(|g| g.len() == rows || g.len() == 1);
    if checked_product(&[rows, cols]) != Some(logits.len()) || targets.len() != rows || !grad_ok || cols == 0 {
        let grad = grad.map(|g| format!(", {} row gradients (or 1 for all)", g.len())).unwrap_or_default();
        return Err(Error::shape(
            op,
            format!(
                "needs [{rows}, {cols}] logits (at least one class) and {rows} targets, got {} logits, {} targets{grad}",
                logits.len(),
                targets.len()
            ),
        ));
    }
    Ok(())
}

/// The operands of a cell step: gates `gi` and `gh` `[batch, gates * hidden]`, a state (and a
/// gradient) `[batch, state_width * hidden]`.
fn check_cell(gi: &Storage, gh: &Storage, state: &Storage, grad: Option<&Storage>, d: CellDims) -> Result<()> {
    // Sizes too large to count match no storage.
    let gates = checked_product(&[d.batch, d.kind.gates(), d.hidden]);
    let states = checked_product(&[d.batch, d.kind.state_width(), d.hidden]);
    let fits = |s: &Storage, want: Option<usize>| want == Some(s.len());
    if !fits(gi, gates) || !fits(gh, gates) || !fits(state, states) || grad.is_some_and(|g| !fits(g, states)) {
        let grad = grad.map(|g| format!(", a {}-element gradient", g.len())).unwrap_or_default();
        let (b, h) = (d.batch, d.hidden);
        return Err(Error::shape(
            d.kind.name(),
            format!(
                "needs gates [{b}, {}] twice and a state [{b}, {}] for batch {b}, hidden {h}; got {} and {} gate \
                 elements, a {}-element state{grad}",
                d.kind.gates() as u128 * h as u128,
                d.kind.state_width() as u128 * h as u128,
                gi.len(),
                gh.len(),
                state.len(),
            ),
        ));
    }
    Ok(())
}

fn mismatch(op: &'static str, device: &str, storage: &Storage) -> Error {
    Error::DeviceMismatch { op, a: device.into(), b: storage.device_kind().into() }
}

/// How a backend's result is lifted into the enum types.
trait Wrap<C, W> {
    fn cpu(c: C) -> Self;
    fn wgpu(w: W) -> Self;
}
impl Wrap<CpuStorage, WgpuStorage> for Storage {
    fn cpu(c: CpuStorage) -> Self {
        Storage::Cpu(c)
    }
    fn wgpu(w: WgpuStorage) -> Self {
        Storage::Wgpu(w)
    }
}
impl Wrap<Vec<f32>, Vec<f32>> for Vec<f32> {
    fn cpu(c: Vec<f32>) -> Self {
        c
    }
    fn wgpu(w: Vec<f32>) -> Self {
        w
    }
}
impl Wrap<(), ()> for () {
    fn cpu(_: ()) -> Self {}
    fn wgpu(_: ()) -> Self {}
}
impl Wrap<(CpuStorage, CpuStorage), (WgpuStorage, WgpuStorage)> for (Storage, Storage) {
    fn cpu((a, b): (CpuStorage, CpuStorage)) -> Self {
        (Storage::Cpu(a), Storage::Cpu(b))
    }
    fn wgpu((a, b): (WgpuStorage, WgpuStorage)) -> Self {
        (Storage::Wgpu(a), Storage::Wgpu(b))
    }
}
impl Wrap<(CpuStorage, Vec<CpuStorage>), (WgpuStorage, Vec<WgpuStorage>)> for (Storage, Vec<Storage>) {
    fn cpu((p, s): (CpuStorage, Vec<CpuStorage>)) -> Self {
        (Storage::Cpu(p), s.into_iter().map(Storage::Cpu).collect())
    }
    fn wgpu((p, s): (WgpuStorage, Vec<WgpuStorage>)) -> Self {
        (Storage::Wgpu(p), s.into_iter().map(Storage::Wgpu).collect())
    }
}

/// Unwraps a list of storages to one backend's, or reports the first that lives elsewhere.
macro_rules! unwrap_all {
    ($list:expr, $variant:ident, $op:expr, $device:expr) => {
        $list
            .iter()
            .map(|s| match s {
                Storage::$variant(s) => Ok(s),
                other => Err(mismatch($op, $device, other)),
            })
            .collect::<Result<Vec<_>>>()?
    };
}

impl Device {
    pub fn zeros(&self, len: usize) -> Result<Storage> {
        on_backend!(self, "zeros", |b| b.zeros(len))
    }
    pub fn full(&self, len: usize, value: f32) -> Result<Storage> {
        on_backend!(self, "full", |b| b.full(len, value))
    }
    #[allow(clippy::wrong_self_convention)]
    pub fn from_slice(&self, data: &[f32]) -> Result<Storage> {
        on_backend!(self, "from_slice", |b| b.from_slice(data))
    }
    pub fn to_vec(&self, x: &Storage) -> Result<Vec<f32>> {
        on_backend!(self, "to_vec", |b, x| b.to_vec(x))
    }
    pub fn random(&self, len: usize, distribution: Distribution) -> Result<Storage> {
        on_backend!(self, "rand", |b| b.random(len, distribution))
    }
    /// Uniform numbers in [0, 1), the same on every device for the same seed.
    pub fn rand_uniform(&self, len: usize, seed: u64) -> Result<Storage> {
        self.random(len, Distribution::standard_uniform(seed))
    }
    pub fn unary(&self, op: UnaryOp, x: &Storage, alpha: f32) -> Result<Storage> {
        on_backend!(self, op.name(), |b, x| b.unary(op, x, alpha))
    }
    pub fn binary(&self, op: BinaryOp, a: &Storage, a_shape: &Shape, b_: &Storage, b_shape: &Shape) -> Result<Storage> {
        check_len(op.name(), "a", a, a_shape.dims())?;
        check_len(op.name(), "b", b_, b_shape.dims())?;
        on_backend!(self, op.name(), |b, a, b_| b.binary(op, a, a_shape, b_, b_shape))
    }
    pub fn binary_scalar(&self, op: BinaryOp, x: &Storage, scalar: f32, scalar_first: bool) -> Result<Storage> {
        on_backend!(self, op.name(), |b, x| b.binary_scalar(op, x, scalar, scalar_first))
    }
    pub fn where_cond(&self, cond: &Storage, x: &Storage, y: &Storage) -> Result<Storage> {
        check_len("where", "x, as long as the condition,", x, &[cond.len()])?;
        check_len("where", "y, as long as the condition,", y, &[cond.len()])?;
        on_backend!(self, "where", |b, cond, x, y| b.where_cond(cond, x, y))
    }
    pub fn mul_add(&self, x: &Storage, y: &Storage, z: &Storage, relu: bool) -> Result<Storage> {
        if x.len() != y.len() || x.len() != z.len() {
            let lengths = format!("{}, {} and {} elements", x.len(), y.len(), z.len());
            return Err(Error::shape("mul_add", format!("needs three equally long tensors, got {lengths}")));
        }
        on_backend!(self, "mul_add", |b, x, y, z| b.mul_add(x, y, z, relu))
    }
    pub fn reduce(&self, op: ReduceOp, x: &Storage, dims: AxisDims) -> Result<Storage> {
        check_len(op.name(), "input", x, &[dims.outer, dims.axis, dims.inner])?;
        on_backend!(self, op.name(), |b, x| b.reduce(op, x, dims))
    }
    pub fn softmax(&self, x: &Storage, rows: usize, cols: usize, log: bool) -> Result<Storage> {
        check_len("softmax", "input", x, &[rows, cols])?;
        on_backend!(self, "softmax", |b, x| b.softmax(x, rows, cols, log))
    }
    pub fn cross_entropy(&self, logits: &Storage, targets: &Storage, rows: usize, cols: usize) -> Result<Storage> {
        check_class_rows("cross_entropy", logits, targets, None, rows, cols)?;
        on_backend!(self, "cross_entropy", |b, logits, targets| b.cross_entropy(logits, targets, rows, cols))
    }
    pub fn cross_entropy_mean(&self, logits: &Storage, targets: &Storage, rows: usize, cols: usize) -> Result<Storage> {
        check_class_rows("cross_entropy", logits, targets, None, rows, cols)?;
        if rows == 0 {
            return Err(Error::shape("cross_entropy", format!("cannot average an empty batch of {cols} classes")));
        }
        on_backend!(self, "cross_entropy", |b, logits, targets| b.cross_entropy_mean(logits, targets, rows, cols))
    }
    pub fn cross_entropy_grad(
        &self,
        logits: &Storage,
        targets: &Storage,
        grad: &Storage,
        scale: f32,
        rows: usize,
        cols: usize,
    ) -> Result<Storage> {
        check_class_rows("cross_entropy_grad", logits, targets, Some(grad), rows, cols)?;
        on_backend!(self, "cross_entropy_grad", |b, logits, targets, grad| {
            b.cross_entropy_grad(logits, targets, grad, scale, rows, cols)
        })
    }
    pub fn cell_step(&self, gi: &Storage, gh: &Storage, state: &Storage, dims: CellDims) -> Result<Storage> {
        check_cell(gi, gh, state, None, dims)?;
        on_backend!(self, dims.kind.name(), |b, gi, gh, state| b.cell_step(gi, gh, state, dims))
    }
    pub fn cell_grad(
        &self,
        gi: &Storage,
        gh: &Storage,
        state: &Storage,
        grad: &Storage,
        dims: CellDims,
        wrt: CellGrad,
    ) -> Result<Storage> {
        check_cell(gi, gh, state, Some(grad), dims)?;
        on_backend!(self, dims.kind.name(), |b, gi, gh, state, grad| b.cell_grad(gi, gh, state, grad, dims, wrt))
    }
    pub fn matmul(&self, x: &Storage, y: &Storage, dims: MatmulDims) -> Result<Storage> {
        check_matmul_operands("matmul", x, y, &dims)?;
        on_backend!(self, "matmul", |b, x, y| b.matmul(x, y, dims))
    }
    /// The gradient through a ReLU whose output is `out` (`grad` where `out > 0`) for
    /// `[rows, cols]`, and its column sums (a bias's gradient).
    pub fn relu_backward(&self, grad: &Storage, out: &Storage, rows: usize, cols: usize) -> Result<(Storage, Storage)> {
        let want = checked_product(&[rows, cols]);
        if want != Some(grad.len()) || want != Some(out.len()) {
            let msg =
                format!("needs a [{rows}, {cols}] gradient and output, got {} and {} values", grad.len(), out.len());
            return Err(Error::shape("relu_backward", msg));
        }
        on_backend!(self, "relu_backward", |b, grad, out| b.relu_backward(grad, out, rows, cols))
    }
    /// `x · y` (as `matmul`), plus `bias` (`dims.n` values) on every row, then a ReLU when `relu`.
    pub fn linear(
        &self,
        x: &Storage,
        y: &Storage,
        dims: MatmulDims,
        bias: Option<&Storage>,
        relu: bool,
    ) -> Result<Storage> {
        check_matmul_operands("linear", x, y, &dims)?;
        let Some(bias) = bias else {
            return on_backend!(self, "linear", |b, x, y| b.linear(x, y, dims, None, relu));
        };
        if bias.len() != dims.n {
            let msg = format!("a bias of {} values for {} outputs a row", bias.len(), dims.n);
            return Err(Error::shape("linear", msg));
        }
        on_backend!(self, "linear", |b, x, y, bias| b.linear(x, y, dims, Some(bias), relu))
    }
    pub fn copy_strided(&self, x: &Storage, view: &StridedView) -> Result<Storage> {
        check_view(x, view)?;
        on_backend!(self, "copy_strided", |b, x| b.copy_strided(x, view))
    }
    pub fn pad_axis(
        &self,
        x: &Storage,
        outer: usize,
        axis: usize,
        inner: usize,
        offset: usize,
        total: usize,
    ) -> Result<Storage> {
        let fits = offset.checked_add(axis).is_some_and(|end| end <= total);
        let countable = checked_product(&[outer, total, inner]).is_some();
        if checked_product(&[outer, axis, inner]) != Some(x.len()) || !fits || !countable {
            return Err(Error::shape(
                "pad_axis",
                format!(
                    "cannot place {} elements as [{outer}, {axis}, {inner}] at {offset} of an axis of {total}",
                    x.len()
                ),
            ));
        }
        on_backend!(self, "pad_axis", |b, x| b.pad_axis(x, outer, axis, inner, offset, total))
    }
    pub fn concat(&self, parts: &[(&Storage, usize)], outer: usize, inner: usize) -> Result<Storage> {
        for &(part, axis) in parts {
            check_len("cat", "part", part, &[outer, axis, inner])?;
        }
        let total = parts.iter().try_fold(0usize, |sum, p| sum.checked_add(p.1));
        if total.and_then(|total| checked_product(&[outer, total, inner])).is_none() {
            let lens: Vec<usize> = parts.iter().map(|p| p.1).collect();
            return Err(Error::limit(
                "cat",
                format!("parts of {lens:?} along the axis, [{outer}, _, {inner}] around it, are too large to count"),
            ));
        }
        let storages: Vec<&Storage> = parts.iter().map(|p| p.0).collect();
        match self {
            Device::Cpu(b) => {
                let s = unwrap_all!(storages, Cpu, "cat", "cpu");
                let parts: Vec<_> = s.into_iter().zip(parts).map(|(s, p)| (s, p.1)).collect();
                b.concat(&parts, outer, inner).map(Storage::Cpu).map_err(|e| e.for_op("cat"))
            }
            Device::Wgpu(b) => {
                let s = unwrap_all!(storages, Wgpu, "cat", "gpu");
                let parts: Vec<_> = s.into_iter().zip(parts).map(|(s, p)| (s, p.1)).collect();
                b.concat(&parts, outer, inner).map(Storage::Wgpu)
            }
        }
    }
    pub fn gather(&self, src: &Storage, index: &Storage, dims: GatherDims) -> Result<Storage> {
        let GatherDims { outer, src_axis, index_axis, inner } = dims;
        check_len("gather", "source", src, &[outer, src_axis, inner])?;
        check_len("gather", "index", index, &[outer, index_axis, inner])?;
        on_backend!(self, "gather", |b, src, index| b.gather(src, index, dims))
    }
    pub fn scatter_add(&self, src: &Storage, index: &Storage, dims: GatherDims) -> Result<Storage> {
        let GatherDims { outer, src_axis, index_axis, inner } = dims;
        check_len("scatter_add", "source", src, &[outer, index_axis, inner])?;
        check_len("scatter_add", "index", index, &[outer, index_axis, inner])?;
        // The output, [outer, src_axis, inner], must be countable too.
        if checked_product(&[outer, src_axis, inner]).is_none() {
            return Err(Error::limit(
                "scatter_add",
                format!("an output of [{outer}, {src_axis}, {inner}] is too large"),
            ));
        }
        on_backend!(self, "scatter_add", |b, src, index| b.scatter_add(src, index, dims))
    }
    pub fn im2col(&self, x: &Storage, geom: Conv2dGeometry) -> Result<Storage> {
        geom.check("im2col")?;
        check_len("im2col", "input", x, &[geom.n, geom.c, geom.h, geom.w])?;
        on_backend!(self, "im2col", |b, x| b.im2col(x, geom))
    }
    pub fn col2im(&self, cols: &Storage, geom: Conv2dGeometry) -> Result<Storage> {
        geom.check("col2im")?;
        let rows = geom.c * geom.kernel_h * geom.kernel_w;
        check_len("col2im", "columns", cols, &[geom.n, rows, geom.out_h() * geom.out_w()])?;
        on_backend!(self, "col2im", |b, cols| b.col2im(cols, geom))
    }
    pub fn update(
        &self,
        rule: &UpdateRule,
        param: &Storage,
        grad: &Storage,
        state: &[&Storage],
    ) -> Result<(Storage, Vec<Storage>)> {
        let op = rule.name();
        if state.len() != rule.state_count() {
            let msg = format!("takes {} state buffers, got {}", rule.state_count(), state.len());
            return Err(Error::invalid(op, msg));
        }
        let lengths: Vec<usize> = [param, grad].into_iter().chain(state.iter().copied()).map(Storage::len).collect();
        if lengths.iter().any(|&l| l != param.len()) {
            return Err(Error::shape(op, format!("parameter, gradient and state lengths differ: {lengths:?}")));
        }
        match self {
            Device::Cpu(b) => {
                let state = unwrap_all!(state, Cpu, op, "cpu");
                let (Storage::Cpu(p), Storage::Cpu(g)) = (param, grad) else {
                    return Err(Error::DeviceMismatch { op, a: "cpu".into(), b: "gpu".into() });
                };
                b.update(rule, p, g, &state).map(Wrap::cpu).map_err(|e| e.for_op(op))
            }
            Device::Wgpu(b) => {
                let state = unwrap_all!(state, Wgpu, op, "gpu");
                let (Storage::Wgpu(p), Storage::Wgpu(g)) = (param, grad) else {
                    return Err(Error::DeviceMismatch { op, a: "gpu".into(), b: "cpu".into() });
                };
                b.update(rule, p, g, &state).map(Wrap::wgpu)
            }
        }
    }
    pub fn synchronize(&self) -> Result<()> {
        on_backend!(self, "synchronize", |b| b.synchronize())
    }
}
