//! `Embedding`: a lookup table of `num_embeddings` vectors of length `embedding_dim`.

use soma_autograd::{Rng, Tensor};
use soma_device::{Device, Error, Result};

use crate::{Module, Param, init, join};

/// Maps integer ids (stored as f32, any shape `[..]`) to rows of `weight [num, dim]`: output `[.., dim]`.
pub struct Embedding {
    weight: Param,
    num_embeddings: usize,
    embedding_dim: usize,
}

impl Embedding {
    /// `nn.Embedding(num, dim)`: weight drawn from `N(0, 1)`.
    pub fn new(num_embeddings: usize, embedding_dim: usize, device: &Device, rng: &mut Rng) -> Result<Embedding> {
        Embedding::from_tensor(init::normal([num_embeddings, embedding_dim], 0.0, 1.0, device, rng)?)
    }
    /// A table with the given weight `[num, dim]`.
    pub fn from_tensor(weight: Tensor) -> Result<Embedding> {
        let &[num_embeddings, embedding_dim] = weight.dims() else {
            return Err(Error::shape("Embedding", format!("weight must be [num, dim], got {:?}", weight.shape())));
        };
        Ok(Embedding { weight: Param::new(weight), num_embeddings, embedding_dim })
    }
    pub fn weight(&self) -> &Param {
        &self.weight
    }
    pub fn num_embeddings(&self) -> usize {
        self.num_embeddings
    }
    pub fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }
}

impl Module for Embedding {
    /// Ids out of range are an error on the CPU; on the GPU their rows come out as NaN (no readback).
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let rows = self.weight.get().index_select(0, &ids.reshape([ids.numel()])?).map_err(|e| {
            Error::invalid(
                "Embedding",
                format!("{} x {} table, ids {:?}: {e}", self.num_embeddings, self.embedding_dim, ids.shape()),
            )
        })?;
        let mut dims = ids.dims().to_vec();
        dims.push(self.embedding_dim);
        rows.reshape(dims)
    }
    fn visit_params(&self, prefix: &str, f: &mut dyn FnMut(&str, &Param)) {
        f(&join(prefix, "weight"), &self.weight);
    }
}
