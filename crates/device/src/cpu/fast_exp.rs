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
/// are: the same reduction as [`exp`], then a degree-5 minimax polynomial for `e^r` on
/// |r| ≤ ln2/2 (Cephes' `expf` coefficients; relative error below 2e-7), and `2^n` built in the
/// exponent field (n ≤ 0, so no overflow to guard). Positive inputs give wrong results.
/// Portable Rust cannot fuse multiply-adds, so the scalar form costs twice the instructions.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn exp8_nonpositive(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    const P: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5];
    let c = _mm256_max_ps(x, _mm256_set1_ps(MIN_X));
    let shifted = _mm256_fmadd_ps(c, _mm256_set1_ps(LOG2_E), _mm256_set1_ps(ROUND));
    let n = _mm256_sub_ps(shifted, _mm256_set1_ps(ROUND));
    let ni = _mm256_sub_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(ROUND.to_bits() as i32));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), c);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    let mut p = _mm256_set1_ps(P[0]);
    for &coefficient in &P[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(coefficient));
    }
    let r2 = _mm256_mul_ps(r, r);
    let p = _mm256_add_ps(_mm256_fmadd_ps(p, r2, r), _mm256_set1_ps(1.0));
    let scale = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(ni, _mm256_set1_epi32(127))));
    let y = _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(MIN_X)), _mm256_mul_ps(p, scale));
    _mm256_blendv_ps(y, x, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x))
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

    /// Within 1e-6 of f64's `exp` on [MIN_X, 0]; exactly the scalar form's results below it, at
    /// -inf and for NaN.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn exp8_nonpositive_matches_std_exp() {
        use std::arch::x86_64::*;
        if !crate::cpu::simd::has_avx2_fma() {
            return;
        }
        let mut inputs: Vec<f32> = (0..12_800).map(|i| -100.0 + i as f32 * 0.0078125).collect();
        inputs.extend([0.0, -0.0, -1e-30, -87.3, -87.4, -1e4, f32::NAN, f32::NEG_INFINITY]);
        let mut worst = 0.0f64;
        for chunk in inputs.chunks_exact(8) {
            let mut out = [0.0f32; 8];
            // SAFETY: AVX2 and FMA were detected; both pointers address 8 floats.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), super::exp8_nonpositive(_mm256_loadu_ps(chunk.as_ptr()))) };
            for (&x, &y) in chunk.iter().zip(&out) {
                if x >= super::MIN_X {
                    let exact = f64::from(x).exp();
                    worst = worst.max((f64::from(y) - exact).abs() / exact);
                } else {
                    let scalar = super::exp(x);
                    assert!(y == scalar || (y.is_nan() && scalar.is_nan()), "exp8({x}) = {y}, scalar {scalar}");
                }
            }
        }
        assert!(worst < 1e-6, "worst relative error {worst}");
    }
}
