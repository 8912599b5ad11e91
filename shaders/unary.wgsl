// Elementwise ops of one input (ops.rs `unary_ops!`): one thread per element, one entry point
// `unary_<name>` per op. Dispatches over 65,535 workgroups use a 2-D grid.

struct Params {
    n: u32,
    alpha: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

const SQRT_2_OVER_PI: f32 = 0.7978846;
const GELU_C: f32 = 0.044715;

fn linear_id(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
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

@compute @workgroup_size(256)
fn unary_neg(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = -v;
    }
}

@compute @workgroup_size(256)
fn unary_exp(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = exp(v);
    }
}

@compute @workgroup_size(256)
fn unary_log(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = log(v);
    }
}

@compute @workgroup_size(256)
fn unary_sqrt(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = sqrt(v);
    }
}

@compute @workgroup_size(256)
fn unary_abs(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = abs(v);
    }
}

@compute @workgroup_size(256)
fn unary_sign(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = select(select(0.0, -1.0, v < 0.0), 1.0, v > 0.0);
    }
}

@compute @workgroup_size(256)
fn unary_recip(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = 1.0 / v;
    }
}

@compute @workgroup_size(256)
fn unary_square(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = v * v;
    }
}

@compute @workgroup_size(256)
fn unary_sin(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = sin(v);
    }
}

@compute @workgroup_size(256)
fn unary_cos(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = cos(v);
    }
}

@compute @workgroup_size(256)
fn unary_sigmoid(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = stable_sigmoid(v);
    }
}

@compute @workgroup_size(256)
fn unary_tanh(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = stable_tanh(v);
    }
}

@compute @workgroup_size(256)
fn unary_relu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = select(0.0, v, v > 0.0);
    }
}

@compute @workgroup_size(256)
fn unary_leaky_relu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = select(p.alpha * v, v, v > 0.0);
    }
}

@compute @workgroup_size(256)
fn unary_elu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = select(p.alpha * (exp(v) - 1.0), v, v > 0.0);
    }
}

@compute @workgroup_size(256)
fn unary_gelu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = gelu(v);
    }
}

@compute @workgroup_size(256)
fn unary_gelu_grad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = gelu_grad(v);
    }
}

@compute @workgroup_size(256)
fn unary_step(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = x[i];
        y[i] = select(0.0, 1.0, v > 0.0);
    }
}
