//! Edge cases the agreement tests do not reach: bad gather indices, reductions of many rows,
//! empty tensors and products over an empty inner dimension, fills, and many flushes of the lazy batch
//! before one readback.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use soma_device::testing::{assert_close, gpu};
use soma_device::{AxisDims, BinaryOp, Device, GatherDims, MatmulDims, ReduceOp, UnaryOp};

#[test]
fn gather_with_a_bad_index_writes_nan() {
    let g = gpu();
    let src = g.from_slice(&[1.0, 2.0, 3.0]).unwrap();
    let index = g.from_slice(&[0.0, 3.0, -1.0, 1.5, f32::NAN, 2.0, 1e10]).unwrap();
    let d = GatherDims { outer: 1, src_axis: 3, index_axis: 7, inner: 1 };
    let out = g.to_vec(&g.gather(&src, &index, d).unwrap()).unwrap();
    assert_eq!((out[0], out[5]), (1.0, 3.0));
    for i in [1, 2, 3, 4, 6] {
        assert!(out[i].is_nan(), "index {i} gave {}", out[i]);
    }
}

#[test]
fn arg_reductions_skip_nans_as_max_and_min_do() {
    let nan = f32::NAN;
    // Rows of 4: a NaN first, a NaN in the middle, all NaNs, no NaN.
    let x = [nan, 1.0, 3.0, 2.0, 5.0, nan, -1.0, 5.0, nan, nan, nan, nan, 0.5, -2.0, 7.0, 7.0];
    let dims = AxisDims { outer: 4, axis: 4, inner: 1 };
    let want = [
        (ReduceOp::ArgMax, [2.0, 0.0, 0.0, 2.0]),
        (ReduceOp::ArgMin, [1.0, 2.0, 0.0, 1.0]),
        (ReduceOp::Max, [3.0, 5.0, f32::NEG_INFINITY, 7.0]),
        (ReduceOp::Min, [1.0, -1.0, f32::INFINITY, -2.0]),
    ];
    for device in [Device::cpu(), gpu()] {
        let x = device.from_slice(&x).unwrap();
        for (op, want) in want {
            let got = device.to_vec(&device.reduce(op, &x, dims).unwrap()).unwrap();
            assert_eq!(got, want, "{op:?} on {}", device.name());
        }
    }
}

#[test]
fn reductions_of_many_medium_rows() {
    // 70,000 outputs of a 40-long axis (more outputs than one grid dimension holds workgroups).
    let dims = AxisDims { outer: 70_000, axis: 40, inner: 1 };
    let mut r = StdRng::seed_from_u64(5);
    let x: Vec<f32> = (0..dims.len()).map(|_| r.random_range(-1.0..1.0)).collect();
    let (g, c) = (gpu(), Device::cpu());
    let (gx, cx) = (g.from_slice(&x).unwrap(), c.from_slice(&x).unwrap());
    for &op in ReduceOp::ALL {
        let got = g.to_vec(&g.reduce(op, &gx, dims).unwrap()).unwrap();
        let want = c.to_vec(&c.reduce(op, &cx, dims).unwrap()).unwrap();
        assert_close(&got, &want, 1e-5, 1e-5);
    }
}

#[test]
fn empty_tensors_work() {
    let g = gpu();
    let x = g.from_slice(&[]).unwrap();
    assert!(g.to_vec(&g.unary(UnaryOp::Exp, &x, 0.0).unwrap()).unwrap().is_empty());
    assert!(g.to_vec(&g.binary_scalar(BinaryOp::Add, &x, 1.0, false).unwrap()).unwrap().is_empty());
}

#[test]
fn hundreds_of_queued_ops_read_back_right() {
    let g = gpu();
    let mut x = g.zeros(1000).unwrap();
    for _ in 0..300 {
        x = g.binary_scalar(BinaryOp::Add, &x, 1.0, false).unwrap();
    }
    assert!(g.to_vec(&x).unwrap().iter().all(|&v| v == 300.0));
    g.synchronize().unwrap();
}

#[test]
fn fills_of_every_size_hold_their_value() {
    // Small fills are uploads, large ones kernels (1K elements apart); each takes a pooled buffer
    // that a kernel wrote (8.0s) before, so a fill that wrote nothing, or only part, shows old values.
    let g = gpu();
    let mut filled = Vec::new();
    for (i, len) in [1, 5, 1024, 1025, 16385, 70_000].into_iter().enumerate() {
        let scratch = g.binary_scalar(BinaryOp::Add, &g.full(len, -1.0).unwrap(), 9.0, false).unwrap();
        g.synchronize().unwrap();
        drop(scratch);
        filled.push((len, i as f32 + 0.5, g.full(len, i as f32 + 0.5).unwrap(), g.zeros(len).unwrap()));
    }
    for (len, value, full, zeros) in filled {
        assert_eq!(g.to_vec(&full).unwrap(), vec![value; len], "full({len})");
        assert_eq!(g.to_vec(&zeros).unwrap(), vec![0.0; len], "zeros({len})");
    }
}

#[test]
fn a_product_over_an_empty_inner_dimension_is_zeros() {
    for device in [Device::cpu(), gpu()] {
        let empty = device.from_slice(&[]).unwrap();
        let d = MatmulDims { batch: 2, m: 3, n: 5, k: 0, transpose_a: false, transpose_b: false };
        assert_eq!(device.to_vec(&device.matmul(&empty, &empty, d).unwrap()).unwrap(), vec![0.0; 30]);
    }
}

#[test]
fn nans_and_large_logits_agree_on_both_backends_and_with_torch() {
    use soma_device::{Shape, UnaryOp};
    let nan = f32::NAN;
    let same = |got: &[f32], want: &[f32], what: &str| {
        let ok = got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g.is_nan() && w.is_nan()) || g == w);
        assert!(ok, "{what}: got {got:?}, want {want:?}");
    };
    for device in [Device::cpu(), gpu()] {
        let v = |x: &[f32]| device.from_slice(x).unwrap();
        let read = |s: soma_device::Storage| device.to_vec(&s).unwrap();
        let x = [nan, -1.0, 0.0, 2.0];
        // NaN propagates through the elementwise ops, as in torch; its sign is 0 (torch 2.x).
        same(&read(device.unary(UnaryOp::Relu, &v(&x), 0.0).unwrap()), &[nan, 0.0, 0.0, 2.0], "relu");
        same(&read(device.unary(UnaryOp::Sign, &v(&x), 0.0).unwrap()), &[0.0, -1.0, 0.0, 1.0], "sign");
        // tanh and ELU keep their relative precision near 0 (torch: 1e-8, 1e-7, 1e-5 and
        // -1e-8, -1e-6, -9.99995e-6; the forms through e^x gave 0, 5.96e-8, -9.54e-7, ...).
        let small = [1e-8, 1e-7, 1e-5, -1e-6];
        let tanh = read(device.unary(UnaryOp::Tanh, &v(&small), 0.0).unwrap());
        let elu = read(device.unary(UnaryOp::Elu, &v(&[-1e-8, -1e-6, -1e-5, -0.1]), 1.0).unwrap());
        let near = |got: &[f32], want: &[f64], what: &str| {
            let ok = got.iter().zip(want).all(|(&g, &w)| ((f64::from(g) - w) / w).abs() < 3e-7);
            assert!(ok, "{what}: got {got:?}, want {want:?}");
        };
        near(&tanh, &[1e-8, 1e-7, 9.99999999967e-6, -9.99999999999667e-7], "tanh");
        // Signed zeros as torch: tanh keeps -0, sign gives +0 for both.
        let zeros = v(&[-0.0, 0.0]);
        let tanh0 = read(device.unary(UnaryOp::Tanh, &zeros, 0.0).unwrap());
        let sign0 = read(device.unary(UnaryOp::Sign, &zeros, 0.0).unwrap());
        assert!(tanh0[0].is_sign_negative() && tanh0[1].is_sign_positive(), "tanh: {tanh0:?}");
        assert!(sign0.iter().all(|s| *s == 0.0 && s.is_sign_positive()), "sign: {sign0:?}");
        near(&elu, &[-9.9999999500e-9, -9.99999500000e-7, -9.99995000017e-6, -0.0951625819640404], "elu");
        let s4 = Shape::new([4]);
        let ones = v(&[1.0; 4]);
        same(&read(device.binary(BinaryOp::Max, &v(&x), &s4, &ones, &s4).unwrap()), &[nan, 1.0, 1.0, 2.0], "max");
        same(&read(device.binary(BinaryOp::Min, &v(&x), &s4, &ones, &s4).unwrap()), &[nan, -1.0, 0.0, 1.0], "min");
        same(&read(device.binary(BinaryOp::Ne, &v(&x), &s4, &v(&x), &s4).unwrap()), &[1.0, 0.0, 0.0, 0.0], "ne");
        let picked = device.where_cond(&v(&[nan, 0.0]), &v(&[1.0, 1.0]), &v(&[2.0, 2.0])).unwrap();
        same(&read(picked), &[1.0, 2.0], "where (NaN counts as true)");
        same(&read(device.mul_add(&v(&x), &ones, &ones, true).unwrap()), &[nan, 0.0, 1.0, 3.0], "mul_add_relu");
        // A NaN in one group of 4 of a 64-wide row makes the whole row's softmax NaN.
        let mut row = vec![0.5; 64];
        row[..4].fill(nan);
        assert!(read(device.softmax(&v(&row), 1, 64, false).unwrap()).iter().all(|p| p.is_nan()), "softmax");
        // Logits of 1e8: the loss is log 2 and the gradient +-0.5 (the log-sum was rounded away).
        let (logits, target) = (v(&[1e8, 1e8]), v(&[0.0]));
        let loss = read(device.cross_entropy(&logits, &target, 1, 2).unwrap());
        assert!((loss[0] - std::f32::consts::LN_2).abs() < 1e-6, "loss {loss:?}");
        let grad = read(device.cross_entropy_grad(&logits, &target, &v(&[1.0]), 1.0, 1, 2).unwrap());
        same(&grad, &[-0.5, 0.5], "cross_entropy_grad");
    }
}
