//! Layers on the CPU: gradcheck of every layer w.r.t. input and parameters, behaviour, shape errors.

mod common;

use common::{TOL, away_from_zero, check_input, check_module, check_params, distinct};
use soma_autograd::{Device, Rng, Tensor, gradcheck};
use soma_nn::*;

fn cpu() -> Device {
    Device::cpu()
}

fn err_of(m: &dyn Module, shape: &[usize]) -> String {
    let x = Tensor::zeros(shape.to_vec(), &cpu()).unwrap();
    m.forward(&x).unwrap_err().to_string()
}

#[test]
fn linear_gradcheck_and_shapes() {
    let dev = cpu();
    let lin = Linear::new(4, 3, &dev, &mut Rng::new(1)).unwrap();
    check_module(&lin, &away_from_zero(&[5, 4], 2, &dev));
    check_module(&lin, &away_from_zero(&[2, 3, 4], 3, &dev));
    assert_eq!(lin.forward(&Tensor::zeros([4], &dev).unwrap()).unwrap().dims(), [3]);
    assert_eq!(lin.forward(&Tensor::zeros([2, 5, 4], &dev).unwrap()).unwrap().dims(), [2, 5, 3]);
    let names: Vec<_> = lin.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    let no_bias = Linear::with_bias(4, 3, false, &dev, &mut Rng::new(1)).unwrap();
    check_params(&no_bias, &away_from_zero(&[5, 4], 2, &dev));
    assert_eq!(no_bias.num_parameters(), 12);
}

#[test]
fn linear_matches_hand_computation() {
    let dev = cpu();
    let w = Tensor::from_vec(vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0], [2, 3], &dev).unwrap();
    let b = Tensor::from_vec(vec![0.5, -0.5], [2], &dev).unwrap();
    let lin = Linear::from_tensors(w, Some(b)).unwrap();
    let x = Tensor::from_vec(vec![1.0, 1.0, 1.0, 2.0, 0.0, -1.0], [2, 3], &dev).unwrap();
    // [1+2+3+.5, -1+.5+0-.5; 2-3+.5, -2+0-.5]
    assert_eq!(lin.forward(&x).unwrap().to_vec().unwrap(), [6.5, -1.0, -0.5, -2.5]);
}

#[test]
fn linear_default_init_is_bounded_by_fan_in() {
    let lin = Linear::new(100, 50, &cpu(), &mut Rng::new(5)).unwrap();
    let w = lin.weight().get().to_vec().unwrap();
    let bound = 0.1;
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(w.iter().any(|v| v.abs() > 0.9 * bound));
    assert!(lin.bias().unwrap().get().to_vec().unwrap().iter().all(|v| v.abs() <= bound));
}

#[test]
fn activations_gradcheck() {
    let dev = cpu();
    let x = away_from_zero(&[3, 5], 11, &dev);
    let modules: Vec<Box<dyn Module>> = vec![
        Box::new(Step::new()),
        Box::new(Sigmoid::new()),
        Box::new(Tanh::new()),
        Box::new(ReLU::new()),
        Box::new(LeakyReLU::new(0.1)),
        Box::new(ELU::new(1.5)),
        Box::new(GELU::new()),
        Box::new(Softmax::new(1)),
        Box::new(Softmax::new(0)),
        Box::new(LogSoftmax::new(1)),
    ];
    for m in &modules {
        check_input(m.as_ref(), &x);
        assert!(m.named_params().is_empty());
    }
}

#[test]
fn activation_values() {
    let dev = cpu();
    let x = Tensor::from_vec(vec![-2.0, 0.0, 3.0], [3], &dev).unwrap();
    assert_eq!(Step::new().forward(&x).unwrap().to_vec().unwrap(), [0.0, 0.0, 1.0]);
    assert_eq!(ReLU::new().forward(&x).unwrap().to_vec().unwrap(), [0.0, 0.0, 3.0]);
    assert_eq!(LeakyReLU::new(0.1).forward(&x).unwrap().to_vec().unwrap(), [-0.2, 0.0, 3.0]);
    let elu = ELU::new(1.0).forward(&x).unwrap().to_vec().unwrap();
    assert!((elu[0] - ((-2f32).exp() - 1.0)).abs() < 1e-6 && elu[2] == 3.0);
    let s = Softmax::new(0).forward(&x).unwrap().to_vec().unwrap();
    assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    let err = Softmax::new(1).forward(&x).unwrap_err().to_string();
    assert!(err.contains("softmax"), "{err}");
    // Along the first of two axes (torch.softmax(x, 0)): the columns sum to 1, the shape stays.
    let x = Tensor::from_vec(vec![0.0, 1.0, 2.0, 1.0, 1.0, 0.0], [2, 3], &dev).unwrap();
    let s = Softmax::new(0).forward(&x).unwrap();
    assert_eq!(s.dims(), [2, 3]);
    let expected = [0.268941, 0.5, 0.880797, 0.731059, 0.5, 0.119203];
    soma_device::testing::assert_close(&s.to_vec().unwrap(), &expected, 1e-5, 1e-6);
    // torch.nn.functional.gelu(x, approximate="tanh"); the erf form gives 0.8413447 at 1.
    let x = Tensor::from_vec(vec![-1.0, 1.0, 2.0], [3], &dev).unwrap();
    let gelu = GELU::new().forward(&x).unwrap().to_vec().unwrap();
    soma_device::testing::assert_close(&gelu, &[-0.158808, 0.841192, 1.9545977], 1e-5, 1e-6);
}

#[test]
fn conv2d_gradcheck() {
    let dev = cpu();
    let conv = Conv2d::new(2, 3, 3, &dev, &mut Rng::new(4)).unwrap().stride(2).padding(1);
    let x = away_from_zero(&[2, 2, 5, 5], 6, &dev);
    assert_eq!(conv.forward(&x).unwrap().dims(), [2, 3, 3, 3]);
    check_module(&conv, &x);
    let rect = Conv2d::with_bias(2, 2, (2, 3), false, &dev, &mut Rng::new(4)).unwrap();
    assert_eq!(rect.forward(&x).unwrap().dims(), [2, 2, 4, 3]);
    check_module(&rect, &x);
    let names: Vec<_> = conv.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["weight", "bias"]);
    assert_eq!(conv.weight().get().dims(), [3, 2, 3, 3]);
}

#[test]
fn conv2d_matches_direct_convolution() {
    let dev = cpu();
    let mut rng = Rng::new(9);
    let conv = Conv2d::new(2, 3, 3, &dev, &mut rng).unwrap().padding(1);
    let x = Tensor::randn([2, 2, 4, 5], &mut rng, &dev).unwrap();
    let y = conv.forward(&x).unwrap().to_vec().unwrap();
    let (xv, w, b) =
        (x.to_vec().unwrap(), conv.weight().get().to_vec().unwrap(), conv.bias().unwrap().get().to_vec().unwrap());
    let (c, h, wd) = (2usize, 4usize, 5usize);
    let mut expected = Vec::new();
    for n in 0..2 {
        for o in 0..3 {
            for i in 0..h {
                for j in 0..wd {
                    let mut acc = b[o];
                    for ci in 0..c {
                        for ki in 0..3 {
                            for kj in 0..3 {
                                let (yi, xj) = (i as isize + ki as isize - 1, j as isize + kj as isize - 1);
                                if yi >= 0 && xj >= 0 && (yi as usize) < h && (xj as usize) < wd {
                                    acc += w[((o * c + ci) * 3 + ki) * 3 + kj]
                                        * xv[((n * c + ci) * h + yi as usize) * wd + xj as usize];
                                }
                            }
                        }
                    }
                    expected.push(acc);
                }
            }
        }
    }
    soma_device::testing::assert_close(&y, &expected, 1e-5, 1e-5);
}

#[test]
fn pools_gradcheck_and_values() {
    let dev = cpu();
    let x = distinct(&[2, 2, 4, 6], 8, &dev);
    let max = MaxPool2d::new(2);
    let avg = AvgPool2d::new(2);
    assert_eq!(max.forward(&x).unwrap().dims(), [2, 2, 2, 3]);
    check_input(&max, &x);
    check_input(&avg, &x);
    check_input(&MaxPool2d::new(3).stride(1).padding(1), &x);
    check_input(&AvgPool2d::new((2, 3)).stride(1), &x);
    let v = Tensor::from_vec((0..16).map(|i| -(i as f32)).collect(), [1, 1, 4, 4], &dev).unwrap();
    // Windows of -[0 1 4 5], -[2 3 6 7], ...: max is the top-left, the mean is the centre.
    assert_eq!(max.forward(&v).unwrap().to_vec().unwrap(), [0.0, -2.0, -8.0, -10.0]);
    assert_eq!(avg.forward(&v).unwrap().to_vec().unwrap(), [-2.5, -4.5, -10.5, -12.5]);
    // Padding never wins a max of negative numbers.
    let padded = MaxPool2d::new(2).padding(1).forward(&v).unwrap().to_vec().unwrap();
    assert_eq!(padded, [0.0, -1.0, -3.0, -4.0, -5.0, -7.0, -12.0, -13.0, -15.0]);
    // Exact beside very large magnitudes (padding once came from shifting the input, which
    // rounded 0.2 to 0.25 next to -1e6, and turned everything to 0 next to -inf).
    let pool = MaxPool2d::new(2).stride(1).padding(1);
    let w = Tensor::from_vec(vec![-1e6, 0.2, 0.3, -5.0], [1, 1, 2, 2], &dev).unwrap();
    assert_eq!(pool.forward(&w).unwrap().to_vec().unwrap(), [-1e6, 0.2, 0.2, 0.3, 0.3, 0.2, 0.3, 0.3, -5.0]);
    let w = Tensor::from_vec(vec![f32::NEG_INFINITY, 1.0, 2.0, 3.0], [1, 1, 2, 2], &dev).unwrap();
    let pooled = pool.forward(&w).unwrap().to_vec().unwrap();
    assert_eq!(pooled, [f32::NEG_INFINITY, 1.0, 1.0, 2.0, 3.0, 3.0, 2.0, 3.0, 3.0]);
}

#[test]
fn flatten_and_errors() {
    let dev = cpu();
    let x = away_from_zero(&[2, 3, 2, 2], 1, &dev);
    assert_eq!(Flatten::new().forward(&x).unwrap().dims(), [2, 12]);
    check_input(&Flatten::new(), &x);
    let err = err_of(&Flatten::from_dim(4), &[2, 3, 2, 2]);
    assert!(err.contains("Flatten") && err.contains("[2, 3, 2, 2]"), "{err}");
}

#[test]
fn dropout_eval_is_identity_and_gradchecks() {
    let dev = cpu();
    let mut d = Dropout::new(0.5, &mut Rng::new(1)).unwrap();
    d.eval();
    let x = away_from_zero(&[4, 5], 2, &dev);
    assert_eq!(d.forward(&x).unwrap().to_vec().unwrap(), x.to_vec().unwrap());
    check_input(&d, &x);
    assert!(Dropout::new(1.5, &mut Rng::new(1)).is_err());
    assert!(Dropout::new(f32::NAN, &mut Rng::new(1)).is_err());
}

#[test]
fn dropout_train_statistics() {
    let dev = cpu();
    let p = 0.3;
    let d = Dropout::new(p, &mut Rng::new(3)).unwrap();
    let x = Tensor::ones([200, 500], &dev).unwrap();
    let a = d.forward(&x).unwrap().to_vec().unwrap();
    let kept = a.iter().filter(|&&v| v != 0.0).count() as f32 / a.len() as f32;
    assert!((kept - (1.0 - p)).abs() < 0.01, "kept fraction {kept}");
    assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / (1.0 - p)).abs() < 1e-6));
    let mean = a.iter().sum::<f32>() / a.len() as f32;
    assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
    // A fresh mask each call; the gradient flows through kept elements only, scaled.
    let b = d.forward(&x).unwrap().to_vec().unwrap();
    assert_ne!(a, b);
    let leaf = x.requires_grad();
    let y = d.forward(&leaf).unwrap();
    let g = y.sum_all().unwrap().backward().unwrap().get(&leaf).unwrap().to_vec().unwrap();
    assert_eq!(g, y.to_vec().unwrap());
    // Same seed, same masks.
    let again = Dropout::new(p, &mut Rng::new(3)).unwrap();
    assert_eq!(again.forward(&x).unwrap().to_vec().unwrap(), a);
}

#[test]
fn batchnorm_gradcheck_train_and_eval() {
    let dev = cpu();
    let mut rng = Rng::new(21);
    let bn2 = BatchNorm2d::new(3, &dev).unwrap();
    // Non-trivial affine parameters so their gradients matter.
    bn2.weight().set(Tensor::rand_range([3], 0.5, 1.5, &mut rng, &dev).unwrap());
    bn2.bias().set(Tensor::randn([3], &mut rng, &dev).unwrap());
    let x = away_from_zero(&[2, 3, 3, 3], 5, &dev);
    check_module(&bn2, &x);
    let mut bn2 = bn2;
    bn2.eval();
    check_module(&bn2, &x);
    let bn1 = BatchNorm1d::new(4, &dev).unwrap();
    check_module(&bn1, &away_from_zero(&[5, 4], 6, &dev));
    check_module(&bn1, &away_from_zero(&[3, 4, 2], 7, &dev));
    let names: Vec<_> = bn1.named_params().into_iter().map(|(n, p)| (n, p.is_trainable())).collect();
    let expected = [("weight", true), ("bias", true), ("running_mean", false), ("running_var", false)];
    assert_eq!(names, expected.map(|(n, t)| (n.to_string(), t)));
}

#[test]
fn batchnorm_normalises_in_train_mode() {
    let dev = cpu();
    let bn = BatchNorm2d::new(2, &dev).unwrap();
    let x = Tensor::randn([4, 2, 3, 3], &mut Rng::new(2), &dev).unwrap().affine(3.0, 5.0).unwrap();
    let y = bn.forward(&x).unwrap();
    let per_channel = y.permute(&[1, 0, 2, 3]).unwrap().reshape([2, 36]).unwrap();
    for m in per_channel.mean(1).unwrap().to_vec().unwrap() {
        assert!(m.abs() < 1e-5, "{m}");
    }
    for v in per_channel.square().unwrap().mean(1).unwrap().to_vec().unwrap() {
        assert!((v - 1.0).abs() < 1e-3, "{v}");
    }
}

/// The running statistics after one training step, against numpy.
#[test]
fn batchnorm_running_stats_after_one_step() {
    let dev = cpu();
    let bn = BatchNorm1d::new(2, &dev).unwrap();
    let x = Tensor::from_vec(vec![1.0, 10.0, 2.0, 20.0, 4.0, 30.0, 5.0, 60.0], [4, 2], &dev).unwrap();
    bn.forward(&x).unwrap();
    // x = array([[1, 10], [2, 20], [4, 30], [5, 60]])
    // 0.9 * 0 + 0.1 * x.mean(0) = [0.3, 3.0]
    // 0.9 * 1 + 0.1 * x.var(0, ddof=1) = [1.23333333, 47.56666667]
    let rm = bn.running_mean().get().to_vec().unwrap();
    let rv = bn.running_var().get().to_vec().unwrap();
    soma_device::testing::assert_close(&rm, &[0.3, 3.0], 1e-6, 1e-6);
    soma_device::testing::assert_close(&rv, &[1.2333333, 47.566667], 1e-5, 1e-5);
    // Eval mode uses them: (x - rm) / sqrt(rv + 1e-5).
    let mut bn = bn;
    bn.eval();
    let y = bn.forward(&x).unwrap().to_vec().unwrap();
    assert!((y[0] - (1.0 - 0.3) / (1.2333333f32 + 1e-5).sqrt()).abs() < 1e-5);
    let mut bn = bn;
    bn.train(true);
    let err = bn.forward(&Tensor::zeros([1, 2], &dev).unwrap()).unwrap_err().to_string();
    assert!(err.contains("more than one value"), "{err}");
}

/// BatchNorm2d: statistics over batch and spatial axes, against numpy.
#[test]
fn batchnorm2d_running_stats_and_output_after_one_step() {
    let dev = cpu();
    let bn = BatchNorm2d::new(2, &dev).unwrap();
    let data = [1.0, 2.0, 3.0, 5.0, 0.0, 4.0, -1.0, 2.0, 6.0, 1.0, 2.0, 2.0, 3.0, 3.0, 0.0, 8.0];
    let x = Tensor::from_vec(data.to_vec(), [2, 2, 2, 2], &dev).unwrap();
    let y = bn.forward(&x).unwrap().to_vec().unwrap();
    // x = array([1, 2, 3, 5, 0, 4, -1, 2, 6, 1, 2, 2, 3, 3, 0, 8.]).reshape(2, 2, 2, 2)
    // 0.1 * x.mean((0, 2, 3)) = [0.275, 0.2375]
    // 0.9 + 0.1 * x.var((0, 2, 3), ddof=1) = [1.23571429, 1.72678571]
    // m, v = x.mean((0, 2, 3), keepdims=True), x.var((0, 2, 3), keepdims=True)
    // ((x - m) / sqrt(v + 1e-5))[0, 0].ravel() = [-1.0210532, -0.43759423, 0.14586474, 1.31278269]
    let rm = bn.running_mean().get().to_vec().unwrap();
    let rv = bn.running_var().get().to_vec().unwrap();
    soma_device::testing::assert_close(&rm, &[0.275, 0.2375], 1e-6, 1e-6);
    soma_device::testing::assert_close(&rv, &[1.2357143, 1.7267857], 1e-5, 1e-5);
    soma_device::testing::assert_close(&y[..4], &[-1.0210532, -0.43759423, 0.14586474, 1.3127827], 1e-5, 1e-5);
}

#[test]
fn layernorm_gradcheck_and_values() {
    let dev = cpu();
    let mut rng = Rng::new(4);
    let ln = LayerNorm::new(5, &dev).unwrap();
    ln.weight().set(Tensor::rand_range([5], 0.5, 1.5, &mut rng, &dev).unwrap());
    ln.bias().set(Tensor::randn([5], &mut rng, &dev).unwrap());
    check_module(&ln, &away_from_zero(&[3, 5], 3, &dev));
    check_module(&ln, &away_from_zero(&[2, 2, 5], 4, &dev));
    let plain = LayerNorm::new(4, &dev).unwrap();
    let y = plain.forward(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [1, 4], &dev).unwrap()).unwrap();
    // (x - 2.5) / sqrt(1.25 + 1e-5)
    let s = (1.25f32 + 1e-5).sqrt();
    soma_device::testing::assert_close(&y.to_vec().unwrap(), &[-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-5, 1e-6);
}

#[test]
fn embedding_lookup_and_gradcheck() {
    let dev = cpu();
    let emb = Embedding::new(6, 3, &dev, &mut Rng::new(2)).unwrap();
    let ids = Tensor::from_vec(vec![1.0, 5.0, 1.0, 0.0], [2, 2], &dev).unwrap();
    let y = emb.forward(&ids).unwrap();
    assert_eq!(y.dims(), [2, 2, 3]);
    let w = emb.weight().get().to_vec().unwrap();
    assert_eq!(&y.to_vec().unwrap()[3..6], &w[15..18]);
    check_params(&emb, &ids);
    let err = emb.forward(&Tensor::from_vec(vec![6.0], [1], &dev).unwrap()).unwrap_err().to_string();
    assert!(err.contains("Embedding") && err.contains("6 x 3"), "{err}");
}

#[test]
fn wrong_shapes_name_layer_and_shapes() {
    let dev = cpu();
    let mut rng = Rng::new(1);
    let cases: Vec<(Box<dyn Module>, Vec<usize>, &str)> = vec![
        (Box::new(Linear::new(4, 3, &dev, &mut rng).unwrap()), vec![2, 5], "Linear"),
        (Box::new(Conv2d::new(3, 4, 3, &dev, &mut rng).unwrap()), vec![2, 1, 8, 8], "Conv2d"),
        (Box::new(Conv2d::new(3, 4, 3, &dev, &mut rng).unwrap()), vec![2, 3, 8], "Conv2d"),
        (Box::new(Conv2d::new(3, 4, 5, &dev, &mut rng).unwrap()), vec![2, 3, 4, 4], "Conv2d"),
        (Box::new(MaxPool2d::new(2)), vec![2, 3, 8], "MaxPool2d"),
        (Box::new(AvgPool2d::new(5)), vec![1, 1, 3, 3], "AvgPool2d"),
        (Box::new(BatchNorm1d::new(4, &dev).unwrap()), vec![2, 3], "BatchNorm1d"),
        (Box::new(BatchNorm2d::new(4, &dev).unwrap()), vec![2, 4, 3], "BatchNorm2d"),
        (Box::new(LayerNorm::new(4, &dev).unwrap()), vec![2, 3], "LayerNorm"),
    ];
    for (m, shape, name) in cases {
        let err = err_of(m.as_ref(), &shape);
        let dims = format!("{shape:?}");
        assert!(err.starts_with(name) && err.contains(&dims), "{name} with {dims}: {err}");
    }
}

#[test]
fn sequential_of_layers_gradchecks() {
    let dev = cpu();
    let mut rng = Rng::new(8);
    let mut net = Sequential::new()
        .add(Linear::new(3, 6, &dev, &mut rng).unwrap())
        .add(Tanh::new())
        .add(Dropout::new(0.5, &mut rng).unwrap())
        .add(LayerNorm::new(6, &dev).unwrap())
        .add(Linear::new(6, 2, &dev, &mut rng).unwrap());
    net.eval();
    check_module(&net, &away_from_zero(&[4, 3], 1, &dev));
    let names: Vec<_> = net.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias", "4.weight", "4.bias"]);
    let _ = gradcheck(|x| net.forward(&x[0]), &[away_from_zero(&[2, 3], 2, &dev)], TOL).unwrap();
}

/// `Sequential` runs a `Linear` followed by a `ReLU` as one fused op (`Tensor::linear` with its
/// ReLU); outputs and gradients equal those of the layers' ops applied one by one.
#[test]
fn sequential_fuses_a_linear_and_its_relu() {
    for dev in [cpu(), soma_device::testing::gpu()] {
        let mut rng = Rng::new(3);
        let net = Sequential::new()
            .add(Linear::new(5, 8, &dev, &mut rng).unwrap())
            .add(ReLU::new())
            .add(Linear::new(8, 3, &dev, &mut rng).unwrap())
            .add(ReLU::new())
            .add(ReLU::new());
        let x = away_from_zero(&[4, 5], 1, &dev);
        let params: Vec<Tensor> = net.parameters().iter().map(Param::get).collect();
        let layer =
            |x: &Tensor, w: &Tensor, b: &Tensor| (&x.matmul_t(w, false, true).unwrap() + b).unwrap().relu().unwrap();
        let by_hand = layer(&layer(&x, &params[0], &params[1]), &params[2], &params[3]).relu().unwrap();
        let fused = net.forward(&x).unwrap();
        let values = |t: &Tensor| t.to_vec().unwrap();
        assert_eq!(values(&fused), values(&by_hand));
        assert!(values(&fused).contains(&0.0), "the ReLUs clipped nothing");
        let weights = Tensor::arange(12, &dev).unwrap().reshape([4, 3]).unwrap();
        let [g_fused, g_hand] =
            [fused, by_hand].map(|y| (&y * &weights).unwrap().sum_all().unwrap().backward().unwrap());
        for p in &params {
            let (a, b) = (values(g_fused.get(p).unwrap()), values(g_hand.get(p).unwrap()));
            soma_device::testing::assert_close(&a, &b, 1e-5, 1e-6);
        }
    }
}

#[test]
fn batch_norm_needs_a_feature() {
    let errors = [BatchNorm1d::new(0, &cpu()).err(), BatchNorm2d::new(0, &cpu()).err()];
    for err in errors {
        assert_eq!(
            err.expect("zero features are refused").to_string(),
            "BatchNorm: needs at least one feature (channel)"
        );
    }
}

#[test]
fn norm_constants_out_of_range_are_errors() {
    let x = Tensor::from_slice(&[1.0, 2.0, 3.0, 5.0], [2, 2], &cpu()).unwrap();
    let err = BatchNorm1d::new(2, &cpu()).unwrap().momentum(f32::NAN).forward(&x).unwrap_err();
    assert_eq!(err.to_string(), "BatchNorm1d: momentum must be in [0, 1], got NaN");
    let err = BatchNorm1d::new(2, &cpu()).unwrap().eps(-1.0).forward(&x).unwrap_err();
    assert_eq!(err.to_string(), "BatchNorm1d: eps must be finite and >= 0, got -1");
    let err = LayerNorm::new(2, &cpu()).unwrap().eps(f32::INFINITY).forward(&x).unwrap_err();
    assert_eq!(err.to_string(), "LayerNorm: eps must be finite and >= 0, got inf");
    // The edges are PyTorch's: momentum 1 keeps only the last batch, eps 0 divides by the spread.
    let y = BatchNorm1d::new(2, &cpu()).unwrap().momentum(1.0).eps(0.0).forward(&x).unwrap();
    soma_device::testing::assert_close(&y.to_vec().unwrap(), &[-1.0, -1.0, 1.0, 1.0], 1e-6, 1e-6);
}

#[test]
fn sizes_too_large_to_count_are_errors() {
    let dev = cpu();
    let x = Tensor::zeros([1, 1, 4, 4], &dev).unwrap();
    let conv = Conv2d::new(1, 1, 3, &dev, &mut Rng::new(1)).unwrap().padding(usize::MAX / 2 + 1);
    let err = conv.forward(&x).unwrap_err().to_string();
    assert!(err.contains("a padded image of at least 3x3"), "{err}");
    let err = Conv2d::new(1 << 32, 1, (1 << 32, 1), &dev, &mut Rng::new(1)).err().expect("too large").to_string();
    assert_eq!(err, "Conv2d: shape [4294967296, 4294967296, 1] has more elements than fit in memory");
    let err = MaxPool2d::new(2).padding(usize::MAX).forward(&x).unwrap_err().to_string();
    assert!(err.contains("padding at most half the kernel"), "{err}");
}

#[test]
fn max_pool_sends_the_gradient_to_the_first_maximum() {
    for dev in [cpu(), soma_device::testing::gpu()] {
        // Two windows: four ties, and a maximum in the last position.
        let x = Tensor::from_vec(vec![1.0, 1.0, 0.0, 3.0, 1.0, 1.0, 2.0, 0.5], [1, 1, 2, 4], &dev).unwrap();
        let x = x.requires_grad();
        let y = MaxPool2d::new(2).forward(&x).unwrap();
        assert_eq!(y.to_vec().unwrap(), [1.0, 3.0]);
        let g = y.sum_all().unwrap().backward().unwrap().get(&x).unwrap().to_vec().unwrap();
        assert_eq!(g, [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
    }
}

#[test]
fn non_square_pooling_needs_an_explicit_stride() {
    // torch's default stride for a (1, 2) kernel is (1, 2); strides here are one number, so the
    // default is refused rather than silently taken as 1.
    let x = Tensor::zeros([1, 1, 2, 4], &cpu()).unwrap();
    let err = MaxPool2d::new((1, 2)).forward(&x).unwrap_err().to_string();
    assert_eq!(err, "MaxPool2d: a 1x2 kernel needs an explicit .stride(s): strides are one number for both axes");
    assert!(AvgPool2d::new((1, 2)).forward(&x).is_err());
    assert_eq!(MaxPool2d::new((1, 2)).stride(2).forward(&x).unwrap().dims(), [1, 1, 1, 2]);
    assert_eq!(MaxPool2d::new(2).forward(&x).unwrap().dims(), [1, 1, 1, 2]);
}

#[test]
fn a_layer_without_inputs_has_a_zero_bias() {
    // torch: bound 1/sqrt(fan_in) becomes 0 when fan_in is 0.
    let linear = Linear::new(0, 3, &cpu(), &mut Rng::new(1)).unwrap();
    assert_eq!(linear.bias().unwrap().get().to_vec().unwrap(), [0.0; 3]);
}
