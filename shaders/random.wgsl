// Counter-based random numbers (random.rs `Sampler`): the PCG hash of `index ^ key`, top 24 bits
// scaled by 2^-24 (exact in f32). `rand_uniform` takes one such stream, `rand_normal` two (Box-Muller);
// both finish with `min(v * scale + shift, cap)`. The plain uniform numbers (scale 1, shift 0) are
// bit-identical to the CPU's; elsewhere the driver may fuse the multiply-add (one rounding apart).
// Two entry points rather than a flag: lavapipe compiles a variant of a shader for each value of a
// parameter that picks a branch.

struct Params {
    n: u32,
    key0: u32,
    key1: u32,
    _pad0: u32,
    scale: f32,
    shift: f32,
    cap: f32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const TAU: f32 = 6.283185307179586;

fn pcg_hash(x: u32) -> u32 {
    let state = x * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn unit_uniform(key: u32, i: u32) -> f32 {
    return f32(pcg_hash(i ^ key) >> 8u) * (1.0 / 16777216.0);
}

fn index(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

fn finish(v: f32) -> f32 {
    return min(v * p.scale + p.shift, p.cap);
}

@compute @workgroup_size(256)
fn rand_uniform(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = index(wg, nwg, li);
    if i < p.n {
        out[i] = finish(unit_uniform(p.key0, i));
    }
}

@compute @workgroup_size(256)
fn rand_normal(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = index(wg, nwg, li);
    if i < p.n {
        // 1 - u1 lies in (0, 1], so the log is finite.
        let radius = sqrt(log(1.0 - unit_uniform(p.key0, i)) * -2.0);
        out[i] = finish(radius * cos(unit_uniform(p.key1, i) * TAU));
    }
}
