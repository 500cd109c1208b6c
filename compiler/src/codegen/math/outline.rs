//! Out-of-line scalar math: the scalar model's instantiation of each kernel
//! as an `extern "C"` function. Scalar code that runs only a few times (a
//! vector loop's tail, a loop of a handful of elements) calls these instead
//! of inlining the kernel: the same operations in the same order (the
//! scalar model is the emitted algorithm, see `scalar.rs`), so the same
//! bits, in a call instead of 50-200 instructions to compile.

use super::scalar::{ScalarF32, ScalarF64};

/// The kernels that have an out-of-line version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Exp,
    Expm1,
    Log,
    Log1p,
    Tanh,
    Sigmoid,
    Softplus,
    LogSigmoid,
    Sin,
    Cos,
    Erf,
}

macro_rules! outline {
    ($($kernel:ident => $f:path, $f64:ident, $f32:ident;)*) => {
        $(
            extern "C" fn $f64(x: f64) -> f64 {
                $f(&mut ScalarF64, x)
            }
            extern "C" fn $f32(x: f32) -> f32 {
                $f(&mut ScalarF32, x)
            }
        )*
        /// The address of `kernel`'s out-of-line version for f64 (`f64`
        /// false: f32), an `extern "C" fn(f) -> f` of that float type.
        pub fn address(kernel: Kernel, f64: bool) -> usize {
            match kernel {
                $(Kernel::$kernel => if f64 {
                    $f64 as extern "C" fn(f64) -> f64 as usize
                } else {
                    $f32 as extern "C" fn(f32) -> f32 as usize
                },)*
            }
        }
        /// Every kernel (for the tests).
        pub const ALL: &[Kernel] = &[$(Kernel::$kernel),*];
        /// `kernel` in the scalar model, for f64 and f32 (for the tests).
        pub fn eval(kernel: Kernel, x: f64) -> (f64, f32) {
            match kernel {
                $(Kernel::$kernel => ($f64(x), $f32(x as f32)),)*
            }
        }
    };
}

outline! {
    Exp => super::exp, exp_f64, exp_f32;
    Expm1 => super::expm1, expm1_f64, expm1_f32;
    Log => super::log, log_f64, log_f32;
    Log1p => super::log1p, log1p_f64, log1p_f32;
    Tanh => super::tanh, tanh_f64, tanh_f32;
    Sigmoid => super::sigmoid, sigmoid_f64, sigmoid_f32;
    Softplus => super::softplus, softplus_f64, softplus_f32;
    LogSigmoid => super::log_sigmoid, log_sigmoid_f64, log_sigmoid_f32;
    Sin => super::sin, sin_f64, sin_f32;
    Cos => super::cos, cos_f64, cos_f32;
    Erf => super::erf, erf_f64, erf_f32;
}

extern "C" fn pow_f64(x: f64, y: f64) -> f64 {
    super::pow(&mut ScalarF64, x, y)
}
extern "C" fn pow_f32(x: f32, y: f32) -> f32 {
    super::pow(&mut ScalarF32, x, y)
}

/// The address of pow's out-of-line version (`f64` false: f32).
pub fn pow_address(f64: bool) -> usize {
    if f64 {
        pow_f64 as extern "C" fn(f64, f64) -> f64 as usize
    } else {
        pow_f32 as extern "C" fn(f32, f32) -> f32 as usize
    }
}
