//! `MultiHeadAttention`: multi-head scaled dot-product self-attention, optionally causal.

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Error, Result};

use crate::sequence::check_sequence;
use crate::{Linear, Module, Param, init, join};

/// `nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)` used as self-attention
/// (query = key = value = the input). Parameters `in_proj_weight [3 embed, embed]`,
/// `in_proj_bias [3 embed]`, `out_proj.weight [embed, embed]`, `out_proj.bias [embed]`.
pub struct MultiHeadAttention {
    in_proj_weight: Param,
    in_proj_bias: Param,
    out_proj: Linear,
    embed_dim: usize,
    num_heads: usize,
    causal: bool,
}

impl MultiHeadAttention {
    /// PyTorch's init: `in_proj_weight` Xavier-uniform, `out_proj.weight` `U(-1/√embed, 1/√embed)`,
    /// both biases zero. `embed_dim` must be a multiple of `num_heads`. Not causal.
    pub fn new(embed_dim: usize, num_heads: usize, device: &Device, rng: &mut Rng) -> Result<MultiHeadAttention> {
        if embed_dim == 0 || num_heads == 0 || !embed_dim.is_multiple_of(num_heads) {
            return Err(Error::invalid(
                "MultiHeadAttention",
                format!("embed_dim {embed_dim} must be a positive multiple of num_heads {num_heads}"),
            ));
        }
        let in_proj_weight = init::xavier_uniform([3 * embed_dim, embed_dim], 1.0, device, rng)?;
        let out_weight = init::fan_in_uniform([embed_dim, embed_dim], embed_dim, device, rng)?;
        Ok(MultiHeadAttention {
            in_proj_weight: Param::new(in_proj_weight),
            in_proj_bias: Param::new(Tensor::zeros([3 * embed_dim], device)?),
            out_proj: Linear::from_tensors(out_weight, Some(Tensor::zeros([embed_dim], device)?))?,
            embed_dim,
            num_heads,
            causal: false,
        })
    }
    /// With `causal`, position `t` attends only to positions `<= t` (a language model's mask).
    pub fn causal(mut self, causal: bool) -> Self {
        self.causal = causal;
        self
    }
    pub fn is_causal(&self) -> bool {
        self.causal
    }
    pub fn embed_dim(&self) -> usize {
        self.embed_dim
    }
    pub fn num_heads(&self) -> usize {
        self.num_heads
    }
    pub fn in_proj_weight(&self) -> &Param {
        &self.in_proj_weight
    }
    pub fn in_proj_bias(&self) -> &Param {
        &self.in_proj_bias
    }
    pub fn out_proj(&self) -> &Linear {
        &self.out_proj
    }

    /// Self-attention over `x [batch, time, embed]` where `mask` (1 = may attend, 0 = may not),
    /// broadcastable to `[batch, heads, time (query), time (key)]`, limits which keys each query
    /// sees, on top of the causal mask if that is on. A query that may see no key gets NaN, as in
    /// torch.
    pub fn forward_masked(&self, x: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let (e, h) = (self.embed_dim, self.num_heads);
        let (b, t) = check_sequence("MultiHeadAttention", e, x)?;
        let d = e / h;
        let qkv = (&x.matmul_t(&self.in_proj_weight.get(), false, true)? + &self.in_proj_bias.get())?;
        // Block k of the projection, split into heads: [batch * heads, time, head_dim].
        let heads = |k: usize| -> Result<Tensor> {
            qkv.narrow(2, k * e, e)?.reshape([b, t, h, d])?.permute(&[0, 2, 1, 3])?.reshape([b * h, t, d])
        };
        let q = heads(0)?.affine(1.0 / (d as f32).sqrt(), 0.0)?;
        let (k, v) = (heads(1)?, heads(2)?);
        let mut scores = q.matmul_t(&k, false, true)?.reshape([b, h, t, t])?;
        if self.causal {
            scores = masked_fill(&scores, &causal_mask(t, x.device())?)?;
        }
        if let Some(m) = mask {
            // The mask must broadcast to the scores without adding axes to them, or the softmax
            // and the reshape below would run over the wrong axes.
            let filled = masked_fill(&scores, m).and_then(|filled| {
                (filled.shape() == scores.shape())
                    .then_some(filled)
                    .ok_or_else(|| Error::shape("where", format!("the result is {:?}", scores.shape())))
            });
            scores = filled.map_err(|err| {
                Error::shape(
                    "MultiHeadAttention",
                    format!("mask {:?} must broadcast to {:?}: {err}", m.shape(), scores.shape()),
                )
            })?;
        }
        let attn = scores.softmax(3)?.reshape([b * h, t, t])?;
        let context = attn.matmul(&v)?.reshape([b, h, t, d])?.permute(&[0, 2, 1, 3])?.reshape([b, t, e])?;
        self.out_proj.forward(&context)
    }
}

/// Where `mask` is 0, the score becomes -inf: a zero weight after softmax (as torch's masks; a
/// finite stand-in would spread a query that may see no key evenly over every key instead).
fn masked_fill(scores: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let blocked = Tensor::full([1], f32::NEG_INFINITY, scores.device())?;
    Tensor::where_cond(mask, scores, &blocked)
}

/// `[time, time]`: 1 on and below the diagonal (query `i` may see key `j <= i`), 0 above.
fn causal_mask(time: usize, device: &Device) -> Result<Tensor> {
    let data = (0..time * time).map(|ij| if ij % time <= ij / time { 1.0 } else { 0.0 }).collect();
    Tensor::from_vec(data, [time, time], device)
}

impl Module for MultiHeadAttention {
    /// Self-attention (causal if set): `[batch, time, embed]` to `[batch, time, embed]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_masked(x, None)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join(prefix, "in_proj_weight"), &self.in_proj_weight);
        f(&join(prefix, "in_proj_bias"), &self.in_proj_bias);
        self.out_proj.visit_params(&join(prefix, "out_proj"), f);
    }
}
