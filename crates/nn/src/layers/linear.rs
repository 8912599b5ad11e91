//! `Linear`: `y = x Wᵀ + b` over the last axis.

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Error, Result};

use crate::layers::bad_input;
use crate::{Module, Param, init, join};

/// A fully connected layer: weight `[out_features, in_features]`, bias `[out_features]`.
/// Inputs are `[.., in_features]`; outputs `[.., out_features]`.
pub struct Linear {
    weight: Param,
    bias: Option<Param>,
    in_features: usize,
    out_features: usize,
}

impl Linear {
    /// PyTorch's `nn.Linear(in, out)`: weight and bias drawn from `U(-1/√in, 1/√in)`.
    pub fn new(in_features: usize, out_features: usize, device: &Device, rng: &mut Rng) -> Result<Linear> {
        Linear::with_bias(in_features, out_features, true, device, rng)
    }

    /// `nn.Linear(in, out, bias=bias)`.
    pub fn with_bias(
        in_features: usize,
        out_features: usize,
        bias: bool,
        device: &Device,
        rng: &mut Rng,
    ) -> Result<Linear> {
        let weight = init::fan_in_uniform([out_features, in_features], in_features, device, rng)?;
        let bias = if bias { Some(init::fan_in_uniform([out_features], in_features, device, rng)?) } else { None };
        Linear::from_tensors(weight, bias)
    }

    /// A layer with the given weight `[out, in]` and optional bias `[out]`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        let &[out_features, in_features] = weight.dims() else {
            return Err(Error::shape("Linear", format!("weight must be [out, in], got {:?}", weight.shape())));
        };
        if let Some(b) = &bias
            && b.dims() != [out_features]
        {
            return Err(Error::shape(
                "Linear",
                format!("bias must be [{out_features}] for weight {:?}, got {:?}", weight.shape(), b.shape()),
            ));
        }
        Ok(Linear { weight: Param::new(weight), bias: bias.map(Param::new), in_features, out_features })
    }

    pub fn weight(&self) -> &Param {
        &self.weight
    }
    pub fn bias(&self) -> Option<&Param> {
        self.bias.as_ref()
    }
    pub fn in_features(&self) -> usize {
        self.in_features
    }
    pub fn out_features(&self) -> usize {
        self.out_features
    }
}

impl Linear {
    /// `x · Wᵀ + b`, then a ReLU when `relu`, as one op (`Tensor::linear`).
    fn apply(&self, x: &Tensor, relu: bool) -> Result<Tensor> {
        let name = format!("{} -> {}", self.in_features, self.out_features);
        if x.rank() == 0 || x.dims()[x.rank() - 1] != self.in_features {
            return Err(bad_input("Linear", name, &format!("[.., {}]", self.in_features), x));
        }
        let bias = self.bias.as_ref().map(Param::get);
        x.linear(&self.weight.get(), bias.as_ref(), relu)
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x, false)
    }
    fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        self.apply(x, true)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&join(prefix, "bias"), b);
        }
    }
}
