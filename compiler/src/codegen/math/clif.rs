//! `FloatBuilder` over Cranelift: each operation emits one or a few IR
//! instructions on f64 / f64x2 / f32 / f32x4 values, so the algorithms in
//! this module become inline machine code.

use super::builder::{FloatBuilder, Precision, ScalarFn, ScalarFn2};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, Signature, Type, Value, types};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;

/// Emits math into a function being built. `lanes` is 1 (scalar) or the
/// vector width (2 for f64, 4 for f32).
pub struct ClifMath<'a, 'f> {
    pub b: &'a mut FunctionBuilder<'f>,
    pub prec: Precision,
    pub lanes: u8,
    pub call_conv: CallConv,
}

fn bitcast_flags() -> MemFlagsData {
    MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little)
}

impl<'a, 'f> ClifMath<'a, 'f> {
    pub fn new(
        b: &'a mut FunctionBuilder<'f>,
        prec: Precision,
        lanes: u8,
        call_conv: CallConv,
    ) -> Self {
        ClifMath {
            b,
            prec,
            lanes,
            call_conv,
        }
    }

    /// The float type of one value (scalar or vector).
    pub fn fty(&self) -> Type {
        match (self.prec, self.lanes) {
            (Precision::F64, 1) => types::F64,
            (Precision::F64, _) => types::F64X2,
            (Precision::F32, 1) => types::F32,
            (Precision::F32, _) => types::F32X4,
        }
    }
    /// The integer type with the float's lane width.
    pub fn ity(&self) -> Type {
        match (self.prec, self.lanes) {
            (Precision::F64, 1) => types::I64,
            (Precision::F64, _) => types::I64X2,
            (Precision::F32, 1) => types::I32,
            (Precision::F32, _) => types::I32X4,
        }
    }
    fn vector(&self) -> bool {
        self.lanes > 1
    }
    fn scalar_fty(&self) -> Type {
        if self.prec == Precision::F64 {
            types::F64
        } else {
            types::F32
        }
    }
    fn scalar_ity(&self) -> Type {
        if self.prec == Precision::F64 {
            types::I64
        } else {
            types::I32
        }
    }
    fn splat_if_vector(&mut self, ty: Type, v: Value) -> Value {
        if self.vector() {
            self.b.ins().splat(ty, v)
        } else {
            v
        }
    }
    /// Magic constant whose addition leaves an integer in the mantissa.
    fn magic(&self) -> f64 {
        if self.prec == Precision::F64 {
            6755399441055744.0
        } else {
            12582912.0
        }
    }
    /// A call of the scalar function at `fptr` (of this precision's float
    /// type, `args.len()` arguments) on scalar `args`.
    pub fn call_scalar(&mut self, args: &[Value], fptr: usize) -> Value {
        debug_assert!(!self.vector(), "out-of-line math takes scalars");
        let ft = self.scalar_fty();
        let mut sig = Signature::new(self.call_conv);
        sig.params.extend(args.iter().map(|_| AbiParam::new(ft)));
        sig.returns.push(AbiParam::new(ft));
        let sigref = self.b.import_signature(sig);
        let callee = self.b.ins().iconst(types::I64, fptr as i64);
        let call = self.b.ins().call_indirect(sigref, callee, args);
        self.b.inst_results(call)[0]
    }

    /// Call `f` lane by lane where `mask` is set (scalar: when it is set).
    fn call_lanes(
        &mut self,
        mask: Value,
        args: &[Value],
        current: Value,
        fptr: usize,
        nargs: usize,
    ) -> Value {
        let fty = self.fty();
        let sft = self.scalar_fty();
        let mut sig = Signature::new(self.call_conv);
        for _ in 0..nargs {
            sig.params.push(AbiParam::new(types::F64));
        }
        sig.returns.push(AbiParam::new(types::F64));
        let sigref = self.b.import_signature(sig);
        let slow = self.b.create_block();
        let done = self.b.create_block();
        let result = self.b.append_block_param(done, fty);
        let any = if self.vector() {
            self.b.ins().vany_true(mask)
        } else {
            mask
        };
        self.b.ins().brif(any, slow, &[], done, &[current.into()]);
        self.b.switch_to_block(slow);
        self.b.seal_block(slow);
        let callee = self.b.ins().iconst(types::I64, fptr as i64);
        let mut acc = current;
        for lane in 0..self.lanes {
            let (m, cur) = if self.vector() {
                (
                    self.b.ins().extractlane(mask, lane),
                    self.b.ins().extractlane(acc, lane),
                )
            } else {
                (mask, acc)
            };
            let mut call_args = Vec::with_capacity(nargs);
            for a in args {
                let x = if self.vector() {
                    self.b.ins().extractlane(*a, lane)
                } else {
                    *a
                };
                let x = if sft == types::F32 {
                    self.b.ins().fpromote(types::F64, x)
                } else {
                    x
                };
                call_args.push(x);
            }
            let call = self.b.ins().call_indirect(sigref, callee, &call_args);
            let r = self.b.inst_results(call)[0];
            let r = if sft == types::F32 {
                self.b.ins().fdemote(types::F32, r)
            } else {
                r
            };
            // Keep the current value in lanes whose mask is clear.
            let m = if self.vector() {
                self.b.ins().icmp_imm_u(IntCC::NotEqual, m, 0)
            } else {
                m
            };
            let picked = self.b.ins().select(m, r, cur);
            acc = if self.vector() {
                self.b.ins().insertlane(acc, picked, lane)
            } else {
                picked
            };
        }
        self.b.ins().jump(done, &[acc.into()]);
        self.b.switch_to_block(done);
        self.b.seal_block(done);
        result
    }
}

impl FloatBuilder for ClifMath<'_, '_> {
    type F = Value;
    type I = Value;
    type M = Value;

    fn precision(&self) -> Precision {
        self.prec
    }

    fn f(&mut self, c: f64) -> Value {
        let s = match self.prec {
            Precision::F64 => self.b.ins().f64const(Ieee64::with_float(c)),
            Precision::F32 => self.b.ins().f32const(Ieee32::with_float(c as f32)),
        };
        let t = self.fty();
        self.splat_if_vector(t, s)
    }
    fn i(&mut self, c: i64) -> Value {
        let it = self.scalar_ity();
        let c = if it == types::I32 { c as i32 as i64 } else { c };
        let s = self.b.ins().iconst(it, c);
        let t = self.ity();
        self.splat_if_vector(t, s)
    }
    fn add(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fadd(a, b)
    }
    fn sub(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fsub(a, b)
    }
    fn mul(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fmul(a, b)
    }
    fn div(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fdiv(a, b)
    }
    fn fma(&mut self, a: Value, b: Value, c: Value) -> Value {
        self.b.ins().fma(a, b, c)
    }
    fn neg(&mut self, a: Value) -> Value {
        self.b.ins().fneg(a)
    }
    fn abs(&mut self, a: Value) -> Value {
        self.b.ins().fabs(a)
    }
    fn sqrt(&mut self, a: Value) -> Value {
        self.b.ins().sqrt(a)
    }
    fn round(&mut self, a: Value) -> Value {
        self.b.ins().nearest(a)
    }
    fn floor(&mut self, a: Value) -> Value {
        self.b.ins().floor(a)
    }
    fn trunc(&mut self, a: Value) -> Value {
        self.b.ins().trunc(a)
    }
    fn copysign(&mut self, mag: Value, sign: Value) -> Value {
        // Bit operations: |mag| with sign's sign bit.
        let sign_bit = if self.prec == Precision::F64 {
            i64::MIN
        } else {
            i32::MIN as i64
        };
        let m = self.to_bits(mag);
        let s = self.to_bits(sign);
        let sb = self.i(sign_bit);
        let not_sb = self.b.ins().bnot(sb);
        let mag_part = self.b.ins().band(m, not_sb);
        let sign_part = self.b.ins().band(s, sb);
        let r = self.b.ins().bor(mag_part, sign_part);
        self.from_bits(r)
    }
    // b < a ? b : a and a < b ? b : a: a compare and a blend, where the
    // IEEE fmin/fmax sequences cost four times as much. A NaN `a` comes
    // through; the kernels pass constants as `b`, so `b` is never NaN.
    fn min(&mut self, a: Value, b: Value) -> Value {
        let m = self.lt(b, a);
        self.select(m, b, a)
    }
    fn max(&mut self, a: Value, b: Value) -> Value {
        let m = self.lt(a, b);
        self.select(m, b, a)
    }
    fn lt(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fcmp(FloatCC::LessThan, a, b)
    }
    fn le(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fcmp(FloatCC::LessThanOrEqual, a, b)
    }
    fn gt(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fcmp(FloatCC::GreaterThan, a, b)
    }
    fn ge(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, a, b)
    }
    fn eq(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().fcmp(FloatCC::Equal, a, b)
    }
    fn is_nan(&mut self, a: Value) -> Value {
        self.b.ins().fcmp(FloatCC::Unordered, a, a)
    }
    fn and_m(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().band(a, b)
    }
    fn or_m(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().bor(a, b)
    }
    fn not_m(&mut self, a: Value) -> Value {
        if self.vector() {
            self.b.ins().bnot(a)
        } else {
            self.b.ins().bxor_imm_u(a, 1)
        }
    }
    fn select(&mut self, m: Value, a: Value, b: Value) -> Value {
        if self.vector() {
            let t = self.fty();
            let mf = self.b.ins().bitcast(t, bitcast_flags(), m);
            self.b.ins().bitselect(mf, a, b)
        } else {
            self.b.ins().select(m, a, b)
        }
    }
    fn select_i(&mut self, m: Value, a: Value, b: Value) -> Value {
        if self.vector() {
            self.b.ins().bitselect(m, a, b)
        } else {
            self.b.ins().select(m, a, b)
        }
    }
    fn to_bits(&mut self, a: Value) -> Value {
        let t = self.ity();
        self.b.ins().bitcast(t, bitcast_flags(), a)
    }
    fn from_bits(&mut self, a: Value) -> Value {
        let t = self.fty();
        self.b.ins().bitcast(t, bitcast_flags(), a)
    }
    fn iadd(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().iadd(a, b)
    }
    fn isub(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().isub(a, b)
    }
    fn iand(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().band(a, b)
    }
    fn ior(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().bor(a, b)
    }
    fn ixor(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().bxor(a, b)
    }
    fn shl(&mut self, a: Value, n: u32) -> Value {
        self.b.ins().ishl_imm_u(a, n as i64)
    }
    fn shr_u(&mut self, a: Value, n: u32) -> Value {
        self.b.ins().ushr_imm_u(a, n as i64)
    }
    fn shr_s(&mut self, a: Value, n: u32) -> Value {
        self.b.ins().sshr_imm_u(a, n as i64)
    }
    fn ieq(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().icmp(IntCC::Equal, a, b)
    }
    fn igt(&mut self, a: Value, b: Value) -> Value {
        self.b.ins().icmp(IntCC::SignedGreaterThan, a, b)
    }
    fn float_to_int(&mut self, a: Value) -> Value {
        let magic = self.magic();
        let m = self.f(magic);
        let shifted = self.b.ins().fadd(a, m);
        let bits = self.to_bits(shifted);
        let mb = if self.prec == Precision::F64 {
            magic.to_bits() as i64
        } else {
            (magic as f32).to_bits() as i64
        };
        let mbits = self.i(mb);
        self.b.ins().isub(bits, mbits)
    }
    fn int_to_float(&mut self, a: Value) -> Value {
        let magic = self.magic();
        let mb = if self.prec == Precision::F64 {
            magic.to_bits() as i64
        } else {
            (magic as f32).to_bits() as i64
        };
        let mbits = self.i(mb);
        let shifted = self.b.ins().iadd(a, mbits);
        let f = self.from_bits(shifted);
        let m = self.f(magic);
        self.b.ins().fsub(f, m)
    }
    fn fallback(&mut self, mask: Value, x: Value, current: Value, f: ScalarFn) -> Value {
        self.call_lanes(mask, &[x], current, f as usize, 1)
    }
    fn fallback2(
        &mut self,
        mask: Value,
        x: Value,
        y: Value,
        current: Value,
        f: ScalarFn2,
    ) -> Value {
        self.call_lanes(mask, &[x, y], current, f as usize, 2)
    }
}
