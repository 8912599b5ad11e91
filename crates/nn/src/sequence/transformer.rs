//! `TransformerEncoderBlock`: self-attention and a two-layer MLP, each with a residual
//! connection and LayerNorm (post-norm as in the original Transformer, or pre-norm).

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Result};

use crate::sequence::MultiHeadAttention;
use crate::{LayerNorm, Linear, Module, Param, join};

/// The MLP's non-linearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedForwardActivation {
    Relu,
    /// GELU's tanh approximation (torch's `approximate="tanh"`); `nn.TransformerEncoderLayer`'s
    /// `"gelu"` is the exact erf form, at most 4.7e-4 away.
    Gelu,
}

/// `nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0, batch_first=True)`.
/// Parameters `self_attn.*`, `linear1.*`, `linear2.*`, `norm1.*`, `norm2.*`.
pub struct TransformerEncoderBlock {
    self_attn: MultiHeadAttention,
    linear1: Linear,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    norm_first: bool,
    activation: FeedForwardActivation,
}

impl TransformerEncoderBlock {
    /// Post-norm (PyTorch's default), ReLU, no causal mask, PyTorch's init.
    pub fn new(
        d_model: usize,
        num_heads: usize,
        dim_feedforward: usize,
        device: &Device,
        rng: &mut Rng,
    ) -> Result<TransformerEncoderBlock> {
        Ok(TransformerEncoderBlock {
            self_attn: MultiHeadAttention::new(d_model, num_heads, device, rng)?,
            linear1: Linear::new(d_model, dim_feedforward, device, rng)?,
            linear2: Linear::new(dim_feedforward, d_model, device, rng)?,
            norm1: LayerNorm::new(d_model, device)?,
            norm2: LayerNorm::new(d_model, device)?,
            norm_first: false,
            activation: FeedForwardActivation::Relu,
        })
    }
    /// Pre-norm (`x + f(norm(x))`, as in GPT-2) instead of post-norm (`norm(x + f(x))`).
    pub fn norm_first(mut self, on: bool) -> Self {
        self.norm_first = on;
        self
    }
    /// Makes the self-attention causal.
    pub fn causal(mut self, on: bool) -> Self {
        self.self_attn = self.self_attn.causal(on);
        self
    }
    pub fn activation(mut self, activation: FeedForwardActivation) -> Self {
        self.activation = activation;
        self
    }
    pub fn self_attn(&self) -> &MultiHeadAttention {
        &self.self_attn
    }

    fn feed_forward(&self, x: &Tensor) -> Result<Tensor> {
        let hidden = self.linear1.forward(x)?;
        let hidden = match self.activation {
            FeedForwardActivation::Relu => hidden.relu()?,
            FeedForwardActivation::Gelu => hidden.gelu()?,
        };
        self.linear2.forward(&hidden)
    }
}

impl Module for TransformerEncoderBlock {
    /// `[batch, time, d_model]` to `[batch, time, d_model]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if self.norm_first {
            let x = (x + &self.self_attn.forward(&self.norm1.forward(x)?)?)?;
            &x + &self.feed_forward(&self.norm2.forward(&x)?)?
        } else {
            let x = self.norm1.forward(&(x + &self.self_attn.forward(x)?)?)?;
            self.norm2.forward(&(&x + &self.feed_forward(&x)?)?)
        }
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        self.self_attn.visit_params(&join(prefix, "self_attn"), f);
        self.linear1.visit_params(&join(prefix, "linear1"), f);
        self.linear2.visit_params(&join(prefix, "linear2"), f);
        self.norm1.visit_params(&join(prefix, "norm1"), f);
        self.norm2.visit_params(&join(prefix, "norm2"), f);
    }
}
