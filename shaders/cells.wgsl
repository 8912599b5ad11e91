// Recurrent cells fused, one thread per (row, unit): one time step of an LSTM or a GRU from the
// gate pre-activations `gi` and `gh` (`[batch, gates * hidden]`, blocks in PyTorch's order) and
// the state. `stable_sigmoid` and `stable_tanh` are in common/activations.wgsl.
// LSTM (gates i, f, g, o of gi + gh; state (h, c) per row): `lstm_cell` gives the next state,
// c' = sigmoid(f) c + sigmoid(i) tanh(g) and h' = sigmoid(o) tanh(c'); from `grad`, the next
// state's gradient, `lstm_grad_gates` gives that of the gates (of gi and of gh alike) and
// `lstm_grad_state` that of the state (zero for h: the step reads h only through gh).
// GRU (gates r, z, n; state h): `gru_cell` gives h' = (1 - z) n + z h with
// n = tanh(gi_n + r gh_n); `gru_grad_gates` the gradient of gi, or of gh with `HIDDEN` (its n block
// scaled by r), and `gru_grad_state` that of h.

struct Params {
    batch: u32,
    hidden: u32,
    _pad0: u32,
    _pad1: u32,
}

override HIDDEN: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> gi: array<f32>;
@group(0) @binding(2) var<storage, read> gh: array<f32>;
@group(0) @binding(3) var<storage, read> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> grad: array<f32>;

// The unit a thread computes; threads past the last unit (p.batch * p.hidden) do nothing.
fn unit_index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

// LSTM unit j of row r: activated gates, the previous and the next cell value.
struct LstmUnit {
    r: u32,
    j: u32,
    i: f32,
    f: f32,
    g: f32,
    o: f32,
    c_prev: f32,
    c: f32,
}

fn lstm_pre(r: u32, k: u32, j: u32) -> f32 {
    let at = (r * 4u + k) * p.hidden + j;
    return gi[at] + gh[at];
}

fn lstm_unit(id: u32) -> LstmUnit {
    var u: LstmUnit;
    u.r = id / p.hidden;
    u.j = id % p.hidden;
    u.i = stable_sigmoid(lstm_pre(u.r, 0u, u.j));
    u.f = stable_sigmoid(lstm_pre(u.r, 1u, u.j));
    u.g = stable_tanh(lstm_pre(u.r, 2u, u.j));
    u.o = stable_sigmoid(lstm_pre(u.r, 3u, u.j));
    u.c_prev = state[(u.r * 2u + 1u) * p.hidden + u.j];
    u.c = u.f * u.c_prev + u.i * u.g;
    return u;
}

// The gradient reaching c' (directly and through h' = o tanh(c')), and tanh(c').
fn lstm_cell_grad(u: LstmUnit) -> vec2<f32> {
    let tc = stable_tanh(u.c);
    let grad_h = grad[u.r * 2u * p.hidden + u.j];
    let grad_c = grad[(u.r * 2u + 1u) * p.hidden + u.j];
    return vec2(grad_c + grad_h * u.o * (1.0 - tc * tc), tc);
}

@compute @workgroup_size(256)
fn lstm_cell(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let id = unit_index(wg, nwg, li);
    if id < p.batch * p.hidden {
        let u = lstm_unit(id);
        out[u.r * 2u * p.hidden + u.j] = u.o * stable_tanh(u.c);
        out[(u.r * 2u + 1u) * p.hidden + u.j] = u.c;
    }
}

@compute @workgroup_size(256)
fn lstm_grad_gates(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let id = unit_index(wg, nwg, li);
    if id < p.batch * p.hidden {
        let u = lstm_unit(id);
        let gc = lstm_cell_grad(u);
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
    let id = unit_index(wg, nwg, li);
    if id < p.batch * p.hidden {
        let u = lstm_unit(id);
        out[u.r * 2u * p.hidden + u.j] = 0.0;
        out[(u.r * 2u + 1u) * p.hidden + u.j] = lstm_cell_grad(u).x * u.f;
    }
}

// GRU unit j of row r: activated gates, gh's n block and the previous h.
struct GruUnit {
    base: u32,
    r: f32,
    z: f32,
    n: f32,
    gh_n: f32,
    h: f32,
}

fn gru_unit(id: u32) -> GruUnit {
    let row = id / p.hidden;
    var u: GruUnit;
    u.base = row * 3u * p.hidden + id % p.hidden;
    u.r = stable_sigmoid(gi[u.base] + gh[u.base]);
    u.z = stable_sigmoid(gi[u.base + p.hidden] + gh[u.base + p.hidden]);
    u.gh_n = gh[u.base + 2u * p.hidden];
    u.n = stable_tanh(gi[u.base + 2u * p.hidden] + u.r * u.gh_n);
    u.h = state[id];
    return u;
}

@compute @workgroup_size(256)
fn gru_cell(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let id = unit_index(wg, nwg, li);
    if id < p.batch * p.hidden {
        let u = gru_unit(id);
        out[id] = u.n + u.z * (u.h - u.n);
    }
}

@compute @workgroup_size(256)
fn gru_grad_gates(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let id = unit_index(wg, nwg, li);
    if id < p.batch * p.hidden {
        let u = gru_unit(id);
        let g = grad[id];
        let dn = g * (1.0 - u.z) * (1.0 - u.n * u.n);
        out[u.base] = dn * u.gh_n * u.r * (1.0 - u.r);
        out[u.base + p.hidden] = g * (u.h - u.n) * u.z * (1.0 - u.z);
        out[u.base + 2u * p.hidden] = select(dn, dn * u.r, HIDDEN);
    }
}

@compute @workgroup_size(256)
fn gru_grad_state(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let id = unit_index(wg, nwg, li);
    if id < p.batch * p.hidden {
        out[id] = grad[id] * gru_unit(id).z;
    }
}
