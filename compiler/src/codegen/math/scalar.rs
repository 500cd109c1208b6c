//! Scalar instantiations of [`FloatBuilder`]: every operation is evaluated
//! immediately on one `f64` / `f32`. They follow the trait's doc comments
//! exactly, including the magic-constant integer conversions, so the scalar
//! model computes bit-for-bit what the emitted vector code computes per lane.

use super::builder::{FloatBuilder, Precision, ScalarFn, ScalarFn2};

/// 1.5 * 2^52: adding it to |a| < 2^51 puts round(a) in the low mantissa bits.
const MAGIC64: f64 = 6755399441055744.0;
/// 1.5 * 2^23: the same for f32 (|a| < 2^22).
const MAGIC32: f32 = 12582912.0;

/// f64 lanes, i64 integer lanes, bool masks.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScalarF64;

/// f32 lanes, i32 integer lanes, bool masks.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScalarF32;

macro_rules! scalar_impl {
    ($name:ident, $f:ty, $i:ty, $u:ty, $prec:expr, $magic:expr, $bits:expr) => {
        impl FloatBuilder for $name {
            type F = $f;
            type I = $i;
            type M = bool;

            #[inline(always)]
            fn precision(&self) -> Precision {
                $prec
            }
            #[inline(always)]
            fn f(&mut self, c: f64) -> $f {
                c as $f
            }
            #[inline(always)]
            fn i(&mut self, c: i64) -> $i {
                c as $i
            }
            #[inline(always)]
            fn add(&mut self, a: $f, b: $f) -> $f {
                a + b
            }
            #[inline(always)]
            fn sub(&mut self, a: $f, b: $f) -> $f {
                a - b
            }
            #[inline(always)]
            fn mul(&mut self, a: $f, b: $f) -> $f {
                a * b
            }
            #[inline(always)]
            fn div(&mut self, a: $f, b: $f) -> $f {
                a / b
            }
            #[inline(always)]
            fn fma(&mut self, a: $f, b: $f, c: $f) -> $f {
                a.mul_add(b, c)
            }
            #[inline(always)]
            fn neg(&mut self, a: $f) -> $f {
                -a
            }
            #[inline(always)]
            fn abs(&mut self, a: $f) -> $f {
                a.abs()
            }
            #[inline(always)]
            fn sqrt(&mut self, a: $f) -> $f {
                a.sqrt()
            }
            #[inline(always)]
            fn round(&mut self, a: $f) -> $f {
                a.round_ties_even()
            }
            #[inline(always)]
            fn floor(&mut self, a: $f) -> $f {
                a.floor()
            }
            #[inline(always)]
            fn trunc(&mut self, a: $f) -> $f {
                a.trunc()
            }
            #[inline(always)]
            fn copysign(&mut self, mag: $f, sign: $f) -> $f {
                mag.copysign(sign)
            }
            #[inline(always)]
            fn min(&mut self, a: $f, b: $f) -> $f {
                if a.is_nan() || b.is_nan() {
                    a + b
                } else if b < a {
                    b
                } else {
                    a
                }
            }
            #[inline(always)]
            fn max(&mut self, a: $f, b: $f) -> $f {
                if a.is_nan() || b.is_nan() {
                    a + b
                } else if b > a {
                    b
                } else {
                    a
                }
            }
            #[inline(always)]
            fn lt(&mut self, a: $f, b: $f) -> bool {
                a < b
            }
            #[inline(always)]
            fn le(&mut self, a: $f, b: $f) -> bool {
                a <= b
            }
            #[inline(always)]
            fn gt(&mut self, a: $f, b: $f) -> bool {
                a > b
            }
            #[inline(always)]
            fn ge(&mut self, a: $f, b: $f) -> bool {
                a >= b
            }
            #[inline(always)]
            fn eq(&mut self, a: $f, b: $f) -> bool {
                a == b
            }
            #[inline(always)]
            fn is_nan(&mut self, a: $f) -> bool {
                a.is_nan()
            }
            #[inline(always)]
            fn and_m(&mut self, a: bool, b: bool) -> bool {
                a & b
            }
            #[inline(always)]
            fn or_m(&mut self, a: bool, b: bool) -> bool {
                a | b
            }
            #[inline(always)]
            fn not_m(&mut self, a: bool) -> bool {
                !a
            }
            #[inline(always)]
            fn select(&mut self, m: bool, a: $f, b: $f) -> $f {
                if m { a } else { b }
            }
            #[inline(always)]
            fn select_i(&mut self, m: bool, a: $i, b: $i) -> $i {
                if m { a } else { b }
            }
            #[inline(always)]
            fn to_bits(&mut self, a: $f) -> $i {
                a.to_bits() as $i
            }
            #[inline(always)]
            fn from_bits(&mut self, a: $i) -> $f {
                <$f>::from_bits(a as $u)
            }
            #[inline(always)]
            fn iadd(&mut self, a: $i, b: $i) -> $i {
                a.wrapping_add(b)
            }
            #[inline(always)]
            fn isub(&mut self, a: $i, b: $i) -> $i {
                a.wrapping_sub(b)
            }
            #[inline(always)]
            fn iand(&mut self, a: $i, b: $i) -> $i {
                a & b
            }
            #[inline(always)]
            fn ior(&mut self, a: $i, b: $i) -> $i {
                a | b
            }
            #[inline(always)]
            fn ixor(&mut self, a: $i, b: $i) -> $i {
                a ^ b
            }
            #[inline(always)]
            fn shl(&mut self, a: $i, n: u32) -> $i {
                ((a as $u) << n) as $i
            }
            #[inline(always)]
            fn shr_u(&mut self, a: $i, n: u32) -> $i {
                ((a as $u) >> n) as $i
            }
            #[inline(always)]
            fn shr_s(&mut self, a: $i, n: u32) -> $i {
                a >> n
            }
            #[inline(always)]
            fn ieq(&mut self, a: $i, b: $i) -> bool {
                a == b
            }
            #[inline(always)]
            fn igt(&mut self, a: $i, b: $i) -> bool {
                a > b
            }
            #[inline(always)]
            fn float_to_int(&mut self, a: $f) -> $i {
                // (a + M) holds round(a) in its low mantissa bits; subtract M's bits.
                ((a + $magic).to_bits() as $i).wrapping_sub($bits as $i)
            }
            #[inline(always)]
            fn int_to_float(&mut self, a: $i) -> $f {
                <$f>::from_bits(a.wrapping_add($bits as $i) as $u) - $magic
            }
            #[inline(always)]
            fn fallback(&mut self, mask: bool, x: $f, current: $f, f: ScalarFn) -> $f {
                if mask { f(x as f64) as $f } else { current }
            }
            #[inline(always)]
            fn fallback2(&mut self, mask: bool, x: $f, y: $f, current: $f, f: ScalarFn2) -> $f {
                if mask {
                    f(x as f64, y as f64) as $f
                } else {
                    current
                }
            }
        }
    };
}

scalar_impl!(
    ScalarF64,
    f64,
    i64,
    u64,
    Precision::F64,
    MAGIC64,
    0x4338_0000_0000_0000u64
);
scalar_impl!(
    ScalarF32,
    f32,
    i32,
    u32,
    Precision::F32,
    MAGIC32,
    0x4B40_0000u32
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_conversions() {
        let mut b = ScalarF64;
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            1075.0,
            -1075.0,
            2f64.powi(50),
            -(2f64.powi(50)) + 3.0,
        ] {
            let i = b.float_to_int(v);
            assert_eq!(i, v as i64);
            assert_eq!(b.int_to_float(i), v);
        }
        let mut b = ScalarF32;
        for v in [
            0.0f32, -0.0, 1.0, -1.0, 150.0, -150.0, 4194303.0, -4194303.0,
        ] {
            let i = b.float_to_int(v);
            assert_eq!(i, v as i32);
            assert_eq!(b.int_to_float(i), v);
        }
        assert_eq!(b.i(0x1_0000_0005), 5);
        assert!(ScalarF64.min(f64::NAN, 1.0).is_nan());
        assert!(ScalarF64.max(1.0, f64::NAN).is_nan());
    }
}
