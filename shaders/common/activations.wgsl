// Activations shared by kernel families, put in front of every shader (pipelines.rs), in the
// forms of `stable_tanh` / `stable_sigmoid` in ops.rs: neither branch overflows.

// tanh that stays finite and keeps its relative precision near 0: from m = e^(-2|v|) - 1,
// tanh |v| = -m / (2 + m), as ops.rs `stable_tanh`; the sign of v (-0 included) put back.
fn stable_tanh(v: f32) -> f32 {
    let m = exp_m1(-2.0 * abs(v));
    let t = -m / (2.0 + m);
    return bitcast<f32>(bitcast<u32>(t) | (bitcast<u32>(v) & 0x80000000u));
}

// e^v - 1 to within 4e-7 relative, given an exp good to an ulp (WGSL has no expm1): below
// |v| = 1/2 its Taylor series to v^9 / 9! (what follows is under 3e-10 of it), above that
// e^v - 1, which no longer cancels. tanh through it: within 3e-7 (both checked against math.expm1
// and math.tanh in float32).
fn exp_m1(v: f32) -> f32 {
    let tail = 1.0 / 720.0 + v * (1.0 / 5040.0 + v * (1.0 / 40320.0 + v * (1.0 / 362880.0)));
    let series = v * (1.0 + v * (0.5 + v * (1.0 / 6.0 + v * (1.0 / 24.0 + v * (1.0 / 120.0 + v * tail)))));
    return select(exp(v) - 1.0, series, abs(v) < 0.5);
}

fn stable_sigmoid(v: f32) -> f32 {
    if v >= 0.0 {
        return 1.0 / (1.0 + exp(-v));
    }
    let e = exp(v);
    return e / (1.0 + e);
}

// Whether `v` is NaN, by its bits: a compiler may assume `v != v` is false.
fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}
