//! Layers and losses with random geometry (convolutions, pooling, normalisation, recurrent layers,
//! attention, a transformer block, every loss over a linear layer): on the GPU, with the CPU's
//! parameters, the output, the gradients of the input and of every parameter, the buffers after
//! the forward and the loss equal the CPU's. Seeded, so a failure names a case that reruns alike.

use soma_autograd::{Device, Rng, Tensor};
use soma_device::Result;
use soma_device::testing::{assert_gpu_agrees, gpu};
use soma_nn::*;

const CASES: usize = 150;

type Build = Box<dyn Fn(&Device) -> Result<Box<dyn Module>>>;

/// How the output becomes a loss: a fixed weighted sum, or a loss against `target`.
#[derive(Clone, Copy, Debug)]
enum LossKind {
    WeightedSum,
    CrossEntropy,
    NllOfLogSoftmax,
    Huber,
    BceWithLogits,
    Mse,
    L1,
}

struct Case {
    name: String,
    build: Build,
    x_shape: Vec<usize>,
    loss: LossKind,
    target: Option<(Vec<f32>, Vec<usize>)>,
}

/// The output, the gradients (input first, then each parameter that has one), and the buffers
/// after the forward followed by the loss.
type Outcome = (Vec<f32>, Vec<(String, Vec<f32>)>, Vec<f32>);

fn values(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| (rng.uniform() * 4.0 - 2.0) as f32).collect()
}

fn conv_case(rng: &mut Rng, seed: u64) -> Case {
    let (n, cin, h, w) = (1 + rng.below(3), 1 + rng.below(4), 1 + rng.below(12), 1 + rng.below(12));
    let (cout, kh, kw) = (1 + rng.below(5), 1 + rng.below(h.min(5)), 1 + rng.below(w.min(5)));
    let (stride, padding, bias) = (1 + rng.below(3), rng.below(3), rng.below(2) == 0);
    Case {
        name: format!("Conv2d({cin}, {cout}, ({kh}, {kw}), stride {stride}, padding {padding}, bias {bias})"),
        build: Box::new(move |d| {
            let conv = Conv2d::with_bias(cin, cout, (kh, kw), bias, d, &mut Rng::new(seed))?;
            Ok(Box::new(conv.stride(stride).padding(padding)))
        }),
        x_shape: vec![n, cin, h, w],
        loss: LossKind::WeightedSum,
        target: None,
    }
}

fn pool_case(rng: &mut Rng) -> Case {
    let (n, c, h, w) = (1 + rng.below(3), 1 + rng.below(3), 1 + rng.below(12), 1 + rng.below(12));
    let kernel = 1 + rng.below(h.min(w).min(4));
    let (stride, padding, max) = (1 + rng.below(3), rng.below(kernel / 2 + 1), rng.below(2) == 0);
    Case {
        name: format!("{}Pool2d({kernel}, stride {stride}, padding {padding})", if max { "Max" } else { "Avg" }),
        build: Box::new(move |_| {
            Ok(if max {
                Box::new(MaxPool2d::new(kernel).stride(stride).padding(padding))
            } else {
                Box::new(AvgPool2d::new(kernel).stride(stride).padding(padding))
            })
        }),
        x_shape: vec![n, c, h, w],
        loss: LossKind::WeightedSum,
        target: None,
    }
}

fn norm_case(rng: &mut Rng) -> Case {
    if rng.below(3) == 0 {
        let features = 1 + rng.below(40);
        return Case {
            name: format!("LayerNorm({features})"),
            build: Box::new(move |d| Ok(Box::new(LayerNorm::new(features, d)?))),
            x_shape: vec![1 + rng.below(5), 1 + rng.below(5), features],
            loss: LossKind::WeightedSum,
            target: None,
        };
    }
    let (n, c, two_d, training) = (2 + rng.below(6), 1 + rng.below(5), rng.below(2) == 0, rng.below(3) != 0);
    let x_shape = if two_d { vec![n, c, 1 + rng.below(5), 1 + rng.below(5)] } else { vec![n, c] };
    Case {
        name: format!("BatchNorm{}d({c}), training {training}", if two_d { 2 } else { 1 }),
        build: Box::new(move |d| {
            let mut layer: Box<dyn Module> =
                if two_d { Box::new(BatchNorm2d::new(c, d)?) } else { Box::new(BatchNorm1d::new(c, d)?) };
            layer.train(training);
            Ok(layer)
        }),
        x_shape,
        loss: LossKind::WeightedSum,
        target: None,
    }
}

fn recurrent_case(rng: &mut Rng, seed: u64) -> Case {
    let (batch, steps, inputs, hidden) = (1 + rng.below(4), 1 + rng.below(6), 1 + rng.below(12), 1 + rng.below(20));
    let (layers, kind) = (1 + rng.below(2), rng.below(3));
    Case {
        name: format!("{}({inputs}, {hidden}, layers {layers})", ["Rnn", "Gru", "Lstm"][kind]),
        build: Box::new(move |d| {
            let rng = &mut Rng::new(seed);
            Ok(match kind {
                0 => Box::new(Rnn::stacked(inputs, hidden, layers, d, rng)?),
                1 => Box::new(Gru::stacked(inputs, hidden, layers, d, rng)?),
                _ => Box::new(Lstm::stacked(inputs, hidden, layers, d, rng)?),
            })
        }),
        x_shape: vec![batch, steps, inputs],
        loss: LossKind::WeightedSum,
        target: None,
    }
}

fn attention_case(rng: &mut Rng, seed: u64) -> Case {
    let heads = 1 + rng.below(3);
    let embed = heads * (1 + rng.below(6));
    let x_shape = vec![1 + rng.below(3), 1 + rng.below(7), embed];
    if rng.below(2) == 0 {
        return Case {
            name: format!("MultiHeadAttention({embed}, {heads})"),
            build: Box::new(move |d| Ok(Box::new(MultiHeadAttention::new(embed, heads, d, &mut Rng::new(seed))?))),
            x_shape,
            loss: LossKind::WeightedSum,
            target: None,
        };
    }
    let feedforward = 1 + rng.below(30);
    Case {
        name: format!("TransformerEncoderBlock({embed}, {heads}, {feedforward})"),
        build: Box::new(move |d| {
            Ok(Box::new(TransformerEncoderBlock::new(embed, heads, feedforward, d, &mut Rng::new(seed))?))
        }),
        x_shape,
        loss: LossKind::WeightedSum,
        target: None,
    }
}

/// A loss over a linear layer's output; up to 700 rows, past the one-kernel cross-entropy's 256.
fn loss_case(rng: &mut Rng, seed: u64) -> Case {
    let most_rows = if rng.below(3) == 0 { 700 } else { 40 };
    let (rows, inputs, classes) = (1 + rng.below(most_rows), 1 + rng.below(30), 1 + rng.below(30));
    let kinds = [
        LossKind::CrossEntropy,
        LossKind::NllOfLogSoftmax,
        LossKind::Huber,
        LossKind::BceWithLogits,
        LossKind::Mse,
        LossKind::L1,
    ];
    let loss = kinds[rng.below(kinds.len())];
    let target = match loss {
        LossKind::CrossEntropy | LossKind::NllOfLogSoftmax => {
            ((0..rows).map(|_| rng.below(classes) as f32).collect(), vec![rows])
        }
        LossKind::BceWithLogits => ((0..rows * classes).map(|_| rng.below(2) as f32).collect(), vec![rows, classes]),
        _ => (values(rng, rows * classes), vec![rows, classes]),
    };
    Case {
        name: format!("{loss:?} over Linear({inputs}, {classes}) of {rows} rows"),
        build: Box::new(move |d| Ok(Box::new(Linear::new(inputs, classes, d, &mut Rng::new(seed))?))),
        x_shape: vec![rows, inputs],
        loss,
        target: Some(target),
    }
}

fn random_case(rng: &mut Rng) -> Case {
    let seed = rng.next_seed();
    match rng.below(7) {
        0 => conv_case(rng, seed),
        1 => pool_case(rng),
        2 => norm_case(rng),
        3 => recurrent_case(rng, seed),
        4 => attention_case(rng, seed),
        _ => loss_case(rng, seed),
    }
}

fn loss_of(case: &Case, out: &Tensor, device: &Device) -> Result<Tensor> {
    let target = || {
        let (values, shape) = case.target.clone().expect("a loss case has a target");
        Tensor::from_vec(values, shape, device)
    };
    match case.loss {
        LossKind::WeightedSum => {
            let weights: Vec<f32> = (0..out.numel()).map(|i| (i * 7919 % 13) as f32 / 13.0 - 0.4).collect();
            (out * &Tensor::from_vec(weights, out.shape().clone(), device)?)?.sum_all()
        }
        LossKind::CrossEntropy => loss::cross_entropy(out, &target()?),
        LossKind::NllOfLogSoftmax => loss::nll_loss(&out.log_softmax(1)?, &target()?),
        LossKind::Huber => loss::huber_loss(out, &target()?, 0.7),
        LossKind::BceWithLogits => loss::binary_cross_entropy_with_logits(out, &target()?),
        LossKind::Mse => loss::mse_loss(out, &target()?),
        LossKind::L1 => loss::l1_loss(out, &target()?),
    }
}

/// Runs the case on `device` with the parameters of `reference` (built on the CPU: the GPU's
/// random initialisation need not match it bit for bit).
fn run(case: &Case, x: &[f32], reference: &dyn Module, device: &Device) -> Result<Outcome> {
    let layer = (case.build)(device)?;
    for ((_, param), (_, from)) in layer.named_params().iter().zip(reference.named_params()) {
        let value = from.get();
        param.set(Tensor::from_vec(value.to_vec()?, value.shape().clone(), device)?);
    }
    let x = Tensor::from_vec(x.to_vec(), case.x_shape.clone(), device)?.requires_grad();
    let out = layer.forward(&x)?;
    let loss = loss_of(case, &out, device)?;
    let grads = loss.backward()?;
    let mut found = vec![("input".to_string(), grads.get(&x).map(Tensor::to_vec).transpose()?.unwrap_or_default())];
    let mut after = vec![];
    for (name, param) in layer.named_params() {
        if let Some(g) = grads.get(&param.get()) {
            found.push((name, g.to_vec()?));
        }
        if !param.is_trainable() {
            after.extend(param.get().to_vec()?);
        }
    }
    after.extend(loss.to_vec()?);
    Ok((out.to_vec()?, found, after))
}

#[test]
fn random_layers_agree_on_cpu_and_gpu() {
    let (cpu, gpu) = (Device::cpu(), gpu());
    let mut rng = Rng::new(2026);
    for number in 0..CASES {
        let case = random_case(&mut rng);
        let x = values(&mut rng, case.x_shape.iter().product());
        let name = format!("case {number}, {} on {:?}", case.name, case.x_shape);
        let reference = (case.build)(&cpu).unwrap_or_else(|e| panic!("{name}: {e}"));
        let on = |device: &Device| {
            run(&case, &x, reference.as_ref(), device).unwrap_or_else(|e| panic!("{name} failed on {device}: {e}"))
        };
        let ((cpu_out, cpu_grads, cpu_after), (gpu_out, gpu_grads, gpu_after)) = (on(&cpu), on(&gpu));
        assert_gpu_agrees(&format!("{name}: output"), &cpu_out, &gpu_out, 2e-4);
        assert_gpu_agrees(&format!("{name}: buffers and loss"), &cpu_after, &gpu_after, 2e-4);
        let names = |grads: &[(String, Vec<f32>)]| grads.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&cpu_grads), names(&gpu_grads), "{name}: different parameters have gradients");
        for ((what, c), (_, g)) in cpu_grads.iter().zip(&gpu_grads) {
            assert_gpu_agrees(&format!("{name}: gradient of {what}"), c, g, 5e-4);
        }
    }
}
