// Batched matmul `C[b] = op(A[b]) x op(B[b])`, `op` a transpose when `TRANS_A` / `TRANS_B`.
//
// The portable kernels (GPUs; CPU-backed drivers use matmul_texture.wgsl). A workgroup owns `ROWS`
// rows, the same for all its threads, so every load of A is shared; each thread owns one column
// (`matmul`) or four (`matmul_vec4`, B read as vec4 rows) or reads four k-steps of a transposed B
// at once (`matmul_bt_vec4`), and keeps its `ROWS` sums in registers (the row loops have constant
// trip counts, which GPU compilers unroll). `WG`, the threads per workgroup, is an override
// constant. Indices are clamped, so edge tiles read in bounds and skip their stores.

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
// Rows per workgroup (the host's grid uses the same 8).
const ROWS: u32 = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> c4: array<vec4<f32>>;

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

fn store(base: u32, row: u32, col: u32, v: f32) {
    if row < p.m {
        c[base + row * p.n + col] = v;
    }
}

fn store4(base: u32, row: u32, col4: u32, v: vec4<f32>) {
    if row < p.m {
        c4[(base + row * p.n) / 4u + col4] = v;
    }
}

// The rows of the tile, clamped into A.
fn tile_rows(row0: u32) -> array<u32, ROWS> {
    var rows: array<u32, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
        rows[r] = min(row0 + r, p.m - 1u);
    }
    return rows;
}

@compute @workgroup_size(WG)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let batch = wg.z + p.batch_offset;
    let row0 = (wg.y + p.row_offset) * ROWS;
    let col = wg.x * WG + li;
    let cc = min(col, p.n - 1u);
    let a_base = batch * p.m * p.k;
    let b_base = batch * p.k * p.n;
    let rows = tile_rows(row0);
    var acc: array<f32, ROWS>;
    for (var kk = 0u; kk < p.k; kk++) {
        let bv = load_b(b_base, kk, cc);
        for (var r = 0u; r < ROWS; r++) {
            acc[r] = fma(load_a(a_base, rows[r], kk), bv, acc[r]);
        }
    }
    if col < p.n {
        for (var r = 0u; r < ROWS; r++) {
            store(batch * p.m * p.n, row0 + r, col, acc[r]);
        }
    }
}

// B not transposed, n % 4 == 0: each thread owns columns 4 * col4 .. 4 * col4 + 3.
@compute @workgroup_size(WG)
fn matmul_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let batch = wg.z + p.batch_offset;
    let row0 = (wg.y + p.row_offset) * ROWS;
    let n4 = p.n / 4u;
    let col4 = wg.x * WG + li;
    let cc4 = min(col4, n4 - 1u);
    let a_base = batch * p.m * p.k;
    let b_base4 = batch * p.k * n4;
    let rows = tile_rows(row0);
    var acc: array<vec4<f32>, ROWS>;
    for (var kk = 0u; kk < p.k; kk++) {
        let bv = b4[b_base4 + kk * n4 + cc4];
        for (var r = 0u; r < ROWS; r++) {
            acc[r] = fma(vec4(load_a(a_base, rows[r], kk)), bv, acc[r]);
        }
    }
    if col4 < n4 {
        for (var r = 0u; r < ROWS; r++) {
            store4(batch * p.m * p.n, row0 + r, col4, acc[r]);
        }
    }
}

// B transposed (stored [n, k]), k % 4 == 0: each thread reads four k-steps of its column at once.
@compute @workgroup_size(WG)
fn matmul_bt_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let batch = wg.z + p.batch_offset;
    let row0 = (wg.y + p.row_offset) * ROWS;
    let col = wg.x * WG + li;
    let cc = min(col, p.n - 1u);
    let k4 = p.k / 4u;
    let a_base = batch * p.m * p.k;
    let b_row4 = (batch * p.n + cc) * k4;
    let rows = tile_rows(row0);
    var acc: array<f32, ROWS>;
    for (var q = 0u; q < k4; q++) {
        let bv = b4[b_row4 + q];
        let kk = q * 4u;
        for (var r = 0u; r < ROWS; r++) {
            let row = rows[r];
            let av = vec4(load_a(a_base, row, kk), load_a(a_base, row, kk + 1u), load_a(a_base, row, kk + 2u),
                load_a(a_base, row, kk + 3u));
            acc[r] += dot(av, bv);
        }
    }
    if col < p.n {
        for (var r = 0u; r < ROWS; r++) {
            store(batch * p.m * p.n, row0 + r, col, acc[r]);
        }
    }
}
