//! Transcendental functions over whole buffers with the machine's widest
//! vectors: the same algorithms (`FloatBuilder` code, instantiated on
//! [`Wide`] lanes) compiled for AVX-512 or AVX2 and chosen at run time.
//!
//! Generated code calls these for a standalone elementwise transcendental
//! (the fusion pass leaves them out of fused loops for this reason): with
//! 8 or 16 lanes instead of Cranelift's 2 or 4 they are about 3-4x faster,
//! and bit for bit equal to the inline kernels.

use super::builder::FloatBuilder;
use super::scalar::{ScalarF32, ScalarF64};
use super::wide::Wide;
use crate::codegen::cpu::CpuLevel;
use crate::op::UnaryOp;
use theon_runtime::DType;

/// `dst[i] = f(src[i])` for `i < n`; `src` and `dst` may be the same buffer.
pub type SliceFn = unsafe extern "C" fn(src: *const u8, dst: *mut u8, n: u64);

/// Declares the slice kernels once: which unary ops have one and which
/// math function computes it. The op list (`OPS`, what the backend offers
/// the rewrites), the dispatch (`apply`) and the per-CPU tables (`row!`)
/// derive from it. `$d` is a `$` for the generated `row!` macro.
macro_rules! wide_ops {
    ($d:tt $($op:ident => $f:ident),* $(,)?) => {
        /// The unary ops with a slice kernel, in table order.
        pub const OPS: [UnaryOp; [$(UnaryOp::$op),*].len()] = [$(UnaryOp::$op),*];

        #[inline(always)]
        fn apply<B: FloatBuilder>(op: u8, b: &mut B, x: B::F) -> B::F {
            $( if op == index(UnaryOp::$op) { return super::$f(b, x); } )*
            unreachable!("slice kernel {op} is not declared")
        }

        /// Every kernel of one wrapper, in table order.
        #[allow(unused_macros)]
        macro_rules! row {
            ($d g:ident) => {
                [$( $d g::<{ index(UnaryOp::$op) }> as SliceFn ),*]
            };
        }
    };
}

wide_ops! {$
    Exp => exp,
    Expm1 => expm1,
    Log => log,
    Log1p => log1p,
    Tanh => tanh,
    Sigmoid => sigmoid,
    Softplus => softplus,
    LogSigmoid => log_sigmoid,
    Sin => sin,
    Cos => cos,
    Erf => erf,
}

/// Position of `op` in `OPS` (a kernel's table index and const parameter).
const fn index(op: UnaryOp) -> u8 {
    let mut i = 0;
    while i < OPS.len() {
        if OPS[i] as u8 == op as u8 {
            return i as u8;
        }
        i += 1;
    }
    u8::MAX
}

/// The loop: full blocks of `N` lanes, then one padded block for the tail.
///
/// # Safety
/// `src` and `dst` hold `n` elements of `S::F` (they may alias exactly).
#[inline(always)]
unsafe fn run<S, const N: usize, const OP: u8>(src: *const u8, dst: *mut u8, n: u64)
where
    S: FloatBuilder<M = bool> + Copy + Default,
    S::F: Default,
    S::I: Default,
{
    let (src, dst, n) = (src as *const S::F, dst as *mut S::F, n as usize);
    let mut b = Wide::<S, N>(S::default());
    let mut i = 0;
    while i + N <= n {
        // SAFETY: i + N <= n elements are in both buffers; reads precede writes.
        unsafe {
            let x = std::ptr::read_unaligned(src.add(i) as *const [S::F; N]);
            let y = apply(OP, &mut b, x);
            std::ptr::write_unaligned(dst.add(i) as *mut [S::F; N], y);
        }
        // An opaque step keeps LLVM's loop vectorizer from interleaving
        // iterations with gathers; the lanes are already the vector.
        i = std::hint::black_box(i + N);
    }
    if i < n {
        let rest = n - i;
        let mut x = [S::F::default(); N];
        // SAFETY: `rest` elements remain from `i` in both buffers.
        unsafe {
            std::ptr::copy_nonoverlapping(src.add(i), x.as_mut_ptr(), rest);
            let y = apply(OP, &mut b, x);
            std::ptr::copy_nonoverlapping(y.as_ptr(), dst.add(i), rest);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    // Each wrapper compiles `run` with the features enabled; `kernel`
    // checks the CPU has them. Several registers of lanes per block give
    // the core independent dependency chains to overlap (the kernels are
    // chains of 14-23 FMAs): AVX2 blocks of eight ymm registers ran
    // 2-36% faster than blocks of two (tanh f64 1.84 -> 1.63 ns, f32 0.88
    // -> 0.66 ns per element on Zen 3; sixteen spilled and were slower).
    // The AVX-512 blocks stay at two zmm registers: not measured on an
    // AVX-512 machine.
    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
    pub unsafe extern "C" fn avx512_f64<const OP: u8>(src: *const u8, dst: *mut u8, n: u64) {
        // SAFETY: forwarded contract.
        unsafe { run::<ScalarF64, 16, OP>(src, dst, n) }
    }
    #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
    pub unsafe extern "C" fn avx512_f32<const OP: u8>(src: *const u8, dst: *mut u8, n: u64) {
        // SAFETY: forwarded contract.
        unsafe { run::<ScalarF32, 32, OP>(src, dst, n) }
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe extern "C" fn avx2_f64<const OP: u8>(src: *const u8, dst: *mut u8, n: u64) {
        // SAFETY: forwarded contract.
        unsafe { run::<ScalarF64, 32, OP>(src, dst, n) }
    }
    #[target_feature(enable = "avx2,fma")]
    pub unsafe extern "C" fn avx2_f32<const OP: u8>(src: *const u8, dst: *mut u8, n: u64) {
        // SAFETY: forwarded contract.
        unsafe { run::<ScalarF32, 64, OP>(src, dst, n) }
    }
}

/// The slice kernel for `op` on `dtype` at `level`, if there is one
/// (`Portable`: none; the caller emits the same math inline). `level` was
/// checked against the machine (`CpuLevel::resolve`).
pub fn kernel(op: UnaryOp, dtype: DType, level: CpuLevel) -> Option<SliceFn> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        type Table = ([SliceFn; OPS.len()], [SliceFn; OPS.len()]);
        if level == CpuLevel::Portable || CpuLevel::detected() < level {
            return None;
        }
        use x86::{avx2_f32, avx2_f64, avx512_f32, avx512_f64};
        static AVX512: OnceLock<Table> = OnceLock::new();
        static AVX2: OnceLock<Table> = OnceLock::new();
        let (t64, t32) = match level {
            CpuLevel::Avx512 => AVX512.get_or_init(|| (row!(avx512_f64), row!(avx512_f32))),
            _ => AVX2.get_or_init(|| (row!(avx2_f64), row!(avx2_f32))),
        };
        let k = index(op) as usize;
        match dtype {
            DType::F64 => t64.get(k).copied(),
            DType::F32 => t32.get(k).copied(),
            _ => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (op, dtype, level);
        None
    }
}

/// Portable builds of the same loop (no target features), for Rust
/// callers at the portable level or on other architectures.
unsafe extern "C" fn portable_f64<const OP: u8>(src: *const u8, dst: *mut u8, n: u64) {
    // SAFETY: forwarded contract.
    unsafe { run::<ScalarF64, 4, OP>(src, dst, n) }
}
unsafe extern "C" fn portable_f32<const OP: u8>(src: *const u8, dst: *mut u8, n: u64) {
    // SAFETY: forwarded contract.
    unsafe { run::<ScalarF32, 8, OP>(src, dst, n) }
}

/// The kernel for Rust code running inside a call (run-time steps such as
/// a convolution's epilogue): the level's kernel, or at the portable
/// level (and off x86) the same math compiled for any target; generated
/// code emits that inline instead. Same results bit for bit.
pub fn host_kernel(op: UnaryOp, dtype: DType, level: CpuLevel) -> Option<SliceFn> {
    if let Some(k) = kernel(op, dtype, level) {
        return Some(k);
    }
    use std::sync::OnceLock;
    static PORTABLE: OnceLock<([SliceFn; OPS.len()], [SliceFn; OPS.len()])> = OnceLock::new();
    let (t64, t32) = PORTABLE.get_or_init(|| (row!(portable_f64), row!(portable_f32)));
    let k = index(op) as usize;
    match dtype {
        DType::F64 => t64.get(k).copied(),
        DType::F32 => t32.get(k).copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel equals the scalar model bit for bit, including the tail
    /// and edge inputs.
    #[test]
    fn kernels_match_the_scalar_model() {
        let mut xs: Vec<f64> = vec![
            0.0, -0.0, 1.0, -1.0, 1e-310, -1e-310, 1e-20, 0.5, 710.0, -746.0, 800.0, -800.0, 20.0,
            -20.0,
        ];
        xs.extend([
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            3.0e5,
            -2.0e6,
            1e300,
        ]);
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            xs.push((u - 0.5) * 2.0 * 10f64.powf((state % 7) as f64 - 3.0));
        }
        // Every level this machine supports (portable: the host kernels;
        // generated code has none there).
        let levels = CpuLevel::supported();
        for (&level, &op) in levels.iter().flat_map(|l| OPS.iter().map(move |o| (l, o))) {
            assert!(kernel(op, DType::F64, CpuLevel::Portable).is_none());
            let kernel = host_kernel;
            for n in [xs.len(), 1, 5, 17] {
                let src = &xs[..n];
                let k64 = kernel(op, DType::F64, level).unwrap();
                let mut out = vec![0.0f64; n];
                // SAFETY: both buffers hold n f64.
                unsafe {
                    k64(
                        src.as_ptr() as *const u8,
                        out.as_mut_ptr() as *mut u8,
                        n as u64,
                    )
                };
                let pos = index(op);
                for (x, y) in src.iter().zip(&out) {
                    let want = apply(pos, &mut ScalarF64, *x);
                    assert!(
                        want.to_bits() == y.to_bits() || (want.is_nan() && y.is_nan()),
                        "{level:?} {op:?} f64 at {x}: {y} vs {want}"
                    );
                }
                let src32: Vec<f32> = src.iter().map(|x| *x as f32).collect();
                let k32 = kernel(op, DType::F32, level).unwrap();
                let mut out32 = vec![0.0f32; n];
                // SAFETY: both buffers hold n f32.
                unsafe {
                    k32(
                        src32.as_ptr() as *const u8,
                        out32.as_mut_ptr() as *mut u8,
                        n as u64,
                    )
                };
                for (x, y) in src32.iter().zip(&out32) {
                    let want = apply(pos, &mut ScalarF32, *x);
                    assert!(
                        want.to_bits() == y.to_bits() || (want.is_nan() && y.is_nan()),
                        "{level:?} {op:?} f32 at {x}: {y} vs {want}"
                    );
                }
            }
        }
        // In place.
        let mut buf: Vec<f64> = xs[..100].to_vec();
        let want: Vec<f64> = buf
            .iter()
            .map(|x| super::super::tanh(&mut ScalarF64, *x))
            .collect();
        let Some(k) = kernel(UnaryOp::Tanh, DType::F64, CpuLevel::detected()) else {
            return;
        };
        // SAFETY: one buffer of 100 f64, read and written in place.
        unsafe { k(buf.as_ptr() as *const u8, buf.as_mut_ptr() as *mut u8, 100) };
        assert_eq!(
            buf.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}
