// One LSTM time step, fused: one thread per (row, unit). The gates are gi + gh, `[batch, 4 hidden]`
// in blocks i, f, g, o; the state is `[batch, 2 hidden]`, (h, c) per row.
// `lstm_cell`: the next state, c' = sigmoid(f) c + sigmoid(i) tanh(g) and h' = sigmoid(o) tanh(c').
// `lstm_grad_gates` / `lstm_grad_state`: from `grad`, the next state's gradient, that of the gate
// pre-activations, or of the previous state (zero for h: the step reads only c).
// `stable_sigmoid` and `stable_tanh` are in common/activations.wgsl.

struct Params {
    batch: u32,
    hidden: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gi: array<f32>;
@group(0) @binding(2) var<storage, read> gh: array<f32>;
@group(0) @binding(3) var<storage, read> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> grad: array<f32>;

// Unit j of row r: activated gates, the previous and the next cell value.
struct Unit {
    r: u32,
    j: u32,
    i: f32,
    f: f32,
    g: f32,
    o: f32,
    c_prev: f32,
    c: f32,
}

fn pre(r: u32, k: u32, j: u32) -> f32 {
    let at = (r * 4u + k) * p.hidden + j;
    return gi[at] + gh[at];
}

fn unit(id: u32) -> Unit {
    var u: Unit;
    u.r = id / p.hidden;
    u.j = id % p.hidden;
    u.i = stable_sigmoid(pre(u.r, 0u, u.j));
    u.f = stable_sigmoid(pre(u.r, 1u, u.j));
    u.g = stable_tanh(pre(u.r, 2u, u.j));
    u.o = stable_sigmoid(pre(u.r, 3u, u.j));
    u.c_prev = state[(u.r * 2u + 1u) * p.hidden + u.j];
    u.c = u.f * u.c_prev + u.i * u.g;
    return u;
}

// The unit this thread computes, into `u`; false for a thread past the last unit.
fn unit_of(wg: vec3<u32>, nwg: vec3<u32>, li: u32, u: ptr<function, Unit>) -> bool {
    let id = (wg.y * nwg.x + wg.x) * 256u + li;
    if id >= p.batch * p.hidden {
        return false;
    }
    *u = unit(id);
    return true;
}

// The gradient reaching c' (directly and through h' = o tanh(c')), and tanh(c').
fn cell_grad(u: Unit) -> vec2<f32> {
    let tc = stable_tanh(u.c);
    let grad_h = grad[u.r * 2u * p.hidden + u.j];
    let grad_c = grad[(u.r * 2u + 1u) * p.hidden + u.j];
    return vec2(grad_c + grad_h * u.o * (1.0 - tc * tc), tc);
}

@compute @workgroup_size(256)
fn lstm_cell(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    var u: Unit;
    if unit_of(wg, nwg, li, &u) {
        out[u.r * 2u * p.hidden + u.j] = u.o * stable_tanh(u.c);
        out[(u.r * 2u + 1u) * p.hidden + u.j] = u.c;
    }
}

@compute @workgroup_size(256)
fn lstm_grad_gates(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    var u: Unit;
    if unit_of(wg, nwg, li, &u) {
        let gc = cell_grad(u);
        let grad_h = grad[u.r * 2u * p.hidden + u.j];
        let base = u.r * 4u * p.hidden + u.j;
        out[base] = gc.x * u.g * u.i * (1.0 - u.i);
        out[base + p.hidden] = gc.x * u.c_prev * u.f * (1.0 - u.f);
        out[base + 2u * p.hidden] = gc.x * u.i * (1.0 - u.g * u.g);
        out[base + 3u * p.hidden] = grad_h * gc.y * u.o * (1.0 - u.o);
    }
}

@compute @workgroup_size(256)
fn lstm_grad_state(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    var u: Unit;
    if unit_of(wg, nwg, li, &u) {
        out[u.r * 2u * p.hidden + u.j] = 0.0;
        out[(u.r * 2u + 1u) * p.hidden + u.j] = cell_grad(u).x * u.f;
    }
}
