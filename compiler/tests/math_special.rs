//! Explicit special-value checks (exact results, signs of zeros, thresholds).
#![allow(clippy::approx_constant, clippy::excessive_precision)]
use theon_compiler::codegen::math::scalar::{ScalarF32, ScalarF64};

fn same64(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}
fn same32(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

macro_rules! check64 {
    ($f:path, $x:expr, $want:expr) => {{
        let got = $f(&mut ScalarF64, $x);
        assert!(
            same64(got, $want),
            "{}({:e}) = {:e}, want {:e}",
            stringify!($f),
            $x,
            got,
            $want
        );
    }};
}
macro_rules! check32 {
    ($f:path, $x:expr, $want:expr) => {{
        let got = $f(&mut ScalarF32, $x);
        assert!(
            same32(got, $want),
            "{}_f32({:e}) = {:e}, want {:e}",
            stringify!($f),
            $x,
            got,
            $want
        );
    }};
}

const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;
const DMIN: f64 = 4.9406564584124654e-324;

#[test]
fn exp_family() {
    use theon_compiler::codegen::math::{exp, expm1};
    check64!(exp, 0.0, 1.0);
    check64!(exp, -0.0, 1.0);
    check64!(exp, INF, INF);
    check64!(exp, -INF, 0.0);
    check64!(exp, NAN, NAN);
    assert!(exp(&mut ScalarF64, 709.78).is_finite());
    check64!(exp, 709.79, INF);
    check64!(exp, 1e300, INF);
    check64!(exp, -745.14, 0.0);
    check64!(exp, -745.2, 0.0);
    check64!(exp, -745.13, DMIN);
    check64!(exp, -744.44, DMIN);
    check64!(exp, -1e300, 0.0);
    assert_eq!(exp(&mut ScalarF64, -708.5), (-708.5f64).exp()); // subnormal result
    assert_eq!(exp(&mut ScalarF64, -740.0), (-740.0f64).exp());
    assert!(exp(&mut ScalarF32, 88.72f32).is_finite());
    check32!(exp, 88.73f32, f32::INFINITY);
    check32!(exp, -104.0f32, 0.0f32);
    check32!(exp, -103.9f32, 1.4e-45f32);
    check64!(expm1, 0.0, 0.0);
    check64!(expm1, -0.0, -0.0);
    check64!(expm1, DMIN, DMIN);
    check64!(expm1, -3.0 * DMIN, -3.0 * DMIN);
    check64!(expm1, INF, INF);
    check64!(expm1, -INF, -1.0);
    check64!(expm1, NAN, NAN);
    check64!(expm1, 709.79, INF);
    assert!(expm1(&mut ScalarF64, 709.78).is_finite());
    check32!(expm1, -0.0f32, -0.0f32);
    check32!(expm1, 1e-45f32, 1e-45f32);
}

#[test]
fn log_family() {
    use theon_compiler::codegen::math::{log, log1p};
    check64!(log, 1.0, 0.0);
    check64!(log, 0.0, -INF);
    check64!(log, -0.0, -INF);
    check64!(log, -1.0, NAN);
    check64!(log, -INF, NAN);
    check64!(log, INF, INF);
    check64!(log, NAN, NAN);
    check64!(log, DMIN, DMIN.ln());
    check64!(log, f64::MAX, f64::MAX.ln());
    check32!(log, 1.4e-45f32, (1.4e-45f32 as f64).ln() as f32);
    check32!(log, 0.0f32, f32::NEG_INFINITY);
    check64!(log1p, 0.0, 0.0);
    check64!(log1p, -0.0, -0.0);
    check64!(log1p, -1.0, -INF);
    check64!(log1p, -1.5, NAN);
    check64!(log1p, INF, INF);
    check64!(log1p, NAN, NAN);
    check64!(log1p, DMIN, DMIN);
    check64!(log1p, -DMIN, -DMIN);
    check64!(log1p, f64::MAX, f64::MAX.ln());
    check32!(log1p, -0.0f32, -0.0f32);
    check32!(log1p, f32::MAX, (f32::MAX as f64).ln() as f32);
}

#[test]
fn activations() {
    use theon_compiler::codegen::math::{log_sigmoid, sigmoid, softplus, tanh};
    check64!(tanh, 0.0, 0.0);
    check64!(tanh, -0.0, -0.0);
    check64!(tanh, DMIN, DMIN);
    check64!(tanh, -DMIN, -DMIN);
    check64!(tanh, INF, 1.0);
    check64!(tanh, -INF, -1.0);
    check64!(tanh, 20.0, 1.0);
    check64!(tanh, NAN, NAN);
    check32!(tanh, -0.0f32, -0.0f32);
    check32!(tanh, 10.0f32, 1.0f32);
    check64!(sigmoid, 0.0, 0.5);
    check64!(sigmoid, -0.0, 0.5);
    check64!(sigmoid, INF, 1.0);
    check64!(sigmoid, -INF, 0.0);
    check64!(sigmoid, 40.0, 1.0);
    check64!(sigmoid, -746.0, 0.0);
    check64!(sigmoid, -745.0, DMIN);
    check64!(sigmoid, NAN, NAN);
    assert_eq!(sigmoid(&mut ScalarF64, -720.0), (-720.0f64).exp()); // subnormal output
    check32!(sigmoid, f32::NEG_INFINITY, 0.0f32);
    check32!(sigmoid, f32::INFINITY, 1.0f32);
    check64!(softplus, INF, INF);
    check64!(softplus, -INF, 0.0);
    check64!(softplus, 0.0, std::f64::consts::LN_2);
    check64!(softplus, 1e300, 1e300);
    check64!(softplus, -800.0, 0.0);
    check64!(softplus, NAN, NAN);
    assert_eq!(softplus(&mut ScalarF64, -720.0), (-720.0f64).exp());
    check64!(log_sigmoid, -INF, -INF);
    check64!(log_sigmoid, INF, -0.0);
    check64!(log_sigmoid, 800.0, -0.0);
    check64!(log_sigmoid, -1e300, -1e300);
    check64!(log_sigmoid, 0.0, -std::f64::consts::LN_2);
    check64!(log_sigmoid, NAN, NAN);
    check32!(softplus, f32::INFINITY, f32::INFINITY);
    check32!(log_sigmoid, f32::NEG_INFINITY, f32::NEG_INFINITY);
}

#[test]
fn erf_trig() {
    use theon_compiler::codegen::math::{cos, erf, sin};
    check64!(erf, 0.0, 0.0);
    check64!(erf, -0.0, -0.0);
    check64!(erf, INF, 1.0);
    check64!(erf, -INF, -1.0);
    check64!(erf, 6.0, 1.0);
    check64!(erf, NAN, NAN);
    check64!(erf, DMIN, DMIN * std::f64::consts::FRAC_2_SQRT_PI);
    check32!(erf, -0.0f32, -0.0f32);
    check64!(sin, 0.0, 0.0);
    check64!(sin, -0.0, -0.0);
    check64!(sin, DMIN, DMIN);
    check64!(sin, -DMIN, -DMIN);
    check64!(sin, INF, NAN);
    check64!(sin, NAN, NAN);
    check64!(sin, 1e22, 1e22f64.sin()); // fallback lane
    check64!(cos, 0.0, 1.0);
    check64!(cos, -0.0, 1.0);
    check64!(cos, -INF, NAN);
    check64!(cos, 1e22, 1e22f64.cos());
    check32!(sin, -0.0f32, -0.0f32);
    check32!(sin, 1e-45f32, 1e-45f32);
    check32!(cos, 0.0f32, 1.0f32);
    check32!(sin, 1e10f32, (1e10f64).sin() as f32);
}

#[test]
fn pow_specials() {
    // every pair of special operands must match C99 pow (std's powf) bit for bit
    let sp = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        -2.0,
        3.0,
        -3.0,
        1.5,
        -1.5,
        INF,
        -INF,
        NAN,
        DMIN,
        -DMIN,
        f64::MAX,
        -f64::MAX,
        1e-310,
        2f64.powi(53),
        2f64.powi(53) + 2.0,
        2f64.powi(52) + 1.0,
        1e300,
        -1e300,
        -1074.0,
        -1075.0,
        1024.0,
    ];
    for &x in &sp {
        for &y in &sp {
            let got = theon_compiler::codegen::math::pow(&mut ScalarF64, x, y);
            let want = x.powf(y);
            let exact = !want.is_finite() || want == 0.0 || want == 1.0 || want == -1.0;
            if exact {
                assert!(
                    same64(got, want),
                    "pow({x:e}, {y:e}) = {got:e}, want {want:e}"
                );
            } else {
                assert!(
                    ((got - want) / want).abs() < 1e-15,
                    "pow({x:e}, {y:e}) = {got:e}, want {want:e}"
                );
            }
            let (x32, y32) = (x as f32, y as f32);
            let got = theon_compiler::codegen::math::pow(&mut ScalarF32, x32, y32);
            let want = (x32 as f64).powf(y32 as f64) as f32;
            let exact = !want.is_finite() || want == 0.0 || want == 1.0 || want == -1.0;
            if exact {
                assert!(
                    same32(got, want),
                    "pow_f32({x32:e}, {y32:e}) = {got:e}, want {want:e}"
                );
            }
        }
    }
    // exact powers of two, through the subnormal range
    for k in -1074..1024 {
        assert_eq!(
            theon_compiler::codegen::math::pow(&mut ScalarF64, 2.0, k as f64),
            (k as f64).exp2(),
            "2^{k}"
        );
    }
    for k in -149..128 {
        assert_eq!(
            theon_compiler::codegen::math::pow(&mut ScalarF32, 2.0f32, k as f32),
            (k as f32).exp2(),
            "2^{k} f32"
        );
    }
    assert_eq!(
        theon_compiler::codegen::math::pow(&mut ScalarF64, -2.0, 3.0),
        -8.0
    );
    assert_eq!(
        theon_compiler::codegen::math::pow(&mut ScalarF64, -2.0, -1075.0),
        -0.0
    );
    assert_eq!(
        theon_compiler::codegen::math::pow(&mut ScalarF64, 10.0, 308.0),
        1e308
    );
    assert_eq!(
        theon_compiler::codegen::math::pow(&mut ScalarF64, 10.0, 309.0),
        INF
    );
}
