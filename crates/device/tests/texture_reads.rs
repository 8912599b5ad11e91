//! Kernels that stage their inputs in textures on CPU-backed drivers give what their buffer
//! kernels give, and both what the CPU gives. The switch is process-wide, so runs hold a lock.

use std::sync::Mutex;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use soma_device::testing::{assert_close, gpu};
use soma_device::{AxisDims, BinaryOp, Device, GatherDims, ReduceOp, Storage, StridedView, UnaryOp, UpdateRule};

/// Runs `f` on the GPU with texture reads off, then on.
fn on_both_gpu_paths(inputs: &[&[f32]], f: impl Fn(&Device, &[Storage]) -> Vec<f32>) -> [Vec<f32>; 2] {
    let gpu = gpu();
    let Device::Wgpu(backend) = &gpu else { panic!("gpu() is a wgpu device") };
    static SWITCH: Mutex<()> = Mutex::new(());
    let _switch = SWITCH.lock().unwrap_or_else(|p| p.into_inner());
    let inputs: Vec<Storage> = inputs.iter().map(|x| gpu.from_slice(x).unwrap()).collect();
    let before = backend.set_texture_reads(false);
    let buffers = f(&gpu, &inputs);
    backend.set_texture_reads(true);
    let staged = f(&gpu, &inputs);
    backend.set_texture_reads(before);
    [buffers, staged]
}

/// Runs `f` on the CPU and on the GPU with texture reads off, then on.
fn on_cpu_and_both_gpu_paths(inputs: &[&[f32]], f: impl Fn(&Device, &[Storage]) -> Vec<f32>) -> [Vec<f32>; 3] {
    let cpu = Device::cpu();
    let on_cpu = f(&cpu, &inputs.iter().map(|x| cpu.from_slice(x).unwrap()).collect::<Vec<_>>());
    let [buffers, staged] = on_both_gpu_paths(inputs, f);
    [on_cpu, buffers, staged]
}

#[test]
fn staged_and_buffer_kernels_agree() {
    let mut r = StdRng::seed_from_u64(11);
    // Rows of whole vec4s: one texture row, exactly four, and one full row plus a partial one.
    for (rows, cols) in [(2, 256), (1, 65_536), (5, 4000), (3, 36)] {
        let x: Vec<f32> = (0..rows * cols).map(|_| r.random_range(-8.0..8.0)).collect();
        for log in [false, true] {
            let [cpu, buffers, staged] =
                on_cpu_and_both_gpu_paths(&[&x], |d, x| d.to_vec(&d.softmax(&x[0], rows, cols, log).unwrap()).unwrap());
            assert_close(&buffers, &cpu, 1e-5, 1e-6);
            assert_close(&staged, &cpu, 1e-5, 1e-6);
        }
    }
}

/// A kernel run on a device's copies of the inputs, read back.
type Run<'a> = dyn Fn(&Device, &[Storage]) -> Vec<f32> + 'a;

#[test]
fn staged_elementwise_kernels_agree() {
    let mut r = StdRng::seed_from_u64(12);
    // Below the staging threshold, at it, a partial last vec4 and a partial last texture row; 1
    // to 3 vec4s past a multiple of 4 (staged kernels map 4 adjacent vec4s a thread).
    for n in [1000, 65_536, 65_537, 65_544, 65_546, 300_001] {
        let a: Vec<f32> = (0..n).map(|_| r.random_range(-3.0..3.0)).collect();
        let b: Vec<f32> = (0..n).map(|_| r.random_range(-3.0..3.0)).collect();
        let c: Vec<f32> = (0..n).map(|_| r.random_range(-3.0..3.0)).collect();
        let c2: Vec<f32> = c.iter().map(|v| v * v).collect();
        let read = |d: &Device, s: Storage| d.to_vec(&s).unwrap();
        let adam = UpdateRule::Adam {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.1,
            decoupled: true,
            step: 3,
        };
        let sgd = UpdateRule::Sgd { lr: 0.1, momentum: 0.9, dampening: 0.0, nesterov: true, weight_decay: 0.01 };
        // The new parameter, then each new state.
        let step = |d: &Device, x: &[Storage], rule: &UpdateRule| {
            let state: Vec<&Storage> = x[2..2 + rule.state_count()].iter().collect();
            let (param, state) = d.update(rule, &x[0], &x[1], &state).unwrap();
            let mut out = d.to_vec(&param).unwrap();
            state.iter().for_each(|s| out.extend(d.to_vec(s).unwrap()));
            out
        };
        let runs: [(&str, &Run); 6] = [
            ("adam", &|d, x| step(d, x, &adam)),
            ("sgd", &|d, x| step(d, x, &sgd)),
            ("relu", &|d, x| read(d, d.unary(UnaryOp::Relu, &x[0], 0.0).unwrap())),
            ("sub", &|d, x| read(d, d.binary(BinaryOp::Sub, &x[0], &[n].into(), &x[1], &[n].into()).unwrap())),
            ("scalar", &|d, x| read(d, d.binary_scalar(BinaryOp::Div, &x[0], 2.0, true).unwrap())),
            ("mul_add_relu", &|d, x| read(d, d.mul_add(&x[0], &x[1], &x[2], true).unwrap())),
        ];
        for (name, run) in runs {
            // Adam's second moment must not be negative: it reads b squared.
            let [cpu, buffers, staged] = on_cpu_and_both_gpu_paths(&[&a, &b, &c, &c2], run);
            assert_eq!(cpu.len() % n, 0, "{name}");
            assert_close(&buffers, &cpu, 1e-5, 1e-6);
            assert_close(&staged, &cpu, 1e-5, 1e-6);
        }
    }
}

#[test]
fn staged_reductions_agree() {
    let mut r = StdRng::seed_from_u64(13);
    let x: Vec<f32> = (0..300_000).map(|_| r.random_range(-3.0..3.0)).collect();
    // All of it (split in chunks, then combined), rows, and columns (one thread per output).
    let shapes = [
        AxisDims { outer: 1, axis: 300_000, inner: 1 },
        AxisDims { outer: 300, axis: 1000, inner: 1 },
        AxisDims { outer: 3, axis: 100, inner: 1000 },
    ];
    for dims in shapes {
        for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::ArgMin] {
            let [cpu, buffers, staged] =
                on_cpu_and_both_gpu_paths(&[&x], |d, x| d.to_vec(&d.reduce(op, &x[0], dims).unwrap()).unwrap());
            assert_close(&buffers, &cpu, 1e-5, 1e-3);
            assert_close(&staged, &cpu, 1e-5, 1e-3);
        }
    }
}

#[test]
fn staged_broadcasts_agree() {
    let mut r = StdRng::seed_from_u64(14);
    // A bias over rows (the small input staged with the large one), a column splatted along rows,
    // the broadcast input first; below the threshold, at a texture row, and a partial last row.
    for (rows, cols) in [(4, 8), (128, 256), (300, 1004)] {
        let x: Vec<f32> = (0..rows * cols).map(|_| r.random_range(-3.0..3.0)).collect();
        let bias: Vec<f32> = (0..cols).map(|_| r.random_range(-3.0..3.0)).collect();
        let column: Vec<f32> = (0..rows).map(|_| r.random_range(-3.0..3.0)).collect();
        let full = [rows, cols].into();
        let cases: [(&[f32], soma_device::Shape, bool); 3] =
            [(&bias, [cols].into(), false), (&column, [rows, 1].into(), false), (&bias, [1, cols].into(), true)];
        for (small, shape, small_first) in cases {
            let [cpu, buffers, staged] = on_cpu_and_both_gpu_paths(&[&x, small], |d, x| {
                let out = if small_first {
                    d.binary(BinaryOp::Sub, &x[1], &shape, &x[0], &full)
                } else {
                    d.binary(BinaryOp::Sub, &x[0], &full, &x[1], &shape)
                };
                d.to_vec(&out.unwrap()).unwrap()
            });
            assert_eq!(cpu.len(), rows * cols);
            assert_close(&buffers, &cpu, 1e-5, 1e-6);
            assert_close(&staged, &cpu, 1e-5, 1e-6);
        }
    }
}

#[test]
fn staged_scatter_add_agrees() {
    let mut r = StdRng::seed_from_u64(15);
    // An embedding's gradient (the index repeats along rows of 32), then indices varying along
    // the rows, below the staging threshold and over one texture row.
    for (d, repeat) in [
        (GatherDims { outer: 1, src_axis: 60, index_axis: 1536, inner: 32 }, true),
        (GatherDims { outer: 2, src_axis: 9, index_axis: 30, inner: 8 }, false),
        (GatherDims { outer: 1, src_axis: 5, index_axis: 4100, inner: 4 }, false),
        (GatherDims { outer: 3, src_axis: 7, index_axis: 2000, inner: 3 }, false),
    ] {
        let len = d.outer * d.index_axis * d.inner;
        let src: Vec<f32> = (0..len).map(|_| r.random_range(-3.0..3.0)).collect();
        let index: Vec<f32> = (0..len)
            .map(
                |i| if repeat { ((i / d.inner) * 7 % d.src_axis) as f32 } else { r.random_range(0..d.src_axis) as f32 },
            )
            .collect();
        let [cpu, buffers, staged] = on_cpu_and_both_gpu_paths(&[&src, &index], |dev, x| {
            dev.to_vec(&dev.scatter_add(&x[0], &x[1], d).unwrap()).unwrap()
        });
        assert_eq!(cpu.len(), d.outer * d.src_axis * d.inner);
        assert_close(&buffers, &cpu, 1e-5, 1e-5);
        assert_close(&staged, &cpu, 1e-5, 1e-5);
    }
}

#[test]
fn staged_layout_kernels_agree() {
    let mut r = StdRng::seed_from_u64(16);
    // Below the staging threshold, and over one texture row with a partial last texel.
    for (rows, cols) in [(6, 11), (130, 1003)] {
        let n = rows * cols;
        let x: Vec<f32> = (0..n).map(|_| r.random_range(-3.0..3.0)).collect();
        let y: Vec<f32> = (0..n).map(|_| r.random_range(-3.0..3.0)).collect();
        let cond: Vec<f32> = (0..n).map(|i| f32::from(u8::from(i % 3 == 0))).collect();
        // Rows of x, seen as [rows, cols], picked element by element: at the larger size a quarter
        // of them, so the gather loads (2 per output) pass the staging threshold and the copies
        // stay within STAGE_RATIO of them; the strided view below is sized the same way.
        let picked_rows = (rows / 4).max(2);
        let picks: Vec<f32> = (0..picked_rows * cols).map(|i| ((i / cols + i % 7) * 5 % rows) as f32).collect();
        let picked = GatherDims { outer: 1, src_axis: rows, index_axis: picked_rows, inner: cols };
        let read = |d: &Device, s: Storage| d.to_vec(&s).unwrap();
        // A bias of odd width over the rows, and a column over a rank-3 view of them.
        let bias = |d: &Device| d.from_slice(&y[..cols]).unwrap();
        let column = |d: &Device| d.from_slice(&y[..rows / 2]).unwrap();
        let runs: [(&str, &Run); 9] = [
            ("transpose", &|d, x| {
                let view = StridedView { shape: vec![cols, rows], strides: vec![1, cols], offset: 0 };
                read(d, d.copy_strided(&x[0], &view).unwrap())
            }),
            ("rank-3 view with an offset", &|d, x| {
                let view = StridedView { shape: vec![2, rows / 2, cols / 3], strides: vec![1, 2 * cols, 3], offset: 5 };
                read(d, d.copy_strided(&x[0], &view).unwrap())
            }),
            ("cat", &|d, x| read(d, d.concat(&[(&x[0], cols), (&x[1], cols)], rows, 1).unwrap())),
            ("cat of whole vec4s", &|d, _| {
                let (a, b) = (n / 16, n / 40);
                let parts = [d.from_slice(&x[..8 * a]).unwrap(), d.from_slice(&y[..8 * b]).unwrap()];
                read(d, d.concat(&[(&parts[0], a), (&parts[1], b)], 2, 4).unwrap())
            }),
            ("pad", &|d, x| read(d, d.pad_axis(&x[0], rows, cols, 1, 3, cols + 5).unwrap())),
            ("gather", &|d, x| read(d, d.gather(&x[0], &x[3], picked).unwrap())),
            ("where", &|d, x| read(d, d.where_cond(&x[2], &x[0], &x[1]).unwrap())),
            ("bias of odd width", &|d, x| {
                read(d, d.binary(BinaryOp::Sub, &x[0], &[rows, cols].into(), &bias(d), &[cols].into()).unwrap())
            }),
            ("column over rank 3", &|d, x| {
                let full = [2, rows / 2, cols].into();
                read(d, d.binary(BinaryOp::Mul, &column(d), &[rows / 2, 1].into(), &x[0], &full).unwrap())
            }),
        ];
        for (name, run) in runs {
            let [cpu, buffers, staged] = on_cpu_and_both_gpu_paths(&[&x, &y, &cond, &picks], run);
            assert!(!cpu.is_empty(), "{name}");
            assert_close(&buffers, &cpu, 1e-6, 1e-6);
            assert_close(&staged, &cpu, 1e-6, 1e-6);
        }
        // An index out of range gives NaN where it is read, on both GPU paths (the CPU errs).
        let mut bad_picks = picks.clone();
        bad_picks[cols + 1] = rows as f32;
        let [good, ..] =
            on_cpu_and_both_gpu_paths(&[&x, &picks], |d, x| read(d, d.gather(&x[0], &x[1], picked).unwrap()));
        for out in on_both_gpu_paths(&[&x, &bad_picks], |d, x| read(d, d.gather(&x[0], &x[1], picked).unwrap())) {
            assert!(out[cols + 1].is_nan());
            let rest: Vec<usize> = (0..out.len()).filter(|&i| i != cols + 1).collect();
            let pick = |v: &[f32]| rest.iter().map(|&i| v[i]).collect::<Vec<_>>();
            assert_close(&pick(&out), &pick(&good), 0.0, 0.0);
        }
    }
}

#[test]
fn a_reused_buffer_is_copied_again() {
    // A staged input keeps its texture copy while it lives; a tensor that gets its buffer from the
    // pool afterwards must not read that copy. Same size each round, so the pool hands the buffer on.
    let mut r = StdRng::seed_from_u64(17);
    let n = 70_000;
    for _ in 0..4 {
        let x: Vec<f32> = (0..n).map(|_| r.random_range(-3.0..3.0)).collect();
        let [cpu, buffers, staged] = on_cpu_and_both_gpu_paths(&[&x], |d, x| {
            // Read twice: the second kernel reuses the first one's copy.
            let once = d.unary(UnaryOp::Relu, &x[0], 0.0).unwrap();
            let twice = d.binary(BinaryOp::Add, &x[0], &[n].into(), &once, &[n].into()).unwrap();
            d.to_vec(&twice).unwrap()
        });
        assert_close(&buffers, &cpu, 1e-6, 1e-6);
        assert_close(&staged, &cpu, 1e-6, 1e-6);
    }
}
