// Batched matmul for CPU-backed drivers with 8-wide subgroups (lavapipe). There, every load
// from a storage buffer is a loop over the 8 SIMD lanes (~10 ns per lane), while arithmetic and
// subgroup shuffles are plain vector instructions, so the kernel is built to load as little as
// possible per multiply-add. A workgroup is one subgroup of 8 lanes computing a 64 x 64 tile of
// C; lane `l` owns columns `col0 + 8 t + l` (t < 8) of all 64 rows, 512 sums (registers and L1).
// Per 8 steps of k, lane `l` loads A[row, k0 + l] for the 64 rows (64 loads) and each step shares
// them with `subgroupShuffle`; B costs 8 loads per step. That is 16 loads per 512 multiply-adds
// instead of one load per multiply-add. The tile is spelled out through helpers called with
// literal indices: after inlining, every array index is a constant and the arrays live in
// registers (a loop over them stays a loop on Mesa and indexes memory). Indices are clamped, so
// edge tiles read in bounds; steps past k read A as 0; stores outside C are skipped.

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

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// acc[r][t]: the sum for row `row0 + r`, column `col0 + 8 t + lane`.
var<private> acc: array<array<f32, 8>, 64>;
// va[r]: A[row0 + r, k0 + lane]; vb[t]: B[kk, col0 + 8 t + lane].
var<private> va: array<f32, 64>;
var<private> vb: array<f32, 8>;
var<private> row0: u32;
var<private> col0: u32;
var<private> lane: u32;
var<private> k0: u32;
var<private> a_base: u32;
var<private> b_base: u32;

fn load_a(r: u32) {
    let row = min(row0 + r, p.m - 1u);
    let kk = min(k0 + lane, p.k - 1u);
    var at = a_base + row * p.k + kk;
    if TRANS_A {
        at = a_base + kk * p.m + row;
    }
    va[r] = select(0.0, a[at], k0 + lane < p.k);
}

// `valid`: k is inside B; past it B reads as 0 like A, or an inf in B's last row would make 0 * inf.
fn load_b(kk: u32, t: u32, valid: bool) {
    let col = min(col0 + 8u * t + lane, p.n - 1u);
    var at = b_base + kk * p.n + col;
    if TRANS_B {
        at = b_base + col * p.k + kk;
    }
    vb[t] = select(0.0, b[at], valid);
}

fn fma_row(r: u32, s: f32) {
    acc[r][0] = fma(s, vb[0], acc[r][0]);
    acc[r][1] = fma(s, vb[1], acc[r][1]);
    acc[r][2] = fma(s, vb[2], acc[r][2]);
    acc[r][3] = fma(s, vb[3], acc[r][3]);
    acc[r][4] = fma(s, vb[4], acc[r][4]);
    acc[r][5] = fma(s, vb[5], acc[r][5]);
    acc[r][6] = fma(s, vb[6], acc[r][6]);
    acc[r][7] = fma(s, vb[7], acc[r][7]);
}

// Step `q` of the 8: k = k0 + q; A[row, k] comes from lane q.
fn step(q: u32) {
    let kk = min(k0 + q, p.k - 1u);
    let valid = k0 + q < p.k;
    load_b(kk, 0u, valid); load_b(kk, 1u, valid); load_b(kk, 2u, valid); load_b(kk, 3u, valid);
    load_b(kk, 4u, valid); load_b(kk, 5u, valid); load_b(kk, 6u, valid); load_b(kk, 7u, valid);
    fma_row(0u, subgroupShuffle(va[0], q)); fma_row(1u, subgroupShuffle(va[1], q));
    fma_row(2u, subgroupShuffle(va[2], q)); fma_row(3u, subgroupShuffle(va[3], q));
    fma_row(4u, subgroupShuffle(va[4], q)); fma_row(5u, subgroupShuffle(va[5], q));
    fma_row(6u, subgroupShuffle(va[6], q)); fma_row(7u, subgroupShuffle(va[7], q));
    fma_row(8u, subgroupShuffle(va[8], q)); fma_row(9u, subgroupShuffle(va[9], q));
    fma_row(10u, subgroupShuffle(va[10], q)); fma_row(11u, subgroupShuffle(va[11], q));
    fma_row(12u, subgroupShuffle(va[12], q)); fma_row(13u, subgroupShuffle(va[13], q));
    fma_row(14u, subgroupShuffle(va[14], q)); fma_row(15u, subgroupShuffle(va[15], q));
    fma_row(16u, subgroupShuffle(va[16], q)); fma_row(17u, subgroupShuffle(va[17], q));
    fma_row(18u, subgroupShuffle(va[18], q)); fma_row(19u, subgroupShuffle(va[19], q));
    fma_row(20u, subgroupShuffle(va[20], q)); fma_row(21u, subgroupShuffle(va[21], q));
    fma_row(22u, subgroupShuffle(va[22], q)); fma_row(23u, subgroupShuffle(va[23], q));
    fma_row(24u, subgroupShuffle(va[24], q)); fma_row(25u, subgroupShuffle(va[25], q));
    fma_row(26u, subgroupShuffle(va[26], q)); fma_row(27u, subgroupShuffle(va[27], q));
    fma_row(28u, subgroupShuffle(va[28], q)); fma_row(29u, subgroupShuffle(va[29], q));
    fma_row(30u, subgroupShuffle(va[30], q)); fma_row(31u, subgroupShuffle(va[31], q));
    fma_row(32u, subgroupShuffle(va[32], q)); fma_row(33u, subgroupShuffle(va[33], q));
    fma_row(34u, subgroupShuffle(va[34], q)); fma_row(35u, subgroupShuffle(va[35], q));
    fma_row(36u, subgroupShuffle(va[36], q)); fma_row(37u, subgroupShuffle(va[37], q));
    fma_row(38u, subgroupShuffle(va[38], q)); fma_row(39u, subgroupShuffle(va[39], q));
    fma_row(40u, subgroupShuffle(va[40], q)); fma_row(41u, subgroupShuffle(va[41], q));
    fma_row(42u, subgroupShuffle(va[42], q)); fma_row(43u, subgroupShuffle(va[43], q));
    fma_row(44u, subgroupShuffle(va[44], q)); fma_row(45u, subgroupShuffle(va[45], q));
    fma_row(46u, subgroupShuffle(va[46], q)); fma_row(47u, subgroupShuffle(va[47], q));
    fma_row(48u, subgroupShuffle(va[48], q)); fma_row(49u, subgroupShuffle(va[49], q));
    fma_row(50u, subgroupShuffle(va[50], q)); fma_row(51u, subgroupShuffle(va[51], q));
    fma_row(52u, subgroupShuffle(va[52], q)); fma_row(53u, subgroupShuffle(va[53], q));
    fma_row(54u, subgroupShuffle(va[54], q)); fma_row(55u, subgroupShuffle(va[55], q));
    fma_row(56u, subgroupShuffle(va[56], q)); fma_row(57u, subgroupShuffle(va[57], q));
    fma_row(58u, subgroupShuffle(va[58], q)); fma_row(59u, subgroupShuffle(va[59], q));
    fma_row(60u, subgroupShuffle(va[60], q)); fma_row(61u, subgroupShuffle(va[61], q));
    fma_row(62u, subgroupShuffle(va[62], q)); fma_row(63u, subgroupShuffle(va[63], q));
}

fn store(r: u32, t: u32, c_base: u32) {
    let row = row0 + r;
    let col = col0 + 8u * t + lane;
    if row < p.m && col < p.n {
        c[c_base + row * p.n + col] = acc[r][t];
    }
}

fn store_row(r: u32, c_base: u32) {
    store(r, 0u, c_base); store(r, 1u, c_base); store(r, 2u, c_base); store(r, 3u, c_base); store(r, 4u, c_base);
    store(r, 5u, c_base); store(r, 6u, c_base); store(r, 7u, c_base);
}

@compute @workgroup_size(8)
fn matmul_subgroup(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) l: u32) {
    let batch = wg.z + p.batch_offset;
    row0 = (wg.y + p.row_offset) * 64u;
    col0 = wg.x * 64u;
    lane = l;
    a_base = batch * p.m * p.k;
    b_base = batch * p.k * p.n;
    for (k0 = 0u; k0 < p.k; k0 += 8u) {
        load_a(0u); load_a(1u); load_a(2u); load_a(3u); load_a(4u); load_a(5u); load_a(6u); load_a(7u); load_a(8u);
        load_a(9u); load_a(10u); load_a(11u); load_a(12u); load_a(13u); load_a(14u); load_a(15u); load_a(16u);
        load_a(17u); load_a(18u); load_a(19u); load_a(20u); load_a(21u); load_a(22u); load_a(23u); load_a(24u);
        load_a(25u); load_a(26u); load_a(27u); load_a(28u); load_a(29u); load_a(30u); load_a(31u); load_a(32u);
        load_a(33u); load_a(34u); load_a(35u); load_a(36u); load_a(37u); load_a(38u); load_a(39u); load_a(40u);
        load_a(41u); load_a(42u); load_a(43u); load_a(44u); load_a(45u); load_a(46u); load_a(47u); load_a(48u);
        load_a(49u); load_a(50u); load_a(51u); load_a(52u); load_a(53u); load_a(54u); load_a(55u); load_a(56u);
        load_a(57u); load_a(58u); load_a(59u); load_a(60u); load_a(61u); load_a(62u); load_a(63u); step(0u);
        step(1u); step(2u); step(3u); step(4u); step(5u); step(6u); step(7u);
    }
    let c_base = batch * p.m * p.n;
    store_row(0u, c_base); store_row(1u, c_base); store_row(2u, c_base); store_row(3u, c_base);
    store_row(4u, c_base); store_row(5u, c_base); store_row(6u, c_base); store_row(7u, c_base);
    store_row(8u, c_base); store_row(9u, c_base); store_row(10u, c_base); store_row(11u, c_base);
    store_row(12u, c_base); store_row(13u, c_base); store_row(14u, c_base); store_row(15u, c_base);
    store_row(16u, c_base); store_row(17u, c_base); store_row(18u, c_base); store_row(19u, c_base);
    store_row(20u, c_base); store_row(21u, c_base); store_row(22u, c_base); store_row(23u, c_base);
    store_row(24u, c_base); store_row(25u, c_base); store_row(26u, c_base); store_row(27u, c_base);
    store_row(28u, c_base); store_row(29u, c_base); store_row(30u, c_base); store_row(31u, c_base);
    store_row(32u, c_base); store_row(33u, c_base); store_row(34u, c_base); store_row(35u, c_base);
    store_row(36u, c_base); store_row(37u, c_base); store_row(38u, c_base); store_row(39u, c_base);
    store_row(40u, c_base); store_row(41u, c_base); store_row(42u, c_base); store_row(43u, c_base);
    store_row(44u, c_base); store_row(45u, c_base); store_row(46u, c_base); store_row(47u, c_base);
    store_row(48u, c_base); store_row(49u, c_base); store_row(50u, c_base); store_row(51u, c_base);
    store_row(52u, c_base); store_row(53u, c_base); store_row(54u, c_base); store_row(55u, c_base);
    store_row(56u, c_base); store_row(57u, c_base); store_row(58u, c_base); store_row(59u, c_base);
    store_row(60u, c_base); store_row(61u, c_base); store_row(62u, c_base); store_row(63u, c_base);
}
