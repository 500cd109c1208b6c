//! Small matrix products with AVX-512, for the shapes of small networks:
//! one side of the product has at most 8 columns, so a row of the output
//! is one (masked) 512-bit vector.
//!
//! - rows: `k, n <= 8`, `m` long (the forward layers: every row of A times
//!   op(B) held in registers);
//! - outer: `m, n <= 8`, `k` long (weight gradients: outer products of the
//!   rows of op(A)^T and op(B) summed over k).
//!
//! They compute exactly what the inline Cranelift kernels compute (same
//! products, same order of accumulation, alpha then the prefilled C), on 8
//! or 16 lanes instead of 2 or 4. Generated code calls them when the CPU
//! has AVX-512 (`kernel`); otherwise it keeps the inline kernels.

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

/// Which loop order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Rows,
    Outer,
}

/// The kernel for `shape` and `dtype` at `level` (AVX-512 only; lower
/// levels use the inline code, bit-identical). `level` was checked against
/// the machine (`CpuLevel::resolve`).
pub fn kernel(shape: Shape, dtype: DType, level: super::cpu::CpuLevel) -> Option<SmallGemmFn> {
    #[cfg(target_arch = "x86_64")]
    {
        if level < super::cpu::CpuLevel::Avx512 || super::cpu::CpuLevel::detected() < level {
            return None;
        }
        match (shape, dtype) {
            (Shape::Rows, DType::F64) => Some(x86::rows_f64 as SmallGemmFn),
            (Shape::Outer, DType::F64) => Some(x86::outer_f64 as SmallGemmFn),
            (Shape::Rows, DType::F32) => Some(x86::rows_f32 as SmallGemmFn),
            (Shape::Outer, DType::F32) => Some(x86::outer_f32 as SmallGemmFn),
            _ => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (shape, dtype, level);
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
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
