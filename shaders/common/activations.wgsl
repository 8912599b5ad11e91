// Activations shared by kernel families, put in front of every shader (pipelines.rs): the same
// forms as `stable_tanh` / `stable_sigmoid` in ops.rs, where neither branch overflows.

fn stable_tanh(v: f32) -> f32 {
    let a = abs(v);
    let e = exp(-2.0 * a);
    // Near 0, 1 - e cancels (tanh 1e-8 would be 0): the series there, exact to 2e-9 below 1/8.
    let a2 = a * a;
    let series = a * (1.0 + a2 * (-1.0 / 3.0 + a2 * (2.0 / 15.0 - a2 * (17.0 / 315.0))));
    let t = select((1.0 - e) / (1.0 + e), series, a < 0.125);
    return select(t, -t, v < 0.0);
}

// e^v - 1, keeping its relative precision near 0 (WGSL has no expm1): a series below 1/8.
fn exp_m1(v: f32) -> f32 {
    let series = v * (1.0 + v * (0.5 + v * (1.0 / 6.0 + v * (1.0 / 24.0 + v * (1.0 / 120.0)))));
    return select(exp(v) - 1.0, series, abs(v) < 0.125);
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
