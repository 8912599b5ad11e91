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
}
