//! log and log1p.
//!
//! Method (fdlibm e_log.c / s_log1p.c, without tables and branches):
//! x = 2^k z with z in [sqrt(1/2), sqrt(2)) obtained by integer arithmetic on
//! the bits (musl's trick: subtract the bits of sqrt(1/2), the exponent of the
//! difference is k). With f = z - 1 (exact), s = f/(2+f), z = s^2:
//!   log(1+f) = f - (hfsq - s (hfsq + R(z))),   hfsq = f^2/2,  R(z) = z U(z),
//! where U is a degree-6 (F64) / degree-2 (F32) minimax fit of
//! (2 atanh(s)/s - 2)/s^2 (coeffs.rs, tools/remez.py; same identity and
//! interval as fdlibm's Lg1..Lg7). The result is k ln2_hi + (...) with
//! k ln2_lo folded into the small terms, so the error stays below 1 ulp.
//!
//! Subnormal inputs are scaled by 2^52 (2^23) first, folding the -52 into the
//! integer offset. Specials: x<0 -> NaN, +-0 -> -inf, +inf -> +inf, NaN -> NaN.

use super::builder::FloatBuilder;
use super::coeffs::*;
use super::util::*;

/// Splits positive normal x into (z, kf) with x = 2^kf z, z in [sqrt(1/2), sqrt 2).
/// `off` is the integer subtracted from the bits (bits(sqrt(1/2)), plus
/// (scale << mant) when the input was pre-scaled by 2^scale).
/// Returns (z, kf, tmp) where tmp = bits(x) - off.
#[inline(always)]
pub(crate) fn decompose<B: FloatBuilder>(b: &mut B, x: B::F, off: B::I) -> (B::F, B::F, B::I) {
    let fm = fmt(b);
    let ix = b.to_bits(x);
    let tmp = b.isub(ix, off);
    let ki = b.shr_s(tmp, fm.mant);
    let mm = b.i(fm.mant_mask);
    let low = b.iand(tmp, mm);
    let base = b.i(fm.sqrt_half_bits);
    let iz = b.iadd(low, base);
    let z = b.from_bits(iz);
    let kf = b.int_to_float(ki);
    (z, kf, tmp)
}

/// log(1+f) + kf*ln2 for f in [sqrt(1/2)-1, sqrt(2)-1] (f need not be exact,
/// its error just propagates), using the U polynomial `u`.
#[inline(always)]
pub(crate) fn log_core<B: FloatBuilder>(b: &mut B, f: B::F, kf: B::F, u: &[f64]) -> B::F {
    let l = pick(b, LN2_F64, LN2_F32);
    let two = b.f(2.0);
    let d = b.add(f, two);
    let s = b.div(f, d);
    let z = b.mul(s, s);
    let uz = horner(b, z, u);
    let r = b.mul(z, uz);
    let half = b.f(0.5);
    let hf = b.mul(f, half);
    let hfsq = b.mul(hf, f);
    let a1 = b.add(hfsq, r);
    let ln2lo = b.f(l[1]);
    let klo = b.mul(kf, ln2lo);
    let a2 = b.fma(s, a1, klo);
    let a3 = b.sub(hfsq, a2);
    let a4 = b.sub(f, a3);
    let ln2hi = b.f(l[0]);
    b.fma(kf, ln2hi, a4)
}

/// Result for the special inputs of log(u): finite positive u -> y, u = +-0 ->
/// -inf, u < 0 or NaN -> NaN, u = +inf -> +inf.
#[inline(always)]
pub(crate) fn log_specials<B: FloatBuilder>(b: &mut B, u: B::F, y: B::F) -> B::F {
    let zero = b.f(0.0);
    let inf = b.f(f64::INFINITY);
    let pos = b.gt(u, zero);
    let su = b.sqrt(u); // NaN for u < 0, +-0 for +-0
    let low = b.sub(su, inf); // -inf for +-0, NaN for u < 0 / NaN
    let y = b.select(pos, y, low);
    let fin = b.lt(u, inf);
    b.select(fin, y, u)
}

/// The argument reduction of log and pow: x = 2^kf (1 + f), f in
/// [sqrt(1/2) - 1, sqrt(2) - 1], for any x >= 0 (subnormals are scaled by
/// 2^mant first, with -mant folded into the exponent offset). Returns
/// (f, kf).
#[inline(always)]
pub(crate) fn reduce<B: FloatBuilder>(b: &mut B, x: B::F) -> (B::F, B::F) {
    let fm = fmt(b);
    let mn = b.f(fm.min_normal);
    let sub = b.lt(x, mn);
    let sc = b.f((fm.mant as f64).exp2());
    let xsc = b.mul(x, sc);
    let xs = b.select(sub, xsc, x);
    let off_n = b.i(fm.sqrt_half_bits);
    let off_s = b.i(fm.sqrt_half_bits + ((fm.mant as i64) << fm.mant));
    let off = b.select_i(sub, off_s, off_n);
    let (z, kf, _) = decompose(b, xs, off);
    let one = b.f(1.0);
    (b.sub(z, one), kf)
}

/// Natural logarithm.
#[inline(always)]
pub fn log<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let (f, kf) = reduce(b, x);
    let u = pick(b, &LOG_U_F64[..], &LOG_U_F32[..]);
    let y = log_core(b, f, kf, u);
    log_specials(b, x, y)
}

/// log(1 + x), accurate for small |x|.
///
/// u = 1 + x is rounded; its exact error e = (max(1,x) - u) + min(1,x)
/// (Fast2Sum) is scaled by 2^-k and added to f, so log1p(x) =
/// log(2^k (1 + f + e 2^-k)) with f + e 2^-k rounded once (fdlibm's c/u
/// correction without a division). The sign is copied from x (log1p(-0) = -0).
#[inline(always)]
pub fn log1p<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let fm = fmt(b);
    let one = b.f(1.0);
    let u = b.add(x, one);
    let big = b.max(x, one);
    let small = b.min(x, one);
    let d = b.sub(big, u);
    let err = b.add(d, small);
    let off = b.i(fm.sqrt_half_bits);
    let (z, kf, tmp) = decompose(b, u, off);
    // 2^-k: bias<<mant minus the exponent part of tmp
    let emask = b.i(!fm.mant_mask & if fm.is64 { -1 } else { 0xffff_ffff });
    let ek = b.iand(tmp, emask);
    let bias = b.i(fm.bias << fm.mant);
    let sbits = b.isub(bias, ek);
    let scale = b.from_bits(sbits);
    // k = 1024 (u >= sqrt2 * 2^1023) wraps to -inf: clamp to 0 (err is irrelevant there)
    let zero = b.f(0.0);
    let scale = b.max(scale, zero);
    let f0 = b.sub(z, one);
    let f = b.fma(err, scale, f0);
    let up = pick(b, &LOG_U_F64[..], &LOG_U_F32[..]);
    let y = log_core(b, f, kf, up);
    let y = log_specials(b, u, y);
    b.copysign(y, x)
}

/// log(1 + e) for e in [0, 1] (softplus / log_sigmoid), no specials.
///
/// F64: no reduction; fdlibm's formula on f = e with a longer U (z = s^2 <= 1/9).
/// F32 (2-ulp target): one exact reduction step, e >= 1/2 -> k = 1,
/// f = (e - 1)/2 in [-1/4, 0] (exact), else k = 0, f = e in [0, 1/2); then the
/// same core as log (z <= 0.04, short U).
#[inline(always)]
pub(crate) fn log1p_unit<B: FloatBuilder>(b: &mut B, e: B::F) -> B::F {
    if b.precision() == super::builder::Precision::F32 {
        let half = b.f(0.5);
        let one = b.f(1.0);
        let zero = b.f(0.0);
        let hi = b.ge(e, half);
        let em1 = b.sub(e, one);
        let fh = b.mul(em1, half);
        let f = b.select(hi, fh, e);
        let kf = b.select(hi, one, zero);
        return log_core(b, f, kf, &LOG1PK_U_F32);
    }
    let u = &LOG1P_U_F64[..];
    let two = b.f(2.0);
    let d = b.add(e, two);
    let s = b.div(e, d);
    let z = b.mul(s, s);
    let uz = horner(b, z, u);
    let r = b.mul(z, uz);
    let half = b.f(0.5);
    let he = b.mul(e, half);
    let hfsq = b.mul(he, e);
    let a1 = b.add(hfsq, r);
    let a2 = b.mul(s, a1);
    let a3 = b.sub(hfsq, a2);
    b.sub(e, a3)
}
