//! A third instantiation of [`FloatBuilder`]: `N` lanes held in Rust
//! arrays, every operation applied lane by lane through the scalar model.
//!
//! Compiled inside a function with AVX2 or AVX-512 enabled (see
//! `slice.rs`), LLVM turns the lane loops into 256- or 512-bit vector
//! instructions, which Cranelift cannot emit (its vectors stop at 128
//! bits). Because each lane runs exactly the scalar model's operations, the
//! results are bit for bit those of the scalar model and of the emitted
//! Cranelift code.

use super::builder::{FloatBuilder, Precision, ScalarFn, ScalarFn2};

/// `[f(0), f(1), ..]`, always inlined (std's `from_fn` may not be, and a
/// call would leave the lanes scalar).
#[inline(always)]
fn from_fn<U: Copy + Default, const N: usize>(mut f: impl FnMut(usize) -> U) -> [U; N] {
    let mut out = [U::default(); N];
    for (k, o) in out.iter_mut().enumerate() {
        *o = f(k);
    }
    out
}

/// `N` lanes of the scalar builder `S`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wide<S, const N: usize>(pub S);

impl<S, const N: usize> FloatBuilder for Wide<S, N>
where
    S: FloatBuilder<M = bool> + Copy,
    S::F: Default,
    S::I: Default,
{
    type F = [S::F; N];
    type I = [S::I; N];
    type M = [S::M; N];

    #[inline(always)]
    fn precision(&self) -> Precision {
        self.0.precision()
    }
    #[inline(always)]
    fn f(&mut self, c: f64) -> Self::F {
        let v = self.0.f(c);
        [v; N]
    }
    #[inline(always)]
    fn i(&mut self, c: i64) -> Self::I {
        let v = self.0.i(c);
        [v; N]
    }
    #[inline(always)]
    fn add(&mut self, a: Self::F, b: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.add(a[k], b[k]))
    }
    #[inline(always)]
    fn sub(&mut self, a: Self::F, b: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.sub(a[k], b[k]))
    }
    #[inline(always)]
    fn mul(&mut self, a: Self::F, b: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.mul(a[k], b[k]))
    }
    #[inline(always)]
    fn div(&mut self, a: Self::F, b: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.div(a[k], b[k]))
    }
    #[inline(always)]
    fn fma(&mut self, a: Self::F, b: Self::F, c: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.fma(a[k], b[k], c[k]))
    }
    #[inline(always)]
    fn neg(&mut self, a: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.neg(a[k]))
    }
    #[inline(always)]
    fn abs(&mut self, a: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.abs(a[k]))
    }
    #[inline(always)]
    fn sqrt(&mut self, a: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.sqrt(a[k]))
    }
    #[inline(always)]
    fn round(&mut self, a: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.round(a[k]))
    }
    #[inline(always)]
    fn floor(&mut self, a: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.floor(a[k]))
    }
    #[inline(always)]
    fn trunc(&mut self, a: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.trunc(a[k]))
    }
    #[inline(always)]
    fn copysign(&mut self, mag: Self::F, sign: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.copysign(mag[k], sign[k]))
    }
    // min/max: the scalar model's result, written without branches so the
    // lanes vectorize (NaN in either operand gives a + b, a NaN).
    #[inline(always)]
    fn min(&mut self, a: Self::F, b: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| {
            let nan = s.is_nan(a[k]) | s.is_nan(b[k]);
            let take_b = s.lt(b[k], a[k]);
            let m = s.select(take_b, b[k], a[k]);
            let sum = s.add(a[k], b[k]);
            s.select(nan, sum, m)
        })
    }
    #[inline(always)]
    fn max(&mut self, a: Self::F, b: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| {
            let nan = s.is_nan(a[k]) | s.is_nan(b[k]);
            let take_b = s.gt(b[k], a[k]);
            let m = s.select(take_b, b[k], a[k]);
            let sum = s.add(a[k], b[k]);
            s.select(nan, sum, m)
        })
    }
    #[inline(always)]
    fn lt(&mut self, a: Self::F, b: Self::F) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.lt(a[k], b[k]))
    }
    #[inline(always)]
    fn le(&mut self, a: Self::F, b: Self::F) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.le(a[k], b[k]))
    }
    #[inline(always)]
    fn gt(&mut self, a: Self::F, b: Self::F) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.gt(a[k], b[k]))
    }
    #[inline(always)]
    fn ge(&mut self, a: Self::F, b: Self::F) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.ge(a[k], b[k]))
    }
    #[inline(always)]
    fn eq(&mut self, a: Self::F, b: Self::F) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.eq(a[k], b[k]))
    }
    #[inline(always)]
    fn is_nan(&mut self, a: Self::F) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.is_nan(a[k]))
    }
    #[inline(always)]
    fn and_m(&mut self, a: Self::M, b: Self::M) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.and_m(a[k], b[k]))
    }
    #[inline(always)]
    fn or_m(&mut self, a: Self::M, b: Self::M) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.or_m(a[k], b[k]))
    }
    #[inline(always)]
    fn not_m(&mut self, a: Self::M) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.not_m(a[k]))
    }
    #[inline(always)]
    fn select(&mut self, m: Self::M, a: Self::F, b: Self::F) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.select(m[k], a[k], b[k]))
    }
    #[inline(always)]
    fn select_i(&mut self, m: Self::M, a: Self::I, b: Self::I) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.select_i(m[k], a[k], b[k]))
    }
    #[inline(always)]
    fn to_bits(&mut self, a: Self::F) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.to_bits(a[k]))
    }
    #[inline(always)]
    fn from_bits(&mut self, a: Self::I) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.from_bits(a[k]))
    }
    #[inline(always)]
    fn iadd(&mut self, a: Self::I, b: Self::I) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.iadd(a[k], b[k]))
    }
    #[inline(always)]
    fn isub(&mut self, a: Self::I, b: Self::I) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.isub(a[k], b[k]))
    }
    #[inline(always)]
    fn iand(&mut self, a: Self::I, b: Self::I) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.iand(a[k], b[k]))
    }
    #[inline(always)]
    fn ior(&mut self, a: Self::I, b: Self::I) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.ior(a[k], b[k]))
    }
    #[inline(always)]
    fn ixor(&mut self, a: Self::I, b: Self::I) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.ixor(a[k], b[k]))
    }
    #[inline(always)]
    fn shl(&mut self, a: Self::I, n: u32) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.shl(a[k], n))
    }
    #[inline(always)]
    fn shr_u(&mut self, a: Self::I, n: u32) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.shr_u(a[k], n))
    }
    #[inline(always)]
    fn shr_s(&mut self, a: Self::I, n: u32) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.shr_s(a[k], n))
    }
    #[inline(always)]
    fn ieq(&mut self, a: Self::I, b: Self::I) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.ieq(a[k], b[k]))
    }
    #[inline(always)]
    fn igt(&mut self, a: Self::I, b: Self::I) -> Self::M {
        let mut s = self.0;
        from_fn(|k| s.igt(a[k], b[k]))
    }
    #[inline(always)]
    fn float_to_int(&mut self, a: Self::F) -> Self::I {
        let mut s = self.0;
        from_fn(|k| s.float_to_int(a[k]))
    }
    #[inline(always)]
    fn int_to_float(&mut self, a: Self::I) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.int_to_float(a[k]))
    }
    #[inline(always)]
    fn fallback(&mut self, mask: Self::M, x: Self::F, current: Self::F, f: ScalarFn) -> Self::F {
        // Rare by contract: test the mask before touching the library.
        if !mask.iter().any(|m| *m) {
            return current;
        }
        let mut s = self.0;
        from_fn(|k| s.fallback(mask[k], x[k], current[k], f))
    }
    #[inline(always)]
    fn fallback2(
        &mut self,
        mask: Self::M,
        x: Self::F,
        y: Self::F,
        current: Self::F,
        f: ScalarFn2,
    ) -> Self::F {
        let mut s = self.0;
        from_fn(|k| s.fallback2(mask[k], x[k], y[k], current[k], f))
    }
}
