//! exp and expm1.
//!
//! Method (both): Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, with
//! k = round(x log2 e) obtained by the magic-constant trick (the integer k, plus
//! a bias chosen per lane, lands in the low mantissa bits of t, and one shift
//! turns it into the exponent field of 2^k). On the reduced interval
//! expm1(r) = r + r^2 Q(r) with a degree-9 (F64) / degree-4 (F32) minimax Q
//! (coefficients fitted with tools/remez.py, see coeffs.rs); then
//! exp(x) = 2^k (1 + expm1(r)) evaluated as one fma s*em1 + s.
//!
//! Over/underflow without branches: x is clamped to [-746, 710] (F32
//! [-104, 89]); for x < 0 the scale is built as 2^(k+64) and the result is
//! multiplied by 2^-64 (one correctly rounded step into the subnormal range),
//! for x >= 0 as 2^(k-1) times 2 (so k = 1024 overflows to inf by the final
//! multiply, not by bit arithmetic). NaN propagates through min/max/fma.

use super::builder::FloatBuilder;
use super::util::*;

/// e^x.
#[inline(always)]
pub fn exp<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let fm = fmt(b);
    let (lo, hi, kneg) = pick(b, (-746.0, 710.0, 64i64), (-104.0, 89.0, 32i64));
    let lo = b.f(lo);
    let hi = b.f(hi);
    let xc = b.min(x, hi);
    let xc = b.max(xc, lo);
    let zero = b.f(0.0);
    let neg = b.lt(xc, zero);
    // low bits of t: k + bias + kneg (x < 0) or k + bias - 1 (x >= 0)
    let m_neg = b.f(fm.magic + (fm.bias + kneg) as f64);
    let m_pos = b.f(fm.magic + (fm.bias - 1) as f64);
    let m = b.select(neg, m_neg, m_pos);
    let (t, kf) = round_log2e(b, xc, m);
    let r = reduce_ln2(b, xc, kf);
    let em1 = em1_poly(b, r);
    let s = pow2_from_t(b, t);
    let y = b.fma(s, em1, s);
    let f_neg = b.f((-(kneg as f64)).exp2());
    let f_pos = b.f(2.0);
    let fac = b.select(neg, f_neg, f_pos);
    b.mul(y, fac)
}

/// e^x for x <= 0 (or NaN): no sign select needed, used by sigmoid/softplus/erf.
/// Handles gradual underflow exactly like [`exp`].
#[inline(always)]
pub(crate) fn exp_nonpos<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let (s, em1, fac) = exp_nonpos_parts(b, x);
    let y = b.fma(s, em1, s);
    b.mul(y, fac)
}

/// The parts of [`exp_nonpos`]: e^x = (s + s em1) * fac with s = 2^(k+64)
/// (F32 2^(k+32)), fac = 2^-64 (2^-32) and em1 = expm1(r).
#[inline(always)]
pub(crate) fn exp_nonpos_parts<B: FloatBuilder>(b: &mut B, x: B::F) -> (B::F, B::F, B::F) {
    let fm = fmt(b);
    let (lo, kneg) = pick(b, (-746.0, 64i64), (-104.0, 32i64));
    let lo = b.f(lo);
    let xc = b.max(x, lo);
    let m = b.f(fm.magic + (fm.bias + kneg) as f64);
    let (t, kf) = round_log2e(b, xc, m);
    let r = reduce_ln2(b, xc, kf);
    let em1 = em1_poly(b, r);
    let s = pow2_from_t(b, t);
    let fac = b.f((-(kneg as f64)).exp2());
    (s, em1, fac)
}

/// e^x for x in [-40, 0] (F32 [-20, 0]) with no clamping or underflow
/// handling (erf's exp(-x^2), x^2 <= 36).
#[inline(always)]
pub(crate) fn exp_small_nonpos<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let fm = fmt(b);
    let m = b.f(fm.magic + fm.bias as f64);
    let (t, kf) = round_log2e(b, x, m);
    let r = reduce_ln2(b, x, kf);
    let em1 = em1_poly(b, r);
    let s = pow2_from_t(b, t);
    b.fma(s, em1, s)
}

/// For x already clamped to [-40, 710] (F32 [-20, 89]) returns u with
/// expm1(x) = 2u exactly (the doubling is left to the caller).
///
/// u = 2^(k-1) expm1(r) + (2^(k-1) - 1/2): both terms exact or rounded once,
/// 2^(k-1) is representable for every k in range, and the -1 of expm1 is only
/// significant for small k where 2^(k-1) - 1/2 is exact.
#[inline(always)]
pub(crate) fn expm1_half<B: FloatBuilder>(b: &mut B, xc: B::F) -> B::F {
    let (sh, em1) = expm1_parts(b, xc);
    let half = b.f(0.5);
    let c = b.sub(sh, half);
    b.fma(sh, em1, c)
}

/// The exact ingredients of [`expm1_half`]: (2^(k-1), expm1(r)) with
/// expm1(x) = 2 (2^(k-1) expm1(r) + 2^(k-1) - 1/2).
#[inline(always)]
pub(crate) fn expm1_parts<B: FloatBuilder>(b: &mut B, xc: B::F) -> (B::F, B::F) {
    let fm = fmt(b);
    let m = b.f(fm.magic + (fm.bias - 1) as f64);
    let (t, kf) = round_log2e(b, xc, m);
    let r = reduce_ln2(b, xc, kf);
    let em1 = em1_poly(b, r);
    let sh = pow2_from_t(b, t); // 2^(k-1)
    (sh, em1)
}

/// e^x - 1.
#[inline(always)]
pub fn expm1<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let (lo, hi, tiny) = pick(
        b,
        (-40.0, 710.0, 2f64.powi(-54)),
        (-20.0, 89.0, 2f64.powi(-25)),
    );
    let lo = b.f(lo);
    let hi = b.f(hi);
    let xc = b.min(x, hi);
    let xc = b.max(xc, lo);
    let u = expm1_half(b, xc);
    let two = b.f(2.0);
    let y = b.mul(u, two);
    // |x| < 2^-54: expm1(x) = x (keeps -0 and subnormals exact).
    let ax = b.abs(x);
    let tiny = b.f(tiny);
    let small = b.lt(ax, tiny);
    b.select(small, x, y)
}
