//! The fused recurrent cells (LSTM, GRU): literal values (numpy, float64; the gradients also match
//! its finite differences), the GPU against the CPU on random rows, and shape errors.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use soma_device::testing::{assert_close, gpu};
use soma_device::{CellDims, CellGrad, CellKind, Device, Storage};

const GRADS: [CellGrad; 3] = [CellGrad::Input, CellGrad::Hidden, CellGrad::State];

/// Runs the step and its gradients on `device`: the next state, then the gradients of gi, gh and
/// the state.
fn run(device: &Device, [gi, gh, state, grad]: [&[f32]; 4], dims: CellDims) -> [Vec<f32>; 4] {
    let [gi, gh, state, grad]: [Storage; 4] = [gi, gh, state, grad].map(|x| device.from_slice(x).unwrap());
    let next = device.cell_step(&gi, &gh, &state, dims).unwrap();
    let [a, b, c] = GRADS.map(|wrt| device.cell_grad(&gi, &gh, &state, &grad, dims, wrt).unwrap());
    [&next, &a, &b, &c].map(|s| device.to_vec(s).unwrap())
}

/// One literal case: the kind, the inputs gi, gh, state, grad, and the expected next state and
/// gradients of gi, gh and the state.
type Literal = (CellKind, [&'static [f32]; 4], [&'static [f32]; 4]);

#[test]
fn literal_steps_and_gradients() {
    // One row of two units each. LSTM: gate blocks i, f, g, o and the state (h, c).
    let lstm_gates: &[f32] = &[
        -0.032_044_16,
        0.034_811_41,
        0.160_754_52,
        -0.083_358_74,
        0.898_323_5,
        0.054_716_38,
        0.014_915_2,
        0.100_842_85,
    ];
    let lstm: Literal = (
        CellKind::Lstm,
        [
            &[0.5, -1.0, 1.0, 0.2, -0.3, 0.8, 2.0, -0.5],
            &[0.1, 0.3, -0.4, 0.6, 0.2, -0.1, -1.0, 0.25],
            &[0.7, -0.2, 0.5, -1.5],
            &[0.3, -0.6, 1.2, 0.4],
        ],
        [
            &[0.184_863_05, -0.298_965_56, 0.258_476_88, -0.834_425_1],
            lstm_gates,
            lstm_gates,
            &[0.0, 0.0, 0.907_336_7, 0.179_251_35],
        ],
    );
    // GRU: gate blocks r, z, n and the state h; gh's gradient differs from gi's in the n block.
    let gru: Literal = (
        CellKind::Gru,
        [&[0.5, -1.0, 1.0, 0.2, -0.3, 0.8], &[0.1, 0.3, -0.4, 0.6, 0.7, -0.9], &[0.6, -0.4], &[0.3, -0.7]],
        [
            &[0.440_828_97, -0.132_388_1],
            &[0.016_637_19, 0.034_013_29, 0.030_830_93, 0.129_251_76, 0.103_885_69, -0.170_457_14],
            &[0.016_637_19, 0.034_013_29, 0.030_830_93, 0.129_251_76, 0.067_074_45, -0.056_559_76],
            &[0.193_696_89, -0.482_982_14],
        ],
    );
    for (kind, inputs, expected) in [lstm, gru] {
        for device in [Device::cpu(), gpu()] {
            let got = run(&device, inputs, CellDims { kind, batch: 1, hidden: 2 });
            for (got, want) in got.iter().zip(expected) {
                assert_close(got, want, 1e-5, 1e-6);
            }
        }
    }
}

#[test]
fn gpu_steps_equal_cpu_steps() {
    // No units, odd sizes, more units than one workgroup, and pre-activations large enough to saturate.
    for kind in [CellKind::Lstm, CellKind::Gru] {
        for (batch, hidden) in [(2, 0), (1, 1), (3, 5), (32, 128), (7, 300)] {
            let mut r = StdRng::seed_from_u64((batch * hidden) as u64);
            let mut uniform =
                |n: usize, scale: f32| (0..n).map(|_| r.random_range(-scale..scale)).collect::<Vec<f32>>();
            let dims = CellDims { kind, batch, hidden };
            let (gi, gh) = (uniform(dims.gates_len(), 40.0), uniform(dims.gates_len(), 3.0));
            let (state, grad) = (uniform(dims.state_len(), 2.0), uniform(dims.state_len(), 1.0));
            let on_gpu = run(&gpu(), [&gi, &gh, &state, &grad], dims);
            let on_cpu = run(&Device::cpu(), [&gi, &gh, &state, &grad], dims);
            for (g, c) in on_gpu.iter().zip(&on_cpu) {
                assert!(c.iter().all(|v| v.is_finite()), "{kind:?}");
                assert_close(g, c, 1e-5, 1e-6);
            }
        }
    }
}

#[test]
fn wrong_lengths_are_errors_naming_the_op() {
    for device in [Device::cpu(), gpu()] {
        let gates = device.from_slice(&[0.0; 8]).unwrap();
        let state = device.from_slice(&[0.0; 3]).unwrap();
        let lstm = CellDims { kind: CellKind::Lstm, batch: 1, hidden: 2 };
        let err = device.cell_step(&gates, &gates, &state, lstm).unwrap_err().to_string();
        assert!(err.contains("lstm_cell") && err.contains("[1, 4]") && err.contains("3-element state"), "{err}");
        let ok_state = device.from_slice(&[0.0; 4]).unwrap();
        let err = device.cell_grad(&gates, &gates, &ok_state, &state, lstm, CellGrad::Input).unwrap_err().to_string();
        assert!(err.contains("lstm_cell") && err.contains("3-element gradient"), "{err}");
        let gru = CellDims { kind: CellKind::Gru, batch: 1, hidden: 2 };
        let err = device.cell_step(&gates, &gates, &ok_state, gru).unwrap_err().to_string();
        assert!(err.contains("gru_cell") && err.contains("[1, 6]") && err.contains("got 8 and 8"), "{err}");
    }
}
