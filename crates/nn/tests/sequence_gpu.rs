//! Sequence models on the GPU: same seed ⇒ same init; outputs, input, state and parameter
//! gradients agree with the CPU.

mod common;

use common::{assert_devices_agree, host_randn};
use soma_autograd::{Device, Rng, Tensor};
use soma_device::testing::{assert_close, gpu};
use soma_nn::*;

const TOL: f32 = 2e-4;

fn agree(make: impl Fn(&Device) -> Box<dyn Module>, shape: &[usize]) {
    assert_devices_agree(make, &host_randn(shape, 42), shape, TOL);
}

#[test]
fn recurrent_layers() {
    agree(|d| Box::new(Rnn::stacked(5, 7, 2, d, &mut Rng::new(1)).unwrap()), &[3, 6, 5]);
    agree(|d| Box::new(Lstm::stacked(5, 7, 2, d, &mut Rng::new(2)).unwrap()), &[3, 6, 5]);
    agree(|d| Box::new(Gru::stacked(5, 7, 2, d, &mut Rng::new(3)).unwrap()), &[3, 6, 5]);
    agree(|d| Box::new(Lstm::new(33, 65, d, &mut Rng::new(4)).unwrap()), &[2, 9, 33]);
}

#[test]
fn attention_and_transformer_blocks() {
    agree(|d| Box::new(MultiHeadAttention::new(8, 2, d, &mut Rng::new(5)).unwrap()), &[2, 5, 8]);
    agree(|d| Box::new(MultiHeadAttention::new(12, 3, d, &mut Rng::new(6)).unwrap().causal(true)), &[3, 7, 12]);
    agree(|d| Box::new(TransformerEncoderBlock::new(8, 2, 16, d, &mut Rng::new(7)).unwrap()), &[2, 5, 8]);
    agree(
        |d| {
            Box::new(
                TransformerEncoderBlock::new(8, 4, 32, d, &mut Rng::new(8))
                    .unwrap()
                    .norm_first(true)
                    .causal(true)
                    .activation(FeedForwardActivation::Gelu),
            )
        },
        &[2, 6, 8],
    );
}

#[test]
fn positional_embeddings() {
    agree(|d| Box::new(PositionalEmbedding::learned(9, 6, d, &mut Rng::new(9)).unwrap()), &[2, 7, 6]);
    agree(|d| Box::new(PositionalEmbedding::sinusoidal(9, 6, d).unwrap()), &[2, 9, 6]);
}

/// `(h_n, c_n, dL/dh0, dL/dc0)` of an LSTM run from a given state, on the host.
fn lstm_state_run(dev: &Device) -> Vec<Vec<f32>> {
    let lstm = Lstm::stacked(4, 5, 2, dev, &mut Rng::new(10)).unwrap();
    let tensor = |shape: &[usize], seed| Tensor::from_vec(host_randn(shape, seed), shape.to_vec(), dev).unwrap();
    let (x, h0, c0) =
        (tensor(&[3, 4, 4], 1), tensor(&[2, 3, 5], 2).requires_grad(), tensor(&[2, 3, 5], 3).requires_grad());
    let (out, state) = lstm.forward_seq(&x, Some(&LstmState { h: h0.clone(), c: c0.clone() })).unwrap();
    let loss = (&(&out.sum_all().unwrap() + &state.h.square().unwrap().sum_all().unwrap()).unwrap()
        + &state.c.sum_all().unwrap())
        .unwrap();
    let grads = loss.backward().unwrap();
    let host = |t: &Tensor| t.to_vec().unwrap();
    vec![host(&state.h), host(&state.c), host(grads.get(&h0).unwrap()), host(grads.get(&c0).unwrap())]
}

#[test]
fn lstm_state_and_its_gradients() {
    for (g, c) in lstm_state_run(&gpu()).iter().zip(lstm_state_run(&Device::cpu())) {
        assert_close(g, &c, TOL, TOL);
    }
}
