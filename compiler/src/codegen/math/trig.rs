//! sin and cos.
//!
//! F64 (SLEEF-style single polynomial): reduce by pi, not pi/2, so only the
//! sine polynomial is needed:
//!   sin: n = round(x/pi),             r = x - n pi,        sin x = (-1)^n sin r
//!   cos: q = 2 round(x/pi - 1/2) + 1, r = x - q pi/2,      cos x = (-1)^((q+1)/2) sin r
//! with r in [-pi/2, pi/2] and sin r = r + r^3 S(r^2), S minimax of degree 7.
//! Max error ~2 ulp (the r^3 S term reaches 0.57 near |r| = pi/2).
//!
//! F32 (quadrant reduction, more accurate, needed for the 2-ulp target):
//! n = round(2x/pi), r = x - n pi/2 in [-pi/4, pi/4], both
//! sin r = r + r^3 S(r^2) (degree 2) and cos r = 1 + r^2 C(r^2) (degree 3) are
//! evaluated and selected by n's parity; bit 1 of n (of n+1 for cos) gives
//! the sign.
//!
//! Both: Cody-Waite reduction with the constant in three words and fma: the
//! first fma is exact and the others round relative to r, so r is accurate to
//! ~1 ulp while n*(pi - words) ~ n 2^-160 (F32 n 2^-72) is negligible; this
//! holds for |x| up to `THRESHOLD_*` (2^28 for F64, 2^16 for F32), beyond
//! which (and for +-inf) lanes `fallback` to std's sin / cos. Sign flips are
//! integer xors of bits of n (held by the magic-constant rounding in t)
//! shifted into the sign position. sin(+-0) = +-0 via copysign(sin r, r).

use super::builder::FloatBuilder;
use super::coeffs::*;
use super::util::*;

/// |x| above which the std library is used.
pub const THRESHOLD_F64: f64 = 268435456.0; // 2^28
pub const THRESHOLD_F32: f64 = 65536.0; // 2^16

/// sin r = r + r^3 S(r^2), sign of r kept (also for r = -0).
#[inline(always)]
fn sin_poly<B: FloatBuilder>(b: &mut B, r: B::F, s: B::F, c: &[f64]) -> B::F {
    let p = horner(b, s, c);
    let rs = b.mul(r, s);
    let y = b.fma(rs, p, r);
    b.copysign(y, r)
}

/// y with its sign flipped when bit `bit` of the integer held in t is set.
#[inline(always)]
fn flip_by_bit<B: FloatBuilder>(b: &mut B, ti: B::I, bit: u32, y: B::F) -> B::F {
    let fm = fmt(b);
    let sh = fm.sign_shift - bit;
    let mut sb = b.shl(ti, sh);
    if bit > 0 {
        // drop the lower bits of n that the shift moved below the sign bit
        let sm = b.i(1i64 << fm.sign_shift);
        sb = b.iand(sb, sm);
    }
    let yi = b.to_bits(y);
    let yi = b.ixor(yi, sb);
    b.from_bits(yi)
}

#[inline(always)]
fn too_big<B: FloatBuilder>(b: &mut B, x: B::F) -> B::M {
    let ax = b.abs(x);
    let thr = b.f(pick(b, THRESHOLD_F64, THRESHOLD_F32));
    b.gt(ax, thr)
}

#[inline(always)]
fn reduce3<B: FloatBuilder>(b: &mut B, x: B::F, nf: B::F, words: [f64; 3]) -> B::F {
    let mut r = x;
    for w in words {
        let c = b.f(-w);
        r = b.fma(nf, c, r);
    }
    r
}

/// F32 quadrant kernel: returns sin(r) or cos(r) by the parity of the integer in ti
/// (`odd_is_cos`: parity value that selects cos).
#[inline(always)]
fn quadrant<B: FloatBuilder>(b: &mut B, r: B::F, ti: B::I, cos_when: i64) -> B::F {
    let s = b.mul(r, r);
    let sp = sin_poly(b, r, s, &SIN4_S_F32);
    let cq = horner(b, s, &COS4_C_F32);
    let one = b.f(1.0);
    let cp = b.fma(s, cq, one);
    let one_i = b.i(1);
    let par = b.iand(ti, one_i);
    let want = b.i(cos_when);
    let use_cos = b.ieq(par, want);
    b.select(use_cos, cp, sp)
}

/// Sine.
#[inline(always)]
pub fn sin<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let fm = fmt(b);
    let big = too_big(b, x);
    let m = b.f(fm.magic);
    let y = if fm.is64 {
        let ip = b.f(std::f64::consts::FRAC_1_PI);
        let t = b.fma(x, ip, m);
        let nf = b.sub(t, m);
        let r = reduce3(b, x, nf, PI_F64);
        let s = b.mul(r, r);
        let y = sin_poly(b, r, s, &SIN_S_F64);
        let ti = b.to_bits(t);
        flip_by_bit(b, ti, 0, y)
    } else {
        let ip = b.f(std::f64::consts::FRAC_2_PI);
        let t = b.fma(x, ip, m);
        let nf = b.sub(t, m);
        let r = reduce3(b, x, nf, PIO2_F32);
        let ti = b.to_bits(t);
        let y = quadrant(b, r, ti, 1);
        flip_by_bit(b, ti, 1, y)
    };
    b.fallback(big, x, y, std_sin)
}

/// Cosine.
#[inline(always)]
pub fn cos<B: FloatBuilder>(b: &mut B, x: B::F) -> B::F {
    let fm = fmt(b);
    let big = too_big(b, x);
    let y = if fm.is64 {
        let ip = b.f(std::f64::consts::FRAC_1_PI);
        let mhalf = b.f(-0.5);
        let u = b.fma(x, ip, mhalf);
        // low bits of t: k + 1 with k = round(x/pi - 1/2)
        let m = b.f(fm.magic + 1.0);
        let t = b.add(u, m);
        let kf = b.sub(t, m);
        let two = b.f(2.0);
        let one = b.f(1.0);
        let qf = b.fma(kf, two, one); // odd multiple of pi/2
        let r = reduce3(b, x, qf, PIO2_F64);
        let s = b.mul(r, r);
        let y = sin_poly(b, r, s, &SIN_S_F64);
        let ti = b.to_bits(t);
        flip_by_bit(b, ti, 0, y)
    } else {
        // low bits of t: n + 1; cos x = [cos r, -sin r, -cos r, sin r][n mod 4]
        let ip = b.f(std::f64::consts::FRAC_2_PI);
        let m = b.f(fm.magic + 1.0);
        let t = b.fma(x, ip, m);
        let nf = b.sub(t, m);
        let r = reduce3(b, x, nf, PIO2_F32);
        let ti = b.to_bits(t);
        let y = quadrant(b, r, ti, 1); // n even <=> n+1 odd -> cos r
        flip_by_bit(b, ti, 1, y)
    };
    b.fallback(big, x, y, std_cos)
}

/// The library's sin, callable from generated code.
extern "C" fn std_sin(x: f64) -> f64 {
    x.sin()
}

/// The library's cos, callable from generated code.
extern "C" fn std_cos(x: f64) -> f64 {
    x.cos()
}
