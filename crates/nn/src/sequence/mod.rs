//! Sequence models over batch-first `[batch, time, features]` tensors: recurrent layers (`Rnn`,
//! `Lstm`, `Gru`), `MultiHeadAttention`, `TransformerEncoderBlock` and `PositionalEmbedding`.

mod attention;
mod gru;
mod lstm;
mod positional;
mod recurrent;
mod rnn;
mod transformer;

pub use attention::MultiHeadAttention;
pub use gru::Gru;
pub use lstm::{Lstm, LstmState};
pub use positional::PositionalEmbedding;
pub use rnn::Rnn;
pub use transformer::{FeedForwardActivation, TransformerEncoderBlock};

use soma_autograd::Tensor;
use soma_device::{Error, Result};

/// Checks a batch-first input `[batch, time, features]` and returns `(batch, time)`.
pub(crate) fn check_sequence(layer: &'static str, features: usize, x: &Tensor) -> Result<(usize, usize)> {
    match *x.dims() {
        [batch, time, f] if f == features && time > 0 => Ok((batch, time)),
        _ => Err(Error::shape(layer, format!("expected input [batch, time > 0, {features}], got {:?}", x.shape()))),
    }
}
