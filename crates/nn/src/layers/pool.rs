//! Pooling: `MaxPool2d` and `AvgPool2d`, as im2col over each channel + a reduction over the window.

use soma_autograd::{Tensor, is_grad_enabled};
use soma_device::{Error, ReduceOp, Result};

use crate::layers::{Size2, bad_input};
use crate::{Module, Param};

/// The shared window geometry of the pooling layers.
#[derive(Clone, Copy, Debug)]
struct Window {
    kernel: Size2,
    /// `None`: the kernel size (PyTorch's default), for square kernels.
    stride: Option<usize>,
    padding: usize,
}

impl Window {
    /// Reduces each `kh x kw` window of `[n, c, h, w]` with `op`, padding cells holding `pad`.
    fn pool(&self, layer: &'static str, x: &Tensor, op: ReduceOp, pad: f32) -> Result<Tensor> {
        let Size2(kh, kw) = self.kernel;
        // Strides are one number here, so a non-square kernel's default, (kh, kw), cannot be kept.
        let stride = match self.stride {
            Some(s) => s,
            None if kh == kw => kh,
            None => {
                let msg =
                    format!("a {kh}x{kw} kernel needs an explicit .stride(s): strides are one number for both axes");
                return Err(Error::invalid(layer, msg));
            }
        };
        let name = || format!("{layer}(kernel {kh}x{kw}, stride {stride}, padding {})", self.padding);
        let &[n, c, h, w] = x.dims() else {
            return Err(bad_input(layer, name(), "[n, c, h, w]", x));
        };
        // Padding at most half the kernel (as PyTorch), checked first so the padded sides fit a usize.
        if stride == 0 || kh == 0 || kw == 0 || self.padding > kh.min(kw) / 2 {
            let msg =
                format!("{}: needs a stride and kernel of at least 1 and padding at most half the kernel", name());
            return Err(Error::invalid(layer, msg));
        }
        let (ph, pw) = (h + 2 * self.padding, w + 2 * self.padding);
        if kh > ph || kw > pw {
            return Err(bad_input(layer, name(), &format!("a padded image of at least {kh}x{kw}"), x));
        }
        let (oh, ow) = ((ph - kh) / stride + 1, (pw - kw) / stride + 1);
        let planes = x.reshape([n * c, 1, h, w])?;
        // im2col pads with zeros; any other value is padded here first.
        let cols = if pad == 0.0 || self.padding == 0 {
            planes.im2col((kh, kw), stride, self.padding)?
        } else {
            padded(&planes, self.padding, pad)?.im2col((kh, kw), stride, 0)?
        };
        let pooled = if op == ReduceOp::Max && is_grad_enabled() {
            // As torch's max_pool2d, the gradient goes to the first maximum of a window (a
            // reduction's backward would split it among ties, e.g. the zeros after a ReLU).
            // Without a graph, the plain reduction gives the same values in one op.
            cols.gather(1, &cols.argmax(1)?.unsqueeze(1)?)?
        } else {
            cols.reduce(op, 1)?
        };
        pooled.reshape([n, c, oh, ow])
    }
}

/// `[n, c, h, w]` with `p` cells of `value` on each side of its last two axes.
fn padded(x: &Tensor, p: usize, value: f32) -> Result<Tensor> {
    let (dims, device) = (x.dims(), x.device());
    let (n, c, h, w) = (dims[0], dims[1], dims[2], dims[3]);
    let rows = Tensor::full([n, c, p, w], value, device)?;
    let taller = Tensor::cat(&[rows.clone(), x.clone(), rows], 2)?;
    let columns = Tensor::full([n, c, h + 2 * p, p], value, device)?;
    Tensor::cat(&[columns.clone(), taller, columns], 3)
}

/// `new(kernel_size)` (`nn.MaxPool2d(kernel_size)` / `nn.AvgPool2d(kernel_size)`: stride = kernel
/// size, no padding), `stride` and `padding` for a pooling layer holding a `window`.
macro_rules! window_builders {
    ($layer:ident) => {
        impl $layer {
            /// Stride = kernel size, no padding (as PyTorch's default); a non-square kernel needs
            /// an explicit `stride`.
            pub fn new(kernel_size: impl Into<Size2>) -> Self {
                $layer { window: Window { kernel: kernel_size.into(), stride: None, padding: 0 } }
            }
            /// One stride for both axes.
            pub fn stride(mut self, stride: usize) -> Self {
                self.window.stride = Some(stride);
                self
            }
            /// Padding on every side, at most half the kernel (as PyTorch).
            pub fn padding(mut self, padding: usize) -> Self {
                self.window.padding = padding;
                self
            }
        }
    };
}

/// Max over `kernel` windows (stride defaults to the kernel size; padding is -inf, so it never
/// wins the max).
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    window: Window,
}

window_builders!(MaxPool2d);

impl Module for MaxPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.window.pool("MaxPool2d", x, ReduceOp::Max, f32::NEG_INFINITY)
    }
    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}

/// Mean over `kernel` windows (stride defaults to the kernel size; zero padding counts toward
/// the mean, as PyTorch's default `count_include_pad=True`).
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    window: Window,
}

window_builders!(AvgPool2d);

impl Module for AvgPool2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.window.pool("AvgPool2d", x, ReduceOp::Mean, 0.0)
    }
    fn visit_params(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Param)) {}
}
