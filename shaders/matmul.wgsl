// Batched matmul `C[b] = op(A[b]) x op(B[b])`, `op` a transpose when `TRANS_A` / `TRANS_B`.
//
// Register-tiled for SIMD drivers such as lavapipe, where a load whose address differs between
// invocations costs a loop over the lanes but a load every invocation shares is one scalar load:
// a workgroup owns 8 rows, the same for all its threads, so every load of A is uniform; each
// thread owns one column (`matmul`) or four (`matmul_vec4`, B read as vec4 rows) or reads four
// k-steps of a transposed B at once (`matmul_bt_vec4`), and keeps its 8 sums in registers.
// `WG`, the threads per workgroup, is an override constant. Indices are clamped, so edge tiles
// read in bounds and skip their stores.

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

@compute @workgroup_size(WG)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let batch = wg.z + p.batch_offset;
    let row0 = (wg.y + p.row_offset) * 8u;
    let col = wg.x * WG + li;
    let cc = min(col, p.n - 1u);
    let a_base = batch * p.m * p.k;
    let b_base = batch * p.k * p.n;
    let r0 = min(row0 + 0u, p.m - 1u);
    let r1 = min(row0 + 1u, p.m - 1u);
    let r2 = min(row0 + 2u, p.m - 1u);
    let r3 = min(row0 + 3u, p.m - 1u);
    let r4 = min(row0 + 4u, p.m - 1u);
    let r5 = min(row0 + 5u, p.m - 1u);
    let r6 = min(row0 + 6u, p.m - 1u);
    let r7 = min(row0 + 7u, p.m - 1u);
    var c0 = 0.0;
    var c1 = 0.0;
    var c2 = 0.0;
    var c3 = 0.0;
    var c4 = 0.0;
    var c5 = 0.0;
    var c6 = 0.0;
    var c7 = 0.0;
    for (var kk = 0u; kk < p.k; kk++) {
        let bv = load_b(b_base, kk, cc);
        c0 = fma(load_a(a_base, r0, kk), bv, c0);
        c1 = fma(load_a(a_base, r1, kk), bv, c1);
        c2 = fma(load_a(a_base, r2, kk), bv, c2);
        c3 = fma(load_a(a_base, r3, kk), bv, c3);
        c4 = fma(load_a(a_base, r4, kk), bv, c4);
        c5 = fma(load_a(a_base, r5, kk), bv, c5);
        c6 = fma(load_a(a_base, r6, kk), bv, c6);
        c7 = fma(load_a(a_base, r7, kk), bv, c7);
    }
    if col < p.n {
        let c_base = batch * p.m * p.n;
        store(c_base, row0 + 0u, col, c0);
        store(c_base, row0 + 1u, col, c1);
        store(c_base, row0 + 2u, col, c2);
        store(c_base, row0 + 3u, col, c3);
        store(c_base, row0 + 4u, col, c4);
        store(c_base, row0 + 5u, col, c5);
        store(c_base, row0 + 6u, col, c6);
        store(c_base, row0 + 7u, col, c7);
    }
}

// B not transposed, n % 4 == 0: each thread owns columns 4 * col4 .. 4 * col4 + 3.
@compute @workgroup_size(WG)
fn matmul_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let batch = wg.z + p.batch_offset;
    let row0 = (wg.y + p.row_offset) * 8u;
    let n4 = p.n / 4u;
    let col4 = wg.x * WG + li;
    let cc4 = min(col4, n4 - 1u);
    let a_base = batch * p.m * p.k;
    let b_base4 = batch * p.k * n4;
    let r0 = min(row0 + 0u, p.m - 1u);
    let r1 = min(row0 + 1u, p.m - 1u);
    let r2 = min(row0 + 2u, p.m - 1u);
    let r3 = min(row0 + 3u, p.m - 1u);
    let r4 = min(row0 + 4u, p.m - 1u);
    let r5 = min(row0 + 5u, p.m - 1u);
    let r6 = min(row0 + 6u, p.m - 1u);
    let r7 = min(row0 + 7u, p.m - 1u);
    var c0 = vec4<f32>(0.0);
    var c1 = vec4<f32>(0.0);
    var c2 = vec4<f32>(0.0);
    var c3 = vec4<f32>(0.0);
    var c4 = vec4<f32>(0.0);
    var c5 = vec4<f32>(0.0);
    var c6 = vec4<f32>(0.0);
    var c7 = vec4<f32>(0.0);
    for (var kk = 0u; kk < p.k; kk++) {
        let bv = b4[b_base4 + kk * n4 + cc4];
        c0 = fma(vec4<f32>(load_a(a_base, r0, kk)), bv, c0);
        c1 = fma(vec4<f32>(load_a(a_base, r1, kk)), bv, c1);
        c2 = fma(vec4<f32>(load_a(a_base, r2, kk)), bv, c2);
        c3 = fma(vec4<f32>(load_a(a_base, r3, kk)), bv, c3);
        c4 = fma(vec4<f32>(load_a(a_base, r4, kk)), bv, c4);
        c5 = fma(vec4<f32>(load_a(a_base, r5, kk)), bv, c5);
        c6 = fma(vec4<f32>(load_a(a_base, r6, kk)), bv, c6);
        c7 = fma(vec4<f32>(load_a(a_base, r7, kk)), bv, c7);
    }
    if col4 < n4 {
        let c_base = batch * p.m * p.n;
        store4(c_base, row0 + 0u, col4, c0);
        store4(c_base, row0 + 1u, col4, c1);
        store4(c_base, row0 + 2u, col4, c2);
        store4(c_base, row0 + 3u, col4, c3);
        store4(c_base, row0 + 4u, col4, c4);
        store4(c_base, row0 + 5u, col4, c5);
        store4(c_base, row0 + 6u, col4, c6);
        store4(c_base, row0 + 7u, col4, c7);
    }
}

// B transposed (stored [n, k]), k % 4 == 0: each thread reads four k-steps of its column at once.
@compute @workgroup_size(WG)
fn matmul_bt_vec4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let batch = wg.z + p.batch_offset;
    let row0 = (wg.y + p.row_offset) * 8u;
    let col = wg.x * WG + li;
    let cc = min(col, p.n - 1u);
    let k4 = p.k / 4u;
    let a_base = batch * p.m * p.k;
    let b_row4 = (batch * p.n + cc) * k4;
    let r0 = min(row0 + 0u, p.m - 1u);
    let r1 = min(row0 + 1u, p.m - 1u);
    let r2 = min(row0 + 2u, p.m - 1u);
    let r3 = min(row0 + 3u, p.m - 1u);
    let r4 = min(row0 + 4u, p.m - 1u);
    let r5 = min(row0 + 5u, p.m - 1u);
    let r6 = min(row0 + 6u, p.m - 1u);
    let r7 = min(row0 + 7u, p.m - 1u);
    var c0 = 0.0;
    var c1 = 0.0;
    var c2 = 0.0;
    var c3 = 0.0;
    var c4 = 0.0;
    var c5 = 0.0;
    var c6 = 0.0;
    var c7 = 0.0;
    for (var q = 0u; q < k4; q++) {
        let bv = b4[b_row4 + q];
        let kk = q * 4u;
        c0 += dot(vec4<f32>(load_a(a_base, r0, kk), load_a(a_base, r0, kk + 1u), load_a(a_base, r0, kk + 2u), load_a(a_base, r0, kk + 3u)), bv);
        c1 += dot(vec4<f32>(load_a(a_base, r1, kk), load_a(a_base, r1, kk + 1u), load_a(a_base, r1, kk + 2u), load_a(a_base, r1, kk + 3u)), bv);
        c2 += dot(vec4<f32>(load_a(a_base, r2, kk), load_a(a_base, r2, kk + 1u), load_a(a_base, r2, kk + 2u), load_a(a_base, r2, kk + 3u)), bv);
        c3 += dot(vec4<f32>(load_a(a_base, r3, kk), load_a(a_base, r3, kk + 1u), load_a(a_base, r3, kk + 2u), load_a(a_base, r3, kk + 3u)), bv);
        c4 += dot(vec4<f32>(load_a(a_base, r4, kk), load_a(a_base, r4, kk + 1u), load_a(a_base, r4, kk + 2u), load_a(a_base, r4, kk + 3u)), bv);
        c5 += dot(vec4<f32>(load_a(a_base, r5, kk), load_a(a_base, r5, kk + 1u), load_a(a_base, r5, kk + 2u), load_a(a_base, r5, kk + 3u)), bv);
        c6 += dot(vec4<f32>(load_a(a_base, r6, kk), load_a(a_base, r6, kk + 1u), load_a(a_base, r6, kk + 2u), load_a(a_base, r6, kk + 3u)), bv);
        c7 += dot(vec4<f32>(load_a(a_base, r7, kk), load_a(a_base, r7, kk + 1u), load_a(a_base, r7, kk + 2u), load_a(a_base, r7, kk + 3u)), bv);
    }
    if col < p.n {
        let c_base = batch * p.m * p.n;
        store(c_base, row0 + 0u, col, c0);
        store(c_base, row0 + 1u, col, c1);
        store(c_base, row0 + 2u, col, c2);
        store(c_base, row0 + 3u, col, c3);
        store(c_base, row0 + 4u, col, c4);
        store(c_base, row0 + 5u, col, c5);
        store(c_base, row0 + 6u, col, c6);
        store(c_base, row0 + 7u, col, c7);
    }
}
