//! Sequence models on the CPU: gradcheck w.r.t. input, initial state and parameters; recurrent
//! layers against a plain-loop reference; PyTorch names and init; causal masking; shape errors.

mod common;

use common::{TOL, check_input, check_module, host_randn};
use soma_autograd::{Device, Error, Rng, Tensor, gradcheck};
use soma_nn::*;

fn cpu() -> Device {
    Device::cpu()
}

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::from_vec(host_randn(shape, seed), shape.to_vec(), &cpu()).unwrap()
}

fn names_and_shapes(m: &dyn Module) -> Vec<(String, Vec<usize>)> {
    m.named_params().into_iter().map(|(n, p)| (n, p.get().dims().to_vec())).collect()
}

/// `[outputs..., state...]` flattened into one vector, so gradcheck covers both.
fn joined(parts: &[&Tensor]) -> soma_autograd::Result<Tensor> {
    let flat = parts.iter().map(|t| t.flatten(0)).collect::<soma_autograd::Result<Vec<_>>>()?;
    Tensor::cat(&flat, 0)
}

#[test]
fn recurrent_gradcheck_input_and_params() {
    let dev = cpu();
    let x = randn(&[2, 3, 3], 1);
    check_module(&Rnn::new(3, 4, &dev, &mut Rng::new(1)).unwrap(), &x);
    check_module(&Lstm::new(3, 4, &dev, &mut Rng::new(2)).unwrap(), &x);
    check_module(&Gru::new(3, 4, &dev, &mut Rng::new(3)).unwrap(), &x);
    // Stacked: the second layer reads the first one's outputs.
    let x = randn(&[2, 3, 2], 4);
    check_module(&Rnn::stacked(2, 3, 2, &dev, &mut Rng::new(4)).unwrap(), &x);
    check_module(&Lstm::stacked(2, 3, 2, &dev, &mut Rng::new(5)).unwrap(), &x);
    check_module(&Gru::stacked(2, 3, 2, &dev, &mut Rng::new(6)).unwrap(), &x);
}

#[test]
fn recurrent_gradcheck_initial_state() {
    let dev = cpu();
    let (x, h0, c0) = (randn(&[2, 3, 2], 7), randn(&[2, 2, 3], 8), randn(&[2, 2, 3], 9));
    let rnn = Rnn::stacked(2, 3, 2, &dev, &mut Rng::new(7)).unwrap();
    let f = |xs: &[Tensor]| {
        let (out, h) = rnn.forward_seq(&xs[0], Some(&xs[1]))?;
        joined(&[&out, &h])
    };
    gradcheck(f, &[x.clone(), h0.clone()], TOL).unwrap();
    let gru = Gru::stacked(2, 3, 2, &dev, &mut Rng::new(8)).unwrap();
    let f = |xs: &[Tensor]| {
        let (out, h) = gru.forward_seq(&xs[0], Some(&xs[1]))?;
        joined(&[&out, &h])
    };
    gradcheck(f, &[x.clone(), h0.clone()], TOL).unwrap();
    let lstm = Lstm::stacked(2, 3, 2, &dev, &mut Rng::new(9)).unwrap();
    let f = |xs: &[Tensor]| {
        let (out, s) = lstm.forward_seq(&xs[0], Some(&LstmState { h: xs[1].clone(), c: xs[2].clone() }))?;
        joined(&[&out, &s.h, &s.c])
    };
    gradcheck(f, &[x, h0, c0], TOL).unwrap();
}

/// The recurrent layers, one step at a time in f64 with plain loops over the weights.
mod reference {
    pub struct Weights {
        pub w_ih: Vec<f32>,
        pub w_hh: Vec<f32>,
        pub b_ih: Vec<f32>,
        pub b_hh: Vec<f32>,
    }

    fn affine(w: &[f32], b: &[f32], v: &[f64]) -> Vec<f64> {
        let cols = v.len();
        (0..b.len()).map(|r| b[r] as f64 + (0..cols).map(|c| w[r * cols + c] as f64 * v[c]).sum::<f64>()).collect()
    }
    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// Runs one layer over `xs` (time steps) for `kind` in "rnn" | "lstm" | "gru"; returns every `h_t`.
    pub fn run(kind: &str, w: &Weights, xs: &[Vec<f64>], hidden: usize) -> Vec<Vec<f64>> {
        let (mut h, mut c) = (vec![0.0; hidden], vec![0.0; hidden]);
        let mut out = Vec::new();
        for x in xs {
            let gi = affine(&w.w_ih, &w.b_ih, x);
            let gh = affine(&w.w_hh, &w.b_hh, &h);
            let g = |k: usize, j: usize| gi[k * hidden + j] + gh[k * hidden + j];
            h = match kind {
                "rnn" => (0..hidden).map(|j| g(0, j).tanh()).collect(),
                "lstm" => {
                    c = (0..hidden).map(|j| sigmoid(g(1, j)) * c[j] + sigmoid(g(0, j)) * g(2, j).tanh()).collect();
                    (0..hidden).map(|j| sigmoid(g(3, j)) * c[j].tanh()).collect()
                }
                _ => (0..hidden)
                    .map(|j| {
                        let r = sigmoid(g(0, j));
                        let z = sigmoid(g(1, j));
                        let n = (gi[2 * hidden + j] + r * gh[2 * hidden + j]).tanh();
                        (1.0 - z) * n + z * h[j]
                    })
                    .collect(),
            };
            out.push(h.clone());
        }
        out
    }
}

fn check_against_reference(kind: &str, m: &dyn Module, input: usize, hidden: usize) {
    let (batch, time) = (2, 4);
    let x = randn(&[batch, time, input], 11);
    let out = m.forward(&x).unwrap().to_vec().unwrap();
    let p: Vec<Vec<f32>> = m.named_params().into_iter().map(|(_, p)| p.get().to_vec().unwrap()).collect();
    let w = reference::Weights { w_ih: p[0].clone(), w_hh: p[1].clone(), b_ih: p[2].clone(), b_hh: p[3].clone() };
    let xv = x.to_vec().unwrap();
    for b in 0..batch {
        let xs: Vec<Vec<f64>> =
            (0..time).map(|t| (0..input).map(|i| xv[(b * time + t) * input + i] as f64).collect()).collect();
        for (t, h) in reference::run(kind, &w, &xs, hidden).iter().enumerate() {
            for (j, &hj) in h.iter().enumerate() {
                let got = out[(b * time + t) * hidden + j];
                assert!((got as f64 - hj).abs() < 1e-5, "{kind} b{b} t{t} h{j}: {got} vs reference {hj}");
            }
        }
    }
}

#[test]
fn recurrent_layers_match_a_plain_loop_reference() {
    let dev = cpu();
    check_against_reference("rnn", &Rnn::new(3, 5, &dev, &mut Rng::new(1)).unwrap(), 3, 5);
    check_against_reference("lstm", &Lstm::new(3, 5, &dev, &mut Rng::new(2)).unwrap(), 3, 5);
    check_against_reference("gru", &Gru::new(3, 5, &dev, &mut Rng::new(3)).unwrap(), 3, 5);
}

#[test]
fn recurrent_state_continues_a_sequence() {
    // Running [0, 5) then [5, 8) from the first part's final state equals running [0, 8) at once.
    let dev = cpu();
    let lstm = Lstm::stacked(3, 4, 2, &dev, &mut Rng::new(4)).unwrap();
    let x = randn(&[2, 8, 3], 12);
    let (whole, end) = lstm.forward_seq(&x, None).unwrap();
    let (_, mid) = lstm.forward_seq(&x.narrow(1, 0, 5).unwrap(), None).unwrap();
    let (tail, end2) = lstm.forward_seq(&x.narrow(1, 5, 3).unwrap(), Some(&mid)).unwrap();
    let close = |a: &Tensor, b: &Tensor| {
        soma_device::testing::assert_close(&a.to_vec().unwrap(), &b.to_vec().unwrap(), 1e-5, 1e-6)
    };
    close(&whole.narrow(1, 5, 3).unwrap(), &tail);
    close(&end.h, &end2.h);
    close(&end.c, &end2.c);
    // h_n of the last layer is the last output.
    close(
        &end.h.narrow(0, 1, 1).unwrap().reshape([2, 4]).unwrap(),
        &whole.narrow(1, 7, 1).unwrap().reshape([2, 4]).unwrap(),
    );

    let gru = Gru::stacked(3, 4, 3, &dev, &mut Rng::new(5)).unwrap();
    let (whole, h) = gru.forward_seq(&x, None).unwrap();
    assert_eq!((whole.dims(), h.dims()), ([2, 8, 4].as_slice(), [3, 2, 4].as_slice()));
    let (_, mid) = gru.forward_seq(&x.narrow(1, 0, 5).unwrap(), None).unwrap();
    let (tail, _) = gru.forward_seq(&x.narrow(1, 5, 3).unwrap(), Some(&mid)).unwrap();
    close(&whole.narrow(1, 5, 3).unwrap(), &tail);
}

#[test]
fn recurrent_pytorch_names_shapes_and_init() {
    let dev = cpu();
    let lstm = Lstm::stacked(3, 5, 2, &dev, &mut Rng::new(1)).unwrap();
    let expected = [
        ("weight_ih_l0", vec![20, 3]),
        ("weight_hh_l0", vec![20, 5]),
        ("bias_ih_l0", vec![20]),
        ("bias_hh_l0", vec![20]),
        ("weight_ih_l1", vec![20, 5]),
        ("weight_hh_l1", vec![20, 5]),
        ("bias_ih_l1", vec![20]),
        ("bias_hh_l1", vec![20]),
    ];
    let expected: Vec<_> = expected.into_iter().map(|(n, s)| (n.to_string(), s)).collect();
    assert_eq!(names_and_shapes(&lstm), expected);
    assert_eq!(names_and_shapes(&Gru::new(3, 5, &dev, &mut Rng::new(1)).unwrap())[0].1, [15, 3]);
    assert_eq!(names_and_shapes(&Rnn::new(3, 5, &dev, &mut Rng::new(1)).unwrap())[1].1, [5, 5]);
    // U(-1/√hidden, 1/√hidden), and actually spread over that range.
    let bound = 1.0 / 5f32.sqrt();
    let all: Vec<f32> = lstm.parameters().iter().flat_map(|p| p.get().to_vec().unwrap()).collect();
    assert!(all.iter().all(|v| v.abs() <= bound));
    assert!(all.iter().any(|&v| v > 0.9 * bound) && all.iter().any(|&v| v < -0.9 * bound));
    assert_eq!(lstm.num_parameters(), 4 * 5 * (3 + 5 + 2) + 4 * 5 * (5 + 5 + 2));
}

#[test]
fn recurrent_shape_errors_name_the_layer() {
    let dev = cpu();
    let lstm = Lstm::stacked(3, 4, 2, &dev, &mut Rng::new(1)).unwrap();
    let err = lstm.forward(&Tensor::zeros([2, 5, 4], &dev).unwrap()).unwrap_err().to_string();
    assert!(err.contains("Lstm") && err.contains("[2, 5, 4]"), "{err}");
    let err = lstm.forward(&Tensor::zeros([5, 3], &dev).unwrap()).unwrap_err().to_string();
    assert!(err.contains("Lstm"), "{err}");
    let bad = LstmState { h: Tensor::zeros([1, 2, 4], &dev).unwrap(), c: Tensor::zeros([2, 2, 4], &dev).unwrap() };
    let err = lstm.forward_seq(&Tensor::zeros([2, 5, 3], &dev).unwrap(), Some(&bad)).unwrap_err().to_string();
    assert!(err.contains("h0") && err.contains("[2, 2, 4]"), "{err}");
    assert!(Gru::stacked(3, 4, 0, &dev, &mut Rng::new(1)).is_err());
}

#[test]
fn attention_gradcheck_input_and_params() {
    let dev = cpu();
    let x = randn(&[2, 3, 4], 21);
    check_module(&MultiHeadAttention::new(4, 2, &dev, &mut Rng::new(1)).unwrap(), &x);
    check_module(&MultiHeadAttention::new(4, 1, &dev, &mut Rng::new(2)).unwrap().causal(true), &x);
    check_module(&MultiHeadAttention::new(4, 4, &dev, &mut Rng::new(3)).unwrap().causal(true), &x);
}

#[test]
fn attention_names_init_and_errors() {
    let dev = cpu();
    let mha = MultiHeadAttention::new(8, 2, &dev, &mut Rng::new(1)).unwrap();
    let expected: Vec<(String, Vec<usize>)> = vec![
        ("in_proj_weight".into(), vec![24, 8]),
        ("in_proj_bias".into(), vec![24]),
        ("out_proj.weight".into(), vec![8, 8]),
        ("out_proj.bias".into(), vec![8]),
    ];
    assert_eq!(names_and_shapes(&mha), expected);
    let xavier = (6.0f32 / 32.0).sqrt();
    assert!(mha.in_proj_weight().get().to_vec().unwrap().iter().all(|v| v.abs() <= xavier));
    assert!(mha.in_proj_bias().get().to_vec().unwrap().iter().all(|&v| v == 0.0));
    assert!(MultiHeadAttention::new(6, 4, &dev, &mut Rng::new(1)).is_err());
    let err = mha.forward(&Tensor::zeros([2, 3, 4], &dev).unwrap()).unwrap_err().to_string();
    assert!(err.contains("MultiHeadAttention") && err.contains("[2, 3, 4]"), "{err}");
}

#[test]
fn attention_with_one_position_is_the_value_projection() {
    // One key ⇒ softmax weight 1 ⇒ output = out_proj(v).
    let dev = cpu();
    let mha = MultiHeadAttention::new(4, 2, &dev, &mut Rng::new(1)).unwrap();
    let x = randn(&[3, 1, 4], 22);
    let w_v = mha.in_proj_weight().get().narrow(0, 8, 4).unwrap();
    let v = x.matmul_t(&w_v, false, true).unwrap();
    let expected = mha.out_proj().forward(&v).unwrap();
    let got = mha.forward(&x).unwrap();
    soma_device::testing::assert_close(&got.to_vec().unwrap(), &expected.to_vec().unwrap(), 1e-5, 1e-6);
}

/// `n` values `((i * a) % m) / d - s`: distinct, uneven weights that a test can also build in torch.
fn pattern(n: usize, a: usize, m: usize, d: f32, s: f32) -> Vec<f32> {
    (0..n).map(|i| ((i * a) % m) as f32 / d - s).collect()
}

#[test]
fn attention_matches_torch_over_several_positions() {
    // torch (float64): mha = nn.MultiheadAttention(4, 2, batch_first=True) with
    // in_proj_weight = pattern(48, 7, 11, 10, .5).reshape(12, 4), in_proj_bias = pattern(12, 5, 7, 10, .3),
    // out_proj.weight = pattern(16, 3, 13, 10, .6).reshape(4, 4), out_proj.bias = [.1, -.2, .3, -.4],
    // x = pattern(12, 4, 9, 5, .8).reshape(1, 3, 4); mha(x, x, x), then with
    // attn_mask = triu(ones(3, 3, dtype=bool), 1) for the causal form.
    let dev = cpu();
    let tensor = |v: Vec<f32>, shape: &[usize]| Tensor::from_vec(v, shape.to_vec(), &dev).unwrap();
    let mha = MultiHeadAttention::new(4, 2, &dev, &mut Rng::new(1)).unwrap();
    mha.in_proj_weight().set(tensor(pattern(48, 7, 11, 10.0, 0.5), &[12, 4]));
    mha.in_proj_bias().set(tensor(pattern(12, 5, 7, 10.0, 0.3), &[12]));
    mha.out_proj().weight().set(tensor(pattern(16, 3, 13, 10.0, 0.6), &[4, 4]));
    mha.out_proj().bias().unwrap().set(tensor(vec![0.1, -0.2, 0.3, -0.4], &[4]));
    let x = tensor(pattern(12, 4, 9, 5.0, 0.8), &[1, 3, 4]);
    let full = [
        -0.1184326, 0.1394021, 0.5787357, -0.1819307, -0.1459975, 0.0876663, 0.5162292, -0.255208, -0.1133684,
        0.1426209, 0.5802867, -0.1820475,
    ];
    soma_device::testing::assert_close(&mha.forward(&x).unwrap().to_vec().unwrap(), &full, 1e-5, 1e-6);
    let causal = [
        0.16, 0.458, 0.932, 0.206, -0.1209843, 0.2261214, 0.7000135, -0.0260943, -0.1133684, 0.1426209, 0.5802867,
        -0.1820475,
    ];
    let got = mha.causal(true).forward(&x).unwrap().to_vec().unwrap();
    soma_device::testing::assert_close(&got, &causal, 1e-5, 1e-6);
}

#[test]
fn transformer_block_matches_torch_post_norm_and_pre_norm() {
    // torch (float64): nn.TransformerEncoderLayer(4, 2, 8, dropout=0, batch_first=True,
    // norm_first=...), its k-th named parameter set to pattern(numel, 3 + 2k, 11 + k, 10, .4),
    // applied in eval mode to x = pattern(12, 4, 9, 5, .8).reshape(1, 3, 4).
    let dev = cpu();
    let x = Tensor::from_vec(pattern(12, 4, 9, 5.0, 0.8), [1, 3, 4], &dev).unwrap();
    let post_norm =
        [0.106885, -0.31323, 0.2, 0.677406, 0.208103, -0.156181, 0.2, 0.753695, -0.120486, -0.444786, 0.2, 0.380599];
    let pre_norm = [
        0.850594, 4.734724, 3.83596, 3.300544, 0.505272, 2.242033, 2.183988, 1.345406, 1.297207, 3.364042, 2.900516,
        4.166146,
    ];
    for (norm_first, expected) in [(false, post_norm), (true, pre_norm)] {
        let block = TransformerEncoderBlock::new(4, 2, 8, &dev, &mut Rng::new(1)).unwrap().norm_first(norm_first);
        for (k, (_, param)) in block.named_params().into_iter().enumerate() {
            let shape = param.get().shape().clone();
            let values = pattern(shape.numel(), 3 + 2 * k, 11 + k, 10.0, 0.4);
            param.set(Tensor::from_vec(values, shape, &dev).unwrap());
        }
        let got = block.forward(&x).unwrap().to_vec().unwrap();
        soma_device::testing::assert_close(&got, &expected, 1e-5, 1e-5);
    }
}

/// Outputs at times `< from` of `m` on `x` and on `x` with every step `>= from` replaced.
fn prefix_outputs(m: &dyn Module, x: &Tensor, from: usize) -> (Vec<f32>, Vec<f32>) {
    let (b, t, e) = (x.dims()[0], x.dims()[1], x.dims()[2]);
    let changed = Tensor::cat(&[x.narrow(1, 0, from).unwrap(), randn(&[b, t - from, e], 99)], 1).unwrap();
    let prefix = |x: &Tensor| m.forward(x).unwrap().narrow(1, 0, from).unwrap().to_vec().unwrap();
    (prefix(x), prefix(&changed))
}

#[test]
fn causal_mask_hides_the_future() {
    let dev = cpu();
    let x = randn(&[2, 6, 8], 23);
    let causal = MultiHeadAttention::new(8, 2, &dev, &mut Rng::new(1)).unwrap().causal(true);
    for from in 1..6 {
        let (before, after) = prefix_outputs(&causal, &x, from);
        assert_eq!(before, after, "output before t={from} changed with later inputs");
    }
    let block = TransformerEncoderBlock::new(8, 2, 16, &dev, &mut Rng::new(2)).unwrap().causal(true).norm_first(true);
    let (before, after) = prefix_outputs(&block, &x, 3);
    assert_eq!(before, after);
    // Without the mask, the future does leak into the past.
    let open = MultiHeadAttention::new(8, 2, &dev, &mut Rng::new(1)).unwrap();
    let (before, after) = prefix_outputs(&open, &x, 3);
    assert_ne!(before, after);
}

#[test]
fn explicit_mask_matches_the_causal_flag() {
    let dev = cpu();
    let x = randn(&[2, 5, 4], 24);
    let mask: Vec<f32> = (0..25).map(|ij| if ij % 5 <= ij / 5 { 1.0 } else { 0.0 }).collect();
    let mask = Tensor::from_vec(mask, [5, 5], &dev).unwrap();
    let mha = MultiHeadAttention::new(4, 2, &dev, &mut Rng::new(1)).unwrap();
    let masked = mha.forward_masked(&x, Some(&mask)).unwrap().to_vec().unwrap();
    let causal = mha.causal(true).forward(&x).unwrap().to_vec().unwrap();
    assert_eq!(masked, causal);
    let mha = MultiHeadAttention::new(4, 2, &dev, &mut Rng::new(1)).unwrap();
    let err = mha.forward_masked(&x, Some(&Tensor::ones([4, 4], &dev).unwrap())).unwrap_err().to_string();
    assert!(err.contains("mask [4, 4]"), "{err}");
    // A query that may see no key gets NaN, as in torch (not an even spread over every key).
    let mut blind = vec![1.0; 25];
    blind[10..15].fill(0.0);
    let blind = Tensor::from_vec(blind, [5, 5], &dev).unwrap();
    let mha = MultiHeadAttention::new(4, 2, &dev, &mut Rng::new(1)).unwrap();
    let out = mha.forward_masked(&x, Some(&blind)).unwrap().to_vec().unwrap();
    for (i, row) in out.chunks(4).enumerate() {
        assert_eq!(row.iter().all(|v| v.is_nan()), i % 5 == 2, "query {i}: {row:?}");
    }
    // A mask of higher rank would add axes to the scores and softmax the wrong one.
    let mask5 = Tensor::ones([1, 1, 1, 5, 5], &dev).unwrap();
    let mha = MultiHeadAttention::new(4, 2, &dev, &mut Rng::new(1)).unwrap();
    let err = mha.forward_masked(&x, Some(&mask5)).unwrap_err().to_string();
    assert!(err.starts_with("MultiHeadAttention: mask [1, 1, 1, 5, 5] must broadcast to [2, 2, 5, 5]"), "{err}");
}

#[test]
fn transformer_block_gradcheck_input_and_params() {
    let dev = cpu();
    let x = randn(&[2, 3, 4], 31);
    // GELU: gradcheck's perturbation of the weights would cross ReLU's kink.
    let post_norm =
        TransformerEncoderBlock::new(4, 2, 6, &dev, &mut Rng::new(1)).unwrap().activation(FeedForwardActivation::Gelu);
    check_module(&post_norm, &x);
    let pre_norm = TransformerEncoderBlock::new(4, 2, 6, &dev, &mut Rng::new(2))
        .unwrap()
        .norm_first(true)
        .causal(true)
        .activation(FeedForwardActivation::Gelu);
    check_module(&pre_norm, &x);
}

#[test]
fn transformer_block_names_and_norms() {
    let dev = cpu();
    let block = TransformerEncoderBlock::new(8, 2, 16, &dev, &mut Rng::new(1)).unwrap();
    let names: Vec<String> = block.named_params().into_iter().map(|(n, _)| n).collect();
    let expected = [
        "self_attn.in_proj_weight",
        "self_attn.in_proj_bias",
        "self_attn.out_proj.weight",
        "self_attn.out_proj.bias",
        "linear1.weight",
        "linear1.bias",
        "linear2.weight",
        "linear2.bias",
        "norm1.weight",
        "norm1.bias",
        "norm2.weight",
        "norm2.bias",
    ];
    assert_eq!(names, expected);
    // Post-norm: every output vector has mean 0 and variance 1 (norm2 is the last op).
    let y = block.forward(&randn(&[2, 5, 8], 32)).unwrap();
    let mean = y.mean(2).unwrap().to_vec().unwrap();
    let var = y.square().unwrap().mean(2).unwrap().to_vec().unwrap();
    assert!(mean.iter().all(|m| m.abs() < 1e-5) && var.iter().all(|v| (v - 1.0).abs() < 1e-3));
}

#[test]
fn positional_embeddings() {
    let dev = cpu();
    let x = randn(&[2, 3, 4], 41);
    let learned = PositionalEmbedding::learned(5, 4, &dev, &mut Rng::new(1)).unwrap();
    check_module(&learned, &x);
    assert_eq!(names_and_shapes(&learned), [("weight".to_string(), vec![5, 4])]);
    let sin = PositionalEmbedding::sinusoidal(5, 4, &dev).unwrap();
    check_input(&sin, &x);
    let huge = PositionalEmbedding::sinusoidal(1 << 32, 1 << 32, &dev).err().expect("too large").to_string();
    assert_eq!(huge, "PositionalEmbedding: shape [4294967296, 4294967296] has more elements than fit in memory");
    assert_eq!(sin.num_parameters(), 0);
    assert_eq!(sin.named_params()[0].0, "pe");
    // pe[p] = [sin p, cos p, sin(p / 100), cos(p / 100)] for dim 4.
    let pe = sin.table().get().to_vec().unwrap();
    for p in 0..5 {
        let q = p as f32;
        let want = [q.sin(), q.cos(), (q / 100.0).sin(), (q / 100.0).cos()];
        soma_device::testing::assert_close(&pe[p * 4..p * 4 + 4], &want, 1e-6, 1e-6);
    }
    let zeros = Tensor::zeros([1, 5, 4], &dev).unwrap();
    assert_eq!(sin.forward(&zeros).unwrap().to_vec().unwrap(), pe);
    let err = sin.forward(&Tensor::zeros([1, 6, 4], &dev).unwrap()).unwrap_err().to_string();
    assert!(err.contains("max_len 5"), "{err}");
}

#[test]
fn an_initial_state_on_another_device_is_named() {
    let dev = cpu();
    let gru = Gru::new(3, 4, &dev, &mut Rng::new(1)).unwrap();
    let x = randn(&[2, 5, 3], 7);
    let h0 = Tensor::zeros([1, 2, 4], &soma_device::testing::gpu()).unwrap();
    let err = gru.forward_seq(&x, Some(&h0)).unwrap_err();
    assert!(matches!(err, Error::DeviceMismatch { op: "Gru", .. }), "{err}");
    assert!(err.to_string().contains("(h0)"), "{err}");
}
