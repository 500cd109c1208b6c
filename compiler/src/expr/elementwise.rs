//! Elementwise builders: unary functions, binary arithmetic and comparisons,
//! `where`, casts, and the operator overloads.

use super::Var;
use crate::op::{BinaryOp, Op, UnaryOp};
use theon_runtime::{DType, Error, Result, Tensor};

/// Something usable as an operand of an elementwise op: an expression, or a
/// Rust number. Numbers are *weak*: they take the dtype of the expressions
/// they meet (`x_f32 * 2.0` stays float32), as Python scalars do in NumPy 2,
/// PyTensor and JAX.
pub trait Operand {
    fn operand(self) -> OperandValue;
}

pub enum OperandValue {
    Var(Var),
    Float(f64),
    Int(i64),
}

impl Operand for &Var {
    fn operand(self) -> OperandValue {
        OperandValue::Var(self.clone())
    }
}
impl Operand for Var {
    fn operand(self) -> OperandValue {
        OperandValue::Var(self)
    }
}
impl Operand for f64 {
    fn operand(self) -> OperandValue {
        OperandValue::Float(self)
    }
}
impl Operand for f32 {
    fn operand(self) -> OperandValue {
        OperandValue::Float(self as f64)
    }
}
impl Operand for i64 {
    fn operand(self) -> OperandValue {
        OperandValue::Int(self)
    }
}
impl Operand for i32 {
    fn operand(self) -> OperandValue {
        OperandValue::Int(self as i64)
    }
}

/// Turn operands into expressions, giving weak numbers their dtype.
pub fn resolve(ops: Vec<OperandValue>) -> Vec<Var> {
    let strong: Vec<DType> = ops
        .iter()
        .filter_map(|o| {
            if let OperandValue::Var(v) = o {
                Some(v.dtype())
            } else {
                None
            }
        })
        .collect();
    let strong = strong.into_iter().reduce(DType::promote);
    ops.into_iter()
        .map(|o| match o {
            OperandValue::Var(v) => v,
            OperandValue::Float(f) => {
                let dt = match strong {
                    Some(d) if d.is_float() => d,
                    _ => DType::F64,
                };
                Var::scalar_const(f, dt)
            }
            OperandValue::Int(i) => {
                let dt = match strong {
                    None | Some(DType::Bool) => DType::I64,
                    Some(d) => d,
                };
                Var::constant(Tensor::scalar(i).cast(dt))
            }
        })
        .collect()
}

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> Var {
            self.unary(UnaryOp::$op)
        }
    )*};
}

macro_rules! binary_methods {
    ($($(#[$doc:meta])* $name:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self, other: impl Operand) -> Result<Var> {
            self.binary(BinaryOp::$op, other)
        }
    )*};
}

impl Var {
    /// Apply an elementwise unary function. Infallible except for `Not`,
    /// which needs bool (use `logical_not`).
    pub fn unary(&self, u: UnaryOp) -> Var {
        match Var::apply(Op::Unary(u), &[self]) {
            Ok(v) => v,
            // Only `not` of a non-bool fails; make it a bool op on `x != 0`.
            Err(_) => {
                let nz = self
                    .binary(BinaryOp::Ne, 0i64)
                    .expect("comparison with a scalar types");
                Var::apply(Op::Unary(u), &[&nz]).expect("not of bool types")
            }
        }
    }

    /// Apply an elementwise binary op with broadcasting.
    pub fn binary(&self, b: BinaryOp, other: impl Operand) -> Result<Var> {
        let v = resolve(vec![OperandValue::Var(self.clone()), other.operand()]);
        Var::apply(Op::Binary(b), &[&v[0], &v[1]])
    }

    unary_methods! {
        neg => Neg,
        abs => Abs,
        /// -1, 0 or 1.
        sign => Sign,
        /// The largest integer <= x (integers unchanged; no gradient).
        floor => Floor,
        exp => Exp,
        /// exp(x) - 1, accurate near 0.
        expm1 => Expm1,
        log => Log,
        /// log(1 + x), accurate near 0.
        log1p => Log1p,
        sqrt => Sqrt,
        square => Square,
        /// 1 / x.
        reciprocal => Reciprocal,
        tanh => Tanh,
        /// 1 / (1 + exp(-x)).
        sigmoid => Sigmoid,
        /// log(1 + exp(x)).
        softplus => Softplus,
        /// log(sigmoid(x)) = -softplus(-x).
        log_sigmoid => LogSigmoid,
        sin => Sin,
        cos => Cos,
        erf => Erf,
        /// log |Γ(x)|.
        lgamma => Lgamma,
        /// ψ(x), the derivative of lgamma.
        digamma => Digamma,
    }

    binary_methods! {
        add => Add,
        sub => Sub,
        mul => Mul,
        /// True division (integers give float64).
        div => Div,
        pow => Pow,
        /// Elementwise maximum (NaN-propagating).
        maximum => Maximum,
        minimum => Minimum,
        /// Elementwise `==` (bool result).
        equal => Eq,
        not_equal => Ne,
        lt => Lt,
        le => Le,
        gt => Gt,
        ge => Ge,
        logical_and => And,
        logical_or => Or,
    }

    /// Logical not; non-bool tensors are tested for `!= 0` first.
    pub fn logical_not(&self) -> Var {
        self.unary(UnaryOp::Not)
    }

    /// Convert to another dtype (no-op if already that dtype).
    pub fn cast(&self, dtype: DType) -> Var {
        if self.dtype() == dtype {
            return self.clone();
        }
        Var::apply(Op::Cast(dtype), &[self]).expect("cast types for any dtype")
    }

    /// `where(self, a, b)`: elements of `a` where `self` is true, else of `b`.
    pub fn select(&self, a: impl Operand, b: impl Operand) -> Result<Var> {
        Var::where_(self, a, b)
    }

    /// `where(cond, a, b)` with broadcasting (`cond` must be bool).
    pub fn where_(cond: &Var, a: impl Operand, b: impl Operand) -> Result<Var> {
        if cond.dtype() != DType::Bool {
            return Err(Error::dtype(format!(
                "where: condition must be bool, got {}",
                cond.ty()
            )));
        }
        let v = resolve(vec![a.operand(), b.operand()]);
        Var::apply(Op::Where, &[cond, &v[0], &v[1]])
    }

    /// tan(x) = sin(x) / cos(x) (its gradient is 1 / cos²(x) through the
    /// quotient rule).
    pub fn tan(&self) -> Result<Var> {
        &self.sin() / &self.cos()
    }

    /// NumPy's `floor_divide` (`a // b`): floor(a / b). Integers give
    /// integers, computed through float64 (exact while |a / b| < 2^53),
    /// and a zero divisor gives 0 as in NumPy; float division by zero
    /// gives ±inf or NaN.
    pub fn floor_div(&self, other: impl Operand) -> Result<Var> {
        let v = resolve(vec![OperandValue::Var(self.clone()), other.operand()]);
        let (a, b) = (&v[0], &v[1]);
        let q = (a / b)?.floor();
        if a.dtype().is_float() || b.dtype().is_float() {
            return Ok(q);
        }
        Var::where_(&b.equal(0i64)?, 0i64, q.cast(DType::I64))
    }

    /// NumPy's `mod` (`a % b`): a - b floor(a / b), so the result has the
    /// sign of b (Python's convention, not C's `fmod`). Integers give
    /// integers (0 for a zero divisor, as NumPy); for floats the last bits
    /// may differ from NumPy's `fmod`-based result when a / b is not exact.
    pub fn modulo(&self, other: impl Operand) -> Result<Var> {
        let v = resolve(vec![OperandValue::Var(self.clone()), other.operand()]);
        let (a, b) = (&v[0], &v[1]);
        let r = (a - &(b * &a.floor_div(b)?)?)?;
        if a.dtype().is_float() || b.dtype().is_float() {
            return Ok(r);
        }
        Var::where_(&b.equal(0i64)?, 0i64, r)
    }

    /// `x` limited to [lower, upper], as NumPy's `clip`: maximum with the
    /// lower bound, then minimum with the upper one. The gradient goes to
    /// `x` where lower <= x <= upper (bounds included, PyTensor's
    /// convention) and to the bound that is hit outside.
    pub fn clip(&self, lower: impl Operand, upper: impl Operand) -> Result<Var> {
        self.maximum(lower)?.minimum(upper)
    }

    /// Identity in the forward pass, zero gradient (`consider_constant`).
    pub fn stop_gradient(&self) -> Var {
        Var::apply(Op::StopGradient, &[self]).expect("identity types")
    }
}

// ---- operator overloads -------------------------------------------------------

macro_rules! binop_impls {
    ($trait:ident, $method:ident, $op:ident) => {
        impl std::ops::$trait<&Var> for &Var {
            type Output = Result<Var>;
            fn $method(self, rhs: &Var) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl std::ops::$trait<Var> for Var {
            type Output = Result<Var>;
            fn $method(self, rhs: Var) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl std::ops::$trait<&Var> for Var {
            type Output = Result<Var>;
            fn $method(self, rhs: &Var) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl std::ops::$trait<Var> for &Var {
            type Output = Result<Var>;
            fn $method(self, rhs: Var) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl std::ops::$trait<f64> for &Var {
            type Output = Result<Var>;
            fn $method(self, rhs: f64) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl std::ops::$trait<f64> for Var {
            type Output = Result<Var>;
            fn $method(self, rhs: f64) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl std::ops::$trait<i64> for &Var {
            type Output = Result<Var>;
            fn $method(self, rhs: i64) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl std::ops::$trait<i64> for Var {
            type Output = Result<Var>;
            fn $method(self, rhs: i64) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs)
            }
        }
        impl std::ops::$trait<&Var> for f64 {
            type Output = Result<Var>;
            fn $method(self, rhs: &Var) -> Result<Var> {
                let v = resolve(vec![
                    OperandValue::Float(self),
                    OperandValue::Var(rhs.clone()),
                ]);
                Var::apply(Op::Binary(BinaryOp::$op), &[&v[0], &v[1]])
            }
        }
        impl std::ops::$trait<Var> for f64 {
            type Output = Result<Var>;
            fn $method(self, rhs: Var) -> Result<Var> {
                std::ops::$trait::$method(self, &rhs)
            }
        }
        impl std::ops::$trait<Result<Var>> for &Var {
            type Output = Result<Var>;
            fn $method(self, rhs: Result<Var>) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs?)
            }
        }
        impl std::ops::$trait<Result<Var>> for Var {
            type Output = Result<Var>;
            fn $method(self, rhs: Result<Var>) -> Result<Var> {
                self.binary(BinaryOp::$op, rhs?)
            }
        }
        impl std::ops::$trait<&Var> for Result<Var> {
            type Output = Result<Var>;
            fn $method(self, rhs: &Var) -> Result<Var> {
                self?.binary(BinaryOp::$op, rhs)
            }
        }
        impl std::ops::$trait<Var> for Result<Var> {
            type Output = Result<Var>;
            fn $method(self, rhs: Var) -> Result<Var> {
                self?.binary(BinaryOp::$op, rhs)
            }
        }
    };
}

binop_impls!(Add, add, Add);
binop_impls!(Sub, sub, Sub);
binop_impls!(Mul, mul, Mul);
binop_impls!(Div, div, Div);

impl std::ops::Neg for &Var {
    type Output = Var;
    fn neg(self) -> Var {
        self.unary(UnaryOp::Neg)
    }
}
impl std::ops::Neg for Var {
    type Output = Var;
    fn neg(self) -> Var {
        self.unary(UnaryOp::Neg)
    }
}
