// Fused optimizer steps (optim.rs `UpdateRule::apply`, PyTorch semantics): one dispatch per
// parameter reads the parameter, its gradient and state, and writes the new parameter and state,
// four elements (a vec4) at a time: on lavapipe a vec4 load costs about as much as a scalar one.

struct Params {
    n: u32,
    flags: u32,
    lr: f32,
    weight_decay: f32,
    momentum: f32,
    dampening: f32,
    eps: f32,
    alpha: f32,
    beta1: f32,
    beta2: f32,
    bias1: f32,
    bias2: f32,
}

const FLAG_NESTEROV: u32 = 1u;
const FLAG_DECOUPLED: u32 = 2u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> s0: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> s1: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out_param: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> out_s0: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> out_s1: array<vec4<f32>>;

// vec4s per thread (as in unary.wgsl): thread `li` of workgroup `w` updates vec4s
// `w * 256 * VPT + li + 256 k`. Bindings are rounded up to whole vec4s; the padding is scratch.
const VPT: u32 = 4u;

@compute @workgroup_size(256)
fn update_sgd(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = (wg.y * nwg.x + wg.x) * (256u * VPT) + li;
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < (p.n + 3u) / 4u {
            sgd_at(i);
        }
    }
}

fn sgd_at(i: u32) {
    let w = param[i];
    var g = grad[i] + p.weight_decay * w;
    var v = s0[i];
    if p.momentum != 0.0 {
        v = p.momentum * v + (1.0 - p.dampening) * g;
        g = select(v, g + p.momentum * v, (p.flags & FLAG_NESTEROV) != 0u);
    }
    out_s0[i] = v;
    out_param[i] = w - p.lr * g;
}

@compute @workgroup_size(256)
fn update_adagrad(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = (wg.y * nwg.x + wg.x) * (256u * VPT) + li;
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < (p.n + 3u) / 4u {
            adagrad_at(i);
        }
    }
}

fn adagrad_at(i: u32) {
    let w = param[i];
    let g = grad[i] + p.weight_decay * w;
    let s = s0[i] + g * g;
    out_s0[i] = s;
    out_param[i] = w - p.lr * g / (sqrt(s) + p.eps);
}

@compute @workgroup_size(256)
fn update_rmsprop(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = (wg.y * nwg.x + wg.x) * (256u * VPT) + li;
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < (p.n + 3u) / 4u {
            rmsprop_at(i);
        }
    }
}

fn rmsprop_at(i: u32) {
    let w = param[i];
    let g = grad[i] + p.weight_decay * w;
    let sq = p.alpha * s0[i] + (1.0 - p.alpha) * g * g;
    let step = g / (sqrt(sq) + p.eps);
    var buf = s1[i];
    var new_w = w - p.lr * step;
    if p.momentum > 0.0 {
        buf = p.momentum * buf + step;
        new_w = w - p.lr * buf;
    }
    out_s0[i] = sq;
    out_s1[i] = buf;
    out_param[i] = new_w;
}

@compute @workgroup_size(256)
fn update_adam(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = (wg.y * nwg.x + wg.x) * (256u * VPT) + li;
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < (p.n + 3u) / 4u {
            adam_at(i);
        }
    }
}

fn adam_at(i: u32) {
    var w = param[i];
    var g = grad[i];
    if (p.flags & FLAG_DECOUPLED) != 0u {
        w = w * (1.0 - p.lr * p.weight_decay);
    } else {
        g = g + p.weight_decay * w;
    }
    let m = p.beta1 * s0[i] + (1.0 - p.beta1) * g;
    let v = p.beta2 * s1[i] + (1.0 - p.beta2) * g * g;
    out_s0[i] = m;
    out_s1[i] = v;
    out_param[i] = w - p.lr * (m / p.bias1) / (sqrt(v / p.bias2) + p.eps);
}
