//! A [`FloatBuilder`] wrapper that counts how many trait operations an
//! algorithm emits. The kernels are straight-line code, so one evaluation
//! gives the exact per-element instruction budget of the emitted code (each
//! trait op lowers to one, occasionally two or three, machine instructions).
//!
//! Constants (`f`, `i`) are counted separately: in the JIT they are hoisted
//! out of the element loop (constant-pool loads / broadcasts).

use super::builder::{FloatBuilder, Precision, ScalarFn, ScalarFn2};

/// Operation counts of one kernel evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// All non-constant operations (the per-element cost).
    pub ops: usize,
    /// `f` / `i` constants materialised (hoistable).
    pub consts: usize,
    /// Of `ops`: fused multiply-adds.
    pub fma: usize,
    /// Of `ops`: divisions and square roots (long-latency).
    pub div_sqrt: usize,
    /// Of `ops`: integer-lane and bit-cast operations.
    pub int: usize,
    /// Of `ops`: comparisons, mask logic and selects.
    pub mask_select: usize,
    /// Of `ops`: `fallback` / `fallback2` escape hatches.
    pub fallback: usize,
}

/// Delegates every operation to `inner` and counts it.
pub struct CountingBuilder<B> {
    pub inner: B,
    pub counts: OpCounts,
}

impl<B> CountingBuilder<B> {
    pub fn new(inner: B) -> Self {
        CountingBuilder {
            inner,
            counts: OpCounts::default(),
        }
    }
    pub fn reset(&mut self) {
        self.counts = OpCounts::default();
    }
}

macro_rules! op {
    ($self:ident, $kind:ident) => {{
        $self.counts.ops += 1;
        $self.counts.$kind += 1;
    }};
    ($self:ident) => {{
        $self.counts.ops += 1;
    }};
}

impl<B: FloatBuilder> FloatBuilder for CountingBuilder<B> {
    type F = B::F;
    type I = B::I;
    type M = B::M;

    fn precision(&self) -> Precision {
        self.inner.precision()
    }
    fn f(&mut self, c: f64) -> Self::F {
        self.counts.consts += 1;
        self.inner.f(c)
    }
    fn i(&mut self, c: i64) -> Self::I {
        self.counts.consts += 1;
        self.inner.i(c)
    }
    fn add(&mut self, a: Self::F, b: Self::F) -> Self::F {
        op!(self);
        self.inner.add(a, b)
    }
    fn sub(&mut self, a: Self::F, b: Self::F) -> Self::F {
        op!(self);
        self.inner.sub(a, b)
    }
    fn mul(&mut self, a: Self::F, b: Self::F) -> Self::F {
        op!(self);
        self.inner.mul(a, b)
    }
    fn div(&mut self, a: Self::F, b: Self::F) -> Self::F {
        op!(self, div_sqrt);
        self.inner.div(a, b)
    }
    fn fma(&mut self, a: Self::F, b: Self::F, c: Self::F) -> Self::F {
        op!(self, fma);
        self.inner.fma(a, b, c)
    }
    fn neg(&mut self, a: Self::F) -> Self::F {
        op!(self);
        self.inner.neg(a)
    }
    fn abs(&mut self, a: Self::F) -> Self::F {
        op!(self);
        self.inner.abs(a)
    }
    fn sqrt(&mut self, a: Self::F) -> Self::F {
        op!(self, div_sqrt);
        self.inner.sqrt(a)
    }
    fn round(&mut self, a: Self::F) -> Self::F {
        op!(self);
        self.inner.round(a)
    }
    fn floor(&mut self, a: Self::F) -> Self::F {
        op!(self);
        self.inner.floor(a)
    }
    fn trunc(&mut self, a: Self::F) -> Self::F {
        op!(self);
        self.inner.trunc(a)
    }
    fn copysign(&mut self, mag: Self::F, sign: Self::F) -> Self::F {
        op!(self);
        self.inner.copysign(mag, sign)
    }
    fn min(&mut self, a: Self::F, b: Self::F) -> Self::F {
        op!(self);
        self.inner.min(a, b)
    }
    fn max(&mut self, a: Self::F, b: Self::F) -> Self::F {
        op!(self);
        self.inner.max(a, b)
    }
    fn lt(&mut self, a: Self::F, b: Self::F) -> Self::M {
        op!(self, mask_select);
        self.inner.lt(a, b)
    }
    fn le(&mut self, a: Self::F, b: Self::F) -> Self::M {
        op!(self, mask_select);
        self.inner.le(a, b)
    }
    fn gt(&mut self, a: Self::F, b: Self::F) -> Self::M {
        op!(self, mask_select);
        self.inner.gt(a, b)
    }
    fn ge(&mut self, a: Self::F, b: Self::F) -> Self::M {
        op!(self, mask_select);
        self.inner.ge(a, b)
    }
    fn eq(&mut self, a: Self::F, b: Self::F) -> Self::M {
        op!(self, mask_select);
        self.inner.eq(a, b)
    }
    fn is_nan(&mut self, a: Self::F) -> Self::M {
        op!(self, mask_select);
        self.inner.is_nan(a)
    }
    fn and_m(&mut self, a: Self::M, b: Self::M) -> Self::M {
        op!(self, mask_select);
        self.inner.and_m(a, b)
    }
    fn or_m(&mut self, a: Self::M, b: Self::M) -> Self::M {
        op!(self, mask_select);
        self.inner.or_m(a, b)
    }
    fn not_m(&mut self, a: Self::M) -> Self::M {
        op!(self, mask_select);
        self.inner.not_m(a)
    }
    fn select(&mut self, m: Self::M, a: Self::F, b: Self::F) -> Self::F {
        op!(self, mask_select);
        self.inner.select(m, a, b)
    }
    fn select_i(&mut self, m: Self::M, a: Self::I, b: Self::I) -> Self::I {
        op!(self, mask_select);
        self.inner.select_i(m, a, b)
    }
    fn to_bits(&mut self, a: Self::F) -> Self::I {
        op!(self, int);
        self.inner.to_bits(a)
    }
    fn from_bits(&mut self, a: Self::I) -> Self::F {
        op!(self, int);
        self.inner.from_bits(a)
    }
    fn iadd(&mut self, a: Self::I, b: Self::I) -> Self::I {
        op!(self, int);
        self.inner.iadd(a, b)
    }
    fn isub(&mut self, a: Self::I, b: Self::I) -> Self::I {
        op!(self, int);
        self.inner.isub(a, b)
    }
    fn iand(&mut self, a: Self::I, b: Self::I) -> Self::I {
        op!(self, int);
        self.inner.iand(a, b)
    }
    fn ior(&mut self, a: Self::I, b: Self::I) -> Self::I {
        op!(self, int);
        self.inner.ior(a, b)
    }
    fn ixor(&mut self, a: Self::I, b: Self::I) -> Self::I {
        op!(self, int);
        self.inner.ixor(a, b)
    }
    fn shl(&mut self, a: Self::I, n: u32) -> Self::I {
        op!(self, int);
        self.inner.shl(a, n)
    }
    fn shr_u(&mut self, a: Self::I, n: u32) -> Self::I {
        op!(self, int);
        self.inner.shr_u(a, n)
    }
    fn shr_s(&mut self, a: Self::I, n: u32) -> Self::I {
        op!(self, int);
        self.inner.shr_s(a, n)
    }
    fn ieq(&mut self, a: Self::I, b: Self::I) -> Self::M {
        op!(self, mask_select);
        self.inner.ieq(a, b)
    }
    fn igt(&mut self, a: Self::I, b: Self::I) -> Self::M {
        op!(self, mask_select);
        self.inner.igt(a, b)
    }
    fn float_to_int(&mut self, a: Self::F) -> Self::I {
        op!(self, int);
        self.inner.float_to_int(a)
    }
    fn int_to_float(&mut self, a: Self::I) -> Self::F {
        op!(self, int);
        self.inner.int_to_float(a)
    }
    fn fallback(&mut self, mask: Self::M, x: Self::F, current: Self::F, f: ScalarFn) -> Self::F {
        op!(self, fallback);
        self.inner.fallback(mask, x, current, f)
    }
    fn fallback2(
        &mut self,
        mask: Self::M,
        x: Self::F,
        y: Self::F,
        current: Self::F,
        f: ScalarFn2,
    ) -> Self::F {
        op!(self, fallback);
        self.inner.fallback2(mask, x, y, current, f)
    }
}
