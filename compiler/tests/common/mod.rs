//! Test support: RNG, ulp metrics, double-double reference arithmetic.
#![allow(clippy::approx_constant, clippy::excessive_precision)]
#![allow(dead_code)]

/// SplitMix64.
pub struct Rng(pub u64);
impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// uniform in [0, 1)
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    pub fn uniform(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.unit()
    }
    /// |x| log-uniform with binary exponent in [e0, e1), random sign if `signed`.
    pub fn log_uniform(&mut self, e0: f64, e1: f64, signed: bool) -> f64 {
        let e = self.uniform(e0, e1);
        let m = self.uniform(1.0, 2.0);
        let v = m * exp2_int_f(e.floor().max(-1074.0));
        let v = if v == 0.0 {
            f64::from_bits(1 + (self.next_u64() % 1000))
        } else {
            v
        };
        if signed && self.next_u64() & 1 == 1 {
            -v
        } else {
            v
        }
    }
    /// random bits of a finite f64 with exponent field in [lo, hi] (biased).
    pub fn bits_f64(&mut self, lo: u64, hi: u64, signed: bool) -> f64 {
        let e = lo + self.next_u64() % (hi - lo + 1);
        let m = self.next_u64() & ((1u64 << 52) - 1);
        let s = if signed { self.next_u64() & 1 } else { 0 };
        f64::from_bits((s << 63) | (e << 52) | m)
    }
    pub fn bits_f32(&mut self, lo: u32, hi: u32, signed: bool) -> f32 {
        let e = lo + (self.next_u64() % (hi - lo + 1) as u64) as u32;
        let m = (self.next_u64() as u32) & ((1u32 << 23) - 1);
        let s = if signed {
            (self.next_u64() & 1) as u32
        } else {
            0
        };
        f32::from_bits((s << 31) | (e << 23) | m)
    }
}

/// 2^e for integer-valued e in [-1074, 1023] (exact, also subnormal).
pub fn exp2_int_f(e: f64) -> f64 {
    let e = e as i32;
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074))
    }
}

pub fn ldexp(x: f64, e: i32) -> f64 {
    // exact unless the result is subnormal (then one rounding)
    let mut x = x;
    let mut e = e;
    while e > 1000 {
        x *= exp2_int_f(1000.0);
        e -= 1000;
    }
    while e < -1000 {
        x *= exp2_int_f(-1000.0);
        e += 1000;
    }
    x * exp2_int_f(e as f64)
}

pub fn ulp64(r: f64) -> f64 {
    let a = r.abs();
    if a < f64::MIN_POSITIVE {
        return exp2_int_f(-1074.0);
    }
    let e = ((a.to_bits() >> 52) as i64) - 1023;
    exp2_int_f((e - 52) as f64)
}

pub fn ulp32(r: f64) -> f64 {
    let a = r.abs();
    if a < f32::MIN_POSITIVE as f64 {
        return exp2_int_f(-149.0);
    }
    let e = a.log2().floor();
    // guard log2 rounding at binade edges
    let mut e = e;
    if exp2_int_f(e) > a {
        e -= 1.0;
    }
    if exp2_int_f(e + 1.0) <= a {
        e += 1.0;
    }
    exp2_int_f(e - 23.0)
}

/// Error of `got` (f64 kernel) against the reference hi + lo, in ulps of the
/// reference. Special values must match exactly (NaN, +-inf, signed zeros).
pub fn err64(got: f64, hi: f64, lo: f64) -> f64 {
    if hi.is_nan() || got.is_nan() {
        return if hi.is_nan() && got.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if hi.is_infinite() || got.is_infinite() {
        return if got == hi { 0.0 } else { f64::INFINITY };
    }
    if hi == 0.0 && got == 0.0 && lo == 0.0 {
        return if got.is_sign_negative() == hi.is_sign_negative() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    ((got - hi) - lo).abs() / ulp64(hi)
}

/// Error of an f32 kernel result against an f64 (or double-double) reference, in f32 ulps.
pub fn err32(got: f32, hi: f64, lo: f64) -> f64 {
    let r32 = hi as f32;
    if hi.is_nan() || got.is_nan() {
        return if hi.is_nan() && got.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if r32.is_infinite() || got.is_infinite() {
        return if got == r32 { 0.0 } else { f64::INFINITY };
    }
    if got == 0.0 && hi == 0.0 && lo == 0.0 {
        return if got.is_sign_negative() == hi.is_sign_negative() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    (((got as f64) - hi) - lo).abs() / ulp32(hi)
}

// ---------------------------------------------------------------- double-double
#[derive(Clone, Copy, Debug)]
pub struct DD(pub f64, pub f64);

pub fn two_sum(a: f64, b: f64) -> DD {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    DD(s, e)
}
pub fn fast_two_sum(a: f64, b: f64) -> DD {
    let s = a + b;
    DD(s, b - (s - a))
}
pub fn dd_add(a: DD, b: DD) -> DD {
    let s = two_sum(a.0, b.0);
    let t = two_sum(a.1, b.1);
    let r = fast_two_sum(s.0, s.1 + t.0);
    fast_two_sum(r.0, r.1 + t.1)
}
pub fn dd_neg(a: DD) -> DD {
    DD(-a.0, -a.1)
}
pub fn dd_sub(a: DD, b: DD) -> DD {
    dd_add(a, dd_neg(b))
}
pub fn dd_mul(a: DD, b: DD) -> DD {
    let p = a.0 * b.0;
    let e = a.0.mul_add(b.0, -p) + (a.0 * b.1 + a.1 * b.0);
    fast_two_sum(p, e)
}
pub fn dd_mul_d(a: DD, b: f64) -> DD {
    dd_mul(a, DD(b, 0.0))
}
pub fn dd_div(a: DD, b: DD) -> DD {
    let q1 = a.0 / b.0;
    let r = dd_sub(a, dd_mul_d(b, q1));
    let q2 = r.0 / b.0;
    let r = dd_sub(r, dd_mul_d(b, q2));
    let q3 = r.0 / b.0;
    let q = fast_two_sum(q1, q2);
    dd_add(q, DD(q3, 0.0))
}

/// ln 2 to ~160 bits.
const LN2_3: [f64; 3] = [
    6.931471805599453e-01,
    2.3190468138462996e-17,
    5.707708438416212e-34,
];

/// e^x as a double-double (relative error ~1e-30 for normal results).
pub fn dd_exp(x: f64) -> DD {
    if x.is_nan() {
        return DD(f64::NAN, 0.0);
    }
    if x > 709.8 {
        return DD(f64::INFINITY, 0.0);
    }
    if x < -746.0 {
        return DD(0.0, 0.0);
    }
    let k = (x / LN2_3[0]).round();
    // r = x - k ln2 (k*w exact as double-doubles)
    let mut r = DD(x, 0.0);
    for w in LN2_3 {
        let p = k * w;
        let pe = k.mul_add(w, -p);
        r = dd_sub(r, DD(p, pe));
    }
    // Taylor to degree 30
    let mut sum = DD(1.0, 0.0);
    let mut term = DD(1.0, 0.0);
    for n in 1..=30 {
        term = dd_mul(term, r);
        term = dd_div(term, DD(n as f64, 0.0));
        sum = dd_add(sum, term);
    }
    let k = k as i32;
    DD(ldexp(sum.0, k), ldexp(sum.1, k))
}

/// log1p(e) for e in [0, 1] given as a double-double.
pub fn dd_log1p_unit(e: DD) -> DD {
    if e.0 == 0.0 {
        return DD(0.0, 0.0);
    }
    if e.0 < 1e-5 {
        // e - e^2/2 + e^3/3 - ...
        let mut sum = DD(0.0, 0.0);
        let mut p = e;
        for n in 1..=9 {
            let t = dd_div(p, DD(n as f64, 0.0));
            sum = if n % 2 == 1 {
                dd_add(sum, t)
            } else {
                dd_sub(sum, t)
            };
            p = dd_mul(p, e);
        }
        return sum;
    }
    let y0 = e.0.ln_1p();
    let ey = dd_exp(y0);
    let num = dd_sub(dd_add(DD(1.0, 0.0), e), ey);
    dd_add(DD(y0, 0.0), dd_div(num, ey))
}

pub fn ref_sigmoid(x: f64) -> DD {
    if x.is_nan() {
        return DD(f64::NAN, 0.0);
    }
    let e = dd_exp(-x.abs());
    let den = dd_add(DD(1.0, 0.0), e);
    let num = if x >= 0.0 { DD(1.0, 0.0) } else { e };
    dd_div(num, den)
}

pub fn ref_softplus(x: f64) -> DD {
    if x.is_nan() {
        return DD(f64::NAN, 0.0);
    }
    if x == f64::INFINITY {
        return DD(f64::INFINITY, 0.0);
    }
    let g = dd_log1p_unit(dd_exp(-x.abs()));
    if x > 0.0 { dd_add(DD(x, 0.0), g) } else { g }
}

pub fn ref_log_sigmoid(x: f64) -> DD {
    if x.is_nan() {
        return DD(f64::NAN, 0.0);
    }
    if x == f64::NEG_INFINITY {
        return DD(f64::NEG_INFINITY, 0.0);
    }
    let g = dd_log1p_unit(dd_exp(-x.abs()));
    let r = if x < 0.0 {
        dd_sub(DD(x, 0.0), g)
    } else {
        dd_neg(g)
    };
    if r.0 == 0.0 { DD(-0.0, 0.0) } else { r }
}

pub fn ref_tanh(x: f64) -> DD {
    if x.is_nan() {
        return DD(f64::NAN, 0.0);
    }
    let a = x.abs();
    let t = if a > 40.0 {
        DD(1.0, 0.0)
    } else if a < 1e-5 {
        // a - a^3/3 + 2a^5/15 - 17a^7/315
        let a2 = dd_mul(DD(a, 0.0), DD(a, 0.0));
        let c = [DD(-1.0, 0.0), DD(2.0, 0.0), DD(-17.0, 0.0)];
        let d = [3.0, 15.0, 315.0];
        let mut sum = DD(a, 0.0);
        let mut p = DD(a, 0.0);
        for i in 0..3 {
            p = dd_mul(p, a2);
            sum = dd_add(sum, dd_div(dd_mul(p, c[i]), DD(d[i], 0.0)));
        }
        sum
    } else {
        let e = dd_exp(-2.0 * a);
        dd_div(dd_sub(DD(1.0, 0.0), e), dd_add(DD(1.0, 0.0), e))
    };
    if x < 0.0 || (x == 0.0 && x.is_sign_negative()) {
        dd_neg(t)
    } else {
        t
    }
}
