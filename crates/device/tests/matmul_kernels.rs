//! The GPU matmul kernels agree with the CPU: the one `Device::matmul` picks on this adapter (on
//! lavapipe the texture kernel), the buffer-only subgroup kernel it falls back to
//! (`WgpuBackend::matmul_subgroup`), and the portable kernels other GPUs use
//! (`WgpuBackend::matmul_portable`).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use soma_device::testing::{assert_close, gpu};
use soma_device::{Backend, BinaryOp, CpuBackend, Device, MatmulDims, Shape, WgpuBackend};

fn backend() -> WgpuBackend {
    match gpu() {
        Device::Wgpu(b) => b,
        Device::Cpu(_) => unreachable!("testing::gpu gives a GPU"),
    }
}

fn uniform(n: usize, seed: u64) -> Vec<f32> {
    let mut r = StdRng::seed_from_u64(seed);
    (0..n).map(|_| r.random_range(-1.0..1.0)).collect()
}

/// Shapes covering m = 1, n = 1, k = 1, k = 0, odd sizes, sizes divisible by 4 (the vec4 kernels),
/// partial 32 x 64 tiles, k not a multiple of 8, and batches.
const SHAPES: &[(usize, usize, usize, usize)] = &[
    (1, 1, 1, 1),
    (1, 1, 7, 5),
    (1, 5, 1, 3),
    (1, 3, 4, 1),
    (1, 4, 8, 0),
    (1, 127, 129, 131),
    (1, 64, 64, 64),
    (1, 33, 65, 9),
    (1, 32, 128, 12),
    (3, 17, 20, 36),
    (4, 31, 63, 15),
    (2, 40, 1, 100),
];

#[test]
fn both_kernels_agree_with_the_cpu_for_every_transpose() {
    let (g, cpu) = (backend(), CpuBackend);
    for (i, &(batch, m, n, k)) in SHAPES.iter().enumerate() {
        for (transpose_a, transpose_b) in [(false, false), (false, true), (true, false), (true, true)] {
            let dims = MatmulDims { batch, m, n, k, transpose_a, transpose_b };
            let a = uniform(batch * m * k, 2 * i as u64);
            let b = uniform(batch * k * n, 2 * i as u64 + 1);
            let want =
                cpu.to_vec(&cpu.matmul(&cpu.from_slice(&a).unwrap(), &cpu.from_slice(&b).unwrap(), dims).unwrap());
            let (ga, gb) = (g.from_slice(&a).unwrap(), g.from_slice(&b).unwrap());
            let chosen = g.to_vec(&g.matmul(&ga, &gb, dims).unwrap()).unwrap();
            let portable = g.to_vec(&g.matmul_portable(&ga, &gb, dims).unwrap()).unwrap();
            let want = want.unwrap();
            assert_close(&chosen, &want, 1e-4, 1e-5);
            assert_close(&portable, &want, 1e-4, 1e-5);
        }
    }
}

fn check(g: &WgpuBackend, dims: MatmulDims, seed: u64) {
    let cpu = CpuBackend;
    let (batch, m, n, k) = (dims.batch, dims.m, dims.n, dims.k);
    let a = uniform(batch * m * k, seed);
    let b = uniform(batch * k * n, seed + 1);
    let want = cpu.to_vec(&cpu.matmul(&cpu.from_slice(&a).unwrap(), &cpu.from_slice(&b).unwrap(), dims).unwrap());
    let want = want.unwrap();
    let (ga, gb) = (g.from_slice(&a).unwrap(), g.from_slice(&b).unwrap());
    let tol = 1e-5 * (k as f32).sqrt().max(1.0);
    assert_close(&g.to_vec(&g.matmul(&ga, &gb, dims).unwrap()).unwrap(), &want, 1e-4, tol);
    if let Some(out) = g.matmul_subgroup(&ga, &gb, dims) {
        assert_close(&g.to_vec(&out.unwrap()).unwrap(), &want, 1e-4, tol);
    }
}

/// Shapes for the texture kernel's 32-row panels and 4-wide texels of k: partial panels and
/// texels, several panels each way, batches; with k a multiple of 4, operands stored rows x k are
/// read in place (A unless transposed, B when transposed), and k-major ones with whole texels of
/// rows too.
#[test]
fn texture_kernel_agrees_with_the_cpu() {
    let g = backend();
    let shapes = [
        (1, 1, 1, 1),
        (1, 3, 5, 7),
        (1, 65, 130, 33),
        (2, 64, 96, 128),
        (3, 33, 70, 12),
        (5, 33, 31, 9),
        (1, 200, 70, 517),
        (1, 257, 259, 263),
        (2, 320, 256, 258),
        // Whole texels everywhere, so k-major operands are read in place too (A transposed, B
        // not), with partial panels and a batch; then k-contiguous ones too long for that.
        (3, 36, 44, 20),
        (2, 36, 70, 20),
        (1, 36, 68, 2052),
        // Rows a multiple of 2 KB long: k-contiguous operands are read from pitched copies (one row
        // to a texture row), with partial panels and batches.
        (2, 40, 36, 512),
        (1, 33, 65, 512),
        (3, 70, 36, 1024),
        (1, 36, 68, 2048),
    ];
    for (i, &(batch, m, n, k)) in shapes.iter().enumerate() {
        for (transpose_a, transpose_b) in [(false, false), (false, true), (true, false), (true, true)] {
            check(&g, MatmulDims { batch, m, n, k, transpose_a, transpose_b }, 100 + 2 * i as u64);
        }
    }
}

/// A tensor keeps one texture copy: read by a matmul as a pitched copy, then staged by an
/// elementwise kernel (a copy of another layout replaces it), then by the matmul again.
#[test]
fn a_pitched_copy_and_a_staged_one_take_turns() {
    let g = backend();
    let cpu = CpuBackend;
    let dims = MatmulDims { batch: 1, m: 64, n: 40, k: 512, transpose_a: false, transpose_b: true };
    let (a, b) = (uniform(64 * 512, 11), uniform(40 * 512, 12));
    let want = cpu.to_vec(&cpu.matmul(&cpu.from_slice(&a).unwrap(), &cpu.from_slice(&b).unwrap(), dims).unwrap());
    let want = want.unwrap();
    let (ga, gb) = (g.from_slice(&a).unwrap(), g.from_slice(&b).unwrap());
    let doubled: Vec<f32> = a.iter().map(|v| v + v).collect();
    for _ in 0..2 {
        assert_close(&g.to_vec(&g.matmul(&ga, &gb, dims).unwrap()).unwrap(), &want, 1e-4, 1e-4);
        let shape = Shape::new([64 * 512]);
        let sum = g.binary(BinaryOp::Add, &ga, &shape, &ga, &shape).unwrap();
        assert_eq!(g.to_vec(&sum).unwrap(), doubled);
    }
}

/// k = 262,150 needs 65,538 workgroups along k to pack, more than a grid dimension holds (65,535
/// on lavapipe), so the texture kernel declines and the subgroup kernel computes the product.
#[test]
fn too_long_for_the_texture_kernel_falls_back() {
    let g = backend();
    for (transpose_a, transpose_b) in [(false, false), (true, true)] {
        check(&g, MatmulDims { batch: 1, m: 2, n: 3, k: 262_150, transpose_a, transpose_b }, 7);
    }
}

/// `backend.linear` of `x`, `w` and (when `with_bias`) `bias`, read back.
fn linear_on<B: Backend>(
    backend: &B,
    [x, w, bias]: [&[f32]; 3],
    dims: MatmulDims,
    with_bias: bool,
    relu: bool,
) -> Vec<f32> {
    let [x, w, bias] = [x, w, bias].map(|v| backend.from_slice(v).unwrap());
    let y = backend.linear(&x, &w, dims, with_bias.then_some(&bias), relu).unwrap();
    backend.to_vec(&y).unwrap()
}

/// `linear` (a layer's product, bias and ReLU): on lavapipe one texture kernel whose epilogue adds
/// the bias and applies the ReLU (vec4 stores where n is a multiple of 4), and the unfused ops
/// where the texture kernel does not apply (k = 0); equal to the CPU's product, bias and ReLU.
#[test]
fn linear_epilogue_agrees_with_the_cpu() {
    let (g, cpu) = (backend(), CpuBackend);
    let shapes = [(1, 1, 1), (3, 5, 4), (6, 8, 4), (33, 36, 20), (128, 256, 784), (128, 10, 128), (5, 7, 0)];
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        let dims = MatmulDims { batch: 1, m, n, k, transpose_a: false, transpose_b: true };
        let (x, w, bias) =
            (uniform(m * k, 3 * i as u64), uniform(n * k, 3 * i as u64 + 1), uniform(n, 3 * i as u64 + 2));
        for (with_bias, relu) in [(true, true), (true, false), (false, true), (false, false)] {
            let want = linear_on(&cpu, [&x, &w, &bias], dims, with_bias, relu);
            let got = linear_on(&g, [&x, &w, &bias], dims, with_bias, relu);
            // The CPU's epilogue against the plain product, by hand.
            let plain = cpu
                .to_vec(&cpu.matmul(&cpu.from_slice(&x).unwrap(), &cpu.from_slice(&w).unwrap(), dims).unwrap())
                .unwrap();
            let by_hand: Vec<f32> = plain
                .iter()
                .enumerate()
                .map(|(j, &v)| {
                    let v = if with_bias { v + bias[j % n] } else { v };
                    if relu { v.max(0.0) } else { v }
                })
                .collect();
            assert_close(&want, &by_hand, 1e-6, 1e-7);
            // Sums of k products that cancel to a small value carry rounding of the products'
            // size: at k = 784 the CPU kernels (AVX2 or portable) and the GPU land up to 2.3e-5 apart.
            assert_close(&got, &want, 1e-4, 1e-5 * (k.max(1) as f32).sqrt());
            if relu {
                assert!(got.contains(&0.0) || m * n < 4, "{m}x{n}x{k}: the ReLU clipped nothing");
            }
        }
    }
}

#[test]
fn an_infinity_in_the_last_row_of_b_stays_infinite_on_every_kernel() {
    // k = 3 is not a multiple of the subgroup kernel's 8 steps: its steps past k once multiplied
    // A's zeros by B's clamped last row, 0 * inf = NaN.
    let g = backend();
    let dims = MatmulDims { batch: 1, m: 2, n: 2, k: 3, transpose_a: false, transpose_b: false };
    let (a, b) = ([1.0, 1.0, 1.0, 0.5, 0.5, 0.5], [1.0, 2.0, 3.0, 4.0, f32::INFINITY, 1.0]);
    let want = [f32::INFINITY, 7.0, f32::INFINITY, 3.5];
    let (ga, gb) = (g.from_slice(&a).unwrap(), g.from_slice(&b).unwrap());
    assert_eq!(g.to_vec(&g.matmul(&ga, &gb, dims).unwrap()).unwrap(), want);
    let out = g.matmul_subgroup(&ga, &gb, dims).expect("the subgroup kernel runs on lavapipe").unwrap();
    assert_eq!(g.to_vec(&out).unwrap(), want);
    let cpu = CpuBackend;
    let c = cpu.matmul(&cpu.from_slice(&a).unwrap(), &cpu.from_slice(&b).unwrap(), dims).unwrap();
    assert_eq!(cpu.to_vec(&c).unwrap(), want);
}
