//! Normalisation: `BatchNorm1d`, `BatchNorm2d` (batch statistics, running averages) and `LayerNorm`.

use soma_autograd::{Tensor, no_grad};
use soma_device::{Device, Error, Result};

use crate::layers::bad_input;
use crate::{Module, Param, join};

/// The state shared by `BatchNorm1d` and `BatchNorm2d`: channels on axis 1, statistics over the
/// other axes.
struct BatchNorm {
    weight: Param,
    bias: Param,
    running_mean: Param,
    running_var: Param,
    num_features: usize,
    eps: f32,
    momentum: f32,
    training: bool,
}

/// Errors unless `eps` is finite and >= 0 and `momentum` (if any) in [0, 1]: outside them the
/// outputs, or the running statistics a checkpoint saves, turn NaN.
fn check_constants(layer: &'static str, eps: f32, momentum: Option<f32>) -> Result<()> {
    if !(eps >= 0.0 && eps.is_finite()) {
        return Err(Error::invalid(layer, format!("eps must be finite and >= 0, got {eps}")));
    }
    match momentum {
        Some(m) if !(0.0..=1.0).contains(&m) => {
            Err(Error::invalid(layer, format!("momentum must be in [0, 1], got {m}")))
        }
        _ => Ok(()),
    }
}

impl BatchNorm {
    fn new(num_features: usize, device: &Device) -> Result<BatchNorm> {
        if num_features == 0 {
            return Err(Error::invalid("BatchNorm", "needs at least one feature (channel)"));
        }
        Ok(BatchNorm {
            weight: Param::new(Tensor::ones([num_features], device)?),
            bias: Param::new(Tensor::zeros([num_features], device)?),
            running_mean: Param::buffer(Tensor::zeros([num_features], device)?),
            running_var: Param::buffer(Tensor::ones([num_features], device)?),
            num_features,
            eps: 1e-5,
            momentum: 0.1,
            training: true,
        })
    }

    /// Normalises `x` (already shape-checked: channels on axis 1) over every axis but 1.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut stat_dims = vec![1; x.rank()];
        stat_dims[1] = self.num_features;
        let (mean, var) = if self.training {
            let count = x.numel() / self.num_features;
            if count < 2 {
                return Err(Error::shape(
                    "BatchNorm",
                    format!("training needs more than one value per channel, got input {:?}", x.shape()),
                ));
            }
            let reduce = |t: &Tensor| -> Result<Tensor> {
                let mut t = t.clone();
                for axis in (0..t.rank()).filter(|&a| a != 1) {
                    t = t.mean_keepdim(axis)?;
                }
                Ok(t)
            };
            let mean = reduce(x)?;
            let var = reduce(&(x - &mean)?.square()?)?;
            self.update_running(&mean, &var, count)?;
            (mean, var)
        } else {
            (self.running_mean.get().reshape(stat_dims.clone())?, self.running_var.get().reshape(stat_dims.clone())?)
        };
        let inv_std = var.affine(1.0, self.eps)?.sqrt()?.recip()?;
        let scale = (&self.weight.get().reshape(stat_dims.clone())? * &inv_std)?;
        let normed = (&(x - &mean)? * &scale)?;
        &normed + &self.bias.get().reshape(stat_dims)?
    }

    /// `running = (1 - momentum) running + momentum batch`, with the unbiased batch variance.
    fn update_running(&self, mean: &Tensor, var: &Tensor, count: usize) -> Result<()> {
        no_grad(|| -> Result<()> {
            let m = self.momentum;
            let c = [self.num_features];
            let mean = mean.detach().reshape(c)?.affine(m, 0.0)?;
            let unbiased = var.detach().reshape(c)?.affine(m * count as f32 / (count - 1) as f32, 0.0)?;
            self.running_mean.set((&self.running_mean.get().affine(1.0 - m, 0.0)? + &mean)?);
            self.running_var.set((&self.running_var.get().affine(1.0 - m, 0.0)? + &unbiased)?);
            Ok(())
        })
    }

    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join(prefix, "weight"), &self.weight);
        f(&join(prefix, "bias"), &self.bias);
        f(&join(prefix, "running_mean"), &self.running_mean);
        f(&join(prefix, "running_var"), &self.running_var);
    }
}

macro_rules! batch_norm {
    ($(#[$doc:meta])* $name:ident, $label:literal, $expected:literal, $ranks:pat) => {
        $(#[$doc])*
        pub struct $name {
            inner: BatchNorm,
        }

        impl $name {
            /// Weight 1, bias 0, running mean 0, running variance 1, `eps = 1e-5`, `momentum = 0.1`.
            pub fn new(num_features: usize, device: &Device) -> Result<Self> {
                Ok($name { inner: BatchNorm::new(num_features, device)? })
            }
            /// Sets `eps`, added to the variance before the square root.
            pub fn eps(mut self, eps: f32) -> Self {
                self.inner.eps = eps;
                self
            }
            /// Sets the running-average momentum (the weight of the new batch).
            pub fn momentum(mut self, momentum: f32) -> Self {
                self.inner.momentum = momentum;
                self
            }
            pub fn weight(&self) -> &Param {
                &self.inner.weight
            }
            pub fn bias(&self) -> &Param {
                &self.inner.bias
            }
            pub fn running_mean(&self) -> &Param {
                &self.inner.running_mean
            }
            pub fn running_var(&self) -> &Param {
                &self.inner.running_var
            }
            pub fn num_features(&self) -> usize {
                self.inner.num_features
            }
        }

        impl Module for $name {
            fn forward(&self, x: &Tensor) -> Result<Tensor> {
                let c = self.inner.num_features;
                if !matches!(x.rank(), $ranks) || x.dims()[1] != c {
                    return Err(bad_input($label, format!("{} features", c), &format!($expected, c = c), x));
                }
                check_constants($label, self.inner.eps, Some(self.inner.momentum))?;
                self.inner.forward(x)
            }
            fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
                self.inner.visit_params(prefix, f)
            }
            fn train(&mut self, on: bool) {
                self.inner.training = on;
            }
        }
    };
}

batch_norm!(
    /// Batch normalisation of `[n, c]` or `[n, c, l]` over the batch (and length) axes.
    BatchNorm1d, "BatchNorm1d", "[n, {c}] or [n, {c}, l]", 2 | 3
);
batch_norm!(
    /// Batch normalisation of `[n, c, h, w]` per channel over the batch and spatial axes.
    BatchNorm2d, "BatchNorm2d", "[n, {c}, h, w]", 4
);

/// Layer normalisation over the last axis, with an elementwise affine `weight` and `bias`.
pub struct LayerNorm {
    weight: Param,
    bias: Param,
    normalized_shape: usize,
    eps: f32,
}

impl LayerNorm {
    /// `nn.LayerNorm(normalized_shape)`: weight 1, bias 0, `eps = 1e-5`.
    pub fn new(normalized_shape: usize, device: &Device) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: Param::new(Tensor::ones([normalized_shape], device)?),
            bias: Param::new(Tensor::zeros([normalized_shape], device)?),
            normalized_shape,
            eps: 1e-5,
        })
    }
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
    pub fn weight(&self) -> &Param {
        &self.weight
    }
    pub fn bias(&self) -> &Param {
        &self.bias
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let d = self.normalized_shape;
        if x.rank() == 0 || x.dims()[x.rank() - 1] != d {
            return Err(bad_input("LayerNorm", format!("normalized shape [{d}]"), &format!("[.., {d}]"), x));
        }
        check_constants("LayerNorm", self.eps, None)?;
        let last = x.rank() - 1;
        let centered = (x - &x.mean_keepdim(last)?)?;
        let var = centered.square()?.mean_keepdim(last)?;
        let normed = (&centered * &var.affine(1.0, self.eps)?.sqrt()?.recip()?)?;
        &(&normed * &self.weight.get())? + &self.bias.get()
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join(prefix, "weight"), &self.weight);
        f(&join(prefix, "bias"), &self.bias);
    }
}
