//! `Conv2d`: 2-D convolution as im2col + one batched matrix product.

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Error, Result, Shape};

use crate::layers::bad_input;
use crate::{Module, Param, init, join};

/// A 2-D window size: `Size2::from(5)` is 5x5, `Size2::from((3, 5))` is 3 high, 5 wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size2(pub usize, pub usize);

impl From<usize> for Size2 {
    fn from(k: usize) -> Self {
        Size2(k, k)
    }
}

impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2(h, w)
    }
}

/// A 2-D convolution over `[n, in_channels, h, w]`: weight `[out, in, kh, kw]`, bias `[out]`,
/// output `[n, out, (h + 2p - kh) / s + 1, (w + 2p - kw) / s + 1]`.
pub struct Conv2d {
    weight: Param,
    bias: Option<Param>,
    in_channels: usize,
    out_channels: usize,
    kernel: Size2,
    stride: usize,
    padding: usize,
}

impl Conv2d {
    /// PyTorch's `nn.Conv2d(in, out, kernel_size)` (stride 1, no padding, with bias): weight and bias
    /// from `U(-1/√fan_in, 1/√fan_in)`, `fan_in = in * kh * kw`. Chain `.stride(s)` and `.padding(p)`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Size2>,
        device: &Device,
        rng: &mut Rng,
    ) -> Result<Conv2d> {
        Conv2d::with_bias(in_channels, out_channels, kernel_size, true, device, rng)
    }

    /// `nn.Conv2d(in, out, kernel_size, bias=bias)`.
    pub fn with_bias(
        in_channels: usize,
        out_channels: usize,
        kernel_size: impl Into<Size2>,
        bias: bool,
        device: &Device,
        rng: &mut Rng,
    ) -> Result<Conv2d> {
        let Size2(kh, kw) = kernel_size.into();
        let fan_in = Shape::new([in_channels, kh, kw]).checked_numel("Conv2d")?;
        let weight = init::fan_in_uniform([out_channels, in_channels, kh, kw], fan_in, device, rng)?;
        let bias = if bias { Some(init::fan_in_uniform([out_channels], fan_in, device, rng)?) } else { None };
        Conv2d::from_tensors(weight, bias)
    }

    /// A layer with the given weight `[out, in, kh, kw]` and optional bias `[out]`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Result<Conv2d> {
        let &[out_channels, in_channels, kh, kw] = weight.dims() else {
            return Err(Error::shape("Conv2d", format!("weight must be [out, in, kh, kw], got {:?}", weight.shape())));
        };
        if out_channels == 0 || in_channels == 0 || kh == 0 || kw == 0 {
            return Err(Error::shape("Conv2d", format!("weight {:?} has an empty axis", weight.shape())));
        }
        if let Some(b) = &bias
            && b.dims() != [out_channels]
        {
            return Err(Error::shape(
                "Conv2d",
                format!("bias must be [{out_channels}] for weight {:?}, got {:?}", weight.shape(), b.shape()),
            ));
        }
        Ok(Conv2d {
            weight: Param::new(weight),
            bias: bias.map(Param::new),
            in_channels,
            out_channels,
            kernel: Size2(kh, kw),
            stride: 1,
            padding: 0,
        })
    }

    /// Sets the stride (default 1); a stride of 0 is rejected by `forward`.
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }
    /// Sets the zero padding on every side (default 0).
    pub fn padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    pub fn weight(&self) -> &Param {
        &self.weight
    }
    pub fn bias(&self) -> Option<&Param> {
        self.bias.as_ref()
    }
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }
    pub fn kernel_size(&self) -> Size2 {
        self.kernel
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let Size2(kh, kw) = self.kernel;
        let name = || {
            format!(
                "Conv2d({}, {}, kernel {kh}x{kw}, stride {}, padding {})",
                self.in_channels, self.out_channels, self.stride, self.padding
            )
        };
        let &[n, c, h, w] = x.dims() else {
            return Err(bad_input("Conv2d", name(), &format!("[n, {}, h, w]", self.in_channels), x));
        };
        if c != self.in_channels {
            return Err(bad_input("Conv2d", name(), &format!("[n, {}, h, w]", self.in_channels), x));
        }
        // A padding too large to count cannot fit either.
        let padded = |side: usize| self.padding.checked_mul(2).and_then(|p| p.checked_add(side)).unwrap_or(0);
        let (ph, pw) = (padded(h), padded(w));
        if self.stride == 0 || kh > ph || kw > pw {
            return Err(bad_input("Conv2d", name(), &format!("a padded image of at least {kh}x{kw}"), x));
        }
        let (oh, ow) = ((ph - kh) / self.stride + 1, (pw - kw) / self.stride + 1);
        // [n, c*kh*kw, oh*ow]; the weight matrix [out, c*kh*kw] is shared by the batch.
        let cols = x.im2col((kh, kw), self.stride, self.padding)?;
        let k = c * kh * kw;
        let w = self.weight.get().reshape([1, self.out_channels, k])?.broadcast_to([n, self.out_channels, k])?;
        let y = w.matmul(&cols)?.reshape([n, self.out_channels, oh, ow])?;
        match &self.bias {
            Some(b) => &y + &b.get().reshape([1, self.out_channels, 1, 1])?,
            None => Ok(y),
        }
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&join(prefix, "bias"), b);
        }
    }
}
