//! Backward of every differentiable op agrees with finite differences (on the CPU).

mod common;

use soma_autograd::{Device, gradcheck};

#[test]
fn every_op_passes_gradcheck() {
    let device = Device::cpu();
    let mut failures = Vec::new();
    for case in common::cases() {
        let inputs = common::inputs(&case, &device, 11).unwrap();
        match gradcheck(case.f, &inputs, 2e-2) {
            Ok(report) => {
                assert!(report.checked > 0, "{}: nothing checked", case.name);
                println!("{:>18}: {} elements, max abs error {:.2e}", case.name, report.checked, report.max_abs_error);
            }
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    assert!(failures.is_empty(), "gradcheck failed:\n{}", failures.join("\n"));
}

#[test]
fn gradcheck_catches_a_wrong_gradient() {
    // x * stop_gradient(x) has derivative x, but the true derivative of x^2 is 2x.
    let device = Device::cpu();
    let x = soma_autograd::Tensor::from_vec(vec![1.0, -2.0, 3.0], [3], &device).unwrap();
    let err = gradcheck(|x| &x[0] * &x[0].detach(), &[x], 1e-2).unwrap_err();
    assert!(err.to_string().starts_with("gradcheck: input 0 element 0"), "{err}");
    // A NaN tolerance would have passed it.
    let x = soma_autograd::Tensor::from_vec(vec![1.0], [1], &device).unwrap();
    let err = gradcheck(|x| &x[0] * &x[0].detach(), &[x], f32::NAN).unwrap_err();
    assert_eq!(err.to_string(), "gradcheck: tolerance must be finite and >= 0, got NaN");
}
