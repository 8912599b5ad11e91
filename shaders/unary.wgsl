// Elementwise ops of one input (ops.rs `unary_ops!`), one entry point `unary_<name>` per op, its
// formula in `f_<name>`. Tensors are bound as vec4 arrays (bindings are rounded up to 16 bytes; the
// padding after the last element is scratch): each thread maps `VPT` vec4s, `256 * VPT` vec4s per
// workgroup, so a 4M-element tensor is 1,024 workgroups (lavapipe pays per workgroup and per
// load, and a vec4 load costs about as much as a scalar one). Over 65,535 workgroups, a 2-D grid.

struct Params {
    n: u32,
    alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

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

// The same forms as `stable_tanh` / `stable_sigmoid` in ops.rs: neither branch overflows.
fn stable_tanh(v: f32) -> f32 {
    let e = exp(-2.0 * abs(v));
    let t = (1.0 - e) / (1.0 + e);
    return select(t, -t, v < 0.0);
}

fn stable_sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
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

@compute @workgroup_size(256)
fn unary_neg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_neg(v.x), f_neg(v.y), f_neg(v.z), f_neg(v.w));
        }
    }
}

fn f_exp(v: f32) -> f32 {
    return exp(v);
}

@compute @workgroup_size(256)
fn unary_exp(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_exp(v.x), f_exp(v.y), f_exp(v.z), f_exp(v.w));
        }
    }
}

fn f_log(v: f32) -> f32 {
    return log(v);
}

@compute @workgroup_size(256)
fn unary_log(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_log(v.x), f_log(v.y), f_log(v.z), f_log(v.w));
        }
    }
}

fn f_sqrt(v: f32) -> f32 {
    return sqrt(v);
}

@compute @workgroup_size(256)
fn unary_sqrt(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_sqrt(v.x), f_sqrt(v.y), f_sqrt(v.z), f_sqrt(v.w));
        }
    }
}

fn f_abs(v: f32) -> f32 {
    return abs(v);
}

@compute @workgroup_size(256)
fn unary_abs(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_abs(v.x), f_abs(v.y), f_abs(v.z), f_abs(v.w));
        }
    }
}

fn f_sign(v: f32) -> f32 {
    return select(select(0.0, -1.0, v < 0.0), 1.0, v > 0.0);
}

@compute @workgroup_size(256)
fn unary_sign(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_sign(v.x), f_sign(v.y), f_sign(v.z), f_sign(v.w));
        }
    }
}

fn f_recip(v: f32) -> f32 {
    return 1.0 / v;
}

@compute @workgroup_size(256)
fn unary_recip(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_recip(v.x), f_recip(v.y), f_recip(v.z), f_recip(v.w));
        }
    }
}

fn f_square(v: f32) -> f32 {
    return v * v;
}

@compute @workgroup_size(256)
fn unary_square(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_square(v.x), f_square(v.y), f_square(v.z), f_square(v.w));
        }
    }
}

fn f_sin(v: f32) -> f32 {
    return sin(v);
}

@compute @workgroup_size(256)
fn unary_sin(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_sin(v.x), f_sin(v.y), f_sin(v.z), f_sin(v.w));
        }
    }
}

fn f_cos(v: f32) -> f32 {
    return cos(v);
}

@compute @workgroup_size(256)
fn unary_cos(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_cos(v.x), f_cos(v.y), f_cos(v.z), f_cos(v.w));
        }
    }
}

fn f_sigmoid(v: f32) -> f32 {
    return stable_sigmoid(v);
}

@compute @workgroup_size(256)
fn unary_sigmoid(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_sigmoid(v.x), f_sigmoid(v.y), f_sigmoid(v.z), f_sigmoid(v.w));
        }
    }
}

fn f_tanh(v: f32) -> f32 {
    return stable_tanh(v);
}

@compute @workgroup_size(256)
fn unary_tanh(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_tanh(v.x), f_tanh(v.y), f_tanh(v.z), f_tanh(v.w));
        }
    }
}

fn f_relu(v: f32) -> f32 {
    return select(0.0, v, v > 0.0);
}

@compute @workgroup_size(256)
fn unary_relu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_relu(v.x), f_relu(v.y), f_relu(v.z), f_relu(v.w));
        }
    }
}

fn f_leaky_relu(v: f32) -> f32 {
    return select(p.alpha * v, v, v > 0.0);
}

@compute @workgroup_size(256)
fn unary_leaky_relu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_leaky_relu(v.x), f_leaky_relu(v.y), f_leaky_relu(v.z), f_leaky_relu(v.w));
        }
    }
}

fn f_elu(v: f32) -> f32 {
    return select(p.alpha * (exp(v) - 1.0), v, v > 0.0);
}

@compute @workgroup_size(256)
fn unary_elu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_elu(v.x), f_elu(v.y), f_elu(v.z), f_elu(v.w));
        }
    }
}

fn f_gelu(v: f32) -> f32 {
    return gelu(v);
}

@compute @workgroup_size(256)
fn unary_gelu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_gelu(v.x), f_gelu(v.y), f_gelu(v.z), f_gelu(v.w));
        }
    }
}

fn f_gelu_grad(v: f32) -> f32 {
    return gelu_grad(v);
}

@compute @workgroup_size(256)
fn unary_gelu_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_gelu_grad(v.x), f_gelu_grad(v.y), f_gelu_grad(v.z), f_gelu_grad(v.w));
        }
    }
}

fn f_step(v: f32) -> f32 {
    return select(0.0, 1.0, v > 0.0);
}

@compute @workgroup_size(256)
fn unary_step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = vec4_count();
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            let v = x[i];
            y[i] = vec4(f_step(v.x), f_step(v.y), f_step(v.z), f_step(v.w));
        }
    }
}
