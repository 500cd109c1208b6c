//! Rust scalar types that can be tensor elements, and the float interface the
//! reference kernels are written against.

use crate::dtype::DType;
use crate::tensor::Data;
use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

mod sealed {
    /// Only this crate's four element types: a foreign `Element` could
    /// hand a tensor storage of another length or dtype than its shape.
    pub trait Sealed {}
    impl Sealed for bool {}
    impl Sealed for i64 {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A Rust type stored in a tensor: bool, i64, f32 or f64 (sealed).
pub trait Element:
    sealed::Sealed + Copy + Send + Sync + PartialEq + PartialOrd + Debug + Default + 'static
{
    const DTYPE: DType;
    fn into_data(v: Vec<Self>) -> Data;
    fn slice(d: &Data) -> Option<&[Self]>;
    fn slice_mut(d: &mut Data) -> Option<&mut [Self]>;
    fn to_f64(self) -> f64;
    /// Exact for integers, truncating toward zero (saturating) for floats.
    fn to_i64(self) -> i64;
    /// One correct rounding from any type.
    fn to_f32(self) -> f32;
    /// Exact for integers, one rounding for floats, `!= 0` for bool.
    fn from_i64(v: i64) -> Self;
    /// Rounds (f32), truncates toward zero (i64) or tests `!= 0` (bool).
    fn from_f64(v: f64) -> Self;
}

macro_rules! element {
    ($t:ty, $variant:ident, $to:expr, $from:expr, $to_i:expr, $to_f32:expr, $from_i:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn into_data(v: Vec<Self>) -> Data {
                Data::$variant(v)
            }
            fn slice(d: &Data) -> Option<&[Self]> {
                match d {
                    Data::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(d: &mut Data) -> Option<&mut [Self]> {
                match d {
                    Data::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn to_f64(self) -> f64 {
                #[allow(clippy::redundant_closure_call)]
                ($to)(self)
            }
            fn from_f64(v: f64) -> Self {
                #[allow(clippy::redundant_closure_call)]
                ($from)(v)
            }
            fn to_i64(self) -> i64 {
                #[allow(clippy::redundant_closure_call)]
                ($to_i)(self)
            }
            fn to_f32(self) -> f32 {
                #[allow(clippy::redundant_closure_call)]
                ($to_f32)(self)
            }
            fn from_i64(v: i64) -> Self {
                #[allow(clippy::redundant_closure_call)]
                ($from_i)(v)
            }
        }
    };
}

element!(
    bool,
    Bool,
    |x: bool| if x { 1.0 } else { 0.0 },
    |v: f64| v != 0.0,
    |x: bool| x as i64,
    |x: bool| x as u8 as f32,
    |v: i64| v != 0
);
element!(
    i64,
    I64,
    |x: i64| x as f64,
    |v: f64| v as i64,
    |x: i64| x,
    |x: i64| x as f32,
    |v: i64| v
);
element!(
    f32,
    F32,
    |x: f32| x as f64,
    |v: f64| v as f32,
    |x: f32| x as i64,
    |x: f32| x,
    |v: i64| v as f32
);
element!(
    f64,
    F64,
    |x: f64| x,
    |v: f64| v,
    |x: f64| x as i64,
    |x: f64| x as f32,
    |v: i64| v as f64
);

/// f32 or f64: the reference math every backend is compared against.
///
/// Functions with a numerically delicate textbook form (sigmoid, softplus,
/// log-sigmoid) are written in their stable forms here, so the reference is
/// trustworthy at extreme inputs.
pub trait Float:
    Element
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    const NAN: Self;
    const INFINITY: Self;
    const NEG_INFINITY: Self;
    fn exp(self) -> Self;
    fn exp_m1(self) -> Self;
    fn ln(self) -> Self;
    fn ln_1p(self) -> Self;
    fn floor(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn erf(self) -> Self;
    /// log |Γ(x)| (libm).
    fn lgamma(self) -> Self;
    fn powf(self, e: Self) -> Self;
    fn abs(self) -> Self;
    fn is_nan(self) -> bool;
    fn max_nan(self, o: Self) -> Self;
    fn min_nan(self, o: Self) -> Self;

    /// 1 / (1 + exp(-x)), without overflow and with full relative accuracy
    /// in both tails.
    fn sigmoid(self) -> Self {
        if self >= Self::ZERO {
            Self::ONE / (Self::ONE + (-self).exp())
        } else {
            let e = self.exp();
            e / (Self::ONE + e)
        }
    }
    /// log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
    fn softplus(self) -> Self {
        if self.is_nan() {
            return self;
        }
        let m = if self > Self::ZERO { self } else { Self::ZERO };
        m + (-self.abs()).exp().ln_1p()
    }
    /// log(sigmoid(x)) = -softplus(-x).
    fn log_sigmoid(self) -> Self {
        -(-self).softplus()
    }
    /// ψ(x), the digamma function: recurrence up to x >= 6, then the
    /// asymptotic series; reflection for negative x. Computed in f64.
    fn digamma(self) -> Self {
        Self::from_f64(digamma_f64(self.to_f64()))
    }
    /// ψ'(x), the trigamma function (same scheme).
    fn trigamma(self) -> Self {
        Self::from_f64(trigamma_f64(self.to_f64()))
    }
    /// -1, 0 or 1 (NaN stays NaN, -0 stays -0).
    fn sign(self) -> Self {
        if self > Self::ZERO {
            Self::ONE
        } else if self < Self::ZERO {
            -Self::ONE
        } else {
            self
        }
    }
}

/// Convert one element with a single rounding (as `Tensor::cast`).
pub fn convert<S: Element, T: Element>(s: S) -> T {
    match S::DTYPE {
        DType::Bool | DType::I64 => T::from_i64(s.to_i64()),
        DType::F32 | DType::F64 => T::from_f64(s.to_f64()),
    }
}

/// The positive root of ψ, as a sum of two f64.
const DIGAMMA_ROOT: (f64, f64) = (1.4616321449683622, 9.549995429965697e-17);
/// ψ^(k)(x0) / k! for k = 1..=17 at the positive root x0.
const DIGAMMA_AT_ROOT: [f64; 17] = [
    0.9676722454476212,
    -0.4427631689835921,
    0.258499760955651,
    -0.16394270544240652,
    0.10782405069126237,
    -0.07219956125645471,
    0.04880428816414311,
    -0.03316112647484736,
    0.022597648232218104,
    -0.01542476590494896,
    0.010538791616612175,
    -0.007204534386356869,
    0.004926781395729853,
    -0.003369801655439328,
    0.002305126326734928,
    -0.0015769367714301972,
    0.0010788252019162967,
];

/// ψ(x) in f64 (a few ulp for x > 0; checked against closed forms in tests).
pub fn digamma_f64(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    if x == 0.0 {
        // The pole at 0 is approached from the side of zero's sign
        // (SciPy and PyTensor: ψ(+0) = -inf, ψ(-0) = +inf).
        return if x.is_sign_positive() {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    if x < 0.0 {
        if x == x.floor() {
            return f64::NAN; // poles
        }
        // Reflection: ψ(1 - x) - ψ(x) = π cot(π x). cot has period π, so
        // take the argument's distance to the nearest integer first (exact
        // in floating point): π x itself would be rounded at large |x|.
        let r = x - x.round();
        return digamma_f64(1.0 - x) - std::f64::consts::PI * cot_pi(r);
    }
    if (x - DIGAMMA_ROOT.0).abs() < 0.125 {
        // Near the positive root the recurrence below cancels to an
        // absolute error of a few 1e-16: the Taylor series around the root
        // (ψ^(k)(x0) / k!, from mpmath at 50 digits) keeps it relative.
        let d = (x - DIGAMMA_ROOT.0) - DIGAMMA_ROOT.1;
        return d * DIGAMMA_AT_ROOT
            .iter()
            .rev()
            .fold(0.0, |acc, &c| acc * d + c);
    }
    let mut acc = 0.0;
    let mut x = x;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    // ln x - 1/(2x) - Σ B_2k / (2k x^2k), to B_14: the next term is < 1e-17 at x >= 10.
    let series = f
        * (1.0 / 12.0
            - f * (1.0 / 120.0
                - f * (1.0 / 252.0
                    - f * (1.0 / 240.0 - f * (1.0 / 132.0 - f * (691.0 / 32760.0 - f / 12.0))))));
    acc + x.ln() - 0.5 / x - series
}

/// cot(π r) for |r| <= 1/2 (exact arguments: π r itself is rounded, and
/// near r = ±1/2 cot is computed as tan(π (1/2 - |r|)), which is 0 there).
fn cot_pi(r: f64) -> f64 {
    use std::f64::consts::PI;
    if r.abs() > 0.25 {
        (PI * (0.5 - r.abs())).tan().copysign(r)
    } else {
        1.0 / (PI * r).tan()
    }
}

/// ψ'(x) in f64.
pub fn trigamma_f64(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return 0.0;
    }
    if x <= 0.0 {
        if x == x.floor() {
            return f64::INFINITY;
        }
        // Reflection: ψ'(1 - x) + ψ'(x) = π² / sin²(π x); sin² has period
        // π, so reduce the argument exactly first (as in `digamma_f64`).
        let s = (std::f64::consts::PI * (x - x.round())).sin();
        return -trigamma_f64(1.0 - x) + std::f64::consts::PI * std::f64::consts::PI / (s * s);
    }
    let mut acc = 0.0;
    let mut x = x;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    // 1/x + 1/(2x^2) + Σ B_2k / x^(2k+1), to B_14.
    let tail = f / x
        * (1.0 / 6.0
            - f * (1.0 / 30.0
                - f * (1.0 / 42.0
                    - f * (1.0 / 30.0 - f * (5.0 / 66.0 - f * (691.0 / 2730.0 - f * 7.0 / 6.0))))));
    acc + 1.0 / x + f / 2.0 + tail
}

/// NaN-propagating max/min as NumPy's `maximum` / `minimum`.
fn max_nan<T: PartialOrd + Copy>(a: T, b: T, a_nan: bool, b_nan: bool) -> T {
    if a_nan {
        a
    } else if b_nan || b > a {
        b
    } else {
        a
    }
}
fn min_nan<T: PartialOrd + Copy>(a: T, b: T, a_nan: bool, b_nan: bool) -> T {
    if a_nan {
        a
    } else if b_nan || b < a {
        b
    } else {
        a
    }
}

macro_rules! float {
    ($t:ident, $erf:path, $lgamma:path) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NAN: Self = $t::NAN;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            fn exp(self) -> Self {
                $t::exp(self)
            }
            fn exp_m1(self) -> Self {
                $t::exp_m1(self)
            }
            fn ln(self) -> Self {
                $t::ln(self)
            }
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            fn floor(self) -> Self {
                $t::floor(self)
            }
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            fn sin(self) -> Self {
                $t::sin(self)
            }
            fn cos(self) -> Self {
                $t::cos(self)
            }
            fn erf(self) -> Self {
                $erf(self)
            }
            fn lgamma(self) -> Self {
                $lgamma(self)
            }
            fn powf(self, e: Self) -> Self {
                $t::powf(self, e)
            }
            fn abs(self) -> Self {
                $t::abs(self)
            }
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            fn max_nan(self, o: Self) -> Self {
                max_nan(self, o, self.is_nan(), o.is_nan())
            }
            fn min_nan(self, o: Self) -> Self {
                min_nan(self, o, self.is_nan(), o.is_nan())
            }
        }
    };
}

float!(f32, libm::erff, libm::lgammaf);
float!(f64, libm::erf, libm::lgamma);
