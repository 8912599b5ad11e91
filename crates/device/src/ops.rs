//! The op tables: one row per op gives its name, its WGSL entry point and its CPU formula.
//!
//! Adding an elementwise op is one row here plus one entry point in the family's .wgsl file.

use crate::shape::checked_product;
use crate::{Error, Result};

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const GELU_C: f32 = 0.044_715;

/// `max(x, 0)` with NaN kept (torch's relu; `f32::max` would give 0), as every ReLU computes it:
/// the op, the fused `mul_add_relu` and the linear layer's epilogue, on both backends.
#[inline(always)]
pub fn relu(x: f32) -> f32 {
    if x <= 0.0 { 0.0 } else { x }
}

/// `tanh` that stays finite for large |x| and keeps its relative precision near 0: from
/// `m = e^(-2|x|) - 1`, `tanh |x| = -m / (2 + m)` (`1 - e^(-2|x|)` would cancel to 0 at 1e-8).
pub fn stable_tanh(x: f32) -> f32 {
    let m = (-2.0 * x.abs()).exp_m1();
    (-m / (2.0 + m)).copysign(x)
}

/// The logistic function, written so that neither branch overflows.
pub fn stable_sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + stable_tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)))
}

fn gelu_grad(x: f32) -> f32 {
    let t = stable_tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * x * x)
}

macro_rules! unary_ops {
    ($($variant:ident, $name:literal, |$x:ident, $alpha:ident| $cpu:expr;)*) => {
        /// Elementwise ops of one input; `alpha` is the parameter of leaky_relu and elu.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum UnaryOp { $($variant),* }

        impl UnaryOp {
            pub const ALL: &'static [UnaryOp] = &[$(UnaryOp::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $(UnaryOp::$variant => $name),* }
            }
            /// The WGSL entry point in `shaders/unary.wgsl`.
            pub fn entry_point(self) -> &'static str {
                match self { $(UnaryOp::$variant => concat!("unary_", $name)),* }
            }
            /// The CPU formula, the reference the GPU kernels are tested against.
            #[inline(always)]
            #[allow(unused_variables)]
            pub fn apply(self, x: f32, alpha: f32) -> f32 {
                match self { $(UnaryOp::$variant => { let $x = x; let $alpha = alpha; $cpu }),* }
            }
        }
    };
}

unary_ops! {
    Neg, "neg", |x, a| -x;
    Exp, "exp", |x, a| x.exp();
    Log, "log", |x, a| x.ln();
    Sqrt, "sqrt", |x, a| x.sqrt();
    Abs, "abs", |x, a| x.abs();
    Sign, "sign", |x, a| if x > 0.0 { 1.0 } else if x < 0.0 { -1.0 } else { 0.0 };
    Recip, "recip", |x, a| 1.0 / x;
    Square, "square", |x, a| x * x;
    Sin, "sin", |x, a| x.sin();
    Cos, "cos", |x, a| x.cos();
    Sigmoid, "sigmoid", |x, a| stable_sigmoid(x);
    Tanh, "tanh", |x, a| stable_tanh(x);
    Relu, "relu", |x, a| relu(x);
    LeakyRelu, "leaky_relu", |x, a| if x > 0.0 { x } else { a * x };
    Elu, "elu", |x, a| if x > 0.0 { x } else { a * x.exp_m1() };
    Gelu, "gelu", |x, a| gelu(x);
    GeluGrad, "gelu_grad", |x, a| gelu_grad(x);
    Step, "step", |x, a| if x > 0.0 { 1.0 } else { 0.0 };
}

macro_rules! binary_ops {
    ($($variant:ident, $name:literal, |$a:ident, $b:ident| $cpu:expr;)*) => {
        /// Elementwise ops of two inputs with NumPy broadcasting; comparisons give 0 or 1.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum BinaryOp { $($variant),* }

        impl BinaryOp {
            pub const ALL: &'static [BinaryOp] = &[$(BinaryOp::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $(BinaryOp::$variant => $name),* }
            }
            /// The WGSL function in `shaders/binary.wgsl` (`binary_<name>`, `scalar_<name>`).
            pub fn entry_point(self) -> &'static str {
                match self { $(BinaryOp::$variant => concat!("binary_", $name)),* }
            }
            pub fn scalar_entry_point(self) -> &'static str {
                match self { $(BinaryOp::$variant => concat!("scalar_", $name)),* }
            }
            /// The index of the op in the WGSL `apply_binary` switch.
            pub fn code(self) -> u32 {
                self as u32
            }
            #[inline(always)]
            pub fn apply(self, a: f32, b: f32) -> f32 {
                match self { $(BinaryOp::$variant => { let $a = a; let $b = b; $cpu }),* }
            }
        }
    };
}

fn flag(c: bool) -> f32 {
    if c { 1.0 } else { 0.0 }
}

binary_ops! {
    Add, "add", |a, b| a + b;
    Sub, "sub", |a, b| a - b;
    Mul, "mul", |a, b| a * b;
    Div, "div", |a, b| a / b;
    Pow, "pow", |a, b| a.powf(b);
    Max, "max", |a, b| if a.is_nan() || b.is_nan() { a + b } else { a.max(b) };
    Min, "min", |a, b| if a.is_nan() || b.is_nan() { a + b } else { a.min(b) };
    Eq, "eq", |a, b| flag(a == b);
    Ne, "ne", |a, b| flag(a != b);
    Lt, "lt", |a, b| flag(a < b);
    Le, "le", |a, b| flag(a <= b);
    Gt, "gt", |a, b| flag(a > b);
    Ge, "ge", |a, b| flag(a >= b);
    // ReLU's backward in one pass: the gradient `a` except where the input `b` was <= 0 (a NaN
    // input passes it, as torch's `threshold_backward`).
    ReluGrad, "relu_grad", |a, b| if b <= 0.0 { 0.0 } else { a };
}

/// Reductions along one axis. `ArgMax`/`ArgMin` give the first index of the extreme, as f32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
    Min,
    ArgMax,
    ArgMin,
}

impl ReduceOp {
    pub const ALL: &'static [ReduceOp] =
        &[ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin];
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
            ReduceOp::ArgMax => "argmax",
            ReduceOp::ArgMin => "argmin",
        }
    }
    /// The index of the op in the WGSL reduce kernels' switch.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// A tensor viewed as `[outer, axis, inner]` around the axis an op works along.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisDims {
    pub outer: usize,
    pub axis: usize,
    pub inner: usize,
}

impl AxisDims {
    pub fn len(&self) -> usize {
        self.outer * self.axis * self.inner
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A fused recurrent cell: one time step of a layer kind from its gate pre-activations `gi`
/// (input projection) and `gh` (hidden projection), blocks in PyTorch's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// Gates i, f, g, o; the state is `(h, c)` per row: `c' = σ(f) c + σ(i) tanh(g)`,
    /// `h' = σ(o) tanh(c')`, with each gate `gi + gh`.
    Lstm,
    /// Gates r, z, n; the state is `h`: `r = σ(gi_r + gh_r)`, `z = σ(gi_z + gh_z)`,
    /// `n = tanh(gi_n + r gh_n)`, `h' = (1 - z) n + z h`.
    Gru,
}

impl CellKind {
    /// Gate blocks per unit in `gi` and `gh`.
    pub fn gates(self) -> usize {
        match self {
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }
    /// State values per unit: `(h, c)` or `h`.
    pub fn state_width(self) -> usize {
        match self {
            CellKind::Lstm => 2,
            CellKind::Gru => 1,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Lstm => "lstm_cell",
            CellKind::Gru => "gru_cell",
        }
    }
}

/// One time step of a recurrent cell: `batch` rows of `hidden` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellDims {
    pub kind: CellKind,
    pub batch: usize,
    pub hidden: usize,
}

impl CellDims {
    /// Elements of `gi` or `gh`.
    pub fn gates_len(&self) -> usize {
        self.batch * self.kind.gates() * self.hidden
    }
    /// Elements of the state.
    pub fn state_len(&self) -> usize {
        self.batch * self.kind.state_width() * self.hidden
    }
}

/// Which gradient of a cell step `cell_grad` computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellGrad {
    /// Of `gi`, `[batch, gates * hidden]`.
    Input,
    /// Of `gh`: the same as of `gi` for an LSTM; for a GRU its n block is scaled by `r`.
    Hidden,
    /// Of the previous state; an LSTM's `h` half is zero (the step reads `h` only through `gh`).
    State,
}

/// `batch` products of `[m, k] x [k, n]`; a transposed operand is stored as `[k, m]` / `[n, k]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulDims {
    pub batch: usize,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub transpose_a: bool,
    pub transpose_b: bool,
}

/// A strided view of a contiguous buffer: element `[i0, i1, ..]` is at `offset + sum(i * stride)`.
/// A stride of 0 repeats the element (broadcast-expand).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StridedView {
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
    pub offset: usize,
}

/// `torch.gather` along one axis: `src` is `[outer, src_axis, inner]`, `index` and the output are
/// `[outer, index_axis, inner]`; `out[o, i, n] = src[o, index[o, i, n], n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GatherDims {
    pub outer: usize,
    pub src_axis: usize,
    pub index_axis: usize,
    pub inner: usize,
}

/// The geometry of a 2-D convolution or pooling window over an `[n, c, h, w]` input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub padding: usize,
}

impl Conv2dGeometry {
    /// Checks that the window fits: stride and kernel at least 1, the kernel no larger than the
    /// padded input, and every size (the input's, the im2col matrix's) countable in a `usize`.
    pub fn check(&self, op: &'static str) -> Result<()> {
        let fits = |side: usize, kernel: usize| {
            self.padding
                .checked_mul(2)
                .and_then(|p| p.checked_add(side))
                .is_some_and(|padded| (1..=padded).contains(&kernel))
        };
        let countable = |dims: &[usize]| checked_product(dims).is_some();
        // The GPU kernels take stride and padding as 32-bit integers.
        let small = |v: usize| v <= i32::MAX as usize;
        let Conv2dGeometry { n, c, h, w, kernel_h, kernel_w, stride, padding } = *self;
        let window_fits = stride > 0 && small(stride) && small(padding) && fits(h, kernel_h) && fits(w, kernel_w);
        if !window_fits {
            let msg = format!(
                "kernel {kernel_h}x{kernel_w}, stride {stride}, padding {padding} do not fit input [{n}, {c}, {h}, {w}]"
            );
            return Err(Error::shape(op, msg));
        }
        if !countable(&[n, c, h, w]) || !countable(&[n, c, kernel_h, kernel_w, self.out_h(), self.out_w()]) {
            let msg = format!("windows of {kernel_h}x{kernel_w} over [{n}, {c}, {h}, {w}] are too many to count");
            return Err(Error::limit(op, msg));
        }
        Ok(())
    }
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.padding - self.kernel_h) / self.stride + 1
    }
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.padding - self.kernel_w) / self.stride + 1
    }
    /// The length of the im2col matrix `[n, c * kernel_h * kernel_w, out_h * out_w]`.
    pub fn cols_len(&self) -> usize {
        self.n * self.c * self.kernel_h * self.kernel_w * self.out_h() * self.out_w()
    }
}
