//! erf.
//!
//! Two regions, both always evaluated, combined with one select:
//!  - |x| < T (T = 1 for F64, 0.75 for F32): erf(x) = x + x (P(x^2) - 1), P a
//!    degree-11 (F32: 5) minimax fit of erf(x)/x in x^2 (relative error); the
//!    leading 1 is exact, so rounding 2/sqrt(pi) costs nothing.
//!  - T <= |x| <= X (X = 6 / 4, clamped; erf rounds to 1 beyond):
//!    erf(x) = 1 - e^(-x^2) G(u), u = c/(c+x) - t0 (c = 4 / 2), G a degree-11
//!    (F32: 5) fit of erfcx(x) = e^(x^2) erfc(x). The fit minimises the error
//!    of the final erf (weight e^(-x^2)/erf(x)), so G only needs the relative
//!    accuracy that erfc(x)/erf(x) demands. The variable c/(c+x) maps the
//!    1/x-like tail to a smooth function (Numerical Recipes' erfcc idea,
//!    coefficients refitted with tools/remez.py).
//!
//! x^2 is rounded once: its error enters as e^(-x^2) * (rel. 2^-53 * x^2),
//! which is negligible against erf ~ 1 in region B.
//! Sign: computed on -|x|, final copysign (erf(-0) = -0).

use super::builder::FloatBuilder;
use super::coeffs::*;
use super::exp::exp_small_nonpos;
use super::util::*;

#[inline(always)]
pub fn erf<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let (t_split, x_max, c, t0) = pick(
        b,
        (1.0, 6.0, 4.0, ERF_B_T0_F64),
        (0.75, 4.0, 2.0, ERF_B_T0_F32),
    );
    let pa = pick(b, &ERF_A_F64[..], &ERF_A_F32[..]);
    let pb = pick(b, &ERF_B_F64[..], &ERF_B_F32[..]);
    let m1 = b.f(-1.0);
    let na = b.copysign(x, m1); // -|x|
    let lo = b.f(-x_max);
    let nac = b.max(na, lo);
    let z = b.mul(nac, nac);
    // region A: -erf(|x|) = nac + nac (P(z) - 1)
    let p = horner(b, z, pa);
    let ya = b.fma(nac, p, nac);
    // region B: u = c/(c+a) - t0 = (c(1-t0) + t0*(-a)) / (c - (-a))
    let t0c = b.f(t0);
    let c1 = b.f(c * (1.0 - t0));
    let num = b.fma(nac, t0c, c1);
    let cc = b.f(c);
    let den = b.sub(cc, nac);
    let u = b.div(num, den);
    let mut neg_pb = [0.0; 16];
    for (d, c) in neg_pb.iter_mut().zip(pb) {
        *d = -c;
    }
    let g = horner(b, u, &neg_pb[..pb.len()]); // -G
    let nz = b.neg(z);
    let e = exp_small_nonpos(b, nz);
    let one = b.f(1.0);
    let yb = b.fma(e, g, one); // 1 - e^(-x^2) G
    let ts = b.f(-t_split);
    let in_a = b.gt(nac, ts);
    let y = b.select(in_a, ya, yb);
    b.copysign(y, x)
}
