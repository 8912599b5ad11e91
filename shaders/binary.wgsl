// Elementwise ops of two inputs (ops.rs `binary_ops!`). The op is the override constant `OP`
// (`BinaryOp::code`), so each op gets its own specialised pipeline; `binary_<name>` are the formulas.
// Entry points: `binary_same` (equal shapes), `binary_broadcast` (NumPy broadcasting, rank <= 6,
// strides in params, 0 where a dimension is stretched) and `binary_scalar`. `binary_same` and
// `binary_scalar` bind their tensors as vec4 arrays (bindings are rounded up to 16 bytes) and map
// `VPT` vec4s per thread, as in unary.wgsl; `binary_broadcast` maps 4 elements per thread, and
// `binary_broadcast4` (innermost dimension a multiple of 4, e.g. a bias added to rows) maps vec4s.
// `mul_add` and `mul_add_relu` fuse `a * b + c` (and a ReLU) over three equal shapes.

struct Params {
    n: u32,
    scalar: f32,
    scalar_first: u32,
    _pad0: u32,
    dims: array<vec4<u32>, 2>,
    a_strides: array<vec4<u32>, 2>,
    b_strides: array<vec4<u32>, 2>,
}

override OP: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// The same bindings seen as vec4s, by `binary_same`, `binary_scalar` and `binary_broadcast4`
// (and `out4` by `binary_broadcast`).
@group(0) @binding(1) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out4: array<vec4<f32>>;
// The third input of `mul_add`.
@group(0) @binding(4) var<storage, read> c4: array<vec4<f32>>;
// Texture copies of a, b and c on CPU-backed drivers, read by every entry point when `STAGED`
// (see unary.wgsl); elsewhere 1x1 placeholders, never read.
override STAGED: bool = false;
@group(0) @binding(5) var a_staged: texture_storage_2d<rgba32float, read>;
@group(0) @binding(6) var b_staged: texture_storage_2d<rgba32float, read>;
@group(0) @binding(7) var c_staged: texture_storage_2d<rgba32float, read>;

fn load_a(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(a_staged, i);
    }
    return a4[i];
}

fn load_b(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(b_staged, i);
    }
    return b4[i];
}

fn load_c(i: u32) -> vec4<f32> {
    if STAGED {
        return staged_texel(c_staged, i);
    }
    return c4[i];
}

// vec4s per thread of the vec4 entry points.
const VPT: u32 = 4u;

fn first_vec4(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * (256u * VPT) + li;
}

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

// `powf` semantics (C's `pow`): WGSL's pow is exp2(y log2 x), undefined for a negative base and
// NaN for 1^inf, so zeros, infinities, NaNs and negative bases are handled here; a negative base
// (or -0) to an odd integer power keeps its sign.
fn binary_pow(x: f32, y: f32) -> f32 {
    let inf = bitcast<f32>(0x7f800000u);
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if is_nan(x) || is_nan(y) {
        return bitcast<f32>(0x7fc00000u);
    }
    let ax = abs(x);
    if abs(y) == inf {
        if ax == 1.0 {
            return 1.0;
        }
        return select(0.0, inf, (ax > 1.0) == (y > 0.0));
    }
    let odd = y == floor(y) && fract(y * 0.5) != 0.0;
    let negative = (bitcast<u32>(x) >> 31u) == 1u;
    var r: f32;
    if x == 0.0 || ax == inf {
        r = select(0.0, inf, (x == 0.0) == (y < 0.0));
    } else if x < 0.0 && y != floor(y) {
        return bitcast<f32>(0x7fc00000u);
    } else {
        r = pow(ax, y);
    }
    return select(r, -r, negative && odd);
}

// NaN propagates, as torch.maximum / minimum (WGSL's max and min leave it to the driver).
fn binary_max(x: f32, y: f32) -> f32 { return select(max(x, y), x + y, is_nan(x) || is_nan(y)); }
fn binary_min(x: f32, y: f32) -> f32 { return select(min(x, y), x + y, is_nan(x) || is_nan(y)); }
fn binary_eq(x: f32, y: f32) -> f32 { return flag(x == y); }
// Not `x != y`: naga emits an ordered comparison, false when either side is NaN.
fn binary_ne(x: f32, y: f32) -> f32 { return flag(!(x == y)); }
fn binary_lt(x: f32, y: f32) -> f32 { return flag(x < y); }
fn binary_le(x: f32, y: f32) -> f32 { return flag(x <= y); }
fn binary_gt(x: f32, y: f32) -> f32 { return flag(x > y); }
fn binary_ge(x: f32, y: f32) -> f32 { return flag(x >= y); }
fn binary_relu_grad(g: f32, x: f32) -> f32 { return select(g, 0.0, x <= 0.0); }

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
        case 12u: { return binary_ge(x, y); }
        default: { return binary_relu_grad(x, y); }
    }
}

fn apply4(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
    return vec4(apply_binary(x.x, y.x), apply_binary(x.y, y.y), apply_binary(x.z, y.z), apply_binary(x.w, y.w));
}

// A ReLU fused after `binary_same` when nothing else reads its result (batch.rs
// `fuse_relu_epilogues`): relu(a + b) is then one pass over memory instead of two.
override RELU: bool = false;

fn relu_if(v: vec4<f32>) -> vec4<f32> {
    if RELU {
        return select(v, vec4(0.0), v <= vec4(0.0));
    }
    return v;
}

@compute @workgroup_size(256)
fn binary_same(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let n4 = (p.n + 3u) / 4u;
    if STAGED {
        // The count from the binding, not the parameters: lavapipe compiles a shader again for
        // every value of a parameter that picks a branch (see `adjacent_vec4s`).
        let n4 = arrayLength(&out4);
        let t = linear_id(wg, nwg, li);
        if 4u * t < n4 {
            let i = adjacent_vec4s(t, n4);
            let v0 = apply4(load_a(i.x), load_b(i.x));
            let v1 = apply4(load_a(i.y), load_b(i.y));
            let v2 = apply4(load_a(i.z), load_b(i.z));
            let v3 = apply4(load_a(i.w), load_b(i.w));
            out4[i.x] = relu_if(v0);
            out4[i.y] = relu_if(v1);
            out4[i.z] = relu_if(v2);
            out4[i.w] = relu_if(v3);
        }
        return;
    }
    let start = first_vec4(wg, nwg, li);
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            out4[i] = relu_if(apply4(load_a(i), load_b(i)));
        }
    }
}

// The offsets in a and b of output element `i`: its index in each dimension times each input's
// stride there (0 where the input is stretched).
// The outermost index is what remains: no division there (integer division is lane by lane on
// CPU-backed drivers, and a bias over rows has only two dimensions). The rank is the override
// `RANK`, so the loop unrolls and reads the parameters at constant offsets: a loop
// bounded by the parameter, a bias added to rows ran 1.3x slower on lavapipe.
override RANK: u32 = 1u;

fn broadcast_offsets(i: u32) -> vec2<u32> {
    var rem = i;
    var at = vec2(0u);
    for (var d = i32(RANK) - 1; d >= 1; d--) {
        let q = u32(d) / 4u;
        let r = u32(d) % 4u;
        let dim = p.dims[q][r];
        let c = rem % dim;
        rem = rem / dim;
        at += c * vec2(p.a_strides[q][r], p.b_strides[q][r]);
    }
    return at + rem * vec2(p.a_strides[0][0], p.b_strides[0][0]);
}

fn broadcast_element(i: u32) -> f32 {
    let at = broadcast_offsets(i);
    if STAGED {
        return apply_binary(staged_element(a_staged, at.x), staged_element(b_staged, at.y));
    }
    return apply_binary(a[at.x], b[at.y]);
}

// Grid: one thread per 4 output elements, stored as a vec4 (`four_indices`).
@compute @workgroup_size(256)
fn binary_broadcast(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if 4u * t < p.n {
        let i = four_indices(t, p.n);
        out4[t] = vec4(broadcast_element(i.x), broadcast_element(i.y), broadcast_element(i.z), broadcast_element(i.w));
    }
}

@compute @workgroup_size(256)
fn binary_scalar(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let n4 = (p.n + 3u) / 4u;
    let start = first_vec4(wg, nwg, li);
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            out4[i] = with_scalar(load_a(i));
        }
    }
}

// `v` op scalar, or scalar op `v`.
fn with_scalar(v: vec4<f32>) -> vec4<f32> {
    let s = vec4(p.scalar);
    if p.scalar_first != 0u {
        return apply4(s, v);
    }
    return apply4(v, s);
}

// The vec4 of a broadcast input holding element `at`: the vec4 itself where the input's innermost
// stride is 1 (`at` is then a multiple of 4), else that element splatted (stride 0).
fn load_a4(at: u32, whole: bool) -> vec4<f32> {
    let v = load_a(at / 4u);
    return select(vec4(v[at % 4u]), v, whole);
}

fn load_b4(at: u32, whole: bool) -> vec4<f32> {
    let v = load_b(at / 4u);
    return select(vec4(v[at % 4u]), v, whole);
}

@compute @workgroup_size(256)
fn binary_broadcast4(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let start = first_vec4(wg, nwg, li);
    let n4 = p.n / 4u;
    let last = RANK - 1u;
    let a_whole = p.a_strides[last / 4u][last % 4u] != 0u;
    let b_whole = p.b_strides[last / 4u][last % 4u] != 0u;
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i >= n4 {
            break;
        }
        let at = broadcast_offsets(i * 4u);
        out4[i] = apply4(load_a4(at.x, a_whole), load_b4(at.y, b_whole));
    }
}

// One load of each input and one store per vec4: the unfused chain (mul, add, relu) makes three
// passes, and on CPU-backed drivers every load and store is paid lane by lane.
fn map_mul_add(wg: vec3<u32>, nwg: vec3<u32>, li: u32, relu: bool) {
    let n4 = (p.n + 3u) / 4u;
    if STAGED {
        // The count from the binding, not the parameters: lavapipe compiles a shader again for
        // every value of a parameter that picks a branch (see `adjacent_vec4s`).
        let n4 = arrayLength(&out4);
        let t = linear_id(wg, nwg, li);
        if 4u * t < n4 {
            let i = adjacent_vec4s(t, n4);
            let v0 = load_a(i.x) * load_b(i.x) + load_c(i.x);
            let v1 = load_a(i.y) * load_b(i.y) + load_c(i.y);
            let v2 = load_a(i.z) * load_b(i.z) + load_c(i.z);
            let v3 = load_a(i.w) * load_b(i.w) + load_c(i.w);
            out4[i.x] = relu_where(v0, relu);
            out4[i.y] = relu_where(v1, relu);
            out4[i.z] = relu_where(v2, relu);
            out4[i.w] = relu_where(v3, relu);
        }
        return;
    }
    let start = first_vec4(wg, nwg, li);
    for (var k = 0u; k < VPT; k++) {
        let i = start + k * 256u;
        if i < n4 {
            out4[i] = relu_where(load_a(i) * load_b(i) + load_c(i), relu);
        }
    }
}

// The ReLU as `unary_relu` computes it (NaN stays NaN) where `relu`, as `mul_add` may stand in
// for one.
fn relu_where(v: vec4<f32>, relu: bool) -> vec4<f32> {
    return select(v, select(v, vec4(0.0), v <= vec4(0.0)), relu);
}

@compute @workgroup_size(256)
fn mul_add(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_mul_add(wg, nwg, li, false);
}

@compute @workgroup_size(256)
fn mul_add_relu(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    map_mul_add(wg, nwg, li, true);
}

// `relu_backward` (elementwise.rs): the gradient through a ReLU, `a` except where `b` (the ReLU's
// output) is <= 0 (a NaN output passes it, as torch), over rows of `4 p.n` values, and its column
// sums (a bias's gradient) in `sums4`.
// A thread walks the rows of 4 columns. The row count comes from the output binding's length, not
// from a parameter: lavapipe would inline a parameter bounding the loop and recompile the shader
// at every dispatch (see matmul_texture.wgsl).
@group(0) @binding(8) var<storage, read_write> sums4: array<vec4<f32>>;
// Threads per workgroup: 8 on CPU-backed drivers, so a few hundred columns spread over every core.
override RELU_BACKWARD_WG: u32 = 64u;

@compute @workgroup_size(RELU_BACKWARD_WG)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let cols4 = p.n;
    let c = gid.x;
    if c >= cols4 {
        return;
    }
    let rows = arrayLength(&out4) / cols4;
    var sum = vec4(0.0);
    for (var r = 0u; r < rows; r++) {
        let i = r * cols4 + c;
        let g = select(load_a(i), vec4(0.0), load_b(i) <= vec4(0.0));
        out4[i] = g;
        sum += g;
    }
    sums4[c] = sum;
}
