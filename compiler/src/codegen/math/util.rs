//! Shared helpers: per-format parameters, Horner evaluation, range reduction.

use super::builder::{FloatBuilder, Precision};

/// Format parameters chosen at generation time from `b.precision()`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fmt {
    pub is64: bool,
    /// Explicit mantissa bits (52 / 23): shift that moves an integer into the exponent field.
    pub mant: u32,
    /// Exponent bias (1023 / 127).
    pub bias: i64,
    /// 1.5 * 2^mant: fma(x, c, MAGIC) rounds x*c to an integer held in the low bits.
    pub magic: f64,
    /// Sign bit position (63 / 31).
    pub sign_shift: u32,
    /// Smallest normal number.
    pub min_normal: f64,
    /// Mask of the explicit mantissa bits.
    pub mant_mask: i64,
    /// Bit pattern of sqrt(1/2) in the format (log's reduction boundary).
    pub sqrt_half_bits: i64,
}

#[inline(always)]
pub(crate) fn fmt<B: FloatBuilder>(b: &B) -> Fmt {
    match b.precision() {
        Precision::F64 => Fmt {
            is64: true,
            mant: 52,
            bias: 1023,
            magic: 6755399441055744.0,
            sign_shift: 63,
            min_normal: f64::MIN_POSITIVE,
            mant_mask: 0x000f_ffff_ffff_ffff,
            sqrt_half_bits: 0x3fe6_a09e_667f_3bcd,
        },
        Precision::F32 => Fmt {
            is64: false,
            mant: 23,
            bias: 127,
            magic: 12582912.0,
            sign_shift: 31,
            min_normal: f32::MIN_POSITIVE as f64,
            mant_mask: 0x007f_ffff,
            sqrt_half_bits: 0x3f35_04f3,
        },
    }
}

/// Pick a generation-time value by precision.
#[inline]
pub(crate) fn pick<B: FloatBuilder, T>(b: &B, v64: T, v32: T) -> T {
    if b.precision() == Precision::F64 {
        v64
    } else {
        v32
    }
}

/// Horner evaluation of sum c[i] x^i with fma: (len - 1) fma ops.
#[inline(always)]
pub(crate) fn horner<B: FloatBuilder>(b: &mut B, x: B::F, c: &[f64]) -> B::F {
    let n = c.len();
    let mut acc = b.f(c[n - 1]);
    for i in (0..n - 1).rev() {
        let ci = b.f(c[i]);
        acc = b.fma(acc, x, ci);
    }
    acc
}

pub(crate) const LOG2E: f64 = std::f64::consts::LOG2_E;

/// Rounds x*log2(e) to an integer with the magic constant `m` (= MAGIC + offset):
/// returns (t, kf) where kf = round(x log2 e) and the low bits of t hold kf + offset.
#[inline(always)]
pub(crate) fn round_log2e<B: FloatBuilder>(b: &mut B, x: B::F, m: B::F) -> (B::F, B::F) {
    let l2e = b.f(LOG2E);
    let t = b.fma(x, l2e, m);
    let kf = b.sub(t, m);
    (t, kf)
}

/// r = x - kf ln2 with a two-word ln 2. The first fma is exact (|r| <= ln2/2
/// and kf*hi is a multiple of ulp(hi)), the second rounds relative to r.
#[inline(always)]
pub(crate) fn reduce_ln2<B: FloatBuilder>(b: &mut B, x: B::F, kf: B::F) -> B::F {
    let l = pick(b, super::coeffs::LN2_F64, super::coeffs::LN2_F32);
    let hi = b.f(-l[0]);
    let lo = b.f(-l[1]);
    let r = b.fma(kf, hi, x);
    b.fma(kf, lo, r)
}

/// 2^(low bits of t): moves the integer held in the low mantissa bits of t
/// into the exponent field (the offset in t's magic constant supplies the bias).
#[inline(always)]
pub(crate) fn pow2_from_t<B: FloatBuilder>(b: &mut B, t: B::F) -> B::F {
    let m = fmt(b).mant;
    let ti = b.to_bits(t);
    let e = b.shl(ti, m);
    b.from_bits(e)
}

/// expm1(r) ~ r + r^2 Q(r) for |r| <= ln2/2 (Q: coeffs::EXP_Q_*).
#[inline(always)]
pub(crate) fn em1_poly<B: FloatBuilder>(b: &mut B, r: B::F) -> B::F {
    let q = pick(
        b,
        &super::coeffs::EXP_Q_F64[..],
        &super::coeffs::EXP_Q_F32[..],
    );
    let qv = horner(b, r, q);
    let r2 = b.mul(r, r);
    b.fma(r2, qv, r)
}
