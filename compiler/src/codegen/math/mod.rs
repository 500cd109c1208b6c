//! Transcendental functions as inline, vectorizable code.
//!
//! Each function is written once against `FloatBuilder` (an abstract
//! machine of lane-wise float, integer and mask operations) and instantiated
//! twice: `scalar::ScalarF64`/`ScalarF32` evaluate it directly (the ulp
//! tests), `clif::ClifMath` emits it as Cranelift IR on f64, f64x2, f32 or
//! f32x4 values. The tested algorithm is the emitted algorithm.
//!
//! Accuracy (max ulp against Rust's std, libm's erf, and double-double
//! references for tanh/sigmoid/softplus/log_sigmoid; 1e6 random and edge
//! inputs each): float64 <= 2.25 ulp, float32 <= 1.61 ulp; special values
//! exact. Methods and coefficient sources are in each file; coefficients
//! were fitted with a Remez minimax fitter (`tools/remez.py`).

pub mod builder;
pub mod clif;
pub mod coeffs;
pub mod count;
pub mod erf;
pub mod exp;
pub mod log;
pub mod logistic;
pub mod pow;
pub mod scalar;
pub mod slice;
pub mod trig;
mod util;
pub mod wide;

pub use builder::{FloatBuilder, Precision};
pub use erf::erf;
pub use exp::{exp, expm1};
pub use log::{log, log1p};
pub use logistic::{log_sigmoid, sigmoid, softplus, tanh};
pub use pow::pow;
pub use trig::{cos, sin};
