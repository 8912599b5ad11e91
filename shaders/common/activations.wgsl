// Activations shared by kernel families, put in front of every shader (pipelines.rs): the same
// forms as `stable_tanh` / `stable_sigmoid` in ops.rs, where neither branch overflows.

fn stable_tanh(v: f32) -> f32 {
    let e = exp(-2.0 * abs(v));
    let t = (1.0 - e) / (1.0 + e);
    return select(t, -t, v < 0.0);
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
