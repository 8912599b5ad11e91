//! The fused LSTM step: literal values (numpy, float64; the gradients also match its finite
//! differences), the GPU against the CPU on random rows, and shape errors.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use soma_device::testing::{assert_close, gpu};
use soma_device::{Device, LstmDims, LstmGrad, Storage};

/// Runs the step and both gradients on `device`: (next state, gates gradient, state gradient).
fn run(device: &Device, [gi, gh, state, grad]: [&[f32]; 4], dims: LstmDims) -> [Vec<f32>; 3] {
    let [gi, gh, state, grad]: [Storage; 4] = [gi, gh, state, grad].map(|x| device.from_slice(x).unwrap());
    let next = device.lstm_cell(&gi, &gh, &state, dims).unwrap();
    let grads = [LstmGrad::Gates, LstmGrad::State]
        .map(|wrt| device.lstm_cell_grad(&gi, &gh, &state, &grad, dims, wrt).unwrap());
    [&next, &grads[0], &grads[1]].map(|s| device.to_vec(s).unwrap())
}

#[test]
fn literal_step_and_gradients() {
    // One row of two units: gates blocks i, f, g, o; the state is (h, c).
    let gi = [0.5, -1.0, 1.0, 0.2, -0.3, 0.8, 2.0, -0.5];
    let gh = [0.1, 0.3, -0.4, 0.6, 0.2, -0.1, -1.0, 0.25];
    let state = [0.7, -0.2, 0.5, -1.5];
    let grad = [0.3, -0.6, 1.2, 0.4];
    let next = [0.184_863_05, -0.298_965_56, 0.258_476_88, -0.834_425_1];
    let gates = [
        -0.032_044_16,
        0.034_811_41,
        0.160_754_52,
        -0.083_358_74,
        0.898_323_5,
        0.054_716_38,
        0.014_915_2,
        0.100_842_85,
    ];
    let state_grad = [0.0, 0.0, 0.907_336_7, 0.179_251_35];
    for device in [Device::cpu(), gpu()] {
        let [got_next, got_gates, got_state] =
            run(&device, [&gi, &gh, &state, &grad], LstmDims { batch: 1, hidden: 2 });
        assert_close(&got_next, &next, 1e-5, 1e-6);
        assert_close(&got_gates, &gates, 1e-5, 1e-6);
        assert_close(&got_state, &state_grad, 1e-5, 1e-6);
    }
}

#[test]
fn gpu_step_equals_cpu_step() {
    // Odd sizes, more units than one workgroup, and pre-activations large enough to saturate.
    for (batch, hidden) in [(2, 0), (1, 1), (3, 5), (32, 128), (7, 300)] {
        let mut r = StdRng::seed_from_u64((batch * hidden) as u64);
        let mut uniform = |n: usize, scale: f32| (0..n).map(|_| r.random_range(-scale..scale)).collect::<Vec<f32>>();
        let (gi, gh) = (uniform(batch * 4 * hidden, 40.0), uniform(batch * 4 * hidden, 3.0));
        let (state, grad) = (uniform(batch * 2 * hidden, 2.0), uniform(batch * 2 * hidden, 1.0));
        let dims = LstmDims { batch, hidden };
        let on_gpu = run(&gpu(), [&gi, &gh, &state, &grad], dims);
        let on_cpu = run(&Device::cpu(), [&gi, &gh, &state, &grad], dims);
        for (g, c) in on_gpu.iter().zip(&on_cpu) {
            assert!(c.iter().all(|v| v.is_finite()));
            assert_close(g, c, 1e-5, 1e-6);
        }
    }
}

#[test]
fn wrong_lengths_are_errors_naming_the_op() {
    for device in [Device::cpu(), gpu()] {
        let gates = device.from_slice(&[0.0; 8]).unwrap();
        let state = device.from_slice(&[0.0; 3]).unwrap();
        let err = device.lstm_cell(&gates, &gates, &state, LstmDims { batch: 1, hidden: 2 }).unwrap_err().to_string();
        assert!(err.contains("lstm_cell") && err.contains("[1, 4]") && err.contains("3-element state"), "{err}");
        let ok_state = device.from_slice(&[0.0; 4]).unwrap();
        let err = device
            .lstm_cell_grad(&gates, &gates, &ok_state, &state, LstmDims { batch: 1, hidden: 2 }, LstmGrad::Gates)
            .unwrap_err()
            .to_string();
        assert!(err.contains("lstm_cell_grad") && err.contains("3-element gradient"), "{err}");
    }
}
