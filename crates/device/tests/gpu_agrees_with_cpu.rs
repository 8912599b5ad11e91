//! Every kernel: the wgpu backend and the CPU reference agree on seeded random inputs.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use soma_device::random::Distribution;
use soma_device::testing::{assert_close, gpu};
use soma_device::{
    AxisDims, BinaryOp, Conv2dGeometry, Device, GatherDims, MatmulDims, ReduceOp, Result, Shape, Storage, StridedView,
    UnaryOp, UpdateRule,
};

const SIZES: &[usize] = &[1, 3, 255, 256, 257, 65_536];
/// Over 65,535 workgroups of 256 threads: the kernels need their 2-D grid.
const HUGE: usize = 16_777_217;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn uniform(r: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.random_range(lo..hi)).collect()
}

/// Runs `f` on the GPU and on the CPU with the same inputs; returns (gpu, cpu).
fn on_both(inputs: &[&[f32]], f: impl Fn(&Device, &[Storage]) -> Result<Storage>) -> (Vec<f32>, Vec<f32>) {
    let run = |dev: &Device| {
        let xs: Vec<Storage> = inputs.iter().map(|x| dev.from_slice(x).unwrap()).collect();
        let out = f(dev, &xs).unwrap();
        dev.to_vec(&out).unwrap()
    };
    (run(&gpu()), run(&Device::cpu()))
}

fn unary_domain(op: UnaryOp) -> (f32, f32) {
    match op {
        UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Recip => (0.01, 10.0),
        UnaryOp::Exp => (-20.0, 20.0),
        UnaryOp::Sin | UnaryOp::Cos => (-6.5, 6.5),
        UnaryOp::Neg
        | UnaryOp::Abs
        | UnaryOp::Sign
        | UnaryOp::Square
        | UnaryOp::Sigmoid
        | UnaryOp::Tanh
        | UnaryOp::Relu
        | UnaryOp::LeakyRelu
        | UnaryOp::Elu
        | UnaryOp::Gelu
        | UnaryOp::GeluGrad
        | UnaryOp::Step => (-8.0, 8.0),
    }
}

/// (rtol, atol): exact ops bit-for-bit up to rounding, transcendentals looser.
fn unary_tolerance(op: UnaryOp) -> (f32, f32) {
    match op {
        UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Sign | UnaryOp::Square | UnaryOp::Relu | UnaryOp::Step => (0.0, 0.0),
        UnaryOp::LeakyRelu | UnaryOp::Sqrt | UnaryOp::Recip => (1e-6, 0.0),
        UnaryOp::Exp
        | UnaryOp::Log
        | UnaryOp::Sin
        | UnaryOp::Cos
        | UnaryOp::Sigmoid
        | UnaryOp::Tanh
        | UnaryOp::Elu
        | UnaryOp::Gelu
        | UnaryOp::GeluGrad => (2e-5, 2e-6),
    }
}

#[test]
fn every_unary_op() {
    for (s, &op) in UnaryOp::ALL.iter().enumerate() {
        let (lo, hi) = unary_domain(op);
        for &n in SIZES {
            let mut x = uniform(&mut rng(s as u64 * 100 + n as u64), n, lo, hi);
            if n > 4 && lo < 0.0 {
                x[1] = 0.0;
                x[2] = -0.0;
            }
            let (g, c) = on_both(&[&x], |d, xs| d.unary(op, &xs[0], 0.1));
            let (rtol, atol) = unary_tolerance(op);
            assert_close(&g, &c, rtol, atol);
        }
    }
}

#[test]
fn stable_tanh_and_sigmoid_at_extremes() {
    let x = [-1e4, -100.0, -30.0, 30.0, 100.0, 1e4, 0.0];
    for op in [UnaryOp::Tanh, UnaryOp::Sigmoid, UnaryOp::Gelu, UnaryOp::Elu] {
        let (g, c) = on_both(&[&x], |d, xs| d.unary(op, &xs[0], 1.0));
        assert!(g.iter().all(|v| v.is_finite()), "{op:?}: {g:?}");
        assert_close(&g, &c, 1e-6, 1e-6);
    }
}

/// Inputs for a binary op: a divisor away from zero, small integers for the comparisons (so
/// equal pairs occur), positive bases for pow.
fn binary_inputs(op: BinaryOp, r: &mut StdRng, n: usize) -> (Vec<f32>, Vec<f32>) {
    match op {
        BinaryOp::Div => {
            let b = (0..n).map(|_| r.random_range(0.5f32..4.0) * if r.random_bool(0.5) { 1.0 } else { -1.0 }).collect();
            (uniform(r, n, -4.0, 4.0), b)
        }
        BinaryOp::Pow => (uniform(r, n, 0.1, 3.0), uniform(r, n, -3.0, 3.0)),
        BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let ints = |r: &mut StdRng| (0..n).map(|_| r.random_range(-2i32..=2) as f32).collect();
            (ints(r), ints(r))
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Max | BinaryOp::Min | BinaryOp::ReluGrad => {
            (uniform(r, n, -4.0, 4.0), uniform(r, n, -4.0, 4.0))
        }
    }
}

fn binary_tolerance(op: BinaryOp) -> (f32, f32) {
    match op {
        BinaryOp::Pow => (2e-5, 1e-6),
        BinaryOp::Div => (1e-6, 0.0),
        _ => (0.0, 0.0),
    }
}

#[test]
fn every_binary_op_same_shape() {
    for (s, &op) in BinaryOp::ALL.iter().enumerate() {
        for &n in SIZES {
            let (a, b) = binary_inputs(op, &mut rng(7 + s as u64 * 1000 + n as u64), n);
            let shape = Shape::new([n]);
            let (g, c) = on_both(&[&a, &b], |d, xs| d.binary(op, &xs[0], &shape, &xs[1], &shape));
            let (rtol, atol) = binary_tolerance(op);
            assert_close(&g, &c, rtol, atol);
        }
    }
}

#[test]
fn pow_of_negative_bases_with_integer_exponents() {
    let a = [-2.0, -2.0, -3.0, -0.5, -1.5, 2.0, 0.0, 0.0, -4.0, 5.0];
    let b = [2.0, 3.0, -1.0, -3.0, 0.0, 0.5, 2.0, -1.0, 4.0, 0.0];
    let shape = Shape::new([a.len()]);
    let (g, c) = on_both(&[&a, &b], |d, xs| d.binary(BinaryOp::Pow, &xs[0], &shape, &xs[1], &shape));
    assert_close(&g, &c, 2e-6, 0.0);
    assert_eq!(&g[..2], &[4.0, -8.0]);
    assert_close(&g[2..3], &[-1.0 / 3.0], 1e-6, 0.0);
}

#[test]
fn pow_of_zeros_infinities_and_nans_agrees_with_powf() {
    let specials = [-f32::INFINITY, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, f32::INFINITY, f32::NAN];
    let exponents = [-f32::INFINITY, -3.0, -2.0, -0.5, 0.0, 0.5, 2.0, 3.0, f32::INFINITY, f32::NAN];
    let (a, b): (Vec<f32>, Vec<f32>) = specials.iter().flat_map(|&x| exponents.iter().map(move |&y| (x, y))).unzip();
    let shape = Shape::new([a.len()]);
    let (g, c) = on_both(&[&a, &b], |d, xs| d.binary(BinaryOp::Pow, &xs[0], &shape, &xs[1], &shape));
    for (i, (&g, &c)) in g.iter().zip(&c).enumerate() {
        let same = (g.is_nan() && c.is_nan()) || (g == c && g.is_sign_negative() == c.is_sign_negative());
        let close = g.is_finite() && c.is_finite() && (g - c).abs() <= 2e-6 * c.abs();
        assert!(same || close, "pow({}, {}): GPU {g}, powf {c}", a[i], b[i]);
    }
}

/// A shape of rank `rank` that broadcasts to the last `rank` dims of `full`, some stretched from 1.
fn broadcastable(r: &mut StdRng, full: &[usize], rank: usize) -> Vec<usize> {
    full[full.len() - rank..].iter().map(|&d| if r.random_bool(0.35) { 1 } else { d }).collect()
}

#[test]
fn broadcasting_of_every_rank_pairing() {
    let mut r = rng(42);
    for ra in 0..=4 {
        for rb in 0..=4 {
            for trial in 0..3 {
                let full: Vec<usize> = (0..ra.max(rb)).map(|_| r.random_range(1..=5)).collect();
                let sa = broadcastable(&mut r, &full, ra);
                let sb = broadcastable(&mut r, &full, rb);
                let (a_shape, b_shape) = (Shape::new(sa), Shape::new(sb));
                let ops: &[BinaryOp] = if trial == 0 { BinaryOp::ALL } else { &[BinaryOp::Sub, BinaryOp::Div] };
                for &op in ops {
                    let a = binary_inputs(op, &mut r, a_shape.numel()).0;
                    let b = binary_inputs(op, &mut r, b_shape.numel()).1;
                    let (g, c) = on_both(&[&a, &b], |d, xs| d.binary(op, &xs[0], &a_shape, &xs[1], &b_shape));
                    let (rtol, atol) = binary_tolerance(op);
                    assert_close(&g, &c, rtol, atol);
                }
            }
        }
    }
}

#[test]
fn broadcasting_up_to_rank_six() {
    let mut r = rng(9);
    let pairs: [(&[usize], &[usize]); 4] = [
        (&[2, 1, 3, 1, 2, 3], &[3, 4, 2, 1]),
        (&[2, 3, 4, 5, 6, 7], &[1, 3, 1, 5, 1, 7]),
        (&[257, 1], &[1, 255]),
        (&[1], &[65_536]),
    ];
    for (sa, sb) in pairs {
        let (a_shape, b_shape) = (Shape::new(sa), Shape::new(sb));
        let a = uniform(&mut r, a_shape.numel(), -2.0, 2.0);
        let b = uniform(&mut r, b_shape.numel(), -2.0, 2.0);
        let (g, c) = on_both(&[&a, &b], |d, xs| d.binary(BinaryOp::Sub, &xs[0], &a_shape, &xs[1], &b_shape));
        assert_close(&g, &c, 0.0, 0.0);
        let (g, c) = on_both(&[&b, &a], |d, xs| d.binary(BinaryOp::Mul, &xs[0], &b_shape, &xs[1], &a_shape));
        assert_close(&g, &c, 0.0, 0.0);
    }
}

#[test]
fn broadcasting_over_whole_vec4s() {
    // The vec4 kernel: an innermost dimension of whole vec4s, each input's innermost stride 1 or 0.
    let mut r = rng(10);
    let pairs: [(&[usize], &[usize]); 4] =
        [(&[128, 256], &[256]), (&[3, 8], &[3, 1]), (&[5, 1, 12], &[1, 7, 12]), (&[2, 3, 4], &[2, 1, 1])];
    for (sa, sb) in pairs {
        let (a_shape, b_shape) = (Shape::new(sa), Shape::new(sb));
        let a = uniform(&mut r, a_shape.numel(), -2.0, 2.0);
        let b = uniform(&mut r, b_shape.numel(), -2.0, 2.0);
        let (g, c) = on_both(&[&a, &b], |d, xs| d.binary(BinaryOp::Sub, &xs[0], &a_shape, &xs[1], &b_shape));
        assert_close(&g, &c, 0.0, 0.0);
        let (g, c) = on_both(&[&b, &a], |d, xs| d.binary(BinaryOp::Div, &xs[0], &b_shape, &xs[1], &a_shape));
        assert_close(&g, &c, 0.0, 0.0);
    }
}

#[test]
fn every_binary_op_with_a_scalar() {
    for (s, &op) in BinaryOp::ALL.iter().enumerate() {
        for &n in &[1, 257, 65_536] {
            let (a, _) = binary_inputs(op, &mut rng(s as u64 + 77), n);
            for scalar_first in [false, true] {
                let scalar = match op {
                    BinaryOp::Pow if scalar_first => 1.7,
                    BinaryOp::Pow => -1.5,
                    BinaryOp::Div => 2.5,
                    // Not 1, which Mul and ReluGrad would pass through unchanged.
                    _ => 1.5,
                };
                let (g, c) = on_both(&[&a], |d, xs| d.binary_scalar(op, &xs[0], scalar, scalar_first));
                let (rtol, atol) = binary_tolerance(op);
                assert_close(&g, &c, rtol, atol);
            }
        }
    }
}

#[test]
fn where_selects() {
    for &n in SIZES {
        let mut r = rng(n as u64);
        let cond: Vec<f32> = (0..n).map(|_| if r.random_bool(0.5) { 0.0 } else { r.random_range(-2.0..2.0) }).collect();
        let a = uniform(&mut r, n, -1.0, 1.0);
        let b = uniform(&mut r, n, -1.0, 1.0);
        let (g, c) = on_both(&[&cond, &a, &b], |d, xs| d.where_cond(&xs[0], &xs[1], &xs[2]));
        assert_close(&g, &c, 0.0, 0.0);
    }
}

/// The fused `a * b + c` (and its ReLU) equals the unfused ops, on both backends and every size
/// (1 and 3 leave a partial vec4); unequal lengths are a shape error.
#[test]
fn mul_add_fuses_the_chain() {
    for &n in SIZES {
        let mut r = rng(n as u64 + 7);
        let (a, b, c) = (uniform(&mut r, n, -2.0, 2.0), uniform(&mut r, n, -2.0, 2.0), uniform(&mut r, n, -2.0, 2.0));
        let unfused: Vec<f32> = a.iter().zip(&b).zip(&c).map(|((a, b), c)| a * b + c).collect();
        let relu: Vec<f32> = unfused.iter().map(|v| v.max(0.0)).collect();
        for (fuse_relu, want) in [(false, &unfused), (true, &relu)] {
            let (g, cpu) = on_both(&[&a, &b, &c], |d, xs| d.mul_add(&xs[0], &xs[1], &xs[2], fuse_relu));
            assert_close(&cpu, want, 0.0, 0.0);
            assert_close(&g, want, 1e-6, 1e-6);
        }
    }
    for device in [Device::cpu(), gpu()] {
        let (x, y) = (device.from_slice(&[1.0; 8]).unwrap(), device.from_slice(&[1.0; 7]).unwrap());
        let err = device.mul_add(&x, &x, &y, true).unwrap_err();
        assert_eq!(err.to_string(), "mul_add: needs three equally long tensors, got 8, 8 and 7 elements");
    }
}

#[test]
fn pad_axis_places_a_block_among_zeros() {
    // [2, 1, 2] at offset 1 of an axis of 3: each outer block becomes [0, 0, a, b, 0, 0].
    let want = [0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0];
    let (g, c) = on_both(&[&[1.0, 2.0, 3.0, 4.0]], |d, xs| d.pad_axis(&xs[0], 2, 1, 2, 1, 3));
    assert_close(&g, &want, 0.0, 0.0);
    assert_close(&c, &want, 0.0, 0.0);
    for &(outer, axis, inner, offset, total) in
        &[(3, 4, 5, 0, 9), (1, 300, 1, 700, 1000), (4, 2, 3, 5, 7), (2, 0, 3, 1, 2)]
    {
        let x = uniform(&mut rng((outer * total + offset) as u64), outer * axis * inner, -1.0, 1.0);
        let (g, c) = on_both(&[&x], |d, xs| d.pad_axis(&xs[0], outer, axis, inner, offset, total));
        assert_close(&g, &c, 0.0, 0.0);
    }
    for device in [Device::cpu(), gpu()] {
        let x = device.from_slice(&[1.0; 6]).unwrap();
        let err = device.pad_axis(&x, 2, 3, 1, 1, 3).unwrap_err();
        assert_eq!(err.to_string(), "pad_axis: cannot place 6 elements as [2, 3, 1] at 1 of an axis of 3");
    }
}

#[test]
fn cross_entropy_rows_and_gradient() {
    // Python: row 0 = logsumexp([1, 2, 3]) - 3 = 0.40760596444437, row 1 = log(3); gradient rows
    // (softmax - onehot) * g: [0.0900306, 0.2447285, 0.6652410 - 1] * 1, [1/3, 1/3 - 1, 1/3] * 0.5.
    let (logits, targets, g) = ([1.0, 2.0, 3.0, 0.0, 0.0, 0.0], [2.0, 1.0], [1.0, 0.5]);
    let loss_want = [0.407_605_96, 1.098_612_3];
    let grad_want = [0.090_030_57, 0.244_728_47, -0.334_759_04, 1.0 / 6.0, -1.0 / 3.0, 1.0 / 6.0];
    let (gl, cl) = on_both(&[&logits, &targets], |d, xs| d.cross_entropy(&xs[0], &xs[1], 2, 3));
    let (gg, cg) = on_both(&[&logits, &targets, &g], |d, xs| d.cross_entropy_grad(&xs[0], &xs[1], &xs[2], 1.0, 2, 3));
    for (got, want) in [(&gl, &loss_want[..]), (&cl, &loss_want), (&gg, &grad_want), (&cg, &grad_want)] {
        assert_close(got, want, 1e-5, 1e-6);
    }
    // One gradient (0.8) shared by both rows, times 0.5 (a mean's 1 / rows): softmax - onehot, * 0.4.
    let shared_want = [0.036_012_23, 0.097_891_39, -0.133_903_62, 0.4 / 3.0, -0.8 / 3.0, 0.4 / 3.0];
    let (gs, cs) =
        on_both(&[&logits, &targets, &[0.8]], |d, xs| d.cross_entropy_grad(&xs[0], &xs[1], &xs[2], 0.5, 2, 3));
    assert_close(&gs, &shared_want, 1e-5, 1e-6);
    assert_close(&cs, &shared_want, 1e-5, 1e-6);
    // Random rows; row 1 names no class (1.5) and row 2 is out of range: NaN rows on both devices.
    for &(rows, cols) in &[(128, 10), (5, 1), (3, 300), (0, 4)] {
        let mut r = rng((rows * cols) as u64 + 3);
        let logits = uniform(&mut r, rows * cols, -8.0, 8.0);
        let mut targets: Vec<f32> = (0..rows).map(|i| ((i * 7) % cols) as f32).collect();
        if rows > 2 {
            (targets[1], targets[2]) = (1.5, cols as f32);
        }
        let g = uniform(&mut r, rows, -1.0, 1.0);
        let (gl, cl) = on_both(&[&logits, &targets], |d, xs| d.cross_entropy(&xs[0], &xs[1], rows, cols));
        assert_close(&gl, &cl, 1e-5, 1e-5);
        let (gg, cg) =
            on_both(&[&logits, &targets, &g], |d, xs| d.cross_entropy_grad(&xs[0], &xs[1], &xs[2], 1.0, rows, cols));
        assert_close(&gg, &cg, 1e-5, 1e-6);
        if rows > 2 {
            assert!(cl[1].is_nan() && cl[2].is_nan() && !cl[0].is_nan(), "{:?}", &cl[..3]);
            assert!(cg[cols..3 * cols].iter().all(|v| v.is_nan()) && !cg[0].is_nan());
        }
    }
    for device in [Device::cpu(), gpu()] {
        let (x, t) = (device.from_slice(&[1.0; 6]).unwrap(), device.from_slice(&[0.0; 3]).unwrap());
        let err = device.cross_entropy(&x, &t, 2, 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cross_entropy: needs [2, 3] logits (at least one class) and 2 targets, got 6 logits, 3 targets"
        );
        let err = device.cross_entropy_grad(&x, &t, &x, 1.0, 3, 2).unwrap_err();
        assert!(
            err.to_string().ends_with("got 6 logits, 3 targets, 6 row gradients (or 1 for all)")
                && err.to_string().starts_with("cross_entropy_grad: needs [3, 2]"),
            "{err}"
        );
    }
}

#[test]
fn cross_entropy_mean_in_one_kernel_and_past_it() {
    // Python: mean(logsumexp([1, 2, 3]) - 3, log 3) = (0.40760596444437 + 1.09861228866811) / 2.
    let (g, c) =
        on_both(&[&[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], &[2.0, 1.0]], |d, xs| d.cross_entropy_mean(&xs[0], &xs[1], 2, 3));
    assert_close(&g, &[0.753_109_1], 1e-6, 1e-6);
    assert_close(&c, &[0.753_109_1], 1e-6, 1e-6);
    // Up to 256 rows one workgroup computes the mean; past that the rows' losses are reduced. Each
    // must equal the mean of the CPU's rows.
    for &(rows, cols) in &[(1, 10), (128, 10), (255, 3), (256, 10), (257, 10), (1000, 7)] {
        let mut r = rng(rows as u64 * 31 + cols as u64);
        let logits = uniform(&mut r, rows * cols, -8.0, 8.0);
        let targets: Vec<f32> = (0..rows).map(|i| ((i * 5 + 1) % cols) as f32).collect();
        let (_, rows_cpu) = on_both(&[&logits, &targets], |d, xs| d.cross_entropy(&xs[0], &xs[1], rows, cols));
        let want = rows_cpu.iter().map(|&v| f64::from(v)).sum::<f64>() / rows as f64;
        let (gm, cm) = on_both(&[&logits, &targets], |d, xs| d.cross_entropy_mean(&xs[0], &xs[1], rows, cols));
        assert_close(&gm, &[want as f32], 1e-5, 1e-6);
        assert_close(&cm, &[want as f32], 1e-5, 1e-6);
    }
    // A row without a class makes the mean NaN; an empty batch has no mean.
    let (g, c) = on_both(&[&[0.0; 6], &[1.0, 7.0]], |d, xs| d.cross_entropy_mean(&xs[0], &xs[1], 2, 3));
    assert!(g[0].is_nan() && c[0].is_nan(), "{g:?} {c:?}");
    for device in [Device::cpu(), gpu()] {
        let empty = device.from_slice(&[]).unwrap();
        let err = device.cross_entropy_mean(&empty, &empty, 0, 3).unwrap_err();
        assert_eq!(err.to_string(), "cross_entropy: cannot average an empty batch of 3 classes");
    }
}

fn reduce_tolerance(op: ReduceOp, axis: usize) -> (f32, f32) {
    match op {
        ReduceOp::Sum => (1e-5, 1e-6 * axis as f32),
        ReduceOp::Mean => (1e-5, 1e-6),
        _ => (0.0, 0.0),
    }
}

#[test]
fn every_reduce_op_over_many_shapes() {
    let shapes = [
        (1, 1, 1),
        (1, 3, 1),
        (2, 255, 3),
        (1, 256, 1),
        (3, 257, 2),
        (1, 65_536, 1),
        (2, 65_536, 1),
        (1, 100_000, 3),
        (64, 100, 64),
        (1000, 5, 1),
        (5, 40, 7),
        (300, 300, 1),
        (1, 128, 128),
        (2, 2000, 3),
        (4, 0, 3),
    ];
    for (i, &(outer, axis, inner)) in shapes.iter().enumerate() {
        let dims = AxisDims { outer, axis, inner };
        let x = uniform(&mut rng(i as u64), dims.len(), -1.0, 1.0);
        for &op in ReduceOp::ALL {
            let (g, c) = on_both(&[&x], |d, xs| d.reduce(op, &xs[0], dims));
            let (rtol, atol) = reduce_tolerance(op, axis);
            assert_close(&g, &c, rtol, atol);
        }
    }
}

#[test]
fn arg_reductions_take_the_first_of_ties() {
    let mut r = rng(3);
    for dims in [AxisDims { outer: 3, axis: 5000, inner: 1 }, AxisDims { outer: 2, axis: 20, inner: 5 }] {
        let x: Vec<f32> = (0..dims.len()).map(|_| r.random_range(-3i32..=3) as f32).collect();
        for op in [ReduceOp::ArgMax, ReduceOp::ArgMin] {
            let (g, c) = on_both(&[&x], |d, xs| d.reduce(op, &xs[0], dims));
            assert_eq!(g, c, "{op:?} {dims:?}");
        }
    }
}

#[test]
fn softmax_rows() {
    let shapes = [(1, 1), (3, 5), (7, 255), (2, 256), (2, 257), (1, 65_536), (1000, 10), (4, 33), (300, 32)];
    for (i, &(rows, cols)) in shapes.iter().enumerate() {
        let x = uniform(&mut rng(i as u64), rows * cols, -5.0, 5.0);
        for log in [false, true] {
            let (g, c) = on_both(&[&x], |d, xs| d.softmax(&xs[0], rows, cols, log));
            assert_close(&g, &c, 1e-5, 1e-6);
        }
    }
}

#[test]
fn softmax_of_huge_logits_is_finite_and_right() {
    let mut r = rng(5);
    for (rows, cols) in [(4, 10), (3, 1000)] {
        let x: Vec<f32> = (0..rows * cols)
            .map(|_| match r.random_range(0..4) {
                0 => 1e4,
                1 => -1e4,
                2 => 1e4 - 1.0,
                _ => r.random_range(-1e4..1e4),
            })
            .collect();
        for log in [false, true] {
            let (g, c) = on_both(&[&x], |d, xs| d.softmax(&xs[0], rows, cols, log));
            assert!(g.iter().all(|v| v.is_finite()), "non-finite softmax output");
            assert_close(&g, &c, 1e-5, 1e-6);
        }
    }
}

fn matmul_case(dims: MatmulDims, seed: u64) {
    let mut r = rng(seed);
    let a = uniform(&mut r, dims.batch * dims.m * dims.k, -1.0, 1.0);
    let b = uniform(&mut r, dims.batch * dims.k * dims.n, -1.0, 1.0);
    let (g, c) = on_both(&[&a, &b], |d, xs| d.matmul(&xs[0], &xs[1], dims));
    assert_close(&g, &c, 1e-4, 1e-5 * (dims.k as f32).sqrt().max(1.0));
}

#[test]
fn matmul_odd_shapes_batches_and_transposes() {
    let shapes = [
        (1, 1, 1, 1),
        (1, 1, 7, 5),
        (1, 5, 1, 3),
        (1, 1, 64, 300),
        (1, 127, 129, 131),
        (1, 64, 64, 64),
        (3, 9, 17, 33),
        (4, 65, 1, 70),
        (2, 1, 300, 1),
        (1, 13, 0, 5),
    ];
    let mut seed = 0;
    for (batch, m, k, n) in shapes {
        for transpose_a in [false, true] {
            for transpose_b in [false, true] {
                seed += 1;
                matmul_case(MatmulDims { batch, m, n, k, transpose_a, transpose_b }, seed);
            }
        }
    }
}

#[test]
fn matmul_with_many_rows() {
    // More rows than one grid dimension of row tiles holds on some devices, and a wide result.
    matmul_case(MatmulDims { batch: 1, m: 70_000, n: 3, k: 4, transpose_a: false, transpose_b: true }, 99);
    matmul_case(MatmulDims { batch: 1, m: 2, n: 5000, k: 33, transpose_a: true, transpose_b: false }, 98);
}

#[test]
fn copy_strided_views() {
    let x: Vec<f32> = uniform(&mut rng(1), 3 * 4 * 5 * 2, -1.0, 1.0);
    let views = [
        // permute [3, 4, 5] -> [5, 3, 4]
        StridedView { shape: vec![5, 3, 4], strides: vec![1, 20, 5], offset: 0 },
        // narrow and step
        StridedView { shape: vec![2, 3], strides: vec![20, 2], offset: 7 },
        // broadcast-expand a row
        StridedView { shape: vec![4, 3, 5], strides: vec![0, 5, 1], offset: 2 },
        // rank 0
        StridedView { shape: vec![], strides: vec![], offset: 11 },
        // rank 6 with size-1 and zero-stride dims
        StridedView { shape: vec![2, 1, 3, 2, 2, 5], strides: vec![60, 999, 20, 0, 5, 1], offset: 0 },
        StridedView { shape: vec![2, 2, 2, 2, 2, 3], strides: vec![1, 2, 4, 8, 16, 32], offset: 0 },
        // empty
        StridedView { shape: vec![0, 3], strides: vec![3, 1], offset: 0 },
    ];
    for view in &views {
        let (g, c) = on_both(&[&x], |d, xs| d.copy_strided(&xs[0], view));
        assert_eq!(g, c, "{view:?}");
    }
    for &n in SIZES {
        let y = uniform(&mut rng(n as u64), n, -1.0, 1.0);
        let view = StridedView { shape: vec![n], strides: vec![1], offset: 0 };
        let (g, c) = on_both(&[&y], |d, xs| d.copy_strided(&xs[0], &view));
        assert_eq!(g, c);
    }
}

#[test]
fn huge_tensors_use_the_two_dimensional_grid() {
    let x = uniform(&mut rng(2024), HUGE, -1.0, 1.0);
    let y = uniform(&mut rng(2025), HUGE, -1.0, 1.0);
    let (g, cpu) = (gpu(), Device::cpu());
    let (gx, cx) = (g.from_slice(&x).unwrap(), cpu.from_slice(&x).unwrap());
    let (gy, cy) = (g.from_slice(&y).unwrap(), cpu.from_slice(&y).unwrap());
    let check = |gs: Storage, cs: Storage, rtol: f32, atol: f32| {
        assert_close(&g.to_vec(&gs).unwrap(), &cpu.to_vec(&cs).unwrap(), rtol, atol);
    };

    check(g.unary(UnaryOp::Exp, &gx, 0.0).unwrap(), cpu.unary(UnaryOp::Exp, &cx, 0.0).unwrap(), 2e-5, 0.0);
    let shape = Shape::new([HUGE]);
    check(
        g.binary(BinaryOp::Mul, &gx, &shape, &gy, &shape).unwrap(),
        cpu.binary(BinaryOp::Mul, &cx, &shape, &cy, &shape).unwrap(),
        0.0,
        0.0,
    );
    let full = AxisDims { outer: 1, axis: HUGE, inner: 1 };
    for op in ReduceOp::ALL.iter().copied() {
        let (rtol, atol) = if op == ReduceOp::Sum { (1e-4, 0.05) } else { (1e-5, 1e-6) };
        check(g.reduce(op, &gx, full).unwrap(), cpu.reduce(op, &cx, full).unwrap(), rtol, atol);
    }
    // 16,777,217 = 97 * 172,961: a transposed copy.
    let view = StridedView { shape: vec![172_961, 97], strides: vec![1, 172_961], offset: 0 };
    check(g.copy_strided(&gx, &view).unwrap(), cpu.copy_strided(&cx, &view).unwrap(), 0.0, 0.0);
    // One 1 in the very last element (past 65,535 workgroups of the grid's first row): a reduction
    // that dropped it would give 0, or index 0.
    let mut last = vec![0.0; HUGE];
    last[HUGE - 1] = 1.0;
    let last = g.from_slice(&last).unwrap();
    for (op, expected) in [(ReduceOp::Sum, 1.0), (ReduceOp::Max, 1.0), (ReduceOp::ArgMax, (HUGE - 1) as f32)] {
        assert_eq!(g.to_vec(&g.reduce(op, &last, full).unwrap()).unwrap(), vec![expected], "{op:?}");
    }
    let rg = g.to_vec(&g.rand_uniform(HUGE, 77).unwrap()).unwrap();
    let rc = cpu.to_vec(&cpu.rand_uniform(HUGE, 77).unwrap()).unwrap();
    assert!(rg.iter().zip(&rc).all(|(a, b)| a.to_bits() == b.to_bits()), "rand differs");
}

#[test]
fn concat_parts() {
    let mut r = rng(11);
    for (outer, axes, inner) in
        [(1, vec![1], 1), (3, vec![2, 5, 1], 4), (2, vec![255, 257], 3), (1, vec![65_536, 3], 1)]
    {
        let parts: Vec<Vec<f32>> = axes.iter().map(|&a| uniform(&mut r, outer * a * inner, -1.0, 1.0)).collect();
        let inputs: Vec<&[f32]> = parts.iter().map(|p| p.as_slice()).collect();
        let (g, c) = on_both(&inputs, |d, xs| {
            let parts: Vec<(&Storage, usize)> = xs.iter().zip(&axes).map(|(s, &a)| (s, a)).collect();
            d.concat(&parts, outer, inner)
        });
        assert_eq!(g, c);
    }
}

#[test]
fn gather_and_scatter_add() {
    let mut r = rng(12);
    let cases = [
        GatherDims { outer: 1, src_axis: 1, index_axis: 1, inner: 1 },
        GatherDims { outer: 3, src_axis: 5, index_axis: 7, inner: 2 },
        GatherDims { outer: 4, src_axis: 10, index_axis: 1, inner: 1 },
        GatherDims { outer: 2, src_axis: 255, index_axis: 257, inner: 3 },
        GatherDims { outer: 256, src_axis: 10, index_axis: 256, inner: 1 },
        // Rows of whole vec4s (`scatter_add4`), as an embedding's gradient has.
        GatherDims { outer: 1, src_axis: 60, index_axis: 1536, inner: 32 },
        GatherDims { outer: 3, src_axis: 7, index_axis: 5, inner: 4 },
    ];
    for d in cases {
        let src = uniform(&mut r, d.outer * d.src_axis * d.inner, -1.0, 1.0);
        let index: Vec<f32> =
            (0..d.outer * d.index_axis * d.inner).map(|_| r.random_range(0..d.src_axis) as f32).collect();
        let (g, c) = on_both(&[&src, &index], |dev, xs| dev.gather(&xs[0], &xs[1], d));
        assert_eq!(g, c, "gather {d:?}");
        let grad = uniform(&mut r, index.len(), -1.0, 1.0);
        let (g, c) = on_both(&[&grad, &index], |dev, xs| dev.scatter_add(&xs[0], &xs[1], d));
        assert_close(&g, &c, 1e-5, 1e-6);
    }
}

#[test]
fn im2col_and_col2im() {
    let geoms = [
        Conv2dGeometry { n: 1, c: 1, h: 1, w: 1, kernel_h: 1, kernel_w: 1, stride: 1, padding: 0 },
        Conv2dGeometry { n: 2, c: 3, h: 7, w: 5, kernel_h: 3, kernel_w: 3, stride: 1, padding: 1 },
        Conv2dGeometry { n: 3, c: 2, h: 8, w: 9, kernel_h: 2, kernel_w: 3, stride: 2, padding: 0 },
        Conv2dGeometry { n: 2, c: 4, h: 28, w: 28, kernel_h: 5, kernel_w: 5, stride: 3, padding: 2 },
        Conv2dGeometry { n: 1, c: 2, h: 6, w: 6, kernel_h: 2, kernel_w: 2, stride: 2, padding: 0 },
        // Inputs past the size where CPU-backed drivers read them from texture copies.
        Conv2dGeometry { n: 4, c: 6, h: 28, w: 28, kernel_h: 5, kernel_w: 5, stride: 1, padding: 2 },
        Conv2dGeometry { n: 8, c: 3, h: 32, w: 30, kernel_h: 3, kernel_w: 3, stride: 2, padding: 1 },
    ];
    let mut r = rng(13);
    for geom in geoms {
        let x = uniform(&mut r, geom.n * geom.c * geom.h * geom.w, -1.0, 1.0);
        let (g, c) = on_both(&[&x], |d, xs| d.im2col(&xs[0], geom));
        assert_eq!(g, c, "im2col {geom:?}");
        let cols = uniform(&mut r, geom.cols_len(), -1.0, 1.0);
        let (g, c) = on_both(&[&cols], |d, xs| d.col2im(&xs[0], geom));
        assert_close(&g, &c, 1e-5, 1e-6);
    }
}

#[test]
fn rand_uniform_is_bit_identical() {
    for &n in SIZES {
        for seed in [0u64, 1, 0xdead_beef_0000_0001] {
            let (g, c) = on_both(&[], |d, _| d.rand_uniform(n, seed));
            assert!(g.iter().zip(&c).all(|(a, b)| a.to_bits() == b.to_bits()), "n {n} seed {seed}");
            assert!(g.iter().all(|&v| (0.0..1.0).contains(&v)));
        }
    }
}

#[test]
fn random_ranges_and_normals_agree() {
    for &n in SIZES {
        let range = Distribution::Uniform { seed: 5, low: -0.25, high: 0.75 };
        let (g, c) = on_both(&[], |d, _| d.random(n, range));
        // The scale and shift may be one fused multiply-add on the GPU: a rounding apart (an ulp
        // of the product, below 1e-7 in [0, 1)).
        assert_close(&g, &c, 0.0, 1e-7);
        assert!(g.iter().all(|&v| (-0.25..0.75).contains(&v)), "n {n}");
        let normal = Distribution::Normal { seeds: [6, 7], mean: 1.5, std: 3.0 };
        let (g, c) = on_both(&[], |d, _| d.random(n, normal));
        // The device's own ln and cos.
        assert_close(&g, &c, 1e-5, 1e-5);
    }
    // A range one float wide: rounding would reach `high`, the cap keeps it out.
    let narrow = Distribution::Uniform { seed: 1, low: 1.0, high: 1f32.next_up() };
    let (g, c) = on_both(&[], |d, _| d.random(1000, narrow));
    assert!(g.iter().chain(&c).all(|&v| v == 1.0));
}

#[test]
fn full_and_zeros() {
    let g = gpu();
    for &n in SIZES {
        assert_eq!(g.to_vec(&g.zeros(n).unwrap()).unwrap(), vec![0.0; n]);
        assert_eq!(g.to_vec(&g.full(n, -2.5).unwrap()).unwrap(), vec![-2.5; n]);
    }
    assert!(g.to_vec(&g.zeros(0).unwrap()).unwrap().is_empty());
}

#[test]
fn every_update_rule_over_three_steps() {
    let rules = [
        UpdateRule::Sgd { lr: 0.1, momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0 },
        UpdateRule::Sgd { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: false, weight_decay: 0.01 },
        UpdateRule::Sgd { lr: 0.05, momentum: 0.9, dampening: 0.0, nesterov: true, weight_decay: 0.0 },
        UpdateRule::Adagrad { lr: 0.1, eps: 1e-10, weight_decay: 0.01 },
        UpdateRule::RmsProp { lr: 0.01, alpha: 0.99, eps: 1e-8, momentum: 0.0, weight_decay: 0.0 },
        UpdateRule::RmsProp { lr: 0.01, alpha: 0.9, eps: 1e-8, momentum: 0.5, weight_decay: 0.1 },
        UpdateRule::Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            step: 1,
        },
        UpdateRule::Adam { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, decoupled: true, step: 1 },
        UpdateRule::Adam { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, decoupled: false, step: 1 },
    ];
    for (i, rule) in rules.iter().enumerate() {
        for &n in &[1, 257, 65_536] {
            let mut r = rng(i as u64 * 31 + n as u64);
            let p0 = uniform(&mut r, n, -1.0, 1.0);
            let run = |dev: &Device| {
                let mut p = dev.from_slice(&p0).unwrap();
                let mut state: Vec<Storage> = (0..rule.state_count()).map(|_| dev.zeros(n).unwrap()).collect();
                let mut r = rng(i as u64);
                for step in 1..=3 {
                    let rule = match *rule {
                        UpdateRule::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, .. } => {
                            UpdateRule::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, step }
                        }
                        other => other,
                    };
                    let g = dev.from_slice(&uniform(&mut r, n, -1.0, 1.0)).unwrap();
                    let refs: Vec<&Storage> = state.iter().collect();
                    let (np, ns) = dev.update(&rule, &p, &g, &refs).unwrap();
                    p = np;
                    state = ns;
                }
                let mut out = dev.to_vec(&p).unwrap();
                for s in &state {
                    out.extend(dev.to_vec(s).unwrap());
                }
                out
            };
            assert_close(&run(&gpu()), &run(&Device::cpu()), 1e-5, 1e-6);
        }
    }
}

#[test]
fn lazy_batches_chain_many_ops_before_one_readback() {
    // More ops than one batch holds, each reading the previous result, with buffers dropped and
    // reused along the way.
    let mut r = rng(21);
    let x = uniform(&mut r, 1000, -1.0, 1.0);
    let run = |d: &Device| {
        let mut s = d.from_slice(&x).unwrap();
        for i in 0..300 {
            let y = d.from_slice(&[i as f32 * 0.001]).unwrap();
            s = d.binary(BinaryOp::Add, &s, &Shape::new([1000]), &y, &Shape::new([1])).unwrap();
            s = d.unary(UnaryOp::Tanh, &s, 0.0).unwrap();
        }
        d.to_vec(&s).unwrap()
    };
    assert_close(&run(&gpu()), &run(&Device::cpu()), 1e-5, 1e-6);
}
