// Batched matmul for CPU-backed drivers with 8-wide subgroups (lavapipe), reading its operands
// from Rgba32Float textures: there, a texel load (4 floats) costs less than one scalar
// storage-buffer load, ~9x less per float. They are bound as read-only storage textures, whose
// loads measured 20-30% cheaper than sampled-texture fetches on lavapipe.
//
// `pack` copies an operand, seen as `rows` x `k` (A: m x k; B: n x k, so B is read transposed
// as n x k), into panels of 32 rows: texel `((batch * panels + panel) * k4 + kq) * 32 + r`
// holds elements k = 4 kq .. 4 kq + 3 of row `32 panel + r` (zeros past the edges). A panel is then
// contiguous, so the matmul streams through memory instead of striding by whole rows (a
// power-of-two stride put every row in the same cache set and halved the speed). A texture is a
// sequence of texels, `1 << log2_width` per texture row; `pack` reads the operand from such a
// texture too (a copy of its buffer, which the driver makes with a memcpy). Most operands skip
// `pack` and are read from that copy in place (matmul_texture.rs `read_in_place`): the matmul takes
// each operand's texel strides, and `A_KMAJOR` / `B_KMAJOR` say whether a texel holds 4 steps of k
// of one row (packed, or stored rows x k) or 4 rows at one step of k (stored k x rows).
//
// `matmul`: a workgroup is one subgroup of 8 lanes computing a 32 x 32 tile of C; lane `l` owns
// columns 4 l .. 4 l + 3 of the 32 rows (so a row of them is one vec4 of C). Per 4 steps of k it
// fetches 4 texels of A and 4 of B, and `subgroupShuffle` hands every lane the A values of each
// row: 8 fetches per 512 multiply-adds. The tile is spelled out through helpers called with
// literal indices, so the accumulators live in registers (a loop over them would index memory).
// Rows are done one at a time (all 16 multiply-adds of a row together), which keeps the values
// in flight few; C is stored 8 rows per iteration of a loop that then shifts the rows up by 8 (a
// loop over single rows spent a sixth of a k = 128 product shifting; the whole tile in straight-line
// stores took LLVM seconds to compile).

struct PackParams {
    rows: u32,
    k: u32,
    k4: u32,
    panels: u32,
    log2_width: u32,
    // The last texel of the operand's copy.
    last_texel: u32,
    _pad0: u32,
    _pad1: u32,
}

struct Params {
    m: u32,
    n: u32,
    k4: u32,
    log2_width_a: u32,
    // Texel strides of A and of B: per batch, per panel of 32 rows, per 4 steps of k, and per row
    // (k-contiguous) or per step of k (k-major).
    a: vec4<u32>,
    b: vec4<u32>,
    // Each operand's texture width as a power of two: a texel index `i` is texel
    // `(i % width, i / width)`. A pitched copy (one row of the operand per texture row, see
    // matmul_texture.rs `pitched_rows`) is read as width 2^16: `i = row << 16 | kq`.
    log2_width_b: u32,
    // The epilogue: EPILOGUE_BIAS and EPILOGUE_RELU bits.
    epilogue: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> pp: PackParams;
// How `pack` reads: 0, element (row, kk) is at row * k + kk; 1, at kk * rows + row; 2, the same
// with rows a multiple of 4, so a texel holds 4 rows and a thread transposes 4 x 4 blocks. With
// whether k is whole texels, constants: lavapipe (Mesa 22.3) inlines parameters that pick
// branches into the shader, then compiles it again at every dispatch whose values differ (~1 ms
// from its shader cache, ~60 ms without; a 128 x 10 x 128 product took 2.3 ms instead of 0.19).
override MODE: u32 = 0u;
override K_WHOLE: bool = false;
@group(0) @binding(1) var raw: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;

fn texel(i: u32, log2_width: u32) -> vec2<u32> {
    return vec2<u32>(i & ((1u << log2_width) - 1u), i >> log2_width);
}

fn raw_texel(i: u32) -> vec4<f32> {
    return textureLoad(raw, texel(min(i, pp.last_texel), pp.log2_width));
}

fn raw_element(o: u32) -> f32 {
    return raw_texel(o >> 2u)[o & 3u];
}

fn put(batch: u32, row: u32, kq: u32, v: vec4<f32>) {
    let i = ((batch * pp.panels + row / 32u) * pp.k4 + kq) * 32u + row % 32u;
    textureStore(dst, texel(i, pp.log2_width), v);
}

// v with zeros at k >= pp.k.
fn within_k(kk: u32, v: vec4<f32>) -> vec4<f32> {
    return select(vec4(0.0), v, vec4(kk) + vec4<u32>(0u, 1u, 2u, 3u) < vec4(pp.k));
}

// Elements o .. o + 3 of the operand, from the one or two texels holding them.
fn four_from(o: u32) -> vec4<f32> {
    let t0 = raw_texel(o >> 2u);
    if K_WHOLE {
        return t0;
    }
    let t1 = raw_texel((o >> 2u) + 1u);
    let s = o & 3u;
    return select(select(select(t0, vec4(t0.yzw, t1.x), s == 1u), vec4(t0.zw, t1.xy), s == 2u), vec4(t0.w, t1.xyz),
        s == 3u);
}

// Grid: (k4, row groups, batch) workgroups of 32 threads; a thread packs one texel (modes 0, 1:
// 32 rows per workgroup) or a 4 x 4 block (mode 2: 128 rows).
@compute @workgroup_size(32)
fn pack(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let kk = wg.x * 4u;
    let base = wg.z * pp.rows * pp.k;
    if MODE == 2u {
        let row = (wg.y * 32u + lane) * 4u;
        if row >= pp.panels * 32u {
            return;
        }
        var t = array<vec4<f32>, 4>();
        if row < pp.rows {
            let o = (base + kk * pp.rows + row) >> 2u;
            let step = pp.rows >> 2u;
            t[0] = raw_texel(o);
            t[1] = select(vec4(0.0), raw_texel(o + step), kk + 1u < pp.k);
            t[2] = select(vec4(0.0), raw_texel(o + 2u * step), kk + 2u < pp.k);
            t[3] = select(vec4(0.0), raw_texel(o + 3u * step), kk + 3u < pp.k);
        }
        put(wg.z, row, wg.x, vec4(t[0].x, t[1].x, t[2].x, t[3].x));
        put(wg.z, row + 1u, wg.x, vec4(t[0].y, t[1].y, t[2].y, t[3].y));
        put(wg.z, row + 2u, wg.x, vec4(t[0].z, t[1].z, t[2].z, t[3].z));
        put(wg.z, row + 3u, wg.x, vec4(t[0].w, t[1].w, t[2].w, t[3].w));
        return;
    }
    let row = wg.y * 32u + lane;
    var v = vec4<f32>(0.0);
    if row < pp.rows {
        if MODE == 1u {
            let o = base + kk * pp.rows + row;
            v = vec4(raw_element(o), raw_element(o + pp.rows), raw_element(o + 2u * pp.rows),
                raw_element(o + 3u * pp.rows));
        } else {
            v = four_from(base + row * pp.k + kk);
        }
        v = within_k(kk, v);
    }
    put(wg.z, row, wg.x, v);
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var ta: texture_storage_2d<rgba32float, read>;
@group(0) @binding(2) var tb: texture_storage_2d<rgba32float, read>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// The same binding seen as vec4s, by `matmul_store4`.
@group(0) @binding(3) var<storage, read_write> c4: array<vec4<f32>>;
// A linear layer's bias, added to every row of C when the parameters' `epilogue` has
// `EPILOGUE_BIAS` (n values; seen as vec4s by `matmul_store4`), and a ReLU after it with
// `EPILOGUE_RELU`: the layer's forward in one kernel. Without a bias a placeholder is bound. Bits
// of a parameter rather than override constants, so the plain product and the layer share one
// pipeline (each pipeline costs lavapipe 130-190 ms of LLVM in a process's first step when Mesa's
// shader cache is cold); they only steer the stores, once per tile.
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> bias4: array<vec4<f32>>;
const EPILOGUE_BIAS: u32 = 1u;
const EPILOGUE_RELU: u32 = 2u;

// How A and B are laid out in their textures: false, a texel holds 4 steps of k of one row (packed,
// or read in place); true, 4 rows at one step of k (the operand as stored, k-major, read in place).
override A_KMAJOR: bool = false;
override B_KMAJOR: bool = false;

// (m, n, k4), set first by each entry point through a subgroup broadcast: lavapipe (Mesa 22.3)
// inlines parameters that bound loops or pick branches into the shader and then compiles it again
// at every dispatch whose values differ (~1 ms from its shader cache, ~60 ms without); a
// broadcast's result is not a parameter it can trace. `epilogue` likewise.
var<private> shape: vec3<u32>;
var<private> epilogue: u32;

// acc[r][t]: row `row0 + r`, column `col0 + 4 lane + t`.
var<private> acc: array<vec4<f32>, 32>;
// bq[q][t]: B at k = 4 kq + q, column `col0 + 4 lane + t`.
var<private> bq: array<vec4<f32>, 4>;

fn fetch_a(i: u32, log2_width: u32) -> vec4<f32> {
    return textureLoad(ta, texel(i, log2_width));
}

fn fetch_b(i: u32, log2_width: u32) -> vec4<f32> {
    return textureLoad(tb, texel(i, log2_width));
}

// s: A[row r, k = 4 kq .. 4 kq + 3].
fn row(r: u32, s: vec4<f32>) {
    acc[r] = fma(vec4(s.w), bq[3], fma(vec4(s.z), bq[2], fma(vec4(s.y), bq[1], fma(vec4(s.x), bq[0], acc[r]))));
}

// a: this lane's texel of A, 4 steps of k of row 8 j + lane.
fn rows8(j: u32, a: vec4<f32>) {
    row(8u * j, subgroupShuffle(a, 0u));
    row(8u * j + 1u, subgroupShuffle(a, 1u));
    row(8u * j + 2u, subgroupShuffle(a, 2u));
    row(8u * j + 3u, subgroupShuffle(a, 3u));
    row(8u * j + 4u, subgroupShuffle(a, 4u));
    row(8u * j + 5u, subgroupShuffle(a, 5u));
    row(8u * j + 6u, subgroupShuffle(a, 6u));
    row(8u * j + 7u, subgroupShuffle(a, 7u));
}

// t0 .. t3: this lane's texels of a k-major A, rows 4 lane .. 4 lane + 3 at k = 4 kq + q; rows
// 4 l .. 4 l + 3 come from lane l.
fn rows4(l: u32, t0: vec4<f32>, t1: vec4<f32>, t2: vec4<f32>, t3: vec4<f32>) {
    let a0 = subgroupShuffle(t0, l);
    let a1 = subgroupShuffle(t1, l);
    let a2 = subgroupShuffle(t2, l);
    let a3 = subgroupShuffle(t3, l);
    row(4u * l, vec4(a0.x, a1.x, a2.x, a3.x));
    row(4u * l + 1u, vec4(a0.y, a1.y, a2.y, a3.y));
    row(4u * l + 2u, vec4(a0.z, a1.z, a2.z, a3.z));
    row(4u * l + 3u, vec4(a0.w, a1.w, a2.w, a3.w));
}

// Moves rows 8 .. 31 of the tile up by 8 (rows 0 .. 7 have been stored).
fn shift8() {
    acc[0] = acc[8]; acc[1] = acc[9]; acc[2] = acc[10]; acc[3] = acc[11]; acc[4] = acc[12]; acc[5] = acc[13];
    acc[6] = acc[14]; acc[7] = acc[15]; acc[8] = acc[16]; acc[9] = acc[17]; acc[10] = acc[18]; acc[11] = acc[19];
    acc[12] = acc[20]; acc[13] = acc[21]; acc[14] = acc[22]; acc[15] = acc[23]; acc[16] = acc[24];
    acc[17] = acc[25]; acc[18] = acc[26]; acc[19] = acc[27]; acc[20] = acc[28]; acc[21] = acc[29];
    acc[22] = acc[30]; acc[23] = acc[31];
}

// Sums the tile of workgroup `wg` into `acc`. Per 4 steps of k a lane fetches 4 texels of B and 4
// of A: texel base + kq * stride.z + j * step (j < 4), where base includes the lane's offset.
fn accumulate(wg: vec3<u32>, lane: u32) {
    // k-contiguous: A rows 8 j + lane, B columns 4 lane + j; k-major: k = 4 kq + j.
    let a_base = wg.z * p.a.x + wg.y * p.a.y + select(lane * p.a.w, lane, A_KMAJOR);
    let a_step = select(8u * p.a.w, p.a.w, A_KMAJOR);
    let b_base = wg.z * p.b.x + wg.x * p.b.y + select(4u * lane * p.b.w, lane, B_KMAJOR);
    let b_step = p.b.w;
    // Lavapipe loads a uniform per lane (8 scalar loads and a bounds check), and did so in every
    // iteration for these four; read once and broadcast, 1024^3 runs ~13% faster.
    let k_strides = subgroupBroadcastFirst(vec2(p.a.z, p.b.z));
    let log2_widths = subgroupBroadcastFirst(vec2(p.log2_width_a, p.log2_width_b));
    for (var kq = 0u; kq < shape.z; kq++) {
        let ia = a_base + kq * k_strides.x;
        let ib = b_base + kq * k_strides.y;
        let b0 = fetch_b(ib, log2_widths.y);
        let b1 = fetch_b(ib + b_step, log2_widths.y);
        let b2 = fetch_b(ib + 2u * b_step, log2_widths.y);
        let b3 = fetch_b(ib + 3u * b_step, log2_widths.y);
        if B_KMAJOR {
            bq[0] = b0;
            bq[1] = b1;
            bq[2] = b2;
            bq[3] = b3;
        } else {
            bq[0] = vec4(b0.x, b1.x, b2.x, b3.x);
            bq[1] = vec4(b0.y, b1.y, b2.y, b3.y);
            bq[2] = vec4(b0.z, b1.z, b2.z, b3.z);
            bq[3] = vec4(b0.w, b1.w, b2.w, b3.w);
        }
        let a0 = fetch_a(ia, log2_widths.x);
        let a1 = fetch_a(ia + a_step, log2_widths.x);
        let a2 = fetch_a(ia + 2u * a_step, log2_widths.x);
        let a3 = fetch_a(ia + 3u * a_step, log2_widths.x);
        if A_KMAJOR {
            rows4(0u, a0, a1, a2, a3);
            rows4(1u, a0, a1, a2, a3);
            rows4(2u, a0, a1, a2, a3);
            rows4(3u, a0, a1, a2, a3);
            rows4(4u, a0, a1, a2, a3);
            rows4(5u, a0, a1, a2, a3);
            rows4(6u, a0, a1, a2, a3);
            rows4(7u, a0, a1, a2, a3);
        } else {
            rows8(0u, a0);
            rows8(1u, a1);
            rows8(2u, a2);
            rows8(3u, a3);
        }
    }
}

// The epilogue of C's 4 values `v` whose columns have biases `b`.
fn finish(v: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
    if (epilogue & EPILOGUE_RELU) != 0u {
        return select(v + b, vec4(0.0), v + b <= vec4(0.0));
    }
    return v + b;
}

// Row `r` (batch `z`) of the tile from `v`, the lane's 4 columns from `col`.
fn store_row(z: u32, r: u32, col: u32, v: vec4<f32>) {
    if r >= shape.x || col >= shape.y {
        return;
    }
    let at = (z * shape.x + r) * shape.y + col;
    c[at] = v.x;
    if col + 1u < shape.y {
        c[at + 1u] = v.y;
    }
    if col + 2u < shape.y {
        c[at + 2u] = v.z;
    }
    if col + 3u < shape.y {
        c[at + 3u] = v.w;
    }
}

// `store_row` where n is a multiple of 4: the lane's 4 columns are one aligned vec4 of C, stored at
// once (less than half the cost of 4 scalar stores on lavapipe).
fn store_row4(z: u32, r: u32, col: u32, v: vec4<f32>) {
    if r < shape.x && col < shape.y {
        c4[((z * shape.x + r) * shape.y + col) / 4u] = v;
    }
}

// Grid: (panels_n, panels_m, batch) workgroups of one subgroup. The tile is stored 8 rows per
// iteration (literal indices), then the next 8 rows are shifted up.
@compute @workgroup_size(8)
fn matmul(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    shape = subgroupBroadcastFirst(vec3(p.m, p.n, p.k4));
    epilogue = subgroupBroadcastFirst(p.epilogue);
    accumulate(wg, lane);
    let col = wg.x * 32u + 4u * lane;
    var b = vec4(0.0);
    if (epilogue & EPILOGUE_BIAS) != 0u {
        let last = shape.y - 1u;
        b = vec4(bias[min(col, last)], bias[min(col + 1u, last)], bias[min(col + 2u, last)], bias[min(col + 3u, last)]);
    }
    for (var r = wg.y * 32u; r < min(wg.y * 32u + 32u, shape.x); r += 8u) {
        store_row(wg.z, r, col, finish(acc[0], b));
        store_row(wg.z, r + 1u, col, finish(acc[1], b));
        store_row(wg.z, r + 2u, col, finish(acc[2], b));
        store_row(wg.z, r + 3u, col, finish(acc[3], b));
        store_row(wg.z, r + 4u, col, finish(acc[4], b));
        store_row(wg.z, r + 5u, col, finish(acc[5], b));
        store_row(wg.z, r + 6u, col, finish(acc[6], b));
        store_row(wg.z, r + 7u, col, finish(acc[7], b));
        shift8();
    }
}

// `matmul` storing with `store_row4` (a separate entry point: one binding may not be used both as
// f32s and as vec4s by one entry point).
@compute @workgroup_size(8)
fn matmul_store4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
    shape = subgroupBroadcastFirst(vec3(p.m, p.n, p.k4));
    epilogue = subgroupBroadcastFirst(p.epilogue);
    accumulate(wg, lane);
    let col = wg.x * 32u + 4u * lane;
    var b = vec4(0.0);
    if (epilogue & EPILOGUE_BIAS) != 0u && col < shape.y {
        b = bias4[col / 4u];
    }
    for (var r = wg.y * 32u; r < min(wg.y * 32u + 32u, shape.x); r += 8u) {
        store_row4(wg.z, r, col, finish(acc[0], b));
        store_row4(wg.z, r + 1u, col, finish(acc[1], b));
        store_row4(wg.z, r + 2u, col, finish(acc[2], b));
        store_row4(wg.z, r + 3u, col, finish(acc[3], b));
        store_row4(wg.z, r + 4u, col, finish(acc[4], b));
        store_row4(wg.z, r + 5u, col, finish(acc[5], b));
        store_row4(wg.z, r + 6u, col, finish(acc[6], b));
        store_row4(wg.z, r + 7u, col, finish(acc[7], b));
        shift8();
    }
}
