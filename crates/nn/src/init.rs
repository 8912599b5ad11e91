//! Weight initialisers: Xavier/Glorot, He/Kaiming, uniform, normal, zeros and constants (PyTorch's formulas).

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Error, Result, Shape};

/// The non-linearity that follows a layer, for the recommended gain (`torch.nn.init.calculate_gain`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// Identity (also conv and linear layers without activation): gain 1.
    Linear,
    /// Gain 1.
    Sigmoid,
    /// Gain 5/3.
    Tanh,
    /// Gain √2.
    Relu,
    /// Gain √(2 / (1 + slope²)) for the given negative slope.
    LeakyRelu(f32),
}

impl Nonlinearity {
    /// The recommended gain.
    pub fn gain(self) -> f32 {
        match self {
            Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
            Nonlinearity::Tanh => 5.0 / 3.0,
            Nonlinearity::Relu => 2f32.sqrt(),
            Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
        }
    }
}

/// Which fan Kaiming initialisation preserves: the forward pass' variance (`FanIn`) or backward's (`FanOut`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    FanIn,
    FanOut,
}

/// `(fan_in, fan_out)` of a weight shaped `[out, in, k...]`: `in * prod(k)` and `out * prod(k)`.
pub fn fans(shape: &Shape) -> Result<(usize, usize)> {
    let dims = shape.dims();
    if dims.len() < 2 {
        return Err(Error::shape("init", format!("fan in and fan out need at least 2 axes, got {shape:?}")));
    }
    let receptive: usize = dims[2..].iter().product();
    Ok((dims[1] * receptive, dims[0] * receptive))
}

/// Uniform numbers in `[low, high)`.
pub fn uniform(shape: impl Into<Shape>, low: f32, high: f32, device: &Device, rng: &mut Rng) -> Result<Tensor> {
    let shape = shape.into();
    if low.is_nan() || high.is_nan() || low > high || !(high - low).is_finite() {
        let msg = format!("needs finite low <= high, got {low} and {high} for {shape:?}");
        return Err(Error::invalid("init::uniform", msg));
    }
    Tensor::rand_range(shape, low, high, rng, device)
}

/// Normal numbers with the given mean and standard deviation.
pub fn normal(shape: impl Into<Shape>, mean: f32, std: f32, device: &Device, rng: &mut Rng) -> Result<Tensor> {
    let shape = shape.into();
    if std.is_nan() || std < 0.0 {
        return Err(Error::invalid("init::normal", format!("std {std} is negative for {shape:?}")));
    }
    Tensor::normal(shape, mean, std, rng, device)
}

/// All zeros.
pub fn zeros(shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
    Tensor::zeros(shape, device)
}

/// Every element `value`.
pub fn constant(shape: impl Into<Shape>, value: f32, device: &Device) -> Result<Tensor> {
    Tensor::full(shape, value, device)
}

/// Xavier/Glorot uniform: `U(-a, a)` with `a = gain * √(6 / (fan_in + fan_out))`.
pub fn xavier_uniform(shape: impl Into<Shape>, gain: f32, device: &Device, rng: &mut Rng) -> Result<Tensor> {
    let shape = shape.into();
    let (fan_in, fan_out) = fans(&shape)?;
    let a = gain * (6.0 / (fan_in + fan_out) as f32).sqrt();
    uniform(shape, -a, a, device, rng)
}

/// Xavier/Glorot normal: `N(0, std²)` with `std = gain * √(2 / (fan_in + fan_out))`.
pub fn xavier_normal(shape: impl Into<Shape>, gain: f32, device: &Device, rng: &mut Rng) -> Result<Tensor> {
    let shape = shape.into();
    let (fan_in, fan_out) = fans(&shape)?;
    normal(shape, 0.0, gain * (2.0 / (fan_in + fan_out) as f32).sqrt(), device, rng)
}

fn kaiming_fan(shape: &Shape, mode: FanMode) -> Result<usize> {
    let (fan_in, fan_out) = fans(shape)?;
    let fan = if mode == FanMode::FanIn { fan_in } else { fan_out };
    if fan == 0 {
        return Err(Error::shape("init::kaiming", format!("zero fan for {shape:?}")));
    }
    Ok(fan)
}

/// He/Kaiming uniform: `U(-b, b)` with `b = gain * √(3 / fan)`.
pub fn kaiming_uniform(
    shape: impl Into<Shape>,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    device: &Device,
    rng: &mut Rng,
) -> Result<Tensor> {
    let shape = shape.into();
    let bound = nonlinearity.gain() * (3.0 / kaiming_fan(&shape, mode)? as f32).sqrt();
    uniform(shape, -bound, bound, device, rng)
}

/// He/Kaiming normal: `N(0, std²)` with `std = gain / √fan`.
pub fn kaiming_normal(
    shape: impl Into<Shape>,
    mode: FanMode,
    nonlinearity: Nonlinearity,
    device: &Device,
    rng: &mut Rng,
) -> Result<Tensor> {
    let shape = shape.into();
    let std = nonlinearity.gain() / (kaiming_fan(&shape, mode)? as f32).sqrt();
    normal(shape, 0.0, std, device, rng)
}

/// PyTorch's default for `Linear` and `Conv2d` weights and biases: `U(-1/√fan_in, 1/√fan_in)`
/// (what `kaiming_uniform_(a=√5)` amounts to); zeros when `fan_in` is 0, as torch.
pub fn fan_in_uniform(shape: impl Into<Shape>, fan_in: usize, device: &Device, rng: &mut Rng) -> Result<Tensor> {
    let bound = if fan_in == 0 { 0.0 } else { 1.0 / (fan_in as f32).sqrt() };
    uniform(shape, -bound, bound, device, rng)
}
