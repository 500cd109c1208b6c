//! pow(x, y).
//!
//! Method: |x|^y = exp(y log|x|) with a double-word logarithm and an exp that
//! takes a double-word argument, the approach of fdlibm e_pow.c / SLEEF xpow
//! written with fma-based exact products instead of tables:
//!  - log: |x| = 2^k z, f = z - 1 (exact), s = f/(2+f) as a double word
//!    (exact division residual by fma), and
//!    `log z = 2s + s^3 (2/3 + s^2 t(s^2))`
//!    where 2/3 is a two-word constant, t is a degree-7 (F32: 2) minimax fit
//!    (coeffs::POWLOG_T_*), and the products s^2 * A and s * B are done in
//!    double-word arithmetic; k ln2 uses a 42-bit (F32: 16-bit) head so k*head
//!    is exact. Relative error ~2^-66 (F32 ~2^-36), enough for |y log x| up to
//!    the overflow threshold.
//!  - y * (lh + ll) -> (zh, zl) with an exact fma product error;
//!  - exp(zh + zl): exp's reduction on zh, zl added to the reduced argument,
//!    same polynomial and over/underflow handling (subnormal results exact).
//!
//! IEEE/C99 special cases are exact and need no fallback:
//!  pow(x, +-0) = 1 (any x, even NaN); pow(+1, y) = 1 (any y, even NaN);
//!  pow(-1, +-inf) = 1; x < 0 finite and y finite non-integer -> NaN;
//!  y odd integer -> result carries the sign of x (also for -0 and -inf);
//!  +-0, +-inf, y = +-inf and overflow / underflow follow from log|x| being
//!  -inf / +inf and from exp's clamping.

use super::builder::FloatBuilder;
use super::coeffs::*;
use super::log::reduce;
use super::util::*;

/// log(a) for a >= 0 as a double word (hi, lo). a = 0 -> -inf, +inf -> +inf, NaN -> NaN
/// (in hi; lo is then meaningless).
#[inline(always)]
fn log_dd<B: FloatBuilder>(b: &mut B, a: B::F) -> (B::F, B::F) {
    let (f, kf) = reduce(b, a);
    // s = f / (2 + f) as (sh, sl)
    let two = b.f(2.0);
    let d = b.add(f, two);
    let dd = b.sub(two, d);
    let dl = b.add(dd, f);
    let sh = b.div(f, d);
    let nsh = b.neg(sh);
    let rem = b.fma(nsh, d, f);
    let rem = b.fma(nsh, dl, rem);
    let sl = b.div(rem, d);
    // s^2 as (s2h, s2l)
    let s2h = b.mul(sh, sh);
    let ns2h = b.neg(s2h);
    let s2l = b.fma(sh, sh, ns2h);
    let sh2 = b.add(sh, sh);
    let s2l = b.fma(sh2, sl, s2l);
    // A = 2/3 + s2 t(s2)
    let tc = pick(b, &POWLOG_T_F64[..], &POWLOG_T_F32[..]);
    let tp = horner(b, s2h, tc);
    let w = b.mul(s2h, tp);
    let c = pick(b, TWO_THIRDS_F64, TWO_THIRDS_F32);
    let ch = b.f(c[0]);
    let cl = b.f(c[1]);
    let ah = b.add(ch, w);
    let al = b.sub(ch, ah);
    let al = b.add(al, w);
    let al = b.add(al, cl);
    // B = s2 * A
    let bh = b.mul(s2h, ah);
    let nbh = b.neg(bh);
    let bl = b.fma(s2h, ah, nbh);
    let bl = b.fma(s2h, al, bl);
    let bl = b.fma(s2l, ah, bl);
    // T = s * B
    let th = b.mul(sh, bh);
    let nth = b.neg(th);
    let tl = b.fma(sh, bh, nth);
    let tl = b.fma(sh, bl, tl);
    let tl = b.fma(sl, bh, tl);
    // L = 2s + T
    let lh = b.add(sh2, th);
    let ll = b.sub(sh2, lh);
    let ll = b.add(ll, th);
    let sl2 = b.add(sl, sl);
    let t2 = b.add(sl2, tl);
    let ll = b.add(ll, t2);
    // + k ln2
    let l2 = pick(b, LN2_SHORT_F64, LN2_SHORT_F32);
    let l2h = b.f(l2[0]);
    let l2l = b.f(l2[1]);
    let kh = b.mul(kf, l2h);
    let rh = b.add(kh, lh);
    let rl = b.sub(kh, rh);
    let rl = b.add(rl, lh);
    let rl = b.add(rl, ll);
    let rl = b.fma(kf, l2l, rl);
    // a = 0 -> -inf; a = +inf -> +inf; NaN -> NaN
    let zero = b.f(0.0);
    let ninf = b.f(f64::NEG_INFINITY);
    let pos = b.gt(a, zero);
    let rh = b.select(pos, rh, ninf);
    let inf = b.f(f64::INFINITY);
    let fin = b.lt(a, inf);
    let rh = b.select(fin, rh, a);
    (rh, rl)
}

/// exp(zh + zl), |zl| <= ulp(zh); over/underflow as in `exp::exp`.
#[inline(always)]
fn exp_dd<B: FloatBuilder>(b: &mut B, zh: B::F, zl: B::F) -> B::F {
    let fm = fmt(b);
    let (lo, hi, kneg) = pick(b, (-746.0, 710.0, 64i64), (-104.0, 89.0, 32i64));
    let lo = b.f(lo);
    let hi = b.f(hi);
    let zc = b.min(zh, hi);
    let zc = b.max(zc, lo);
    // outside the clamp (or NaN) the low word is meaningless (may be NaN): drop it
    let inr = b.eq(zc, zh);
    let zero = b.f(0.0);
    let zl = b.select(inr, zl, zero);
    let neg = b.lt(zc, zero);
    let m_neg = b.f(fm.magic + (fm.bias + kneg) as f64);
    let m_pos = b.f(fm.magic + (fm.bias - 1) as f64);
    let m = b.select(neg, m_neg, m_pos);
    let (t, kf) = round_log2e(b, zc, m);
    let r = reduce_ln2(b, zc, kf);
    let r = b.add(r, zl);
    let em1 = em1_poly(b, r);
    let s = pow2_from_t(b, t);
    let y = b.fma(s, em1, s);
    let f_neg = b.f((-(kneg as f64)).exp2());
    let f_pos = b.f(2.0);
    let fac = b.select(neg, f_neg, f_pos);
    b.mul(y, fac)
}

/// x^y (C99 / IEEE 754 pow semantics).
#[inline(always)]
pub fn pow<B: FloatBuilder>(b: &mut B, x: B::F, y: B::F) -> B::F {
    let one = b.f(1.0);
    let zero = b.f(0.0);
    let ax = b.abs(x);
    // pow(x, +-0) = 1: evaluate as pow(1, 0)
    let y0 = b.eq(y, zero);
    let a = b.select(y0, one, ax);
    // |x| = 1: y * log 1 = 0 even for y = +-inf / NaN
    let a1 = b.eq(a, one);
    let yy = b.select(a1, zero, y);
    let (lh, ll) = log_dd(b, a);
    // (zh, zl) = yy * (lh + ll)
    let zh = b.mul(yy, lh);
    let nzh = b.neg(zh);
    let e1 = b.fma(yy, lh, nzh);
    let zl = b.fma(yy, ll, e1);
    let r = exp_dd(b, zh, zl);
    // integer / odd-integer tests on y (|y| >= 2^53 is always even)
    let ty = b.trunc(y);
    let is_int = b.eq(ty, y);
    let half = b.f(0.5);
    let hy = b.mul(y, half);
    let fl = b.floor(hy);
    let m2 = b.f(-2.0);
    let rm = b.fma(fl, m2, y); // y - 2 floor(y/2): 1 for odd integers
    let odd = b.eq(rm, one);
    let rs = b.copysign(r, x);
    let r = b.select(odd, rs, r);
    // x < 0 finite, y not an integer -> NaN
    let neg = b.lt(x, zero);
    let ninf = b.f(f64::NEG_INFINITY);
    let fin = b.gt(x, ninf);
    let nf = b.and_m(neg, fin);
    let ni = b.not_m(is_int);
    let bad = b.and_m(nf, ni);
    let nan = b.f(f64::NAN);
    b.select(bad, nan, r)
}
