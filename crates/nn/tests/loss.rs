//! Losses on the CPU: literal values (computed independently with numpy), gradcheck, shape errors.

use soma_autograd::{Device, Error, Rng, Tensor, gradcheck};
use soma_nn::loss::{
    accuracy, binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, cross_entropy_ignoring,
    huber_loss, l1_loss, mse_loss, nll_loss,
};

fn t(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_slice(data, shape.to_vec(), &Device::cpu()).unwrap()
}

fn close(actual: f32, expected: f64) {
    assert!((actual as f64 - expected).abs() <= 1e-5 * expected.abs().max(1.0), "{actual} vs {expected}");
}

fn pred() -> Tensor {
    t(&[0.5, -1.0, 2.0, 3.0, 0.25, -0.75], &[2, 3])
}
fn target() -> Tensor {
    t(&[1.0, -2.0, 2.5, 0.0, 0.5, 1.25], &[2, 3])
}

// numpy: p = array([[.5, -1, 2], [3, .25, -.75]]); t = array([[1, -2, 2.5], [0, .5, 1.25]]); d = p - t
#[test]
fn mse_literal() {
    // mean(d**2) = 2.4270833333333335
    close(mse_loss(&pred(), &target()).unwrap().item().unwrap(), 2.4270833333333335);
}

#[test]
fn l1_literal() {
    // mean(abs(d)) = 1.2083333333333333
    close(l1_loss(&pred(), &target()).unwrap().item().unwrap(), 1.2083333333333333);
}

#[test]
fn huber_literal() {
    // ad = abs(d); mean(where(ad < 1, .5 * ad**2, ad - .5)) = 0.796875
    close(huber_loss(&pred(), &target(), 1.0).unwrap().item().unwrap(), 0.796875);
    // torch.nn.functional.huber_loss(p, t, delta=.7) = 0.624375 (delta = 1 hides a missing delta)
    close(huber_loss(&pred(), &target(), 0.7).unwrap().item().unwrap(), 0.624375);
    assert!(matches!(huber_loss(&pred(), &target(), 0.0), Err(Error::Invalid { .. })));
    let err = huber_loss(&pred(), &target(), f32::INFINITY).unwrap_err();
    assert_eq!(err.to_string(), "huber_loss: delta must be positive and finite, got inf");
}

// x = array([-3, -.5, 0, .7, 2, 40]); y = array([0, 1, 1, 0, 1, 0])
#[test]
fn bce_with_logits_literal_and_stable() {
    let x = t(&[-3.0, -0.5, 0.0, 0.7, 2.0, 40.0], &[6]);
    let y = t(&[0.0, 1.0, 1.0, 0.0, 1.0, 0.0], &[6]);
    // mean(maximum(x, 0) - x*y + log1p(exp(-abs(x)))) = 7.157654262707037
    close(binary_cross_entropy_with_logits(&x, &y).unwrap().item().unwrap(), 7.157654262707037);
    let huge = t(&[1e4, -1e4], &[2]);
    let v = binary_cross_entropy_with_logits(&huge, &t(&[1.0, 0.0], &[2])).unwrap().item().unwrap();
    assert!(v.is_finite() && v.abs() < 1e-6, "{v}");
    // The gradient is (sigmoid(x) - y) / n everywhere, x = 0 included (it was -y / n there).
    let x = t(&[0.0, 0.0, -3.0], &[3]).requires_grad();
    let loss = binary_cross_entropy_with_logits(&x, &t(&[0.0, 1.0, 1.0], &[3])).unwrap();
    let g = loss.backward().unwrap().get(&x).unwrap().to_vec().unwrap();
    let sigmoid_minus_3 = 1.0 / (1.0 + 3f64.exp());
    let want = [0.5 / 3.0, -0.5 / 3.0, (sigmoid_minus_3 - 1.0) / 3.0];
    soma_device::testing::assert_close(&g, &want.map(|v| v as f32), 1e-6, 1e-7);
}

#[test]
fn bce_literal_and_clamped() {
    let p = t(&[0.1, 0.8, 0.5, 0.3, 0.99, 0.02], &[6]);
    let y = t(&[0.0, 1.0, 1.0, 0.0, 1.0, 0.0], &[6]);
    // -mean(y*log(p) + (1-y)*log(1-p)) = 0.23476320577362242
    close(binary_cross_entropy(&p, &y).unwrap().item().unwrap(), 0.23476320577362242);
    // Logs floored at -100, as torch: the loss of certain and wrong predictions is 100.
    let edge = binary_cross_entropy(&t(&[0.0, 1.0], &[2]), &t(&[1.0, 0.0], &[2])).unwrap();
    close(edge.item().unwrap(), 100.0);
    // Probabilities of exactly 0 and 1 (a sigmoid saturates to 1.0 above ~17) get torch's
    // gradient (p - y) / max(p (1 - p), 1e-12) / n: large where wrong, 0 where right.
    // torch: p = [0, 1, 0, 1], y = [1, 0, 0, 1]: [-249999998976, 249999998976, 0, 0]
    let p = t(&[0.0, 1.0, 0.0, 1.0], &[4]).requires_grad();
    let loss = binary_cross_entropy(&p, &t(&[1.0, 0.0, 0.0, 1.0], &[4])).unwrap();
    let g = loss.backward().unwrap().get(&p).unwrap().to_vec().unwrap();
    soma_device::testing::assert_close(&g, &[-2.5e11, 2.5e11, 0.0, 0.0], 1e-6, 0.0);
    // A sigmoid of -90 is subnormal (8.2e-40): 1 / p overflowed, and the logit's gradient was -inf.
    let z = t(&[-90.0, 3.0], &[2]).requires_grad();
    let loss = binary_cross_entropy(&z.sigmoid().unwrap(), &t(&[1.0, 0.0], &[2])).unwrap();
    let g = loss.backward().unwrap().get(&z).unwrap().to_vec().unwrap();
    assert!(g[0].is_finite() && g[0] <= 0.0 && g[0] > -1e-20, "{g:?}");
    // torch: sigmoid(3) / 2 = 0.47628703713417053
    close(g[1], 0.47628703713417053);
    // The targets' gradient, (log(1 - p) - log p) / n; torch: [0.4236488938331604, -0.20273259282112122]
    let y = t(&[0.2, 0.7], &[2]).requires_grad();
    let loss = binary_cross_entropy(&t(&[0.3, 0.6], &[2]), &y).unwrap();
    let g = loss.backward().unwrap().get(&y).unwrap().to_vec().unwrap();
    soma_device::testing::assert_close(&g, &[0.4236489, -0.2027326], 1e-6, 1e-7);
    let err = binary_cross_entropy(&t(&[0.5, 1.5], &[2]), &t(&[1.0, 1.0], &[2])).unwrap_err();
    assert_eq!(err.to_string(), "binary_cross_entropy: probabilities must be in [0, 1], got 1.5");
    let nan = binary_cross_entropy(&t(&[f32::NAN], &[1]), &t(&[1.0], &[1])).unwrap().item().unwrap();
    assert!(nan.is_nan(), "a NaN probability gives a NaN loss, not the floor's 100: {nan}");
    // Small but positive probabilities keep their exact loss and gradient, -1 / (n p)
    // (a clamp at 1e-7 used to give 16.1 and no gradient for p = 1e-8).
    let p = t(&[1e-8], &[1]).requires_grad();
    let loss = binary_cross_entropy(&p, &t(&[1.0], &[1])).unwrap();
    close(loss.item().unwrap(), 18.420680743952367);
    let g = loss.backward().unwrap().get(&p).unwrap().to_vec().unwrap();
    soma_device::testing::assert_close(&g, &[-1e8], 1e-5, 0.0);
}

// L = array([[2, 1, .1], [.5, 2.5, -1], [1000, 0, -1000], [0, 0, 0]]); tg = [0, 2, 1, 1]
#[test]
fn cross_entropy_literal_stable() {
    let logits = t(&[2.0, 1.0, 0.1, 0.5, 2.5, -1.0, 1000.0, 0.0, -1000.0, 0.0, 0.0, 0.0], &[4, 3]);
    let targets = t(&[0.0, 2.0, 1.0, 1.0], &[4]);
    // m = L.max(1, keepdims=True); ls = L - m - log(exp(L - m).sum(1, keepdims=True))
    // -mean(ls[arange(4), tg]) = 251.29220512801706
    close(cross_entropy(&logits, &targets).unwrap().item().unwrap(), 251.29220512801706);
    let nll = nll_loss(&logits.log_softmax(1).unwrap(), &targets).unwrap().item().unwrap();
    close(nll, 251.29220512801706);
}

#[test]
fn cross_entropy_ignoring_skips_rows_as_torch() {
    // torch: F.cross_entropy(L, tensor([0, -100, 1, -100])) = 500.2085266113281, and the gradient
    // [-0.1704994, 0.1212165, 0.0492829, 0, 0, 0, 0.5, -0.5, 0, 0, 0, 0]
    let logits = t(&[2.0, 1.0, 0.1, 0.5, 2.5, -1.0, 1000.0, 0.0, -1000.0, 0.0, 0.0, 0.0], &[4, 3]).requires_grad();
    let targets = t(&[0.0, -100.0, 1.0, -100.0], &[4]);
    let loss = cross_entropy_ignoring(&logits, &targets, -100).unwrap();
    close(loss.item().unwrap(), 500.2085266113281);
    let g = loss.backward().unwrap().get(&logits).unwrap().to_vec().unwrap();
    let want = [-0.1704994, 0.1212165, 0.0492829, 0.0, 0.0, 0.0, 0.5, -0.5, 0.0, 0.0, 0.0, 0.0];
    soma_device::testing::assert_close(&g, &want, 1e-5, 1e-7);
    // `cross_entropy` itself refuses -100; with every row skipped the mean is NaN, as torch's.
    assert!(cross_entropy(&logits, &targets).is_err());
    let all_skipped = cross_entropy_ignoring(&t(&[2.0, 1.0, 0.1], &[1, 3]), &t(&[-100.0], &[1]), -100).unwrap();
    assert!(all_skipped.item().unwrap().is_nan());
}

#[test]
fn accuracy_counts_argmax_hits() {
    let logits = t(&[2.0, 1.0, 0.1, 0.5, 2.5, -1.0, 3.0, 0.0, -1.0, 0.0, 0.2, 0.1], &[4, 3]);
    // argmax rows: 0, 1, 0, 1
    assert_eq!(accuracy(&logits, &t(&[0.0, 2.0, 0.0, 1.0], &[4])).unwrap(), 0.75);
}

#[test]
fn gradchecks() {
    let dev = Device::cpu();
    let mut rng = Rng::new(3);
    let a = Tensor::randn([3, 4], &mut rng, &dev).unwrap();
    let b = Tensor::randn([3, 4], &mut rng, &dev).unwrap();
    gradcheck(|x| mse_loss(&x[0], &x[1]), &[a.clone(), b.clone()], 2e-2).unwrap();
    gradcheck(|x| l1_loss(&x[0], &x[1]), &[a.clone(), b.clone()], 2e-2).unwrap();
    gradcheck(|x| huber_loss(&x[0], &x[1], 0.7), &[a.clone(), b.clone()], 2e-2).unwrap();
    let y = Tensor::rand([3, 4], &mut rng, &dev).unwrap();
    gradcheck(|x| binary_cross_entropy_with_logits(&x[0], &x[1]), &[a.clone(), y.clone()], 2e-2).unwrap();
    let p = Tensor::rand_range([3, 4], 0.2, 0.8, &mut rng, &dev).unwrap();
    gradcheck(|x| binary_cross_entropy(&x[0], &x[1]), &[p, y], 2e-2).unwrap();
    let targets = t(&[1.0, 3.0, 0.0], &[3]);
    gradcheck(|x| cross_entropy(&x[0], &targets), std::slice::from_ref(&a), 2e-2).unwrap();
    gradcheck(|x| nll_loss(&x[0].log_softmax(1)?, &targets), &[a], 2e-2).unwrap();
}

#[test]
fn shape_errors_name_the_loss() {
    let err = mse_loss(&t(&[1.0, 2.0], &[2, 1]), &t(&[1.0, 2.0], &[2])).unwrap_err();
    assert!(err.to_string().contains("mse_loss") && err.to_string().contains("[2, 1]"), "{err}");
    let err = cross_entropy(&t(&[1.0, 2.0], &[1, 2]), &t(&[1.0, 0.0], &[2])).unwrap_err();
    assert!(err.to_string().starts_with("cross_entropy") && err.to_string().contains("[1, 2]"), "{err}");
    let err = cross_entropy(&t(&[1.0, 2.0], &[2]), &t(&[1.0], &[1])).unwrap_err();
    assert!(err.to_string().starts_with("cross_entropy"), "{err}");
    assert!(cross_entropy(&t(&[1.0, 2.0], &[1, 2]), &t(&[5.0], &[1])).is_err(), "out-of-range class");
}
