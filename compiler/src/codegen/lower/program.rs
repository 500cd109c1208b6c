//! A fused scalar program as Cranelift instructions, on scalars (any dtype)
//! or on SIMD lanes (one float type, bool as lane masks).

use super::Emitter;
use crate::codegen::math::outline::{self, Kernel};
use crate::codegen::math::{self, Precision};
use crate::op::{BinaryOp, FusedProgram, Instr, UnaryOp};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{InstBuilder, Type, Value, types};
use theon_runtime::DType;

/// How registers are represented: scalars, or `lanes` lanes of one float type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lanes {
    pub n: u8,
    pub prec: Precision,
}

impl Lanes {
    pub fn scalar() -> Lanes {
        Lanes {
            n: 1,
            prec: Precision::F64,
        }
    }
    pub fn is_vector(self) -> bool {
        self.n > 1
    }
}

/// The Cranelift type of a register of `dtype`.
pub fn reg_type(dtype: DType, lanes: Lanes) -> Type {
    match (dtype, lanes.n, lanes.prec) {
        (DType::F64, 1, _) => types::F64,
        (DType::F32, 1, _) => types::F32,
        (DType::I64, 1, _) => types::I64,
        (DType::Bool, 1, _) => types::I8,
        (DType::F64, _, _) => types::F64X2,
        (DType::F32, _, _) => types::F32X4,
        (DType::Bool, _, Precision::F64) => types::I64X2,
        (DType::Bool, _, Precision::F32) => types::I32X4,
        (DType::I64, _, _) => unreachable!("integer registers are scalar"),
    }
}

/// Can this program run on SIMD lanes? One float type, bools only inside.
pub fn vector_precision(p: &FusedProgram) -> Option<Precision> {
    let mut prec = None;
    for (_, dt) in &p.instrs {
        let this = match dt {
            DType::F64 => Precision::F64,
            DType::F32 => Precision::F32,
            DType::Bool => continue,
            DType::I64 => return None,
        };
        if prec.is_some_and(|q| q != this) {
            return None;
        }
        prec = Some(this);
    }
    prec
}

/// A float constant of `dtype` in the register representation.
pub fn float_const(e: &mut Emitter, v: f64, dtype: DType, lanes: Lanes) -> Value {
    let s = match dtype {
        DType::F32 => e.fb.ins().f32const(Ieee32::with_float(v as f32)),
        _ => e.fb.ins().f64const(Ieee64::with_float(v)),
    };
    if lanes.is_vector() {
        e.fb.ins().splat(reg_type(dtype, lanes), s)
    } else {
        s
    }
}

/// A constant of any dtype.
pub fn constant(e: &mut Emitter, v: f64, dtype: DType, lanes: Lanes) -> Value {
    match dtype {
        DType::F64 | DType::F32 => float_const(e, v, dtype, lanes),
        DType::I64 => e.fb.ins().iconst(types::I64, v as i64),
        DType::Bool if lanes.is_vector() => {
            let lane = if lanes.prec == Precision::F64 {
                types::I64
            } else {
                types::I32
            };
            let s = e.fb.ins().iconst(lane, if v != 0.0 { -1 } else { 0 });
            e.fb.ins().splat(reg_type(DType::Bool, lanes), s)
        }
        DType::Bool => e.fb.ins().iconst(types::I8, (v != 0.0) as i64),
    }
}

/// Evaluate the program; `inputs[k]` holds input `k` in register form.
pub fn emit_program(
    e: &mut Emitter,
    p: &FusedProgram,
    lanes: Lanes,
    inputs: &[Value],
) -> Vec<Value> {
    let mut regs: Vec<Value> = Vec::with_capacity(p.instrs.len());
    for (instr, dt) in &p.instrs {
        let dt = *dt;
        let v = match instr {
            Instr::Input(k) => inputs[*k],
            Instr::Const(c) if dt == DType::I64 => e.fb.ins().iconst(types::I64, c.to_i64(dt)),
            Instr::Const(c) => constant(e, c.to_f64(dt), dt, lanes),
            Instr::Unary(u, a) => unary(e, *u, regs[*a as usize], p.dtype(*a), lanes),
            Instr::Binary(b, x, y) => binary(
                e,
                *b,
                regs[*x as usize],
                regs[*y as usize],
                p.dtype(*x),
                lanes,
            ),
            Instr::Where(c, a, b) => select(
                e,
                regs[*c as usize],
                regs[*a as usize],
                regs[*b as usize],
                dt,
                lanes,
            ),
            Instr::Cast(to, a) => cast(e, regs[*a as usize], p.dtype(*a), *to, lanes),
        };
        regs.push(v);
    }
    regs
}

fn prec_of(dt: DType) -> Precision {
    if dt == DType::F32 {
        Precision::F32
    } else {
        Precision::F64
    }
}

fn unary(e: &mut Emitter, u: UnaryOp, x: Value, dt: DType, lanes: Lanes) -> Value {
    if dt == DType::Bool {
        // Only `not` takes bool.
        return if lanes.is_vector() {
            e.fb.ins().bnot(x)
        } else {
            e.fb.ins().bxor_imm_u(x, 1)
        };
    }
    if dt == DType::I64 {
        return match u {
            UnaryOp::Neg => e.fb.ins().ineg(x),
            UnaryOp::Abs => e.fb.ins().iabs(x),
            UnaryOp::Sign => {
                let one = e.fb.ins().iconst(types::I64, 1);
                let m1 = e.fb.ins().iconst(types::I64, -1);
                let lo = e.fb.ins().smax(x, m1);
                e.fb.ins().smin(lo, one)
            }
            UnaryOp::Square => e.fb.ins().imul(x, x),
            UnaryOp::Floor => x,
            _ => unreachable!("float functions of integers compute in float"),
        };
    }
    let (prec, n) = (prec_of(dt), lanes.n);
    let cc = e.call_conv;
    let outline = e.outline_math && !lanes.is_vector();
    let mut m = math::clif::ClifMath::new(&mut e.fb, prec, n, cc);
    if outline && let Some(k) = outline_kernel(u) {
        return m.call_scalar(&[x], outline::address(k, prec == Precision::F64));
    }
    match u {
        UnaryOp::Neg => m.b.ins().fneg(x),
        UnaryOp::Abs => m.b.ins().fabs(x),
        UnaryOp::Sign => {
            // 1 for x > 0, -1 for x < 0, x itself for ±0 and NaN.
            use crate::codegen::math::FloatBuilder;
            let zero = m.f(0.0);
            let one = m.f(1.0);
            let minus = m.f(-1.0);
            let pos = m.gt(x, zero);
            let neg = m.lt(x, zero);
            let t = m.select(neg, minus, x);
            m.select(pos, one, t)
        }
        UnaryOp::Exp => math::exp(&mut m, x),
        UnaryOp::Expm1 => math::expm1(&mut m, x),
        UnaryOp::Log => math::log(&mut m, x),
        UnaryOp::Log1p => math::log1p(&mut m, x),
        UnaryOp::Sqrt => m.b.ins().sqrt(x),
        UnaryOp::Floor => m.b.ins().floor(x),
        UnaryOp::Square => m.b.ins().fmul(x, x),
        UnaryOp::Reciprocal => {
            use crate::codegen::math::FloatBuilder;
            let one = m.f(1.0);
            m.b.ins().fdiv(one, x)
        }
        UnaryOp::Tanh => math::tanh(&mut m, x),
        UnaryOp::Sigmoid => math::sigmoid(&mut m, x),
        UnaryOp::Softplus => math::softplus(&mut m, x),
        UnaryOp::LogSigmoid => math::log_sigmoid(&mut m, x),
        UnaryOp::Sin => math::sin(&mut m, x),
        UnaryOp::Cos => math::cos(&mut m, x),
        UnaryOp::Erf => math::erf(&mut m, x),
        // Special functions without an inline kernel: the library, per lane.
        UnaryOp::Lgamma | UnaryOp::Digamma | UnaryOp::Trigamma => {
            use crate::codegen::math::FloatBuilder;
            let f: math::builder::ScalarFn = match u {
                UnaryOp::Lgamma => crate::codegen::rt::theon_lgamma,
                UnaryOp::Digamma => crate::codegen::rt::theon_digamma,
                _ => crate::codegen::rt::theon_trigamma,
            };
            let same = m.eq(x, x);
            let nan = m.is_nan(x);
            let all = m.or_m(same, nan);
            m.fallback(all, x, x, f)
        }
        UnaryOp::Not => unreachable!("not takes bool"),
    }
}

/// The out-of-line kernel computing `u`, if it has one.
fn outline_kernel(u: UnaryOp) -> Option<Kernel> {
    Some(match u {
        UnaryOp::Exp => Kernel::Exp,
        UnaryOp::Expm1 => Kernel::Expm1,
        UnaryOp::Log => Kernel::Log,
        UnaryOp::Log1p => Kernel::Log1p,
        UnaryOp::Tanh => Kernel::Tanh,
        UnaryOp::Sigmoid => Kernel::Sigmoid,
        UnaryOp::Softplus => Kernel::Softplus,
        UnaryOp::LogSigmoid => Kernel::LogSigmoid,
        UnaryOp::Sin => Kernel::Sin,
        UnaryOp::Cos => Kernel::Cos,
        UnaryOp::Erf => Kernel::Erf,
        _ => return None,
    })
}

fn binary(e: &mut Emitter, b: BinaryOp, x: Value, y: Value, dt: DType, lanes: Lanes) -> Value {
    match dt {
        DType::F64 | DType::F32 => match b {
            BinaryOp::Add => e.fb.ins().fadd(x, y),
            BinaryOp::Sub => e.fb.ins().fsub(x, y),
            BinaryOp::Mul => e.fb.ins().fmul(x, y),
            BinaryOp::Div => e.fb.ins().fdiv(x, y),
            // NumPy: (x >= y or x is NaN) ? x : y, so ties (±0) keep the first operand.
            BinaryOp::Maximum | BinaryOp::Minimum => {
                let cc = if b == BinaryOp::Maximum {
                    FloatCC::GreaterThanOrEqual
                } else {
                    FloatCC::LessThanOrEqual
                };
                let keep = e.fb.ins().fcmp(cc, x, y);
                let nan = e.fb.ins().fcmp(FloatCC::Unordered, x, x);
                let c = e.fb.ins().bor(keep, nan);
                select(e, c, x, y, dt, lanes)
            }
            BinaryOp::Pow => {
                let cc = e.call_conv;
                let outline = e.outline_math && !lanes.is_vector();
                let prec = prec_of(dt);
                let mut m = math::clif::ClifMath::new(&mut e.fb, prec, lanes.n, cc);
                if outline {
                    m.call_scalar(&[x, y], outline::pow_address(prec == Precision::F64))
                } else {
                    math::pow(&mut m, x, y)
                }
            }
            BinaryOp::Eq => e.fb.ins().fcmp(FloatCC::Equal, x, y),
            BinaryOp::Ne => e.fb.ins().fcmp(FloatCC::NotEqual, x, y),
            BinaryOp::Lt => e.fb.ins().fcmp(FloatCC::LessThan, x, y),
            BinaryOp::Le => e.fb.ins().fcmp(FloatCC::LessThanOrEqual, x, y),
            BinaryOp::Gt => e.fb.ins().fcmp(FloatCC::GreaterThan, x, y),
            BinaryOp::Ge => e.fb.ins().fcmp(FloatCC::GreaterThanOrEqual, x, y),
            BinaryOp::And | BinaryOp::Or => unreachable!("logical ops take bool"),
        },
        DType::I64 => match b {
            BinaryOp::Add => e.fb.ins().iadd(x, y),
            BinaryOp::Sub => e.fb.ins().isub(x, y),
            BinaryOp::Mul => e.fb.ins().imul(x, y),
            BinaryOp::Maximum => e.fb.ins().smax(x, y),
            BinaryOp::Minimum => e.fb.ins().smin(x, y),
            BinaryOp::Eq => e.fb.ins().icmp(IntCC::Equal, x, y),
            BinaryOp::Ne => e.fb.ins().icmp(IntCC::NotEqual, x, y),
            BinaryOp::Lt => e.fb.ins().icmp(IntCC::SignedLessThan, x, y),
            BinaryOp::Le => e.fb.ins().icmp(IntCC::SignedLessThanOrEqual, x, y),
            BinaryOp::Gt => e.fb.ins().icmp(IntCC::SignedGreaterThan, x, y),
            BinaryOp::Ge => e.fb.ins().icmp(IntCC::SignedGreaterThanOrEqual, x, y),
            BinaryOp::Div | BinaryOp::Pow | BinaryOp::And | BinaryOp::Or => {
                unreachable!("computed in float or bool")
            }
        },
        DType::Bool => match b {
            BinaryOp::And => e.fb.ins().band(x, y),
            BinaryOp::Or => e.fb.ins().bor(x, y),
            // Comparisons of bools (scalar 0/1 bytes); vector masks compare as integers too.
            BinaryOp::Eq => e.fb.ins().icmp(IntCC::Equal, x, y),
            BinaryOp::Ne => e.fb.ins().icmp(IntCC::NotEqual, x, y),
            BinaryOp::Lt => e.fb.ins().icmp(IntCC::UnsignedLessThan, x, y),
            BinaryOp::Le => e.fb.ins().icmp(IntCC::UnsignedLessThanOrEqual, x, y),
            BinaryOp::Gt => e.fb.ins().icmp(IntCC::UnsignedGreaterThan, x, y),
            BinaryOp::Ge => e.fb.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, x, y),
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Maximum
            | BinaryOp::Minimum => {
                unreachable!("bool arithmetic computes in int64")
            }
            BinaryOp::Div | BinaryOp::Pow => unreachable!("computed in float"),
        },
    }
}

fn select(e: &mut Emitter, c: Value, a: Value, b: Value, dt: DType, lanes: Lanes) -> Value {
    if lanes.is_vector() {
        let t = reg_type(dt, lanes);
        let m = if dt == DType::Bool {
            c
        } else {
            e.fb.ins().bitcast(t, bitcast_flags(), c)
        };
        e.fb.ins().bitselect(m, a, b)
    } else {
        e.fb.ins().select(c, a, b)
    }
}

pub fn bitcast_flags() -> cranelift_codegen::ir::MemFlagsData {
    cranelift_codegen::ir::MemFlagsData::new()
        .with_endianness(cranelift_codegen::ir::Endianness::Little)
}

/// Convert a register between dtypes (as `Tensor::cast`).
pub fn cast(e: &mut Emitter, x: Value, from: DType, to: DType, lanes: Lanes) -> Value {
    if from == to {
        return x;
    }
    if lanes.is_vector() {
        // Vector programs hold one float type: only bool <-> float happen.
        return match (from, to) {
            (DType::Bool, f) => {
                let t = reg_type(f, lanes);
                let m = e.fb.ins().bitcast(t, bitcast_flags(), x);
                let one = float_const(e, 1.0, f, lanes);
                e.fb.ins().band(m, one)
            }
            (_, DType::Bool) => {
                let zero = float_const(e, 0.0, from, lanes);
                e.fb.ins().fcmp(FloatCC::NotEqual, x, zero)
            }
            _ => unreachable!("vector programs have one float type"),
        };
    }
    match (from, to) {
        (DType::Bool, DType::I64) => e.fb.ins().uextend(types::I64, x),
        (DType::Bool, f) => {
            let one = float_const(e, 1.0, f, lanes);
            let zero = float_const(e, 0.0, f, lanes);
            e.fb.ins().select(x, one, zero)
        }
        (DType::I64, DType::Bool) => e.fb.ins().icmp_imm_u(IntCC::NotEqual, x, 0),
        (DType::I64, f) => e.fb.ins().fcvt_from_sint(reg_type(f, lanes), x),
        (f, DType::Bool) => {
            let zero = float_const(e, 0.0, f, lanes);
            e.fb.ins().fcmp(FloatCC::NotEqual, x, zero)
        }
        (_, DType::I64) => e.fb.ins().fcvt_to_sint_sat(types::I64, x),
        (DType::F32, DType::F64) => e.fb.ins().fpromote(types::F64, x),
        (DType::F64, DType::F32) => e.fb.ins().fdemote(types::F32, x),
        _ => x,
    }
}
