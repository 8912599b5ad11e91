//! The recorded graph: literal values, accumulation, broadcasting backward, grad mode, errors
//! and long chains.

use soma_autograd::{Device, Error, Tensor, no_grad};
use soma_device::testing::gpu;

fn cpu() -> Device {
    Device::cpu()
}

fn close(a: &[f32], b: &[f32]) {
    soma_device::testing::assert_close(a, b, 1e-5, 1e-6);
}

#[test]
fn cross_entropy_gradient_is_softmax_minus_one_hot() {
    // Python: p = softmax([1, 2, 3]); loss = -log(p[2]); grad = p - onehot(2)
    //   p = [0.09003057317038046, 0.24472847105479767, 0.6652409557748219], loss = 0.40760596444437
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], [1, 3], &cpu()).unwrap().requires_grad();
    let target = Tensor::from_vec(vec![2.0], [1, 1], &cpu()).unwrap();
    let loss = x.log_softmax(1).unwrap().gather(1, &target).unwrap().neg().unwrap().sum_all().unwrap();
    close(&[loss.item().unwrap()], &[0.407_605_96]);
    let g = loss.backward().unwrap();
    close(&g.get(&x).unwrap().to_vec().unwrap(), &[0.090_030_57, 0.244_728_47, 0.665_240_96 - 1.0]);
}

#[test]
fn tanh_neuron_literal_gradient() {
    // Python: t = tanh(0.5 * 2 - 0.3) = 0.6043677771171636; dt/dw = (1 - t^2) * 2, dt/db = 1 - t^2
    let w = Tensor::from_vec(vec![0.5], [1], &cpu()).unwrap().requires_grad();
    let b = Tensor::from_vec(vec![-0.3], [1], &cpu()).unwrap().requires_grad();
    let y = ((&w * 2.0).unwrap() + &b).unwrap().tanh().unwrap().sum_all().unwrap();
    close(&[y.item().unwrap()], &[0.604_367_8]);
    let g = y.backward().unwrap();
    close(&g.get(&w).unwrap().to_vec().unwrap(), &[1.269_479_2]);
    close(&g.get(&b).unwrap().to_vec().unwrap(), &[0.634_739_6]);
}

#[test]
fn gradients_accumulate_over_uses() {
    let x = Tensor::from_vec(vec![3.0], [1], &cpu()).unwrap().requires_grad();
    // y = x*x + x + x  =>  dy/dx = 2x + 2 = 8
    let y = (&(&(&x * &x).unwrap() + &x).unwrap() + &x).unwrap().sum_all().unwrap();
    close(&y.backward().unwrap().get(&x).unwrap().to_vec().unwrap(), &[8.0]);
}

#[test]
fn broadcast_backward_reduces_to_each_input_shape() {
    let a = Tensor::ones([2, 3, 4], &cpu()).unwrap().requires_grad();
    let b = Tensor::ones([3, 1], &cpu()).unwrap().requires_grad();
    let c = Tensor::ones([4], &cpu()).unwrap().requires_grad();
    let s = Tensor::scalar(2.0, &cpu()).unwrap().requires_grad();
    let y = (&(&(&a * &b).unwrap() + &c).unwrap() * &s).unwrap().sum_all().unwrap();
    let g = y.backward().unwrap();
    assert_eq!(g.get(&a).unwrap().dims(), &[2, 3, 4]);
    assert_eq!(g.get(&b).unwrap().dims(), &[3, 1]);
    close(&g.get(&b).unwrap().to_vec().unwrap(), &[16.0; 3]); // 2 * 4 * s
    close(&g.get(&c).unwrap().to_vec().unwrap(), &[12.0; 4]); // 2 * 3 * s
    assert_eq!(g.get(&s).unwrap().dims(), &[] as &[usize]);
    close(&g.get(&s).unwrap().to_vec().unwrap(), &[48.0]); // 24 elements of (1 + 1)
}

#[test]
fn no_grad_and_detach_record_nothing() {
    let x = Tensor::ones([2], &cpu()).unwrap().requires_grad();
    let y = no_grad(|| (&x * 2.0).unwrap());
    assert!(!y.is_requires_grad());
    assert!(!x.detach().is_requires_grad());
    let err = y.sum_all().unwrap().backward().unwrap_err();
    assert!(matches!(err, Error::Invalid { op: "backward", .. }), "{err}");
}

#[test]
fn backward_of_a_non_scalar_needs_a_seed() {
    let x = Tensor::ones([2, 2], &cpu()).unwrap().requires_grad();
    let y = (&x * 3.0).unwrap();
    let err = y.backward().unwrap_err();
    assert_eq!(err.to_string(), "backward: needs a one-element loss, got shape [2, 2]; pass a seed with backward_with");
    let seed = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2], &cpu()).unwrap();
    close(&y.backward_with(&seed).unwrap().get(&x).unwrap().to_vec().unwrap(), &[3.0, 6.0, 9.0, 12.0]);
}

#[test]
fn shape_errors_name_the_op_and_shapes() {
    let a = Tensor::zeros([32, 784], &cpu()).unwrap();
    let b = Tensor::zeros([128, 10], &cpu()).unwrap();
    assert_eq!(a.matmul(&b).unwrap_err().to_string(), "matmul: inner dimensions differ: [32, 784] x [128, 10]");
    let w = Tensor::zeros([10, 784], &cpu()).unwrap();
    assert_eq!(
        a.linear(&w, Some(&Tensor::zeros([9], &cpu()).unwrap()), true).unwrap_err().to_string(),
        "linear: needs x [.., in], w [out, in] and bias [out]; got x [32, 784], w [10, 784] + bias [9]"
    );
    assert_eq!(
        b.linear(&w, None, false).unwrap_err().to_string(),
        "linear: needs x [.., in], w [out, in] and bias [out]; got x [128, 10], w [10, 784]"
    );
    let c = Tensor::zeros([2, 3], &cpu()).unwrap();
    assert_eq!(
        (&c + &Tensor::zeros([4], &cpu()).unwrap()).unwrap_err().to_string(),
        "add: shapes cannot be broadcast: [2, 3] and [4]"
    );
    assert_eq!(c.sum(2).unwrap_err().to_string(), "sum: axis 2 is out of range for shape [2, 3]");
    assert_eq!(c.flatten(2).unwrap_err().to_string(), "flatten: axis 2 is out of range for [2, 3]");
    assert_eq!(c.flatten(1).unwrap().dims(), &[2, 3]);
    assert_eq!(Tensor::scalar(2.0, &cpu()).unwrap().flatten(0).unwrap().dims(), &[1]);
    assert!(Tensor::from_vec(vec![1.0; 5], [2, 3], &cpu()).unwrap_err().to_string().contains("[2, 3]"));
    let idx = Tensor::from_vec(vec![5.0], [1, 1], &cpu()).unwrap();
    assert_eq!(
        Tensor::zeros([1, 3], &cpu()).unwrap().gather(1, &idx).unwrap_err().to_string(),
        "gather: index 5 is out of range for an axis of length 3"
    );
    let (gates, state) = (Tensor::zeros([2, 8], &cpu()).unwrap(), Tensor::zeros([2, 3], &cpu()).unwrap());
    assert_eq!(
        Tensor::lstm_cell(&gates, &gates, &state).unwrap_err().to_string(),
        "lstm_cell: needs gates gi and gh [batch, 4 hidden] and a state [batch, 2 hidden], got [2, 8], [2, 8] and [2, 3]"
    );
    assert_eq!(
        Tensor::gru_cell(&gates, &gates, &state).unwrap_err().to_string(),
        "gru_cell: needs gates gi and gh [batch, 3 hidden] and a state [batch, hidden], got [2, 8], [2, 8] and [2, 3]"
    );
}

#[test]
fn sizes_past_a_usize_are_errors_not_panics() {
    let huge = [1usize << 32, 1 << 32];
    let mut rng = soma_autograd::Rng::new(1);
    let errors = [
        ("full", Tensor::zeros(huge, &cpu()).unwrap_err()),
        ("from_vec", Tensor::from_vec(vec![], huge, &cpu()).unwrap_err()),
        ("rand", Tensor::rand(huge, &mut rng, &cpu()).unwrap_err()),
        ("reshape", Tensor::zeros([0], &cpu()).unwrap().reshape(huge).unwrap_err()),
        ("broadcast_to", Tensor::ones([1, 1], &cpu()).unwrap().broadcast_to(huge).unwrap_err()),
        // An empty tensor may have such dims around its empty axis; its sum over that axis may not.
        ("sum", Tensor::zeros([1 << 32, 1 << 32, 0], &cpu()).unwrap().sum(2).unwrap_err()),
    ];
    for (op, err) in errors {
        assert!(matches!(err, Error::Limit { .. }), "{err}");
        assert_eq!(err.to_string(), format!("{op}: shape {huge:?} has more elements than fit in memory"));
    }
    let x = Tensor::zeros([3], &cpu()).unwrap();
    assert_eq!(
        x.narrow(0, 1, usize::MAX).unwrap_err().to_string(),
        format!("narrow: 1..1+{} is out of range for axis 0 of [3]", usize::MAX)
    );
    assert!(matches!(x.narrow(0, usize::MAX, 1).unwrap_err(), Error::Shape { .. }));
    assert_eq!(x.narrow(0, 1, 2).unwrap().to_vec().unwrap(), vec![0.0, 0.0]);
}

#[test]
fn arange_stops_where_f32_stops_counting() {
    let last = (1usize << 24) + 1;
    let x = Tensor::arange(last, &cpu()).unwrap().to_vec().unwrap();
    assert_eq!(x[last - 1], 16_777_216.0);
    assert_eq!(x[last - 2], 16_777_215.0);
    let err = Tensor::arange(last + 1, &cpu()).unwrap_err();
    assert_eq!(err.to_string(), "arange: 16777218 values: past 16777217, f32 cannot tell neighbouring integers apart");
}

#[test]
fn empty_images_have_empty_windows() {
    for device in [cpu(), gpu()] {
        let x = Tensor::zeros([1, 0, 4, 4], &device).unwrap();
        let cols = x.im2col((2, 2), 1, 0).unwrap();
        assert_eq!(cols.dims(), &[1, 0, 9]);
        assert_eq!(cols.to_vec().unwrap(), Vec::<f32>::new());
        let err = Tensor::zeros([1, 1, 4, 4], &device).unwrap().im2col((2, 2), 1, usize::MAX).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("im2col: kernel 2x2, stride 1, padding {} do not fit input [1, 1, 4, 4]", usize::MAX)
        );
    }
}

#[test]
fn gradients_at_kinks_and_zeros_follow_torch() {
    let grad_of = |x: &Tensor, f: &dyn Fn(&Tensor) -> soma_autograd::Result<Tensor>| -> Vec<f32> {
        let x = x.detach().requires_grad();
        f(&x).unwrap().sum_all().unwrap().backward().unwrap().get(&x).unwrap().to_vec().unwrap()
    };
    let t = |v: &[f32]| Tensor::from_vec(v.to_vec(), [v.len()], &cpu()).unwrap();
    // clamp passes the gradient strictly inside its bounds only; at a bound and at NaN none
    // (torch 2.15: x = [-1, 0, 1, 2, nan]; x.clamp(-1, 1).sum().backward() gives [0, 1, 0, 0, 0]).
    let x = t(&[-1.0, 0.0, 1.0, 2.0, f32::NAN]);
    assert_eq!(grad_of(&x, &|x| x.clamp(-1.0, 1.0)), [0.0, 1.0, 0.0, 0.0, 0.0]);
    // x^0 and 0^x: no NaN from 0 * inf.
    assert_eq!(grad_of(&t(&[0.0, 2.0]), &|x| x.powf(0.0)), [0.0, 0.0]);
    assert_eq!(
        grad_of(&t(&[0.0, 2.0, -1.0]), &|x| x.scalar_op(soma_device::BinaryOp::Pow, 0.0, true))[..2],
        [0.0, 0.0]
    );
    let (a, b) = (t(&[0.0, 0.0, 2.0]).requires_grad(), t(&[2.0, 0.0, 3.0]).requires_grad());
    let grads = a.pow(&b).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grads.get(&a).unwrap().to_vec().unwrap(), [0.0, 0.0, 12.0]);
    let db = grads.get(&b).unwrap().to_vec().unwrap();
    assert_eq!(db[..2], [0.0, 0.0]);
    close(&db[2..], &[8.0 * 2f32.ln()]);
    // A NaN input passes ReLU's and ELU's gradient whole, as torch's (x = [nan, -1, 0, 2]:
    // relu gives [1, 0, 0, 1], elu [1, e^-1, 1, 1]); on the GPU too, ReLU through its fused kernel.
    for dev in [cpu(), gpu()] {
        let x = Tensor::from_vec(vec![f32::NAN, -1.0, 0.0, 2.0], [1, 4], &dev).unwrap();
        assert_eq!(grad_of(&x, &|x| x.relu()), [1.0, 0.0, 0.0, 1.0]);
        close(&grad_of(&x, &|x| x.elu(1.0)), &[1.0, (-1f32).exp(), 1.0, 1.0]);
        let w = Tensor::from_vec(vec![1.0], [1, 1], &dev).unwrap();
        let through_linear = grad_of(&x.reshape([4, 1]).unwrap(), &|x| x.linear(&w, None, true));
        assert_eq!(through_linear, [1.0, 0.0, 0.0, 1.0]);
    }
    // ELU far below zero: alpha * e^x, not elu(x) + alpha (which rounds to 0).
    let g = grad_of(&t(&[-20.0]), &|x| x.elu(1.0));
    assert!((g[0] / (-20f32).exp() - 1.0).abs() < 1e-5, "{g:?}");
    // maximum / minimum: the winner takes the gradient, ties split it, and where either input is
    // NaN (so is the output) both take all of it (torch 2.x: [1, 0, 0.5, 1, 1] and [0, 1, 0.5, 1, 1]).
    for device in [cpu(), gpu()] {
        let v = |v: &[f32]| Tensor::from_vec(v.to_vec(), [v.len()], &device).unwrap().requires_grad();
        let (a, b) = (v(&[3.0, 1.0, 2.0, f32::NAN, 1.0]), v(&[1.0, 3.0, 2.0, 1.0, f32::NAN]));
        for (result, lower) in [(a.maximum(&b), false), (a.minimum(&b), true)] {
            let grads = result.unwrap().sum_all().unwrap().backward().unwrap();
            let (mut ga, mut gb) = ([1.0, 0.0, 0.5, 1.0, 1.0], [0.0, 1.0, 0.5, 1.0, 1.0]);
            if lower {
                ga.swap(0, 1);
                gb.swap(0, 1);
            }
            assert_eq!(grads.get(&a).unwrap().to_vec().unwrap(), ga);
            assert_eq!(grads.get(&b).unwrap().to_vec().unwrap(), gb);
        }
        // An infinite gradient reaches the winner (or both halves of a tie) and not the loser,
        // which gets 0, not inf * 0 (torch: [inf, inf] and [0, inf]).
        let (a, b) = (v(&[5.0, 1.0]), v(&[1.0, 1.0]));
        let inf = Tensor::from_vec(vec![f32::INFINITY; 2], [2], &device).unwrap();
        let grads = (&a.maximum(&b).unwrap() * &inf).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(grads.get(&a).unwrap().to_vec().unwrap(), [f32::INFINITY; 2]);
        assert_eq!(grads.get(&b).unwrap().to_vec().unwrap(), [0.0, f32::INFINITY]);
    }
}

#[test]
fn an_empty_axis_sums_to_zero_and_averages_to_nan() {
    for device in [cpu(), gpu()] {
        let x = Tensor::zeros([2, 0, 3], &device).unwrap().requires_grad();
        assert_eq!(x.sum(1).unwrap().to_vec().unwrap(), vec![0.0; 6]);
        assert!(x.mean(1).unwrap().to_vec().unwrap().iter().all(|v| v.is_nan()));
        assert!(x.max(1).is_err() && x.argmax(1).is_err());
        let g = x.sum(1).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&x).unwrap().dims(), &[2, 0, 3]);
        // A [1] broadcast to [0] now has a gradient: zero.
        let one = Tensor::ones([1], &device).unwrap().requires_grad();
        let g = one.broadcast_to([0]).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&one).unwrap().to_vec().unwrap(), [0.0]);
    }
}

#[test]
fn mixing_devices_is_an_error() {
    let gpu = soma_device::testing::gpu();
    let a = Tensor::ones([2], &cpu()).unwrap();
    let b = Tensor::ones([2], &gpu).unwrap();
    let err = (&a + &b).unwrap_err();
    assert!(matches!(err, Error::DeviceMismatch { op: "add", .. }), "{err}");
}

#[test]
fn a_ten_thousand_op_chain_neither_overflows_nor_leaks() {
    let x = Tensor::from_vec(vec![1.0], [1], &cpu()).unwrap().requires_grad();
    let mut y = x.clone();
    for _ in 0..10_000 {
        y = (&y * 1.0001).unwrap();
    }
    let g = y.sum_all().unwrap().backward().unwrap();
    let expected = 1.0001f64.powi(10_000) as f32;
    soma_device::testing::assert_close(&g.get(&x).unwrap().to_vec().unwrap(), &[expected], 1e-3, 0.0);
    drop(y); // freeing the chain is iterative too
}

#[test]
fn only_inputs_that_require_grad_get_one() {
    // x = [[1, 2]] (no grad), w = [[3], [4]], c = [5], m = [2] (no grad):
    // loss = sum(mul_add(x·w, m, c)) = (1*3 + 2*4) * 2 + 5 = 27; d/dw = 2 * xᵀ = [2, 4], d/dc = 1.
    let x = Tensor::from_vec(vec![1.0, 2.0], [1, 2], &cpu()).unwrap();
    let w = Tensor::from_vec(vec![3.0, 4.0], [2, 1], &cpu()).unwrap().requires_grad();
    let m = Tensor::from_vec(vec![2.0], [1, 1], &cpu()).unwrap();
    let c = Tensor::from_vec(vec![5.0], [1, 1], &cpu()).unwrap().requires_grad();
    let loss = x.matmul(&w).unwrap().mul_add(&m, &c).unwrap().sum_all().unwrap();
    close(&[loss.item().unwrap()], &[27.0]);
    let g = loss.backward().unwrap();
    close(&g.get(&w).unwrap().to_vec().unwrap(), &[2.0, 4.0]);
    close(&g.get(&c).unwrap().to_vec().unwrap(), &[1.0]);
    assert!(g.get(&x).is_none() && g.get(&m).is_none());
}

#[test]
fn gradients_of_narrowed_slices_are_assembled() {
    // x: [2, 5]. loss = 2 Σ x[:, 0..2] + 3 Σ x[:, 3..4] + 5 Σ x[:, 1..3] (overlapping the first)
    // + 7 Σ x[1..2, :] (another axis) + 11 Σ x: column 4 is a gap, and every part of the assembly
    // (cat with zeros, an overlap padded alone, a slice along another axis, a whole gradient) shows.
    for device in [cpu(), gpu()] {
        let x = Tensor::from_vec((0..10).map(|i| i as f32).collect(), [2, 5], &device).unwrap().requires_grad();
        let term = |axis, start, len, weight: f32| (x.narrow(axis, start, len).unwrap() * weight).unwrap().sum_all();
        let loss = [term(1, 0, 2, 2.0), term(1, 3, 1, 3.0), term(1, 1, 2, 5.0), term(0, 1, 1, 7.0)]
            .into_iter()
            .try_fold((&x * 11.0).unwrap().sum_all().unwrap(), |acc, t| &acc + &t.unwrap())
            .unwrap();
        let row = [2.0 + 11.0, 2.0 + 5.0 + 11.0, 5.0 + 11.0, 3.0 + 11.0, 11.0];
        let expected: Vec<f32> = row.iter().copied().chain(row.iter().map(|v| v + 7.0)).collect();
        close(&loss.backward().unwrap().get(&x).unwrap().to_vec().unwrap(), &expected);
    }
}

#[test]
fn an_lstm_steps_gates_get_one_gradient_whichever_input_requires_it() {
    // The gates are gi + gh: gh's gradient is gi's, also when gi requires none.
    let values = |n: usize, seed: f32| (0..n).map(|i| ((i as f32 + seed) * 0.37).sin()).collect::<Vec<f32>>();
    let tensor = |n: usize, seed: f32, dims: [usize; 2]| Tensor::from_vec(values(n, seed), dims, &cpu()).unwrap();
    let weights = tensor(8, 3.0, [2, 4]);
    let loss = |gi: &Tensor, gh: &Tensor, state: &Tensor| {
        (&Tensor::lstm_cell(gi, gh, state).unwrap() * &weights).unwrap().sum_all().unwrap()
    };
    let (gi, gh, state) =
        (tensor(16, 0.0, [2, 8]).requires_grad(), tensor(16, 1.0, [2, 8]).requires_grad(), tensor(8, 2.0, [2, 4]));
    let both = loss(&gi, &gh, &state).backward().unwrap();
    let only_gh = loss(&gi.detach(), &gh, &state).backward().unwrap();
    let gi_grad = both.get(&gi).unwrap().to_vec().unwrap();
    assert!(gi_grad.iter().any(|v| v.abs() > 1e-3));
    close(&both.get(&gh).unwrap().to_vec().unwrap(), &gi_grad);
    close(&only_gh.get(&gh).unwrap().to_vec().unwrap(), &gi_grad);
}
