// Softmax / log-softmax of each row of a `[rows, cols]` matrix, stable: the row maximum is
// subtracted before exponentiating, so ±1e4 logits stay finite.
// `softmax_rows`: one workgroup of 64 per row with tree reductions in workgroup memory (long rows);
// `softmax_small`: one thread per row (many short rows, e.g. class logits).
// `softmax_rows4`: rows of a multiple of 4 columns, as vec4s: one workgroup of 64 per row, one pass
// for the maximum and the sum together (online: the sum is rescaled when the maximum grows), one
// tree reduction of (max, sum) pairs, and one pass writing; 2 loads per element instead of 3.
// On CPU-backed drivers `softmax_rows4` reads a texture copy of the input.
// `cross_entropy` and `cross_entropy_grad`: the loss `logsumexp(row) - row[target]` of each row
// and its gradient `(softmax(row) - onehot(target)) * grad[row]`, one thread per row (class
// logits), NaN for a row whose target is not a class. `row_grad` may hold one gradient for all rows.

struct Params {
    rows: u32,
    cols: u32,
    log: u32,
    // `cross_entropy_grad`: 1 where `row_grad` holds one gradient for every row, and the factor
    // on the gradient (1 / rows for a mean over the rows).
    shared_grad: u32,
    grad_scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;

// Threads per workgroup of `softmax_rows` and `softmax_rows4` (lavapipe switches all of a
// workgroup's 8-lane fibers at every barrier, so the tree reductions use small workgroups).
const WG4: u32 = 64u;

var<workgroup> shared_max: array<f32, WG4>;
var<workgroup> shared_sum: array<f32, WG4>;

fn write_row(base: u32, j: u32, mx: f32, sum: f32) {
    let d = x[base + j] - mx;
    if p.log != 0u {
        y[base + j] = d - log(sum);
    } else {
        y[base + j] = exp(d) * (1.0 / sum);
    }
}

@compute @workgroup_size(WG4)
fn softmax_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let row = wg.y * nwg.x + wg.x;
    let valid = row < p.rows;
    let base = row * p.cols;

    var m = bitcast<f32>(0xff800000u);
    if valid {
        for (var j = li; j < p.cols; j += WG4) {
            m = max(m, x[base + j]);
        }
    }
    shared_max[li] = m;
    workgroupBarrier();
    for (var s = WG4 / 2u; s > 0u; s >>= 1u) {
        if li < s {
            shared_max[li] = max(shared_max[li], shared_max[li + s]);
        }
        workgroupBarrier();
    }
    let mx = shared_max[0];

    var sum = 0.0;
    if valid {
        for (var j = li; j < p.cols; j += WG4) {
            sum += exp(x[base + j] - mx);
        }
    }
    shared_sum[li] = sum;
    workgroupBarrier();
    for (var s = WG4 / 2u; s > 0u; s >>= 1u) {
        if li < s {
            shared_sum[li] += shared_sum[li + s];
        }
        workgroupBarrier();
    }
    let total = shared_sum[0];
    if valid {
        for (var j = li; j < p.cols; j += WG4) {
            write_row(base, j, mx, total);
        }
    }
}

@compute @workgroup_size(256)
fn softmax_small(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let row = (wg.y * nwg.x + wg.x) * 256u + li;
    if row >= p.rows {
        return;
    }
    let base = row * p.cols;
    var mx = bitcast<f32>(0xff800000u);
    for (var j = 0u; j < p.cols; j++) {
        mx = max(mx, x[base + j]);
    }
    var sum = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        sum += exp(x[base + j] - mx);
    }
    for (var j = 0u; j < p.cols; j++) {
        write_row(base, j, mx, sum);
    }
}

// `s * exp(m - to)`: the sum of exponentials relative to maximum `m`, made relative to `to >= m`
// (an empty sum stays 0 even when both maxima are -inf).
fn rescale(s: f32, m: f32, to: f32) -> f32 {
    return select(s * exp(m - to), 0.0, s == 0.0);
}

// The running (maximum, sum of exponentials) of a thread's share of a row, `softmax_rows4*`.
var<private> run_max: f32;
var<private> run_sum: f32;

fn online_start() {
    run_max = bitcast<f32>(0xff800000u);
    run_sum = 0.0;
}

fn online_add(v: vec4<f32>) {
    // A NaN makes the row's sum NaN, and so every output of the row, as on the CPU (max would
    // skip it, or not, as the driver likes).
    if is_nan(v.x) || is_nan(v.y) || is_nan(v.z) || is_nan(v.w) {
        run_sum = bitcast<f32>(0x7fc00000u);
    }
    let mv = max(max(v.x, v.y), max(v.z, v.w));
    if mv > run_max {
        run_sum = rescale(run_sum, run_max, mv);
        run_max = mv;
    }
    // While every element so far is -inf, the sum stays 0 (exp(-inf - -inf) is NaN).
    if run_max > bitcast<f32>(0xff800000u) {
        let e = exp(v - run_max);
        run_sum += (e.x + e.y) + (e.z + e.w);
    }
}

// Combines the (maximum, sum) pairs of a workgroup of `size` threads by a tree reduction: the
// row's (max, sum).
fn online_combine(li: u32, size: u32) -> vec2<f32> {
    shared_max[li] = run_max;
    shared_sum[li] = run_sum;
    workgroupBarrier();
    for (var s = size / 2u; s > 0u; s >>= 1u) {
        if li < s {
            let m0 = shared_max[li];
            let m1 = shared_max[li + s];
            let mx = max(m0, m1);
            shared_sum[li] = rescale(shared_sum[li], m0, mx) + rescale(shared_sum[li + s], m1, mx);
            shared_max[li] = mx;
        }
        workgroupBarrier();
    }
    return vec2(shared_max[0], shared_sum[0]);
}

// Softmax (or log-softmax) of `v` given the row's (max, sum).
fn normalized(v: vec4<f32>, row: vec2<f32>) -> vec4<f32> {
    let d = v - row.x;
    if p.log != 0u {
        return d - log(row.y);
    }
    return exp(d) * (1.0 / row.y);
}

// On CPU-backed drivers the input is read from a texture copy (`STAGED`, see unary.wgsl), by
// 8-thread workgroups: one 8-lane fiber on lavapipe, whose barriers then switch nothing (64
// threads measured 2.3x slower there). Elsewhere a 1x1 placeholder is bound and never read.
override STAGED: bool = false;
override WG_ROWS4: u32 = select(WG4, 8u, STAGED);
@group(0) @binding(3) var x_staged: texture_storage_2d<rgba32float, read>;

fn load_x4(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(x_staged, i);
    }
    return x4[i];
}

@compute @workgroup_size(WG_ROWS4)
fn softmax_rows4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let row = wg.y * nwg.x + wg.x;
    let cols4 = select(0u, p.cols / 4u, row < p.rows);
    let base = row * cols4;
    online_start();
    for (var j = li; j < cols4; j += WG_ROWS4) {
        online_add(load_x4(base + j));
    }
    let totals = online_combine(li, WG_ROWS4);
    for (var j = li; j < cols4; j += WG_ROWS4) {
        y4[base + j] = normalized(load_x4(base + j), totals);
    }
}

@group(0) @binding(4) var<storage, read> targets: array<f32>;
@group(0) @binding(5) var<storage, read> row_grad: array<f32>;

// The thread's row, or `p.rows` past the end.
fn class_row(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return min((wg.y * nwg.x + wg.x) * 256u + li, p.rows);
}

fn is_class(t: f32) -> bool {
    return t >= 0.0 && t < f32(p.cols) && t == floor(t);
}

// The row's maximum and `log(sum(exp(row - max)))`, for the row starting at `base`: kept apart,
// because their sum rounds the log away for large logits (1e8 + 0.69 is 1e8 in f32).
fn max_and_log_sum(base: u32) -> vec2<f32> {
    var mx = bitcast<f32>(0xff800000u);
    for (var j = 0u; j < p.cols; j++) {
        mx = max(mx, x[base + j]);
    }
    var sum = 0.0;
    for (var j = 0u; j < p.cols; j++) {
        sum += exp(x[base + j] - mx);
    }
    return vec2(mx, log(sum));
}

// `cross_entropy` with `MEAN`: one workgroup covers every row and writes their mean loss to y[0].
override MEAN: bool = false;
var<workgroup> row_losses: array<f32, 256>;

fn row_loss(row: u32) -> f32 {
    let t = targets[row];
    if !is_class(t) {
        return bitcast<f32>(0x7fc00000u);
    }
    let base = row * p.cols;
    let m = max_and_log_sum(base);
    return (m.x - x[base + u32(t)]) + m.y;
}

@compute @workgroup_size(256)
fn cross_entropy(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let row = class_row(wg, nwg, li);
    if !MEAN {
        if row < p.rows {
            y[row] = row_loss(row);
        }
        return;
    }
    var loss = 0.0;
    if row < p.rows {
        loss = row_loss(row);
    }
    row_losses[li] = loss;
    workgroupBarrier();
    if li == 0u {
        // Over all 256 slots (zeros past the rows): a loop bounded by `p.rows` would let lavapipe
        // inline it and recompile for each batch size.
        var sum = 0.0;
        for (var r = 0u; r < 256u; r++) {
            sum += row_losses[r];
        }
        y[0] = sum / f32(p.rows);
    }
}

@compute @workgroup_size(256)
fn cross_entropy_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let row = class_row(wg, nwg, li);
    if row == p.rows {
        return;
    }
    let t = targets[row];
    let base = row * p.cols;
    if !is_class(t) {
        for (var j = 0u; j < p.cols; j++) {
            y[base + j] = bitcast<f32>(0x7fc00000u);
        }
        return;
    }
    let m = max_and_log_sum(base);
    let g = row_grad[select(row, 0u, p.shared_grad != 0u)] * p.grad_scale;
    for (var j = 0u; j < p.cols; j++) {
        y[base + j] = (exp((x[base + j] - m.x) - m.y) - select(0.0, 1.0, j == u32(t))) * g;
    }
}
