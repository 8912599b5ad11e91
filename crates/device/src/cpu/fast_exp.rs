//! A vectorisable f32 `exp`: Cody–Waite range reduction and a degree-7 polynomial, within a few
//! ulp of `f32::exp` (relative error below 1e-6) and written with plain arithmetic and selects,
//! so loops that call it compile to SIMD.

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two: the high part has few bits, so `n * LN2_HI` is exact for |n| ≤ 128.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Adding and subtracting 1.5 * 2^23 rounds an f32 of magnitude below 2^22 to the nearest integer.
const ROUND: f32 = 12_582_912.0;
/// Below this, exp is subnormal or zero; the result is flushed to zero.
const MIN_X: f32 = -87.336_54;
const MAX_X: f32 = 88.722_83;

#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let c = x.clamp(MIN_X, MAX_X);
    // `shifted` holds n = round(c / ln 2) in its low mantissa bits; reading n from the bits avoids
    // a float-to-int conversion, which does not vectorise.
    let shifted = c * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let ni = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = (c - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^n as 2^(n/2) * 2^(n - n/2), each built in the exponent field and normal for n in [-126, 128].
    let (e1, e2) = (ni >> 1, ni - (ni >> 1));
    let y = p * f32::from_bits(((e1 + 127) as u32) << 23) * f32::from_bits(((e2 + 127) as u32) << 23);
    let y = if x < MIN_X { 0.0 } else { y };
    let y = if x > MAX_X { f32::INFINITY } else { y };
    if x.is_nan() { x } else { y }
}

/// Eight `exp`s at once with AVX2 and FMA, for inputs at most 0 (or NaN), as softmax's `x - max`
/// are: relative error below 1e-6 down to `MIN_X`, below it zero or subnormal (zero from -88 on),
/// NaN for NaN. Positive inputs give wrong results. Fewer steps than [`exp`], as the vector units'
/// multiply-adds bound softmax: the reduction subtracts `n * ln 2` in one fused step (its rounding
/// adds at most 2.4e-7 of relative error at n = -126), a degree-5 minimax polynomial gives `e^r` on
/// |r| ≤ ln2/2 (Cephes' `expf` coefficients, relative error below 2e-7), and the rounding constant
/// carries the exponent bias, so one shift of the rounded sum's bits builds `2^n` (the value 0 at
/// n = -127). Portable Rust cannot fuse multiply-adds, so the scalar form costs twice the
/// instructions.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn exp8_nonpositive(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    const P: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5];
    // The low 9 bits of the sum's mantissa hold n + 127, the exponent field of 2^n.
    const BIASED_ROUND: f32 = ROUND + 127.0;
    // From here down n = -127, whose 2^n is built as 0.
    const FLUSHED: f32 = -88.0;
    // `max_ps` returns its second operand when either is NaN, so a NaN passes through.
    let c = _mm256_max_ps(_mm256_set1_ps(FLUSHED), x);
    let shifted = _mm256_fmadd_ps(c, _mm256_set1_ps(LOG2_E), _mm256_set1_ps(BIASED_ROUND));
    let n = _mm256_sub_ps(shifted, _mm256_set1_ps(BIASED_ROUND));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(std::f32::consts::LN_2), c);
    let mut p = _mm256_set1_ps(P[0]);
    for &coefficient in &P[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(coefficient));
    }
    let r2 = _mm256_mul_ps(r, r);
    let p = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0));
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_castps_si256(shifted)));
    _mm256_mul_ps(p, scale)
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_std_exp() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (fast, exact) = (super::exp(x) as f64, (x as f64).exp());
            worst = worst.max(((fast - exact) / exact).abs());
            x += 0.0137;
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
        assert_eq!(super::exp(0.0), 1.0);
        assert_eq!(super::exp(-1e4), 0.0);
        assert_eq!(super::exp(1e4), f32::INFINITY);
        assert!(super::exp(f32::NAN).is_nan());
    }

    /// Within 1e-6 of f64's `exp` on [MIN_X, 0]; below it at most the smallest normal f32, and zero
    /// from -88 on (so -inf, a masked logit, gives 0); NaN for NaN.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn exp8_nonpositive_matches_std_exp() {
        use std::arch::x86_64::*;
        if !crate::cpu::simd::has_avx2_fma() {
            return;
        }
        let mut inputs: Vec<f32> = (0..12_800).map(|i| -100.0 + i as f32 * 0.0078125).collect();
        inputs.extend([
            0.0,
            -0.0,
            -1e-30,
            -0.5,
            -20.0,
            -87.3,
            -87.4,
            -87.9,
            -88.0,
            -88.5,
            -1e4,
            -1e30,
            f32::MIN,
            f32::NAN,
            -f32::NAN,
            f32::NEG_INFINITY,
        ]);
        assert_eq!(inputs.len() % 8, 0, "every input in a whole vector");
        let mut worst = 0.0f64;
        for chunk in inputs.chunks_exact(8) {
            let mut out = [0.0f32; 8];
            // SAFETY: AVX2 and FMA were detected; both pointers address 8 floats.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), super::exp8_nonpositive(_mm256_loadu_ps(chunk.as_ptr()))) };
            for (&x, &y) in chunk.iter().zip(&out) {
                if x >= super::MIN_X {
                    let exact = f64::from(x).exp();
                    worst = worst.max((f64::from(y) - exact).abs() / exact);
                } else if x.is_nan() {
                    assert!(y.is_nan(), "exp8(NaN) = {y}");
                } else {
                    assert!((0.0..=f32::MIN_POSITIVE).contains(&y), "exp8({x}) = {y}");
                    assert!(x > -88.0 || y == 0.0, "exp8({x}) = {y}, not 0");
                }
            }
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
    }
}
