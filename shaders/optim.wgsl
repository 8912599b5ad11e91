// Fused optimizer steps (optim.rs `UpdateRule::apply`, PyTorch semantics): one dispatch per
// parameter reads the parameter, its gradient and state, and writes the new parameter and state,
// four elements (a vec4) at a time. One entry point, `update`; the rule is the override `RULE`
// (a constant, so the `switch` folds away and each pipeline keeps only its rule's loads).
// On CPU-backed drivers the inputs are read from texture copies (`STAGED`, see unary.wgsl).

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

const RULE_SGD: u32 = 0u;
const RULE_ADAGRAD: u32 = 1u;
const RULE_RMSPROP: u32 = 2u;
override RULE: u32 = RULE_SGD;
override STAGED: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> param: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> grad: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> s0: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> s1: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out_param: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> out_s0: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> out_s1: array<vec4<f32>>;
@group(0) @binding(8) var param_staged: texture_storage_2d<rgba32float, read>;
@group(0) @binding(9) var grad_staged: texture_storage_2d<rgba32float, read>;
@group(0) @binding(10) var s0_staged: texture_storage_2d<rgba32float, read>;
@group(0) @binding(11) var s1_staged: texture_storage_2d<rgba32float, read>;

fn load_param(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(param_staged, i);
    }
    return param[i];
}

fn load_grad(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(grad_staged, i);
    }
    return grad[i];
}

fn load_s0(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(s0_staged, i);
    }
    return s0[i];
}

fn load_s1(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(s1_staged, i);
    }
    return s1[i];
}

// One vec4 per thread: thread `li` of workgroup `w` updates vec4 `256 w + li`. Bindings are rounded
// up to whole vec4s; the padding is scratch. (Four vec4s per thread in a loop, as in unary.wgsl,
// ran 3-10% slower on lavapipe: the loop's stores are masked.)
@compute @workgroup_size(256)
fn update(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + li;
    if i < (p.n + 3u) / 4u {
        switch RULE {
            case RULE_SGD: { sgd_at(i); }
            case RULE_ADAGRAD: { adagrad_at(i); }
            case RULE_RMSPROP: { rmsprop_at(i); }
            default: { adam_at(i); }
        }
    }
}

fn sgd_at(i: u32) {
    let w = load_param(i);
    var g = load_grad(i) + p.weight_decay * w;
    var v = load_s0(i);
    if p.momentum != 0.0 {
        v = p.momentum * v + (1.0 - p.dampening) * g;
        g = select(v, g + p.momentum * v, (p.flags & FLAG_NESTEROV) != 0u);
    }
    out_s0[i] = v;
    out_param[i] = w - p.lr * g;
}

fn adagrad_at(i: u32) {
    let w = load_param(i);
    let g = load_grad(i) + p.weight_decay * w;
    let s = load_s0(i) + g * g;
    out_s0[i] = s;
    out_param[i] = w - p.lr * g / (sqrt(s) + p.eps);
}

fn rmsprop_at(i: u32) {
    let w = load_param(i);
    let g = load_grad(i) + p.weight_decay * w;
    let sq = p.alpha * load_s0(i) + (1.0 - p.alpha) * g * g;
    let step = g / (sqrt(sq) + p.eps);
    var buf = load_s1(i);
    var new_w = w - p.lr * step;
    if p.momentum > 0.0 {
        buf = p.momentum * buf + step;
        new_w = w - p.lr * buf;
    }
    out_s0[i] = sq;
    out_s1[i] = buf;
    out_param[i] = new_w;
}

fn adam_at(i: u32) {
    var w = load_param(i);
    var g = load_grad(i);
    if (p.flags & FLAG_DECOUPLED) != 0u {
        w = w * (1.0 - p.lr * p.weight_decay);
    } else {
        g = g + p.weight_decay * w;
    }
    let m = p.beta1 * load_s0(i) + (1.0 - p.beta1) * g;
    let v = p.beta2 * load_s1(i) + (1.0 - p.beta2) * g * g;
    out_s0[i] = m;
    out_s1[i] = v;
    out_param[i] = w - p.lr * (m / p.bias1) / (sqrt(v / p.bias2) + p.eps);
}
