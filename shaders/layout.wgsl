// Data movement, one thread per 4 output elements (one in `concat_part`): strided copies (rank <= 6),
// padding an axis with zeros, concatenation (one dispatch per part), gather, scatter_add (each
// output sums the matching sources in index order, no atomics, so it is deterministic), select,
// and fill. Indices are f32 holding integers. On CPU-backed drivers every kernel but `fill` reads
// its inputs from texture copies (`STAGED`, below).

struct Params {
    n: u32,
    offset: u32,
    value: f32,
    outer: u32,
    src_axis: u32,
    index_axis: u32,
    inner: u32,
    axis_offset: u32,
    total_axis: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    shape: array<vec4<u32>, 2>,
    strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> second: array<f32>;
@group(0) @binding(3) var<storage, read> third: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
// The same binding seen as vec4s, by the kernels that store 4 elements per thread.
@group(0) @binding(4) var<storage, read_write> out4: array<vec4<f32>>;


fn linear_id(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

// Texture copies of src, second and third on CPU-backed drivers (see unary.wgsl): there every
// kernel but `fill` reads through them when `STAGED`; elsewhere they are 1x1 placeholders, never read.
override STAGED: bool = false;
@group(0) @binding(5) var src_staged: texture_storage_2d<rgba32float, read>;
@group(0) @binding(6) var second_staged: texture_storage_2d<rgba32float, read>;
@group(0) @binding(7) var third_staged: texture_storage_2d<rgba32float, read>;

fn src_at(i: u32) -> f32 {
    if STAGED {
        return staged_element(src_staged, i);
    }
    return src[i];
}

fn second_at(i: u32) -> f32 {
    if STAGED {
        return staged_element(second_staged, i);
    }
    return second[i];
}

// The view's rank, as a constant so that the loop unrolls and reads the shape and strides at
// constant offsets: bounded by the parameter it ran 1.6x slower on lavapipe.
override RANK: u32 = 1u;

// Element i of the view.
fn strided_element(i: u32) -> f32 {
    var rem = i;
    var at = p.offset;
    for (var d = i32(RANK) - 1; d >= 0; d--) {
        let q = u32(d) / 4u;
        let r = u32(d) % 4u;
        let dim = p.shape[q][r];
        at += (rem % dim) * p.strides[q][r];
        rem = rem / dim;
    }
    return src_at(at);
}

// Grid: one thread per 4 output elements.
@compute @workgroup_size(256)
fn copy_strided(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if 4u * t < p.n {
        let i = four_indices(t, p.n);
        out4[t] = vec4(strided_element(i.x), strided_element(i.y), strided_element(i.z), strided_element(i.w));
    }
}

// Places `[outer, src_axis, inner]` at `axis_offset` of a zero `[outer, total_axis, inner]` (a
// narrow's backward).
fn pad_element(i: u32) -> f32 {
    let n = i % p.inner;
    let a = (i / p.inner) % p.total_axis;
    let o = i / (p.inner * p.total_axis);
    if a >= p.axis_offset && a < p.axis_offset + p.src_axis {
        return src_at((o * p.src_axis + a - p.axis_offset) * p.inner + n);
    }
    return 0.0;
}

// Grid: one thread per 4 output elements.
@compute @workgroup_size(256)
fn pad_axis(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if 4u * t < p.n {
        let i = four_indices(t, p.n);
        out4[t] = vec4(pad_element(i.x), pad_element(i.y), pad_element(i.z), pad_element(i.w));
    }
}

// Copies part `[outer, src_axis, inner]` into `[outer, total_axis, inner]` at `axis_offset`, one
// thread per element (`concat_part4`: per 4 elements, where the part's blocks start at and span
// whole vec4s of the output).
@compute @workgroup_size(256)
fn concat_part(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i >= p.n {
        return;
    }
    let block = p.src_axis * p.inner;
    let o = i / block;
    let rest = i % block;
    out[o * p.total_axis * p.inner + p.axis_offset * p.inner + rest] = src_at(i);
}

@compute @workgroup_size(256)
fn concat_part4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    let i = 4u * t;
    if i >= p.n {
        return;
    }
    let block = p.src_axis * p.inner;
    let at = (i / block) * p.total_axis * p.inner + p.axis_offset * p.inner + i % block;
    out4[at / 4u] = src4(t);
}

// out[o, i, n] = src[o, index[o, i, n], n]. Autograd validates indices only on the CPU, so an
// out-of-range or non-integer index writes NaN here: the bad input shows instead of a wrong answer.
fn gather_element(i: u32) -> f32 {
    let n = i % p.inner;
    let o = i / (p.index_axis * p.inner);
    let f = second_at(i);
    if !(f >= 0.0 && f < f32(p.src_axis) && f == floor(f)) {
        return bitcast<f32>(0x7fc00000u);
    }
    return src_at((o * p.src_axis + u32(f)) * p.inner + n);
}

// Grid: one thread per 4 output elements.
@compute @workgroup_size(256)
fn gather(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if 4u * t < p.n {
        let i = four_indices(t, p.n);
        out4[t] = vec4(gather_element(i.x), gather_element(i.y), gather_element(i.z), gather_element(i.w));
    }
}

// Elements 4 i .. 4 i + 3 of src, second or third (inside the bindings, which are whole vec4s).
fn src4(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(src_staged, i);
    }
    return vec4(src[4u * i], src[4u * i + 1u], src[4u * i + 2u], src[4u * i + 3u]);
}

fn second4(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(second_staged, i);
    }
    return vec4(second[4u * i], second[4u * i + 1u], second[4u * i + 2u], second[4u * i + 3u]);
}

fn third4(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(third_staged, i);
    }
    return vec4(third[4u * i], third[4u * i + 1u], third[4u * i + 2u], third[4u * i + 3u]);
}

// `scatter_add` where `inner` is a multiple of 4: a thread sums 4 neighbouring outputs, reading
// one vec4 of the sources and of the index per step (an embedding's gradient: the index repeats
// along the embedding).
@compute @workgroup_size(256)
fn scatter_add4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if t >= p.n / 4u {
        return;
    }
    let inner4 = p.inner / 4u;
    let n4 = t % inner4;
    let j = vec4(f32((t / inner4) % p.src_axis));
    let o = t / (p.src_axis * inner4);
    var sum = vec4(0.0);
    for (var i = 0u; i < p.index_axis; i++) {
        let at = (o * p.index_axis + i) * inner4 + n4;
        sum += select(vec4(0.0), src4(at), second4(at) == j);
    }
    out4[t] = sum;
}

// out[o, j, n] = sum over i of src[o, i, n] where index[o, i, n] == j
fn scatter_element(t: u32) -> f32 {
    let n = t % p.inner;
    let j = f32((t / p.inner) % p.src_axis);
    let o = t / (p.src_axis * p.inner);
    var sum = 0.0;
    for (var i = 0u; i < p.index_axis; i++) {
        let at = (o * p.index_axis + i) * p.inner + n;
        if second_at(at) == j {
            sum += src_at(at);
        }
    }
    return sum;
}

// Grid: one thread per 4 output elements.
@compute @workgroup_size(256)
fn scatter_add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if 4u * t < p.n {
        let i = four_indices(t, p.n);
        out4[t] = vec4(scatter_element(i.x), scatter_element(i.y), scatter_element(i.z), scatter_element(i.w));
    }
}

// cond != 0 ? a : b, with cond = src, a = second, b = third.
@compute @workgroup_size(256)
fn where_cond(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if 4u * t < p.n {
        // Not `!=`: naga's is ordered, so a NaN condition would pick the third (torch: the second).
        out4[t] = select(third4(t), second4(t), !(src4(t) == vec4(0.0)));
    }
}

@compute @workgroup_size(256)
fn fill(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if 4u * t < p.n {
        out4[t] = vec4(p.value);
    }
}
