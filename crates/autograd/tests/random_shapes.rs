//! Ops on random shapes (broadcasts, permuted views, every axis, transposed and batched products,
//! sizes across the kernels' tiles): the GPU's values and gradients equal the CPU's. Seeded, so a
//! failure names a case that reruns the same way.

use soma_autograd::{Device, Rng, Tensor};
use soma_device::testing::{assert_gpu_agrees, gpu};
use soma_device::{BinaryOp, Result};

const CASES: usize = 400;

struct Input {
    data: Vec<f32>,
    shape: Vec<usize>,
    differentiable: bool,
}

type Op = Box<dyn Fn(&[Tensor]) -> Result<Tensor>>;

struct Case {
    name: String,
    inputs: Vec<Input>,
    op: Op,
}

/// The output's values and each input's gradient (of the output against fixed weights), if any.
type Outcome = (Vec<f32>, Vec<Option<Vec<f32>>>);

fn values(rng: &mut Rng, shape: &[usize]) -> Vec<f32> {
    (0..shape.iter().product()).map(|_| (rng.uniform() * 4.0 - 2.0) as f32).collect()
}

fn input(rng: &mut Rng, shape: &[usize]) -> Input {
    Input { data: values(rng, shape), shape: shape.to_vec(), differentiable: true }
}

fn random_shape(rng: &mut Rng) -> Vec<usize> {
    let rank = 1 + rng.below(4);
    (0..rank).map(|_| 1 + rng.below(7)).collect()
}

/// A shape that broadcasts against `shape`: some leading axes dropped, some axes of size 1.
fn broadcasting(rng: &mut Rng, shape: &[usize]) -> Vec<usize> {
    let dropped = rng.below(shape.len() + 1);
    shape[dropped..].iter().map(|&d| if rng.below(3) == 0 { 1 } else { d }).collect()
}

fn random_permutation(rng: &mut Rng, rank: usize) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..rank).collect();
    for i in (1..rank).rev() {
        perm.swap(i, rng.below(i + 1));
    }
    perm
}

fn binary_case(rng: &mut Rng) -> Case {
    let shape = random_shape(rng);
    let other = broadcasting(rng, &shape);
    let mut inputs = vec![input(rng, &shape), input(rng, &other)];
    if rng.below(2) == 0 {
        inputs.swap(0, 1);
    }
    let which = rng.below(6);
    if which == 3 || which == 5 {
        // A divisor or exponent kept away from zero.
        inputs[1].data.iter_mut().for_each(|x| *x = x.signum() * (x.abs() + 0.5));
    }
    let name = format!("binary {which} of {:?} and {:?}", inputs[0].shape, inputs[1].shape);
    let op: Op = Box::new(move |t| match which {
        0 => &t[0] + &t[1],
        1 => &t[0] - &t[1],
        2 => &t[0] * &t[1],
        3 => &t[0] / &t[1],
        4 => t[0].maximum(&t[1]),
        _ => t[0].abs()?.affine(1.0, 0.5)?.pow(&t[1]),
    });
    Case { name, inputs, op }
}

fn permuted_case(rng: &mut Rng) -> Case {
    let shape = random_shape(rng);
    let perm = random_permutation(rng, shape.len());
    let permuted: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let other = broadcasting(rng, &permuted);
    let name = format!("relu(permute {perm:?} of {shape:?} * {other:?})");
    let inputs = vec![input(rng, &shape), input(rng, &other)];
    Case { name, inputs, op: Box::new(move |t| (&t[0].permute(&perm)? * &t[1])?.relu()) }
}

fn reduce_case(rng: &mut Rng) -> Case {
    let shape = random_shape(rng);
    let (rank, axis, which) = (shape.len(), rng.below(shape.len()), rng.below(6));
    let transposed = rank > 1 && rng.below(2) == 0;
    let name = format!("reduction {which} along {axis} of {shape:?}, transposed first: {transposed}");
    let mut inputs = vec![input(rng, &shape)];
    inputs[0].differentiable = which != 4;
    let op: Op = Box::new(move |t| {
        let x = if transposed { t[0].transpose(0, rank - 1)? } else { t[0].clone() };
        match which {
            0 => x.sum(axis),
            1 => x.mean(axis),
            2 => x.max(axis),
            3 => x.min(axis),
            4 => x.argmax(axis),
            _ => x.sum_keepdim(axis),
        }
    });
    Case { name, inputs, op }
}

fn softmax_case(rng: &mut Rng) -> Case {
    let shape = random_shape(rng);
    let (rank, axis, log) = (shape.len(), rng.below(shape.len()), rng.below(2) == 0);
    let transposed = rank > 1 && rng.below(2) == 0;
    let name = format!("softmax (log: {log}) along {axis} of {shape:?}, transposed first: {transposed}");
    let mut x = input(rng, &shape);
    x.data.iter_mut().for_each(|v| *v *= 3.0);
    let op: Op = Box::new(move |t| {
        let x = if transposed { t[0].transpose(0, rank - 1)? } else { t[0].clone() };
        if log { x.log_softmax(axis) } else { x.softmax(axis) }
    });
    Case { name, inputs: vec![x], op }
}

/// Sizes up to 200 now and then, past the GPU's 32-wide tiles and into the CPU GEMM's threads.
fn matmul_size(rng: &mut Rng) -> usize {
    let largest = if rng.below(4) == 0 { 200 } else { 70 };
    1 + rng.below(largest)
}

fn matmul_case(rng: &mut Rng) -> Case {
    let (m, n, k) = (matmul_size(rng), matmul_size(rng), matmul_size(rng));
    let (form, batch) = (rng.below(3), 1 + rng.below(3));
    // A batched left side against one matrix folds into rows only when untransposed.
    let ta = rng.below(2) == 0 && form != 2;
    let tb = rng.below(2) == 0;
    let a = if ta { vec![k, m] } else { vec![m, k] };
    let b = if tb { vec![n, k] } else { vec![k, n] };
    let (a, b) = match form {
        0 => (a, b),
        1 => ([vec![batch], a].concat(), [vec![batch], b].concat()),
        _ => ([vec![batch], a].concat(), b),
    };
    let name = format!("matmul_t of {a:?} (transposed: {ta}) and {b:?} (transposed: {tb})");
    let inputs = vec![input(rng, &a), input(rng, &b)];
    Case { name, inputs, op: Box::new(move |t| t[0].matmul_t(&t[1], ta, tb)) }
}

fn linear_case(rng: &mut Rng) -> Case {
    let (rows, ins, outs) = (1 + rng.below(40), matmul_size(rng), matmul_size(rng));
    let (relu, bias) = (rng.below(2) == 0, rng.below(3) != 0);
    let mut inputs = vec![input(rng, &[rows, ins]), input(rng, &[outs, ins])];
    if bias {
        inputs.push(input(rng, &[outs]));
    }
    let name = format!("linear {rows} x {ins} -> {outs}, relu: {relu}, bias: {bias}");
    Case { name, inputs, op: Box::new(move |t| t[0].linear(&t[1], t.get(2), relu)) }
}

fn cat_case(rng: &mut Rng) -> Case {
    let shape = random_shape(rng);
    let axis = rng.below(shape.len());
    let inputs: Vec<Input> = (0..1 + rng.below(3))
        .map(|_| {
            let mut part = shape.clone();
            part[axis] = 1 + rng.below(5);
            input(rng, &part)
        })
        .collect();
    let len = inputs[0].shape[axis];
    let start = rng.below(len);
    let kept = 1 + rng.below(len - start);
    let shapes: Vec<&Vec<usize>> = inputs.iter().map(|i| &i.shape).collect();
    let name = format!("cat along {axis} of {shapes:?}, the first narrowed to {start}..{}", start + kept);
    let op: Op = Box::new(move |t| {
        let mut parts = vec![t[0].narrow(axis, start, kept)?];
        parts.extend(t[1..].iter().cloned());
        Tensor::cat(&parts, axis)
    });
    Case { name, inputs, op }
}

fn index_select_case(rng: &mut Rng) -> Case {
    let shape = random_shape(rng);
    let axis = rng.below(shape.len());
    let ids: Vec<f32> = (0..1 + rng.below(9)).map(|_| rng.below(shape[axis]) as f32).collect();
    let name = format!("index_select along {axis} of {shape:?}, ids {ids:?}");
    let ids = Input { shape: vec![ids.len()], data: ids, differentiable: false };
    Case { name, inputs: vec![input(rng, &shape), ids], op: Box::new(move |t| t[0].index_select(axis, &t[1])) }
}

fn where_case(rng: &mut Rng) -> Case {
    let shape = random_shape(rng);
    let (other, cond) = (broadcasting(rng, &shape), broadcasting(rng, &shape));
    let name = format!("where({cond:?}, {shape:?}, {other:?})");
    let flags = Input {
        data: (0..cond.iter().product()).map(|_| rng.below(2) as f32).collect(),
        shape: cond,
        differentiable: false,
    };
    let inputs = vec![input(rng, &shape), input(rng, &other), flags];
    Case { name, inputs, op: Box::new(|t| Tensor::where_cond(&t[2], &t[0], &t[1])) }
}

fn unary_case(rng: &mut Rng) -> Case {
    let shape = random_shape(rng);
    let which = rng.below(13);
    let name = format!("unary {which} of {shape:?}");
    let op: Op = Box::new(move |t| {
        let x = &t[0];
        match which {
            0 => x.exp(),
            1 => x.abs()?.affine(1.0, 0.1)?.log(),
            2 => x.abs()?.affine(1.0, 0.1)?.sqrt(),
            3 => x.tanh(),
            4 => x.sigmoid(),
            5 => x.gelu(),
            6 => x.elu(0.7),
            7 => x.leaky_relu(0.1),
            8 => x.clamp(-0.5, 0.8),
            9 => x.sin(),
            10 => x.powf(3.0),
            11 => x.scalar_op(BinaryOp::Sub, 1.5, true),
            _ => x.square(),
        }
    });
    Case { name, inputs: vec![input(rng, &shape)], op }
}

fn mul_add_case(rng: &mut Rng) -> Case {
    let shape = random_shape(rng);
    let (b, c, relu) = (broadcasting(rng, &shape), broadcasting(rng, &shape), rng.below(2) == 0);
    let name = format!("mul_add (relu: {relu}) of {shape:?}, {b:?}, {c:?}");
    let inputs = vec![input(rng, &shape), input(rng, &b), input(rng, &c)];
    let op: Op = Box::new(move |t| if relu { t[0].mul_add_relu(&t[1], &t[2]) } else { t[0].mul_add(&t[1], &t[2]) });
    Case { name, inputs, op }
}

fn im2col_case(rng: &mut Rng) -> Case {
    let (n, c, h, w) = (1 + rng.below(3), 1 + rng.below(3), 1 + rng.below(9), 1 + rng.below(9));
    let kernel = (1 + rng.below(h.min(4)), 1 + rng.below(w.min(4)));
    let (stride, padding) = (1 + rng.below(2), rng.below(2));
    let name = format!("im2col of [{n}, {c}, {h}, {w}], kernel {kernel:?}, stride {stride}, padding {padding}");
    Case { name, inputs: vec![input(rng, &[n, c, h, w])], op: Box::new(move |t| t[0].im2col(kernel, stride, padding)) }
}

fn random_case(rng: &mut Rng) -> Case {
    match rng.below(14) {
        0 | 1 => binary_case(rng),
        2 => permuted_case(rng),
        3 | 4 => reduce_case(rng),
        5 => softmax_case(rng),
        6 | 7 => matmul_case(rng),
        8 => linear_case(rng),
        9 => cat_case(rng),
        10 => index_select_case(rng),
        11 => where_case(rng),
        12 => {
            if rng.below(2) == 0 {
                unary_case(rng)
            } else {
                mul_add_case(rng)
            }
        }
        _ => im2col_case(rng),
    }
}

fn run(case: &Case, device: &Device) -> Result<Outcome> {
    let inputs = case
        .inputs
        .iter()
        .map(|i| {
            let t = Tensor::from_vec(i.data.clone(), i.shape.clone(), device)?;
            Ok(if i.differentiable { t.requires_grad() } else { t })
        })
        .collect::<Result<Vec<_>>>()?;
    let out = (case.op)(&inputs)?;
    let mut grads = vec![];
    if out.is_requires_grad() {
        let weights: Vec<f32> = (0..out.numel()).map(|i| (i * 7919 % 13) as f32 / 13.0 - 0.4).collect();
        let loss = (&out * &Tensor::from_vec(weights, out.shape().clone(), device)?)?.sum_all()?;
        let found = loss.backward()?;
        for x in &inputs {
            grads.push(found.get(x).map(Tensor::to_vec).transpose()?);
        }
    }
    Ok((out.to_vec()?, grads))
}

#[test]
fn random_ops_agree_on_cpu_and_gpu() {
    let (cpu, gpu) = (Device::cpu(), gpu());
    let mut rng = Rng::new(2026);
    for number in 0..CASES {
        let case = random_case(&mut rng);
        let name = format!("case {number}, {}", case.name);
        let on = |device: &Device| run(&case, device).unwrap_or_else(|e| panic!("{name} failed on {device}: {e}"));
        let ((cpu_out, cpu_grads), (gpu_out, gpu_grads)) = (on(&cpu), on(&gpu));
        assert_gpu_agrees(&format!("{name}: output"), &cpu_out, &gpu_out, 1e-4);
        assert_eq!(cpu_grads.len(), gpu_grads.len(), "{name}: gradient counts differ");
        for (i, (c, g)) in cpu_grads.iter().zip(&gpu_grads).enumerate() {
            match (c, g) {
                (Some(c), Some(g)) => assert_gpu_agrees(&format!("{name}: gradient of input {i}"), c, g, 1e-4),
                (None, None) => {}
                _ => panic!("{name}: only one device has a gradient for input {i}"),
            }
        }
    }
}
