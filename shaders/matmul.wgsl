// Batched matmul `C[b] = op(A[b]) x op(B[b])`, `op` a transpose when `TRANS_A` / `TRANS_B`.
//
// Register-tiled for SIMD drivers: a workgroup owns `TM` rows (the same for all its threads, so
// the loads of A are uniform and become scalar broadcasts on lavapipe) and `WG * TN` columns; each
// thread accumulates a `TM x TN` tile, its columns `WG` apart so neighbouring threads read
// neighbouring elements of B. Indices are clamped, so edge tiles read in bounds and skip the stores.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    row_offset: u32,
    batch_offset: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override WG: u32 = 64u;
override TM: u32 = 8u;
override TN: u32 = 1u;

// Upper bounds of the tile, for the private arrays (whose sizes must be constant).
const MAX_TM: u32 = 16u;
const MAX_TN: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn load_a(base: u32, row: u32, kk: u32) -> f32 {
    if TRANS_A {
        return a[base + kk * p.m + row];
    }
    return a[base + row * p.k + kk];
}

fn load_b(base: u32, kk: u32, col: u32) -> f32 {
    if TRANS_B {
        return b[base + col * p.k + kk];
    }
    return b[base + kk * p.n + col];
}

@compute @workgroup_size(WG)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let batch = wg.z + p.batch_offset;
    let row0 = (wg.y + p.row_offset) * TM;
    let col0 = wg.x * WG * TN + li;
    let a_base = batch * p.m * p.k;
    let b_base = batch * p.k * p.n;

    var rows: array<u32, MAX_TM>;
    for (var r = 0u; r < TM; r++) {
        rows[r] = min(row0 + r, p.m - 1u);
    }
    var cols: array<u32, MAX_TN>;
    for (var j = 0u; j < TN; j++) {
        cols[j] = min(col0 + j * WG, p.n - 1u);
    }

    var acc: array<f32, 64>;
    for (var i = 0u; i < TM * TN; i++) {
        acc[i] = 0.0;
    }
    for (var kk = 0u; kk < p.k; kk++) {
        var bv: array<f32, MAX_TN>;
        for (var j = 0u; j < TN; j++) {
            bv[j] = load_b(b_base, kk, cols[j]);
        }
        for (var r = 0u; r < TM; r++) {
            let av = load_a(a_base, rows[r], kk);
            for (var j = 0u; j < TN; j++) {
                acc[r * TN + j] = fma(av, bv[j], acc[r * TN + j]);
            }
        }
    }

    let c_base = batch * p.m * p.n;
    for (var r = 0u; r < TM; r++) {
        let row = row0 + r;
        for (var j = 0u; j < TN; j++) {
            let col = col0 + j * WG;
            if row < p.m && col < p.n {
                c[c_base + row * p.n + col] = acc[r * TN + j];
            }
        }
    }
}
