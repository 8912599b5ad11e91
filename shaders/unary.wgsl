// Elementwise ops of one input (ops.rs `unary_ops!`), one entry point `unary_<name>` per op, its
// formula in `f_<name>`; every entry point runs the same loop, `map_vec4s`, with its op's code
// (a constant, so the `switch` in `apply` folds away when the pipeline is compiled). Tensors are bound as vec4 arrays (bindings are rounded up to 16 bytes; the
// padding after the last element is scratch): each thread maps `VPT` vec4s, `256 * VPT` vec4s per
// workgroup, so a 4M-element tensor is 1,024 workgroups (lavapipe pays per workgroup and per
// load, and a vec4 load costs about as much as a scalar one). Over 65,535 workgroups, a 2-D grid.
// `stable_sigmoid` and `stable_tanh` are in common/activations.wgsl.

struct Params {
    n: u32,
    alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;
// On CPU-backed drivers `x` is read from a texture copy (`staged.rs`: vec4 `i` is texel
// (i % 4096, i / 4096)), as texel fetches cost a fraction of buffer loads there; elsewhere a 1x1
// placeholder is bound and `STAGED` is false, so the texture is never read.
override STAGED: bool = false;
@group(0) @binding(3) var x_staged: texture_storage_2d<rgba32float, read>;

fn load_x(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(x_staged, i);
    }
    return x[i];
}

// vec4s per thread.
const VPT: u32 = 4u;

const SQRT_2_OVER_PI: f32 = 0.7978846;
const GELU_C: f32 = 0.044715;

// The first vec4 of a thread: thread `li` of workgroup `w` maps vec4s `w * 256 * VPT + li + 256 k`.
fn first_vec4(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * (256u * VPT) + li;
}

fn vec4_count() -> u32 {
    return (p.n + 3u) / 4u;
}

fn gelu(v: f32) -> f32 {
    return 0.5 * v * (1.0 + stable_tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v)));
}

fn gelu_grad(v: f32) -> f32 {
    let t = stable_tanh(SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
    return 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_C * v * v);
}

fn f_neg(v: f32) -> f32 {
    return -v;
}

fn f_exp(v: f32) -> f32 {
    return exp(v);
}

fn f_log(v: f32) -> f32 {
    return log(v);
}

fn f_sqrt(v: f32) -> f32 {
    return sqrt(v);
}

fn f_abs(v: f32) -> f32 {
    return abs(v);
}

fn f_sign(v: f32) -> f32 {
    // ±0 and NaN give +0, as torch's sign. A difference of two 0/1 values: Mesa folds a select of
    // -1 and 0 (even as integer bits) into -f32(c), which is -0 where c is false.
    return f32(v > 0.0) - f32(v < 0.0);
}

fn f_recip(v: f32) -> f32 {
    return 1.0 / v;
}

fn f_square(v: f32) -> f32 {
    return v * v;
}

fn f_sin(v: f32) -> f32 {
    return sin(v);
}

fn f_cos(v: f32) -> f32 {
    return cos(v);
}

fn f_sigmoid(v: f32) -> f32 {
    return stable_sigmoid(v);
}

fn f_tanh(v: f32) -> f32 {
    return stable_tanh(v);
}

fn f_relu(v: f32) -> f32 {
    // NaN stays NaN, as torch.relu (the comparison is false for it).
    return select(v, 0.0, v <= 0.0);
}

fn f_leaky_relu(v: f32) -> f32 {
    return select(p.alpha * v, v, v > 0.0);
}

fn f_elu(v: f32) -> f32 {
    return select(p.alpha * exp_m1(v), v, v > 0.0);
}

fn f_gelu(v: f32) -> f32 {
    return gelu(v);
}

fn f_gelu_grad(v: f32) -> f32 {
    return gelu_grad(v);
}

fn f_step(v: f32) -> f32 {
    return select(0.0, 1.0, v > 0.0);
}

fn apply(op: u32, v: f32) -> f32 {
    switch op {
        case 0u: { return f_neg(v); }
        case 1u: { return f_exp(v); }
        case 2u: { return f_log(v); }
        case 3u: { return f_sqrt(v); }
        case 4u: { return f_abs(v); }
        case 5u: { return f_sign(v); }
        case 6u: { return f_recip(v); }
        case 7u: { return f_square(v); }
        case 8u: { return f_sin(v); }
        case 9u: { return f_cos(v); }
        case 10u: { return f_sigmoid(v); }
        case 11u: { return f_tanh(v); }
        case 12u: { return f_relu(v); }
        case 13u: { return f_leaky_relu(v); }
        case 14u: { return f_elu(v); }
        case 15u: { return f_gelu(v); }
        case 16u: { return f_gelu_grad(v); }
        case 17u: { return f_step(v); }
        default: { return v; }
    }
}

fn apply4(op: u32, v: vec4<f32>) -> vec4<f32> {
    return vec4(apply(op, v.x), apply(op, v.y), apply(op, v.z), apply(op, v.w));
}

fn map_vec4s(op: u32, wg: vec3<u32>, nwg: vec3<u32>, li: u32) {
    let n4 = vec4_count();
    let start = first_vec4(wg, nwg, li);
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            y[i] = apply4(op, load_x(i));
        }
    }
}

@compute @workgroup_size(256)
fn unary_neg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(0u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_exp(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(1u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_log(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(2u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_sqrt(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(3u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_abs(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(4u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_sign(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(5u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_recip(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(6u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_square(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(7u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_sin(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(8u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_cos(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(9u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_sigmoid(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(10u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_tanh(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(11u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_relu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(12u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_leaky_relu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(13u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_elu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(14u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_gelu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(15u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_gelu_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(16u, wg, nwg, li);
}

@compute @workgroup_size(256)
fn unary_step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_vec4s(17u, wg, nwg, li);
}
