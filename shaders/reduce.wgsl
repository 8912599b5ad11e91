// Reductions over the middle axis of `[outer, axis, inner]` (ops.rs `ReduceOp`; the op is the
// override constant `OP` = `ReduceOp::code`).
//
// `reduce_rows`: one workgroup per output of `[outer, chunks, inner]`; its 64 threads stride over
// one chunk of the axis, then combine in a tree in workgroup memory (64, not 256: lavapipe runs a
// workgroup as 8-lane fibers and switches all of them at every barrier). With `chunks > 1` it is one
// pass of a split reduction: the partial values and their axis indices feed the next pass, which
// reads the indices back (`FLAG_INDEX_IN`). `reduce_cols`: one thread per output, a serial loop
// over a short axis. The last pass (`FLAG_FINAL`) writes the op's result: the value, the mean, or
// the first index of the extreme as f32.

struct Params {
    outer: u32,
    axis: u32,
    inner: u32,
    flags: u32,
    chunk: u32,
    chunks: u32,
    divisor: f32,
    _pad: u32,
}

const OP_SUM: u32 = 0u;
const OP_MEAN: u32 = 1u;
const OP_MAX: u32 = 2u;
const OP_MIN: u32 = 3u;
const OP_ARGMAX: u32 = 4u;
const OP_ARGMIN: u32 = 5u;
const FLAG_INDEX_IN: u32 = 1u;
const FLAG_FINAL: u32 = 2u;
const NO_INDEX: u32 = 0xffffffffu;

override OP: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> idx_in: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_idx: array<u32>;
// On CPU-backed drivers `x` is read from a texture copy (`STAGED`, see unary.wgsl): element `at`
// is channel `at % 4` of texel `at / 4`, at (texel % 4096, texel / 4096).
override STAGED: bool = false;
@group(0) @binding(5) var x_staged: texture_storage_2d<rgba32float, read>;

fn load_x(at: u32) -> f32 {
    if STAGED {
        return staged_element(x_staged, at);
    }
    return x[at];
}

const ROWS_WG: u32 = 64u;

var<workgroup> shared_v: array<f32, ROWS_WG>;
var<workgroup> shared_i: array<u32, ROWS_WG>;

fn is_sum() -> bool {
    return OP == OP_SUM || OP == OP_MEAN;
}

fn is_max() -> bool {
    return OP == OP_MAX || OP == OP_ARGMAX;
}

fn identity() -> f32 {
    if is_sum() {
        return 0.0;
    }
    // -inf for max, +inf for min.
    return select(bitcast<f32>(0x7f800000u), bitcast<f32>(0xff800000u), is_max());
}

// Whether (v, i) beats (best_v, best_i): the extreme value, ties to the first index.
fn better(v: f32, i: u32, best_v: f32, best_i: u32) -> bool {
    if is_max() {
        return v > best_v || (v == best_v && i < best_i);
    }
    return v < best_v || (v == best_v && i < best_i);
}

fn finish(v: f32, i: u32) -> f32 {
    if OP == OP_ARGMAX || OP == OP_ARGMIN {
        // NaNs never win, so a line of NaNs has no index: 0, as on the CPU.
        return f32(select(i, 0u, i == NO_INDEX));
    }
    if OP == OP_MEAN {
        return v / p.divisor;
    }
    return v;
}

@compute @workgroup_size(ROWS_WG)
fn reduce_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let o_id = wg.y * nwg.x + wg.x;
    let valid = o_id < p.outer * p.chunks * p.inner;
    let n = o_id % p.inner;
    let rest = o_id / p.inner;
    let c = rest % p.chunks;
    let o = rest / p.chunks;
    let start = c * p.chunk;
    let end = min(start + p.chunk, p.axis);
    let index_in = (p.flags & FLAG_INDEX_IN) != 0u;

    var best_v = identity();
    var best_i = NO_INDEX;
    if valid {
        for (var a = start + li; a < end; a += ROWS_WG) {
            let at = (o * p.axis + a) * p.inner + n;
            let v = load_x(at);
            var i = a;
            if index_in {
                i = idx_in[at];
            }
            if is_sum() {
                best_v += v;
            } else if better(v, i, best_v, best_i) {
                best_v = v;
                best_i = i;
            }
        }
    }
    shared_v[li] = best_v;
    shared_i[li] = best_i;
    workgroupBarrier();
    for (var s = ROWS_WG / 2u; s > 0u; s >>= 1u) {
        if li < s {
            let v = shared_v[li + s];
            let i = shared_i[li + s];
            if is_sum() {
                shared_v[li] += v;
            } else if better(v, i, shared_v[li], shared_i[li]) {
                shared_v[li] = v;
                shared_i[li] = i;
            }
        }
        workgroupBarrier();
    }
    if valid && li == 0u {
        if (p.flags & FLAG_FINAL) != 0u {
            out[o_id] = finish(shared_v[0], shared_i[0]);
        } else {
            out[o_id] = shared_v[0];
            out_idx[o_id] = shared_i[0];
        }
    }
}

@compute @workgroup_size(256)
fn reduce_cols(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let o_id = (wg.y * nwg.x + wg.x) * 256u + li;
    if o_id >= p.outer * p.inner {
        return;
    }
    let n = o_id % p.inner;
    let o = o_id / p.inner;
    var best_v = identity();
    var best_i = NO_INDEX;
    for (var a = 0u; a < p.axis; a++) {
        let v = load_x((o * p.axis + a) * p.inner + n);
        if is_sum() {
            best_v += v;
        } else if better(v, a, best_v, best_i) {
            best_v = v;
            best_i = a;
        }
    }
    out[o_id] = finish(best_v, best_i);
}
