//! An abstract machine for writing vectorizable float algorithms once.
//!
//! Every transcendental function in theon's JIT is written as a generic Rust
//! function over `FloatBuilder`. The same source is instantiated
//!  - with `ScalarF64` / `ScalarF32` (plain floats, evaluated immediately), which
//!    the ulp tests run against Rust's std, and
//!  - with a Cranelift emitter (in the compiler crate), where every method emits
//!    one or a few IR instructions over f64 / f64x2 / f32 / f32x4 values.
//!
//! So the algorithm that is tested is exactly the algorithm that is emitted.
//!
//! Rules for algorithms written against this trait:
//!  - no data-dependent control flow: compute every branch, combine with
//!    `select` (lanes of a vector take different paths);
//!  - only the operations below (they all lower to a few x86 SSE/AVX
//!    instructions in Cranelift for 2 x f64 and 4 x f32 lanes);
//!  - integer lanes have the float's width: i64 for f64, i32 for f32;
//!  - `fallback` is the one escape hatch for rare, hard input ranges
//!    (e.g. sin of |x| > 2^20): lanes whose mask is set are recomputed by the
//!    scalar library function. It costs a branch on "any lane set" when no
//!    lane needs it, so it must be rare on realistic inputs.

/// Which IEEE format the builder computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    F32,
    F64,
}

/// A scalar function used by `fallback` for lanes that need the library.
/// Receives and returns f64; the f32 instantiation converts.
pub type ScalarFn = extern "C" fn(f64) -> f64;
/// A two-argument scalar fallback (pow).
pub type ScalarFn2 = extern "C" fn(f64, f64) -> f64;

pub trait FloatBuilder {
    /// A float value (one scalar, or a vector of lanes).
    type F: Copy;
    /// An integer value with the float's lane width (i64 lanes for f64, i32 for f32).
    type I: Copy;
    /// A lane mask (result of a comparison).
    type M: Copy;

    fn precision(&self) -> Precision;

    // ---- constants -------------------------------------------------------
    /// A float constant (rounded to the builder's precision).
    fn f(&mut self, c: f64) -> Self::F;
    /// An integer constant of lane width (truncated to 32 bits for F32).
    fn i(&mut self, c: i64) -> Self::I;

    // ---- float arithmetic (IEEE, round to nearest) -------------------------
    fn add(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn sub(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn mul(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn div(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// a * b + c with a single rounding.
    fn fma(&mut self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    fn neg(&mut self, a: Self::F) -> Self::F;
    fn abs(&mut self, a: Self::F) -> Self::F;
    fn sqrt(&mut self, a: Self::F) -> Self::F;
    /// Round to nearest integer, ties to even (result is a float).
    fn round(&mut self, a: Self::F) -> Self::F;
    fn floor(&mut self, a: Self::F) -> Self::F;
    fn trunc(&mut self, a: Self::F) -> Self::F;
    /// Magnitude of `mag` with the sign bit of `sign`.
    fn copysign(&mut self, mag: Self::F, sign: Self::F) -> Self::F;
    /// min/max: ties return `a`; a NaN `a` gives NaN. `b` must not be NaN
    /// (kernels clamp against constants; the Cranelift version relies on it).
    fn min(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn max(&mut self, a: Self::F, b: Self::F) -> Self::F;

    // ---- comparisons and masks ------------------------------------------
    /// Ordered comparisons: false when either operand is NaN.
    fn lt(&mut self, a: Self::F, b: Self::F) -> Self::M;
    fn le(&mut self, a: Self::F, b: Self::F) -> Self::M;
    fn gt(&mut self, a: Self::F, b: Self::F) -> Self::M;
    fn ge(&mut self, a: Self::F, b: Self::F) -> Self::M;
    fn eq(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// True in lanes holding NaN.
    fn is_nan(&mut self, a: Self::F) -> Self::M;
    fn and_m(&mut self, a: Self::M, b: Self::M) -> Self::M;
    fn or_m(&mut self, a: Self::M, b: Self::M) -> Self::M;
    fn not_m(&mut self, a: Self::M) -> Self::M;
    /// m ? a : b, lane by lane.
    fn select(&mut self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    fn select_i(&mut self, m: Self::M, a: Self::I, b: Self::I) -> Self::I;

    // ---- integer lanes ----------------------------------------------------
    /// Reinterpret the bits of a float as an integer of the same width.
    fn to_bits(&mut self, a: Self::F) -> Self::I;
    #[allow(clippy::wrong_self_convention)] // a builder method, not a constructor
    fn from_bits(&mut self, a: Self::I) -> Self::F;
    /// Wrapping integer arithmetic.
    fn iadd(&mut self, a: Self::I, b: Self::I) -> Self::I;
    fn isub(&mut self, a: Self::I, b: Self::I) -> Self::I;
    fn iand(&mut self, a: Self::I, b: Self::I) -> Self::I;
    fn ior(&mut self, a: Self::I, b: Self::I) -> Self::I;
    fn ixor(&mut self, a: Self::I, b: Self::I) -> Self::I;
    fn shl(&mut self, a: Self::I, n: u32) -> Self::I;
    /// Logical (zero-filling) right shift.
    fn shr_u(&mut self, a: Self::I, n: u32) -> Self::I;
    /// Arithmetic (sign-filling) right shift.
    fn shr_s(&mut self, a: Self::I, n: u32) -> Self::I;
    fn ieq(&mut self, a: Self::I, b: Self::I) -> Self::M;
    /// Signed a > b.
    fn igt(&mut self, a: Self::I, b: Self::I) -> Self::M;
    /// Convert a float that holds an integer value with |a| < 2^51 (F64) or
    /// |a| < 2^22 (F32) to an integer lane. Outside that range: unspecified
    /// (callers clamp first). Implemented with the magic-constant trick.
    fn float_to_int(&mut self, a: Self::F) -> Self::I;
    /// Convert an integer lane with |a| < 2^51 (F64) or |a| < 2^22 (F32) to float.
    fn int_to_float(&mut self, a: Self::I) -> Self::F;

    // ---- escape hatch -------------------------------------------------------
    /// Lanes where `mask` is set are replaced by `f(x)` computed by the scalar
    /// library (converted to/from f64 for F32); other lanes keep `current`.
    fn fallback(&mut self, mask: Self::M, x: Self::F, current: Self::F, f: ScalarFn) -> Self::F;
    /// Two-argument version of `fallback` (for pow).
    fn fallback2(
        &mut self,
        mask: Self::M,
        x: Self::F,
        y: Self::F,
        current: Self::F,
        f: ScalarFn2,
    ) -> Self::F;
}
