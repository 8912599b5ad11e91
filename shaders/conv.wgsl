// im2col / col2im for 2-D convolution and pooling over `[n, c, h, w]` with zero padding.
// `im2col`: one thread per row of output pixels `oy` of one row `(c, ky, kx)` of
// `[n, c * kh * kw, oh * ow]`, walking its `ow` columns (the index arithmetic, integer division lane
// by lane on CPU-backed drivers, is paid per row rather than per element). `col2im` is written as
// a gather: one thread per input pixel sums the columns that read it (deterministic, no atomics).
// The stride is the override constant `STRIDE`, so its divisions compile to multiplies. On
// CPU-backed drivers both read their input from a texture copy (`STAGED`, see unary.wgsl).

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    kh: u32,
    kw: u32,
    padding: u32,
    oh: u32,
    ow: u32,
    total: u32,
    _pad0: u32,
    _pad1: u32,
}

override STRIDE: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
override STAGED: bool = false;
@group(0) @binding(3) var src_staged: texture_storage_2d<rgba32float, read>;

fn src_at(i: u32) -> f32 {
    if STAGED {
        return staged_element(src_staged, i);
    }
    return src[i];
}

fn linear_id(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 {
    return (wg.y * nwg.x + wg.x) * 256u + li;
}

// Grid: `total` = n * c * kh * kw * oh threads.
@compute @workgroup_size(256)
fn im2col(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if t >= p.total {
        return;
    }
    let rows = p.c * p.kh * p.kw;
    let oy = t % p.oh;
    let r = (t / p.oh) % rows;
    let b = t / (p.oh * rows);
    let c = r / (p.kh * p.kw);
    let ky = (r / p.kw) % p.kh;
    let kx = r % p.kw;
    let y = i32(oy * STRIDE + ky) - i32(p.padding);
    let inside_y = y >= 0 && y < i32(p.h);
    let row_in = ((b * p.c + c) * p.h + u32(max(y, 0))) * p.w;
    let row_out = ((b * rows + r) * p.oh + oy) * p.ow;
    var x = i32(kx) - i32(p.padding);
    for (var ox = 0u; ox < p.ow; ox++) {
        var v = 0.0;
        if inside_y && x >= 0 && x < i32(p.w) {
            v = src_at(row_in + u32(x));
        }
        out[row_out + ox] = v;
        x += i32(STRIDE);
    }
}

@compute @workgroup_size(256)
fn col2im(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let t = linear_id(wg, nwg, li);
    if t >= p.total {
        return;
    }
    let x = t % p.w;
    let y = (t / p.w) % p.h;
    let c = (t / (p.w * p.h)) % p.c;
    let b = t / (p.w * p.h * p.c);
    let l = p.oh * p.ow;
    let rows = p.c * p.kh * p.kw;
    var sum = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        // oy * stride + ky = y + padding
        let ty = i32(y + p.padding) - i32(ky);
        if ty < 0 || u32(ty) % STRIDE != 0u || u32(ty) / STRIDE >= p.oh {
            continue;
        }
        let oy = u32(ty) / STRIDE;
        for (var kx = 0u; kx < p.kw; kx++) {
            let tx = i32(x + p.padding) - i32(kx);
            if tx < 0 || u32(tx) % STRIDE != 0u || u32(tx) / STRIDE >= p.ow {
                continue;
            }
            let ox = u32(tx) / STRIDE;
            let r = (c * p.kh + ky) * p.kw + kx;
            sum += src_at((b * rows + r) * l + oy * p.ow + ox);
        }
    }
    out[t] = sum;
}
