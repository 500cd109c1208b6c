//! tanh, sigmoid, softplus, log_sigmoid: the hot activation functions.
//!
//! All four evaluate one exponential of a non-positive argument (so no
//! overflow path and no sign select inside the exponential):
//!  - tanh(x)    = sign(x) * -e/(2+e),   e = expm1(-2|x|)  (relative accuracy
//!    near 0 comes from expm1; |x| clamped to 20 (F32 10) where tanh rounds
//!    to 1).
//!  - sigmoid(x) = (x >= 0 ? 1 : e) / (1 + e),  e = exp(-|x|).
//!  - softplus(x)    = max(x, 0) + log1p(e),  e = exp(-|x|) in (0, 1].
//!  - log_sigmoid(x) = min(x, 0) - log1p(e)   (= -softplus(-x)).
//!
//! log1p(e) on [0, 1] uses fdlibm's log1p formula with s = e/(2+e) and no
//! argument reduction (U fitted on s^2 <= 1/9, see log.rs).

use super::builder::{FloatBuilder, Precision};
use super::exp::{exp_nonpos, exp_nonpos_parts, expm1_parts};
use super::log::log1p_unit;
use super::util::pick;

/// Hyperbolic tangent.
#[inline(always)]
pub fn tanh<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let m1 = b.f(-1.0);
    let na = b.copysign(x, m1); // -|x|
    let two = b.f(2.0);
    let xx = b.mul(na, two); // -2|x| (exact)
    let lo = b.f(pick(b, -40.0, -20.0));
    let xx = b.max(xx, lo);
    // expm1(-2|x|) = e = 2u, u = sh*em1 + (sh - 1/2); tanh|x| = -e/(2+e) = -u/(1+u).
    // Numerator and denominator are each one fma of the exact parts (one
    // rounding each, no error carried from u into 1+u); the sign of the
    // quotient is fixed by the final copysign.
    let (sh, em1) = expm1_parts(b, xx);
    let half = b.f(0.5);
    let c1 = b.sub(sh, half);
    let c2 = b.add(sh, half);
    let num = b.fma(sh, em1, c1);
    let den = b.fma(sh, em1, c2);
    let q = b.div(num, den);
    if b.precision() == Precision::F32 {
        // F32 (2-ulp target): num, den and the quotient each round by up to
        // 2^-24 relative. Recover the exact residuals of num and den (c - fma is
        // exact by Sterbenz, the fma then rounds only a tiny quantity) and
        // correct the quotient: q' = q + (nl - q dl)/den with 1/den = 1 - q.
        let a1 = b.sub(c1, num);
        let nl = b.fma(sh, em1, a1);
        let a2 = b.sub(c2, den);
        let dl = b.fma(sh, em1, a2);
        let nq = b.neg(q);
        let c = b.fma(nq, dl, nl);
        let one = b.f(1.0);
        let rd = b.sub(one, q);
        let q2 = b.fma(c, rd, q);
        return b.copysign(q2, x);
    }
    b.copysign(q, x)
}

/// Logistic sigmoid 1/(1 + e^-x).
#[inline(always)]
pub fn sigmoid<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let m1 = b.f(-1.0);
    let na = b.copysign(x, m1);
    let (s, em1, fac) = exp_nonpos_parts(b, na);
    let y = b.fma(s, em1, s);
    let e = b.mul(y, fac);
    let one = b.f(1.0);
    let d = b.add(e, one);
    let zero = b.f(0.0);
    let pos = b.ge(x, zero);
    let num = b.select(pos, one, e);
    let q = b.div(num, d);
    if b.precision() == Precision::F64 {
        return q;
    }
    // F32 (2-ulp target): the roundings of e and of d = 1 + e can each cost up to
    // 1 ulp of the result (their binades need not match the result's). Carry both
    // as double words and correct the quotient once:
    //   e = e_h + e_l,  e_l = (s em1 + (s - y)) fac   (exact residual of the fma)
    //   d = d_h + d_l,  d_l = (1 - d_h) + e_h + e_l    (Fast2Sum)
    //   num/d ~ q + (num_l - q d_l) / d_h,  1/d_h ~ sigmoid(|x|) = (x >= 0 ? q : 1 - q).
    let sy = b.sub(s, y);
    let yl = b.fma(s, em1, sy);
    let el = b.mul(yl, fac);
    let dm1 = b.sub(d, one);
    let ndl = b.sub(dm1, e);
    let ndl = b.sub(ndl, el); // -d_l
    let numl = b.select(pos, zero, el);
    let c = b.fma(q, ndl, numl);
    let omq = b.sub(one, q);
    let rd = b.select(pos, q, omq);
    b.fma(c, rd, q)
}

/// log(1 + e^x).
#[inline(always)]
pub fn softplus<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let m1 = b.f(-1.0);
    let na = b.copysign(x, m1);
    let e = exp_nonpos(b, na);
    let g = log1p_unit(b, e);
    let zero = b.f(0.0);
    let p = b.max(x, zero);
    b.add(p, g)
}

/// log(sigmoid(x)) = -softplus(-x).
#[inline(always)]
pub fn log_sigmoid<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let m1 = b.f(-1.0);
    let na = b.copysign(x, m1);
    let e = exp_nonpos(b, na);
    let g = log1p_unit(b, e);
    let mzero = b.f(-0.0); // min(x, -0) - 0 = -0 when e^-x underflows
    let p = b.min(x, mzero);
    b.sub(p, g)
}
