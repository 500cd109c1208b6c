//! Small matrix products with the CPU's wide vectors, for the shapes of
//! small networks: one side of the product has at most 8 columns, so a
//! row of the output is one (masked) 512-bit vector, or one or two 256-bit
//! vectors.
//!
//! - rows: `k, n <= 8`, `m` long (the forward layers: every row of A times
//!   op(B) held in registers);
//! - outer: `m, n <= 8`, `k` long (weight gradients: outer products of the
//!   rows of op(A)^T and op(B) summed over k).
//!
//! They compute exactly what the inline Cranelift kernels compute (same
//! products, same order of accumulation, alpha then the prefilled C), on 4
//! to 16 lanes instead of Cranelift's 2 or 4. Generated code calls them at
//! the AVX-512 and AVX2 levels (`kernel`); the portable level keeps the
//! inline kernels.

use theon_runtime::DType;

/// `out[i, j] (+)= alpha * sum_p a[i*rsa + p*csa] * b[p*rsb + j*csb]`,
/// `out` rows `rso` apart with unit column stride. All arguments are i64
/// (pointers, strides, sizes, alpha's f64 bits, accumulate 0/1).
pub type SmallGemmFn = unsafe extern "C" fn(
    a: i64,
    rsa: i64,
    csa: i64,
    b: i64,
    rsb: i64,
    csb: i64,
    out: i64,
    rso: i64,
    m: i64,
    k: i64,
    n: i64,
    alpha_bits: i64,
    accumulate: i64,
);

/// The largest k and n (rows) or m and n (outer) the kernels take.
pub const MAX_DIM: usize = 8;

/// Which loop order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Rows,
    Outer,
}

/// The kernel for `shape` and `dtype` at `level` (AVX-512 or AVX2; the
/// portable level uses the inline code, bit-identical). `level` was
/// checked against the machine (`CpuLevel::resolve`).
pub fn kernel(shape: Shape, dtype: DType, level: super::cpu::CpuLevel) -> Option<SmallGemmFn> {
    #[cfg(target_arch = "x86_64")]
    {
        use super::cpu::CpuLevel;
        if level < CpuLevel::Avx2 || CpuLevel::detected() < level {
            return None;
        }
        if level == CpuLevel::Avx2 {
            return match (shape, dtype) {
                (Shape::Rows, DType::F64) => Some(avx2::f64x4::rows as SmallGemmFn),
                (Shape::Outer, DType::F64) => Some(avx2::f64x4::outer as SmallGemmFn),
                (Shape::Rows, DType::F32) => Some(avx2::f32x8::rows as SmallGemmFn),
                (Shape::Outer, DType::F32) => Some(avx2::f32x8::outer as SmallGemmFn),
                _ => None,
            };
        }
        match (shape, dtype) {
            (Shape::Rows, DType::F64) => Some(avx512::rows_f64 as SmallGemmFn),
            (Shape::Outer, DType::F64) => Some(avx512::outer_f64 as SmallGemmFn),
            (Shape::Rows, DType::F32) => Some(avx512::rows_f32 as SmallGemmFn),
            (Shape::Outer, DType::F32) => Some(avx512::outer_f32 as SmallGemmFn),
            _ => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (shape, dtype, level);
        None
    }
}

/// The AVX-512 kernels: a row of the output is one masked vector.
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// One precision's vector operations, so each kernel is written once.
    macro_rules! kernels {
        ($rows:ident, $outer:ident, $t:ty, $v:ty, $mask:ty, $zero:ident, $set1:ident, $fmadd:ident, $mul:ident,
         $add:ident, $load:ident, $store:ident, $loadu:ident, $storeu:ident, $mask_add:ident) => {
            /// # Safety
            /// The pointers and strides address an `m x k` op(A), a `k x n`
            /// op(B) and an `m x n` output; `k, n <= 8`; AVX-512F present.
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::too_many_arguments)]
            pub unsafe extern "C" fn $rows(
                a: i64,
                rsa: i64,
                csa: i64,
                b: i64,
                rsb: i64,
                csb: i64,
                out: i64,
                rso: i64,
                m: i64,
                k: i64,
                n: i64,
                alpha_bits: i64,
                accumulate: i64,
            ) {
                let (a, b, out) = (a as *const $t, b as *const $t, out as *mut $t);
                let mask = ((1u32 << n) - 1) as $mask;
                // op(B) in registers: row p padded with zeros to a vector.
                let mut brow = [$zero(); 8];
                for p in 0..k as usize {
                    let mut row = [0 as $t; 16];
                    for j in 0..n as usize {
                        // SAFETY: (p, j) is inside op(B).
                        row[j] = unsafe {
                            *b.offset(p as isize * rsb as isize + j as isize * csb as isize)
                        };
                    }
                    // SAFETY: `row` holds a full vector.
                    brow[p] = unsafe { $loadu(row.as_ptr()) };
                }
                let alpha = f64::from_bits(alpha_bits as u64) as $t;
                let av = $set1(alpha);
                // Masked stores are slow on some cores (AMD Zen 4): rows whose
                // full vector stays inside the output are stored whole. The
                // lanes past n hold zeros (or, accumulating, the values just
                // read), and the next rows overwrite them.
                let lanes = std::mem::size_of::<[$t; 64 / std::mem::size_of::<$t>()]>()
                    / std::mem::size_of::<$t>();
                let end = (m - 1) * rso + n;
                // Four rows at a time: four independent accumulation chains.
                let row = |i: isize, acc: $v| {
                    let mut acc = acc;
                    if alpha != 1.0 {
                        acc = $mul(acc, av);
                    }
                    // SAFETY: row i of the output is inside it; a whole-vector
                    // access is used only when it ends by `end`.
                    unsafe {
                        let o = out.offset(i * rso as isize);
                        let whole = i as i64 * rso + lanes as i64 <= end && rso >= n;
                        if whole {
                            if accumulate != 0 {
                                // Lanes past n keep what is there (the next rows' C).
                                let old = $loadu(o as *const $t);
                                acc = $mask_add(old, mask, old, acc);
                            }
                            $storeu(o, acc);
                        } else {
                            if accumulate != 0 {
                                acc = $add(acc, $load(mask, o as *const $t));
                            }
                            $store(o, mask, acc);
                        }
                    }
                };
                let (rsa, csa) = (rsa as isize, csa as isize);
                let mut i = 0isize;
                while i + 4 <= m as isize {
                    // SAFETY: rows i..i+4 of op(A) are inside it.
                    unsafe {
                        let r0 = a.offset(i * rsa);
                        let (r1, r2, r3) = (r0.offset(rsa), r0.offset(2 * rsa), r0.offset(3 * rsa));
                        let mut c0 = $mul($set1(*r0), brow[0]);
                        let mut c1 = $mul($set1(*r1), brow[0]);
                        let mut c2 = $mul($set1(*r2), brow[0]);
                        let mut c3 = $mul($set1(*r3), brow[0]);
                        for p in 1..k as usize {
                            let q = p as isize * csa;
                            c0 = $fmadd($set1(*r0.offset(q)), brow[p], c0);
                            c1 = $fmadd($set1(*r1.offset(q)), brow[p], c1);
                            c2 = $fmadd($set1(*r2.offset(q)), brow[p], c2);
                            c3 = $fmadd($set1(*r3.offset(q)), brow[p], c3);
                        }
                        row(i, c0);
                        row(i + 1, c1);
                        row(i + 2, c2);
                        row(i + 3, c3);
                    }
                    i += 4;
                }
                while i < m as isize {
                    // SAFETY: row i of op(A) is inside it.
                    unsafe {
                        let r0 = a.offset(i * rsa);
                        let mut c0 = $mul($set1(*r0), brow[0]);
                        for p in 1..k as usize {
                            c0 = $fmadd($set1(*r0.offset(p as isize * csa)), brow[p], c0);
                        }
                        row(i, c0);
                    }
                    i += 1;
                }
            }

            /// # Safety
            /// As for the rows kernel, with `m, n <= 8` and `k` any length.
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::too_many_arguments)]
            pub unsafe extern "C" fn $outer(
                a: i64,
                rsa: i64,
                csa: i64,
                b: i64,
                rsb: i64,
                csb: i64,
                out: i64,
                rso: i64,
                m: i64,
                k: i64,
                n: i64,
                alpha_bits: i64,
                accumulate: i64,
            ) {
                let (a, b, out) = (a as *const $t, b as *const $t, out as *mut $t);
                let mask = ((1u32 << n) - 1) as $mask;
                let m = m as usize;
                let mut acc = [$zero(); 8];
                for p in 0..k as isize {
                    // SAFETY: row p of op(B) and column p of op(A) are inside them.
                    unsafe {
                        let bp = b.offset(p * rsb as isize);
                        let brow = if csb == 1 {
                            $load(mask, bp)
                        } else {
                            let mut row = [0 as $t; 16];
                            for j in 0..n as isize {
                                row[j as usize] = *bp.offset(j * csb as isize);
                            }
                            $loadu(row.as_ptr())
                        };
                        let ap = a.offset(p * csa as isize);
                        for (i, c) in acc.iter_mut().enumerate().take(m) {
                            *c = $fmadd($set1(*ap.offset(i as isize * rsa as isize)), brow, *c);
                        }
                    }
                }
                let alpha = f64::from_bits(alpha_bits as u64) as $t;
                let av = $set1(alpha);
                for (i, c) in acc.iter().enumerate().take(m) {
                    // SAFETY: row i of the output is inside it.
                    unsafe {
                        let mut v = *c;
                        if alpha != 1.0 {
                            v = $mul(v, av);
                        }
                        let o = out.offset(i as isize * rso as isize);
                        if accumulate != 0 {
                            v = $add(v, $load(mask, o as *const $t));
                        }
                        $store(o, mask, v);
                    }
                }
            }
        };
    }

    kernels!(
        rows_f64,
        outer_f64,
        f64,
        __m512d,
        __mmask8,
        _mm512_setzero_pd,
        _mm512_set1_pd,
        _mm512_fmadd_pd,
        _mm512_mul_pd,
        _mm512_add_pd,
        _mm512_maskz_loadu_pd,
        _mm512_mask_storeu_pd,
        _mm512_loadu_pd,
        _mm512_storeu_pd,
        _mm512_mask_add_pd
    );
    kernels!(
        rows_f32,
        outer_f32,
        f32,
        __m512,
        __mmask16,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps,
        _mm512_mul_ps,
        _mm512_add_ps,
        _mm512_maskz_loadu_ps,
        _mm512_mask_storeu_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_mask_add_ps
    );
}

/// The AVX2 + FMA kernels: 256-bit vectors, so an output row of up to 8
/// columns is one or two vectors (f64) or one (f32). The rows kernel is
/// specialized at compile time to k and n (op(B) in registers, every loop
/// unrolled, as the inline code is), the outer kernel to m and the
/// vectors per row (its accumulators in registers, k a run-time loop).
/// The last partial vector of a row is loaded with a masked load and
/// stored by 128-bit and scalar stores from registers (no masked stores,
/// nothing written past a row).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// `$f::<K, N, NV>` for the run-time `k` and `n` in 1..=8 (`NV` = the
    /// vectors of `L` lanes a row of n needs); other sizes do nothing
    /// (`kernel` never hands them out).
    macro_rules! by_kn {
        ($f:ident, $k:expr, $n:expr, $args:tt) => {
            match $k {
                1 => by_kn!(@n $f, 1, $n, $args, 1 2 3 4 5 6 7 8),
                2 => by_kn!(@n $f, 2, $n, $args, 1 2 3 4 5 6 7 8),
                3 => by_kn!(@n $f, 3, $n, $args, 1 2 3 4 5 6 7 8),
                4 => by_kn!(@n $f, 4, $n, $args, 1 2 3 4 5 6 7 8),
                5 => by_kn!(@n $f, 5, $n, $args, 1 2 3 4 5 6 7 8),
                6 => by_kn!(@n $f, 6, $n, $args, 1 2 3 4 5 6 7 8),
                7 => by_kn!(@n $f, 7, $n, $args, 1 2 3 4 5 6 7 8),
                8 => by_kn!(@n $f, 8, $n, $args, 1 2 3 4 5 6 7 8),
                _ => debug_assert!(false, "small GEMM kernel outside its sizes"),
            }
        };
        (@n $f:ident, $k:literal, $n:expr, $args:tt, $($nn:literal)*) => {
            match $n {
                $($nn => $f::<$k, $nn, { ($nn as usize).div_ceil(L) }> $args,)*
                _ => debug_assert!(false, "small GEMM kernel outside its sizes"),
            }
        };
    }

    /// `$f::<M, NV>` for the run-time `m` in 1..=8 and one vector per row
    /// (two when `$two`).
    macro_rules! by_m {
        ($f:ident, $m:expr, $two:expr, $args:tt) => {
            by_m!(@arms $f, $m, $two, $args, 1 2 3 4 5 6 7 8)
        };
        (@arms $f:ident, $m:expr, $two:expr, $args:tt, $($mm:literal)*) => {
            match ($m, $two) {
                $(
                    ($mm, false) => $f::<$mm, 1> $args,
                    ($mm, true) => $f::<$mm, 2> $args,
                )*
                _ => debug_assert!(false, "small GEMM kernel outside its sizes"),
            }
        };
    }

    /// Store lanes `0..r` (`r < 4`) of `x` at `p` (added to what is there
    /// when `accumulate`, as `x + old`): 128-bit and scalar stores from
    /// registers, no round trip through memory.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tail_f64(p: *mut f64, x: __m256d, r: usize, accumulate: bool) {
        let (mut lo, mut q, mut r) = (_mm256_castpd256_pd128(x), p, r);
        // SAFETY: elements 0..r at p are inside the output (the caller's contract).
        unsafe {
            if r >= 2 {
                let mut v = lo;
                if accumulate {
                    v = _mm_add_pd(v, _mm_loadu_pd(q));
                }
                _mm_storeu_pd(q, v);
                (q, r, lo) = (q.add(2), r - 2, _mm256_extractf128_pd::<1>(x));
            }
            if r == 1 {
                let mut v = lo;
                if accumulate {
                    v = _mm_add_sd(v, _mm_load_sd(q));
                }
                _mm_store_sd(q, v);
            }
        }
    }

    /// As `tail_f64` for f32 lanes (`r < 8`).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tail_f32(p: *mut f32, x: __m256, r: usize, accumulate: bool) {
        let (mut lo, mut q, mut r) = (_mm256_castps256_ps128(x), p, r);
        // SAFETY: elements 0..r at p are inside the output (the caller's contract).
        unsafe {
            if r >= 4 {
                let mut v = lo;
                if accumulate {
                    v = _mm_add_ps(v, _mm_loadu_ps(q));
                }
                _mm_storeu_ps(q, v);
                (q, r, lo) = (q.add(4), r - 4, _mm256_extractf128_ps::<1>(x));
            }
            if r >= 2 {
                let mut v = lo;
                // 64-bit moves that need no 8-byte alignment (`_mm_load_sd`
                // and `_mm_store_sd` would read and write an aligned f64).
                if accumulate {
                    v = _mm_add_ps(v, _mm_castsi128_ps(_mm_loadl_epi64(q as *const __m128i)));
                }
                _mm_storel_epi64(q as *mut __m128i, _mm_castps_si128(v));
                (q, r, lo) = (q.add(2), r - 2, _mm_movehl_ps(lo, lo));
            }
            if r == 1 {
                let mut v = lo;
                if accumulate {
                    v = _mm_add_ss(v, _mm_load_ss(q));
                }
                _mm_store_ss(q, v);
            }
        }
    }

    /// One precision's kernels (`$lanes` elements per vector).
    macro_rules! avx2_kernels {
        ($module:ident, $t:ty, $v:ty, $lanes:expr, $mask_t:ty, $zero:ident, $set1:ident, $fmadd:ident,
         $mul:ident, $add:ident, $loadu:ident, $storeu:ident, $maskload:ident, $loadmask:ident,
         $tail:ident) => {
            pub mod $module {
                use std::arch::x86_64::*;

                const L: usize = $lanes;
                /// `MASKS[L - r..]` starts with r all-ones lanes, then zeros.
                static MASKS: [$mask_t; 2 * $lanes] = {
                    let mut m = [0; 2 * $lanes];
                    let mut i = 0;
                    while i < $lanes {
                        m[i] = -1;
                        i += 1;
                    }
                    m
                };

                /// The load mask of a vector's first `r` lanes (`1 <= r <= L`).
                #[target_feature(enable = "avx2,fma")]
                #[inline]
                fn mask(r: usize) -> __m256i {
                    // SAFETY: L - r + L <= 2L elements of MASKS are read.
                    unsafe { $loadmask(MASKS.as_ptr().add(L - r).cast()) }
                }

                /// The arguments of a call, typed: op(A), op(B) and the
                /// output (pointers, row and column strides), alpha, and
                /// whether to add to the prefilled output.
                struct Args {
                    a: *const $t,
                    rsa: isize,
                    csa: isize,
                    b: *const $t,
                    rsb: isize,
                    csb: isize,
                    out: *mut $t,
                    rso: isize,
                    alpha: $t,
                    acc: bool,
                }

                impl Args {
                    #[allow(clippy::too_many_arguments)]
                    fn new(
                        a: i64,
                        rsa: i64,
                        csa: i64,
                        b: i64,
                        rsb: i64,
                        csb: i64,
                        out: i64,
                        rso: i64,
                        alpha_bits: i64,
                        accumulate: i64,
                    ) -> Args {
                        Args {
                            a: a as *const $t,
                            rsa: rsa as isize,
                            csa: csa as isize,
                            b: b as *const $t,
                            rsb: rsb as isize,
                            csb: csb as isize,
                            out: out as *mut $t,
                            rso: rso as isize,
                            alpha: f64::from_bits(alpha_bits as u64) as $t,
                            acc: accumulate != 0,
                        }
                    }
                }

                /// Elements `0..n` of a line (elements `s` apart) as `NV`
                /// vectors, zero past n.
                #[target_feature(enable = "avx2,fma")]
                #[inline]
                unsafe fn line<const NV: usize>(p: *const $t, s: isize, n: usize) -> [$v; NV] {
                    let mut out = [$zero(); NV];
                    for (v, o) in out.iter_mut().enumerate() {
                        let j0 = v * L;
                        // SAFETY: elements j0..n of the line are inside it
                        // (the caller's contract); masked-off lanes are not read.
                        unsafe {
                            if s == 1 && j0 + L <= n {
                                *o = $loadu(p.add(j0));
                            } else if s == 1 {
                                *o = $maskload(p.add(j0), mask(n - j0));
                            } else {
                                let mut t = [0 as $t; L];
                                for (j, x) in t.iter_mut().enumerate().take(n - j0) {
                                    *x = *p.offset((j0 + j) as isize * s);
                                }
                                *o = $loadu(t.as_ptr());
                            }
                        }
                    }
                    out
                }

                /// Write `alpha * acc` (plus the prefilled C when
                /// `accumulate`) to elements `0..n` of output row `o`: the
                /// inline code's `fmul` then `fadd(v, old)`, lane by lane.
                #[target_feature(enable = "avx2,fma")]
                #[inline]
                unsafe fn store<const NV: usize>(
                    o: *mut $t,
                    acc: [$v; NV],
                    n: usize,
                    alpha: $t,
                    accumulate: bool,
                ) {
                    for (v, &x) in acc.iter().enumerate() {
                        let j0 = v * L;
                        let mut x = x;
                        if alpha != 1.0 {
                            x = $mul(x, $set1(alpha));
                        }
                        // SAFETY: elements j0..n of the row are inside the output.
                        unsafe {
                            let p = o.add(j0);
                            if j0 + L <= n {
                                if accumulate {
                                    x = $add(x, $loadu(p));
                                }
                                $storeu(p, x);
                            } else {
                                super::$tail(p, x, n - j0, accumulate);
                            }
                        }
                    }
                }

                /// One output row: `a[0] * B[0] + a[1] * B[1] + ...` (a
                /// product, then fused multiply-adds in order of p).
                #[target_feature(enable = "avx2,fma")]
                #[inline]
                unsafe fn row<const K: usize, const NV: usize>(
                    a: *const $t,
                    csa: isize,
                    brow: &[[$v; NV]; K],
                ) -> [$v; NV] {
                    // SAFETY: the K elements of the row of op(A) are inside it.
                    unsafe {
                        let x = $set1(*a);
                        let mut c: [$v; NV] = std::array::from_fn(|v| $mul(x, brow[0][v]));
                        for (p, b) in brow.iter().enumerate().skip(1) {
                            let x = $set1(*a.offset(p as isize * csa));
                            for v in 0..NV {
                                c[v] = $fmadd(x, b[v], c[v]);
                            }
                        }
                        c
                    }
                }

                /// Rows kernel for static `K` and `N` (`NV` vectors per row).
                #[target_feature(enable = "avx2,fma")]
                unsafe fn rows_kn<const K: usize, const N: usize, const NV: usize>(
                    g: &Args,
                    m: usize,
                ) {
                    let Args {
                        a,
                        rsa,
                        csa,
                        b,
                        rsb,
                        csb,
                        out,
                        rso,
                        alpha,
                        acc: accumulate,
                    } = *g;
                    // SAFETY: rows 0..K of op(B) are inside it.
                    let brow: [[$v; NV]; K] = std::array::from_fn(|p| unsafe {
                        line::<NV>(b.offset(p as isize * rsb), csb, N)
                    });
                    let mut i = 0usize;
                    // Four rows at a time: four independent chains in flight.
                    while i + 4 <= m {
                        // SAFETY: rows i..i+4 of op(A) and of the output are inside them.
                        unsafe {
                            let a0 = a.offset(i as isize * rsa);
                            let c0 = row::<K, NV>(a0, csa, &brow);
                            let c1 = row::<K, NV>(a0.offset(rsa), csa, &brow);
                            let c2 = row::<K, NV>(a0.offset(2 * rsa), csa, &brow);
                            let c3 = row::<K, NV>(a0.offset(3 * rsa), csa, &brow);
                            let o0 = out.offset(i as isize * rso);
                            store::<NV>(o0, c0, N, alpha, accumulate);
                            store::<NV>(o0.offset(rso), c1, N, alpha, accumulate);
                            store::<NV>(o0.offset(2 * rso), c2, N, alpha, accumulate);
                            store::<NV>(o0.offset(3 * rso), c3, N, alpha, accumulate);
                        }
                        i += 4;
                    }
                    while i < m {
                        // SAFETY: row i of op(A) and of the output are inside them.
                        unsafe {
                            let c = row::<K, NV>(a.offset(i as isize * rsa), csa, &brow);
                            store::<NV>(out.offset(i as isize * rso), c, N, alpha, accumulate);
                        }
                        i += 1;
                    }
                }

                /// Outer kernel for static `M` and `NV` vectors per row.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn outer_mv<const M: usize, const NV: usize>(g: &Args, k: usize, n: usize) {
                    let Args {
                        a,
                        rsa,
                        csa,
                        b,
                        rsb,
                        csb,
                        out,
                        rso,
                        alpha,
                        acc: accumulate,
                    } = *g;
                    let mut acc = [[$zero(); NV]; M];
                    // One step of p: row p of op(B) times column p of op(A).
                    let mut step = |brow: [$v; NV], p: usize| {
                        // SAFETY: column p of op(A) is inside it.
                        let ap = unsafe { a.offset(p as isize * csa) };
                        for (i, c) in acc.iter_mut().enumerate() {
                            // SAFETY: as above, element i of the column.
                            let x = $set1(unsafe { *ap.offset(i as isize * rsa) });
                            for v in 0..NV {
                                c[v] = $fmadd(x, brow[v], c[v]);
                            }
                        }
                    };
                    if csb == 1 && n == NV * L {
                        for p in 0..k {
                            // SAFETY: row p of op(B) (n contiguous elements) is inside it.
                            let brow = std::array::from_fn(|v| unsafe {
                                $loadu(b.offset(p as isize * rsb).add(v * L))
                            });
                            step(brow, p);
                        }
                    } else {
                        for p in 0..k {
                            // SAFETY: row p of op(B) is inside it.
                            let brow = unsafe { line::<NV>(b.offset(p as isize * rsb), csb, n) };
                            step(brow, p);
                        }
                    }
                    for (i, c) in acc.iter().enumerate() {
                        // SAFETY: row i of the output is inside it.
                        unsafe {
                            store::<NV>(out.offset(i as isize * rso), *c, n, alpha, accumulate)
                        };
                    }
                }

                /// # Safety
                /// The pointers and strides address an `m x k` op(A), a
                /// `k x n` op(B) and an `m x n` output; `1 <= k <= 8`,
                /// `1 <= n <= 8`; AVX2 and FMA present.
                #[allow(clippy::too_many_arguments)]
                pub unsafe extern "C" fn rows(
                    a: i64,
                    rsa: i64,
                    csa: i64,
                    b: i64,
                    rsb: i64,
                    csb: i64,
                    out: i64,
                    rso: i64,
                    m: i64,
                    k: i64,
                    n: i64,
                    alpha_bits: i64,
                    accumulate: i64,
                ) {
                    if n == 0 {
                        return;
                    }
                    let g = Args::new(a, rsa, csa, b, rsb, csb, out, rso, alpha_bits, accumulate);
                    // SAFETY: the caller's contract; AVX2 + FMA present.
                    unsafe { by_kn!(rows_kn, k, n, (&g, m as usize)) }
                }

                /// # Safety
                /// As for `rows`, with `1 <= m <= 8`, `1 <= n <= 8` and `k`
                /// any length.
                #[allow(clippy::too_many_arguments)]
                pub unsafe extern "C" fn outer(
                    a: i64,
                    rsa: i64,
                    csa: i64,
                    b: i64,
                    rsb: i64,
                    csb: i64,
                    out: i64,
                    rso: i64,
                    m: i64,
                    k: i64,
                    n: i64,
                    alpha_bits: i64,
                    accumulate: i64,
                ) {
                    if m == 0 || n == 0 {
                        return;
                    }
                    let g = Args::new(a, rsa, csa, b, rsb, csb, out, rso, alpha_bits, accumulate);
                    // SAFETY: the caller's contract; AVX2 + FMA present.
                    unsafe { by_m!(outer_mv, m, n as usize > L, (&g, k as usize, n as usize)) }
                }
            }
        };
    }

    avx2_kernels!(
        f64x4,
        f64,
        __m256d,
        4,
        i64,
        _mm256_setzero_pd,
        _mm256_set1_pd,
        _mm256_fmadd_pd,
        _mm256_mul_pd,
        _mm256_add_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_maskload_pd,
        _mm256_loadu_si256,
        tail_f64
    );
    avx2_kernels!(
        f32x8,
        f32,
        __m256,
        8,
        i32,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps,
        _mm256_mul_ps,
        _mm256_add_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_maskload_ps,
        _mm256_loadu_si256,
        tail_f32
    );
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    //! The wide kernels against the inline kernels' arithmetic written out
    //! element by element (a product then fused multiply-adds in order of p
    //! for rows, fused multiply-adds from zero for outer; times alpha; plus
    //! the prefilled value), bit for bit, at every wide level the machine
    //! has; padding between and after output rows must stay untouched.

    use super::*;
    use crate::codegen::cpu::CpuLevel;

    trait Elem: Copy + std::ops::Mul<Output = Self> + std::ops::Add<Output = Self> {
        const DTYPE: DType;
        fn of(x: f64) -> Self;
        fn fma(self, b: Self, c: Self) -> Self;
        fn bits(self) -> u64;
    }
    impl Elem for f64 {
        const DTYPE: DType = DType::F64;
        fn of(x: f64) -> Self {
            x
        }
        fn fma(self, b: Self, c: Self) -> Self {
            self.mul_add(b, c)
        }
        fn bits(self) -> u64 {
            self.to_bits()
        }
    }
    impl Elem for f32 {
        const DTYPE: DType = DType::F32;
        fn of(x: f64) -> Self {
            x as f32
        }
        fn fma(self, b: Self, c: Self) -> Self {
            self.mul_add(b, c)
        }
        fn bits(self) -> u64 {
            self.to_bits() as u64
        }
    }

    /// Standard normal values (the runtime's `Tensor::randn`) with a few
    /// exact zeros.
    fn values<T: Elem>(n: usize, seed: u64) -> Vec<T> {
        let v = theon_runtime::Tensor::randn(DType::F64, &[n], seed).to_f64_vec();
        v.iter()
            .enumerate()
            .map(|(i, &x)| T::of(if i % 11 == 5 { 0.0 } else { x }))
            .collect()
    }

    /// One case: op(B) transposed or not, output rows `pad` elements apart
    /// beyond n, alpha, accumulate.
    #[allow(clippy::too_many_arguments)]
    fn check<T: Elem>(
        shape: Shape,
        m: usize,
        k: usize,
        n: usize,
        bt: bool,
        pad: usize,
        alpha: f64,
        acc: bool,
    ) {
        let a: Vec<T> = values(m * k, 1);
        let b: Vec<T> = values(k * n, 2);
        let rso = n + pad;
        let sentinel = T::of(12345.0);
        let mut init: Vec<T> = vec![sentinel; m * rso + 3];
        let old: Vec<T> = values(m * n, 3);
        for i in 0..m {
            for j in 0..n {
                init[i * rso + j] = old[i * n + j];
            }
        }
        // op(A) = a as [m, k] row-major; op(B) = b as [k, n] or b^T of [n, k].
        let (rsb, csb) = if bt { (1, k) } else { (n, 1) };
        let mut want = init.clone();
        let al = T::of(alpha);
        for i in 0..m {
            for j in 0..n {
                let bv = |p: usize| b[p * rsb + j * csb];
                let (mut s, from) = match shape {
                    Shape::Rows => (a[i * k] * bv(0), 1),
                    Shape::Outer => (T::of(0.0), 0),
                };
                for p in from..k {
                    s = a[i * k + p].fma(bv(p), s);
                }
                if alpha != 1.0 {
                    s = s * al;
                }
                if acc {
                    s = s + want[i * rso + j];
                }
                want[i * rso + j] = s;
            }
        }
        for level in CpuLevel::supported() {
            let Some(f) = kernel(shape, T::DTYPE, level) else {
                continue;
            };
            let mut out = init.clone();
            // SAFETY: the pointers and strides address m x k, k x n and
            // m x n (rows rso apart) inside the vectors above; k, n <= 8 and
            // m <= 8 for outer; `kernel` checked the level against the CPU.
            unsafe {
                f(
                    a.as_ptr() as i64,
                    k as i64,
                    1,
                    b.as_ptr() as i64,
                    rsb as i64,
                    csb as i64,
                    out.as_mut_ptr() as i64,
                    rso as i64,
                    m as i64,
                    k as i64,
                    n as i64,
                    alpha.to_bits() as i64,
                    acc as i64,
                )
            };
            for (q, (g, w)) in out.iter().zip(&want).enumerate() {
                assert_eq!(
                    g.bits(),
                    w.bits(),
                    "{shape:?} {} at {level:?}: m {m} k {k} n {n} bt {bt} pad {pad} alpha {alpha} acc {acc}, element {q}",
                    T::DTYPE
                );
            }
        }
    }

    fn every_size<T: Elem>() {
        let dims: Vec<usize> = if cfg!(miri) {
            vec![1, 3, 5, 8]
        } else {
            (1..=8).collect()
        };
        for &x in &dims {
            for &n in &dims {
                // Padded rows only when accumulating: without C the AVX-512
                // rows kernel stores whole vectors across the next row's
                // start (rows are contiguous in every plan), so only the
                // AVX2 kernels promise to leave a gap alone there.
                for (bt, pad, alpha, acc) in [
                    (false, 0, 1.0, false),
                    (true, 3, -0.5, true),
                    (false, 1, 1.0, true),
                ] {
                    // Rows: k = x, 6 rows (a block of four and two more).
                    check::<T>(Shape::Rows, 6, x, n, bt, pad, alpha, acc);
                    // Outer: m = x, k = 9 (and an empty k).
                    check::<T>(Shape::Outer, x, 9, n, bt, pad, alpha, acc);
                    check::<T>(Shape::Outer, x, 0, n, bt, pad, alpha, acc);
                }
            }
        }
    }

    #[test]
    fn wide_kernels_compute_the_inline_arithmetic_bit_for_bit() {
        every_size::<f64>();
        every_size::<f32>();
    }
}
