// Counter-based uniform numbers in [0, 1), bit-identical to random.rs: the PCG hash of
// `index ^ key`, top 24 bits scaled by 2^-24 (exact in f32).

struct Params {
    n: u32,
    key: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

fn pcg_hash(x: u32) -> u32 {
    let state = x * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

@compute @workgroup_size(256)
fn rand_uniform(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + li;
    if i < p.n {
        out[i] = f32(pcg_hash(i ^ p.key) >> 8u) * (1.0 / 16777216.0);
    }
}
