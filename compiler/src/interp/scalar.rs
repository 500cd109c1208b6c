//! Scalar semantics of elementwise ops: the reference every backend matches.

use crate::op::{BinaryOp, UnaryOp};
use theon_runtime::Float;

/// A float-valued unary function (Neg/Abs/Sign/Square included).
pub fn unary_float<T: Float>(u: UnaryOp, x: T) -> T {
    match u {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Sign => x.sign(),
        UnaryOp::Floor => x.floor(),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Expm1 => x.exp_m1(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Log1p => x.ln_1p(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Square => x * x,
        UnaryOp::Reciprocal => T::ONE / x,
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Sigmoid => x.sigmoid(),
        UnaryOp::Softplus => x.softplus(),
        UnaryOp::LogSigmoid => x.log_sigmoid(),
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Erf => x.erf(),
        UnaryOp::Lgamma => x.lgamma(),
        UnaryOp::Digamma => x.digamma(),
        UnaryOp::Trigamma => x.trigamma(),
        // Not is defined on bool only; type inference rejects it elsewhere.
        UnaryOp::Not => T::from_f64(if x.to_f64() == 0.0 { 1.0 } else { 0.0 }),
    }
}

/// Integer unary functions (only those whose result stays integer).
pub fn unary_int(u: UnaryOp, x: i64) -> i64 {
    match u {
        UnaryOp::Neg => x.wrapping_neg(),
        UnaryOp::Abs => x.wrapping_abs(),
        UnaryOp::Sign => x.signum(),
        UnaryOp::Floor => x,
        UnaryOp::Square => x.wrapping_mul(x),
        _ => unary_float(u, x as f64) as i64,
    }
}

/// Float arithmetic.
pub fn binary_float<T: Float>(b: BinaryOp, x: T, y: T) -> T {
    match b {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
        BinaryOp::Pow => x.powf(y),
        BinaryOp::Maximum => x.max_nan(y),
        BinaryOp::Minimum => x.min_nan(y),
        _ => T::from_f64(if compare(b, x, y) { 1.0 } else { 0.0 }),
    }
}

/// Integer arithmetic (wrapping, as NumPy's int64).
pub fn binary_int(b: BinaryOp, x: i64, y: i64) -> i64 {
    match b {
        BinaryOp::Add => x.wrapping_add(y),
        BinaryOp::Sub => x.wrapping_sub(y),
        BinaryOp::Mul => x.wrapping_mul(y),
        BinaryOp::Maximum => x.max(y),
        BinaryOp::Minimum => x.min(y),
        _ => binary_float(b, x as f64, y as f64) as i64,
    }
}

/// Comparisons (false against NaN except `!=`).
pub fn compare<T: PartialOrd>(b: BinaryOp, x: T, y: T) -> bool {
    match b {
        BinaryOp::Eq => x == y,
        BinaryOp::Ne => x != y,
        BinaryOp::Lt => x < y,
        BinaryOp::Le => x <= y,
        BinaryOp::Gt => x > y,
        BinaryOp::Ge => x >= y,
        _ => false,
    }
}

pub fn logical(b: BinaryOp, x: bool, y: bool) -> bool {
    match b {
        BinaryOp::And => x && y,
        BinaryOp::Or => x || y,
        _ => compare(b, x, y),
    }
}
