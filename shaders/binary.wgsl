// Elementwise ops of two inputs (ops.rs `binary_ops!`). The op is the override constant `OP`
// (`BinaryOp::code`), so each op gets its own specialised pipeline; `binary_<name>` are the formulas.
// Entry points: `binary_same` (equal shapes), `binary_broadcast` (NumPy broadcasting, rank <= 6,
// strides in params, 0 where a dimension is stretched) and `binary_scalar`.

struct Params {
    n: u32,
    rank: u32,
    scalar: f32,
    scalar_first: u32,
    dims: array<vec4<u32>, 2>,
    a_strides: array<vec4<u32>, 2>,
    b_strides: array<vec4<u32>, 2>,
}

override OP: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn linear_id(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

fn flag(c: bool) -> f32 {
    return select(0.0, 1.0, c);
}

fn binary_add(x: f32, y: f32) -> f32 { return x + y; }
fn binary_sub(x: f32, y: f32) -> f32 { return x - y; }
fn binary_mul(x: f32, y: f32) -> f32 { return x * y; }
fn binary_div(x: f32, y: f32) -> f32 { return x / y; }

// `powf` semantics: WGSL's pow is undefined for a negative base, so integer exponents of a
// negative base take the sign from the exponent's parity.
fn binary_pow(x: f32, y: f32) -> f32 {
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if x == 0.0 {
        return select(bitcast<f32>(0x7f800000u), 0.0, y > 0.0);
    }
    if x < 0.0 {
        if y != floor(y) {
            return bitcast<f32>(0x7fc00000u);
        }
        let r = pow(-x, y);
        return select(r, -r, fract(y * 0.5) != 0.0);
    }
    return pow(x, y);
}

fn binary_max(x: f32, y: f32) -> f32 { return max(x, y); }
fn binary_min(x: f32, y: f32) -> f32 { return min(x, y); }
fn binary_eq(x: f32, y: f32) -> f32 { return flag(x == y); }
fn binary_ne(x: f32, y: f32) -> f32 { return flag(x != y); }
fn binary_lt(x: f32, y: f32) -> f32 { return flag(x < y); }
fn binary_le(x: f32, y: f32) -> f32 { return flag(x <= y); }
fn binary_gt(x: f32, y: f32) -> f32 { return flag(x > y); }
fn binary_ge(x: f32, y: f32) -> f32 { return flag(x >= y); }

fn apply_binary(x: f32, y: f32) -> f32 {
    switch OP {
        case 0u: { return binary_add(x, y); }
        case 1u: { return binary_sub(x, y); }
        case 2u: { return binary_mul(x, y); }
        case 3u: { return binary_div(x, y); }
        case 4u: { return binary_pow(x, y); }
        case 5u: { return binary_max(x, y); }
        case 6u: { return binary_min(x, y); }
        case 7u: { return binary_eq(x, y); }
        case 8u: { return binary_ne(x, y); }
        case 9u: { return binary_lt(x, y); }
        case 10u: { return binary_le(x, y); }
        case 11u: { return binary_gt(x, y); }
        default: { return binary_ge(x, y); }
    }
}

@compute @workgroup_size(256)
fn binary_same(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        out[i] = apply_binary(a[i], b[i]);
    }
}

@compute @workgroup_size(256)
fn binary_broadcast(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i >= p.n {
        return;
    }
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
        let q = u32(d) / 4u;
        let r = u32(d) % 4u;
        let dim = p.dims[q][r];
        let c = rem % dim;
        rem = rem / dim;
        ia += c * p.a_strides[q][r];
        ib += c * p.b_strides[q][r];
    }
    out[i] = apply_binary(a[ia], b[ib]);
}

@compute @workgroup_size(256)
fn binary_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let i = linear_id(wg, nwg, li);
    if i < p.n {
        let v = a[i];
        if p.scalar_first != 0u {
            out[i] = apply_binary(p.scalar, v);
        } else {
            out[i] = apply_binary(v, p.scalar);
        }
    }
}
