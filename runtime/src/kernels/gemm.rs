//! Matrix products: strided GEMM for f32/f64 through the `gemm` crate
//! (faer's kernels: 1.04-2.1x matrixmultiply's speed on every product
//! shape of the BNN steps, `benches/gemm.rs`), a plain loop for integers,
//! and NumPy-style batched matmul on top.

use super::layout::contiguous_strides;

/// A matrix operand: base offset and row/column strides (in elements) into a slice.
#[derive(Clone, Copy, Debug)]
pub struct MatView {
    pub offset: usize,
    pub rs: isize,
    pub cs: isize,
}

impl MatView {
    pub fn row_major(offset: usize, cols: usize) -> MatView {
        MatView {
            offset,
            rs: cols as isize,
            cs: 1,
        }
    }
    pub fn transposed(self) -> MatView {
        MatView {
            offset: self.offset,
            rs: self.cs,
            cs: self.rs,
        }
    }
    /// Smallest and largest element offsets touched by an (rows x cols)
    /// view, or None when they do not fit in isize (a view that wraps).
    fn span(&self, rows: usize, cols: usize) -> Option<(isize, isize)> {
        let o = isize::try_from(self.offset).ok()?;
        if rows == 0 || cols == 0 {
            return Some((o, o));
        }
        let a = isize::try_from(rows - 1).ok()?.checked_mul(self.rs)?;
        let b = isize::try_from(cols - 1).ok()?.checked_mul(self.cs)?;
        let lo = o.checked_add(a.min(0))?.checked_add(b.min(0))?;
        let hi = o.checked_add(a.max(0))?.checked_add(b.max(0))?;
        Some((lo, hi))
    }
    fn fits(&self, rows: usize, cols: usize, len: usize) -> bool {
        rows == 0
            || cols == 0
            || matches!(self.span(rows, cols), Some((lo, hi)) if lo >= 0 && (hi as usize) < len)
    }
}

/// Element types GEMM is defined for.
pub trait GemmElem:
    Copy + Default + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self>
{
    /// c <- alpha * a.b + beta * c on views; the caller guarantees the views
    /// lie inside the slices (checked by `gemm`).
    #[allow(clippy::too_many_arguments)]
    fn gemm_unchecked(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: &[Self],
        av: MatView,
        b: &[Self],
        bv: MatView,
        beta: Self,
        c: &mut [Self],
        cv: MatView,
    );
    fn from_f64(v: f64) -> Self;
}

macro_rules! strided_gemm {
    ($name:ident, $t:ty) => {
        /// `c <- alpha a b + beta c` for an `m x k` a and a `k x n` b with
        /// element strides (matrixmultiply's arguments and meaning: c is not
        /// read when beta is 0), by the `gemm` crate on the calling thread.
        /// Each element of c sums over k in the same blocks whatever m and
        /// n are (the crate's k-blocking depends on k and the caches only),
        /// so a product split into blocks of rows gives the same bits.
        ///
        /// # Safety
        /// Every element the strides address (`i*rs + j*cs` for the rows and
        /// columns of each operand) must be valid, and c must not overlap a
        /// or b.
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn $name(
            m: usize,
            k: usize,
            n: usize,
            alpha: $t,
            a: *const $t,
            rsa: isize,
            csa: isize,
            b: *const $t,
            rsb: isize,
            csb: isize,
            beta: $t,
            c: *mut $t,
            rsc: isize,
            csc: isize,
        ) {
            if m == 0 || n == 0 {
                return;
            }
            if k == 0 {
                // a b is zero: c <- beta c (not read when beta is 0).
                for i in 0..m as isize {
                    for j in 0..n as isize {
                        // SAFETY: the caller's contract covers c's elements.
                        unsafe {
                            let p = c.offset(i * rsc + j * csc);
                            *p = if beta == 0.0 { 0.0 } else { beta * *p };
                        }
                    }
                }
                return;
            }
            // SAFETY: the caller's contract; the crate computes
            // dst <- dst_scale dst + product_scale (lhs rhs), reading dst
            // only when asked (not when beta is 0, as matrixmultiply).
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    c,
                    csc,
                    rsc,
                    beta != 0.0,
                    a,
                    csa,
                    rsa,
                    b,
                    csb,
                    rsb,
                    beta,
                    alpha,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        }
    };
}
strided_gemm!(dgemm, f64);
strided_gemm!(sgemm, f32);

macro_rules! float_gemm {
    ($t:ty, $f:path) => {
        impl GemmElem for $t {
            fn gemm_unchecked(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: &[Self],
                av: MatView,
                b: &[Self],
                bv: MatView,
                beta: Self,
                c: &mut [Self],
                cv: MatView,
            ) {
                if m == 0 || n == 0 {
                    return;
                }
                // SAFETY: `gemm` checked that every element the three views
                // address (offset + i*rs + j*cs for i < rows, j < cols) lies
                // inside its slice, and `c` is borrowed mutably so it cannot
                // alias `a` or `b`.
                unsafe {
                    $f(
                        m,
                        k,
                        n,
                        alpha,
                        a.as_ptr().add(av.offset),
                        av.rs,
                        av.cs,
                        b.as_ptr().add(bv.offset),
                        bv.rs,
                        bv.cs,
                        beta,
                        c.as_mut_ptr().add(cv.offset),
                        cv.rs,
                        cv.cs,
                    )
                }
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    };
}
float_gemm!(f64, dgemm);
float_gemm!(f32, sgemm);

impl GemmElem for i64 {
    fn gemm_unchecked(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: &[Self],
        av: MatView,
        b: &[Self],
        bv: MatView,
        beta: Self,
        c: &mut [Self],
        cv: MatView,
    ) {
        let at = |v: &MatView, i: usize, j: usize| {
            (v.offset as isize + i as isize * v.rs + j as isize * v.cs) as usize
        };
        for i in 0..m {
            for j in 0..n {
                let mut s = 0i64;
                for p in 0..k {
                    s = s.wrapping_add(a[at(&av, i, p)].wrapping_mul(b[at(&bv, p, j)]));
                }
                let o = at(&cv, i, j);
                let prev = if beta == 0 {
                    0
                } else {
                    beta.wrapping_mul(c[o])
                };
                c[o] = alpha.wrapping_mul(s).wrapping_add(prev);
            }
        }
    }
    fn from_f64(v: f64) -> Self {
        v as i64
    }
}

/// c <- alpha * a.b + beta * c for an (m x k) view of `a`, a (k x n) view of
/// `b` and an (m x n) view of `c`. Returns false (doing nothing) if a view
/// reaches outside its slice.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: GemmElem>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    av: MatView,
    b: &[T],
    bv: MatView,
    beta: T,
    c: &mut [T],
    cv: MatView,
) -> bool {
    if !(av.fits(m, k, a.len()) && bv.fits(k, n, b.len()) && cv.fits(m, n, c.len())) {
        return false;
    }
    T::gemm_unchecked(m, k, n, alpha, a, av, b, bv, beta, c, cv);
    true
}

/// NumPy matmul of contiguous `a` (.., m, k) and `b` (.., k, n), both rank >= 2,
/// batch dims broadcast to `batch`. Shapes must already be validated.
pub fn batched_matmul<T: GemmElem>(
    a: &[T],
    a_shape: &[usize],
    b: &[T],
    b_shape: &[usize],
    batch: &[usize],
) -> Vec<T> {
    let (ra, rb) = (a_shape.len(), b_shape.len());
    let (m, k, n) = (a_shape[ra - 2], a_shape[ra - 1], b_shape[rb - 1]);
    let nb: usize = batch.iter().product();
    let mut out = vec![T::default(); nb * m * n];
    // Offsets of each batch's matrix, broadcasting leading dims.
    let a_batch: Vec<usize> = a_shape[..ra - 2].to_vec();
    let b_batch: Vec<usize> = b_shape[..rb - 2].to_vec();
    let sa = super::layout::broadcast_strides(&a_batch, batch);
    let sb = super::layout::broadcast_strides(&b_batch, batch);
    let batch_idx = contiguous_strides(batch);
    for t in 0..nb {
        let (mut oa, mut ob) = (0, 0);
        let mut rem = t;
        for d in 0..batch.len() {
            let i = rem / batch_idx[d];
            rem %= batch_idx[d];
            oa += i * sa[d];
            ob += i * sb[d];
        }
        let ok = gemm(
            m,
            k,
            n,
            T::from_f64(1.0),
            a,
            MatView::row_major(oa * m * k, k),
            b,
            MatView::row_major(ob * k * n, n),
            T::default(),
            &mut out,
            MatView::row_major(t * m * n, n),
        );
        debug_assert!(ok, "batched_matmul shapes were validated by the caller");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_with_transposed_views() {
        // a = [[1, 2], [3, 4]], b = [[5, 6], [7, 8]]
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [0.0; 4];
        assert!(gemm(
            2,
            2,
            2,
            1.0,
            &a,
            MatView::row_major(0, 2),
            &b,
            MatView::row_major(0, 2),
            0.0,
            &mut c,
            MatView::row_major(0, 2)
        ));
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        // a^T b = [[1*5+3*7, 1*6+3*8], [2*5+4*7, 2*6+4*8]]
        assert!(gemm(
            2,
            2,
            2,
            1.0,
            &a,
            MatView::row_major(0, 2).transposed(),
            &b,
            MatView::row_major(0, 2),
            0.0,
            &mut c,
            MatView::row_major(0, 2)
        ));
        assert_eq!(c, [26.0, 30.0, 38.0, 44.0]);
        let ai = [1i64, 2, 3, 4];
        let bi = [5i64, 6, 7, 8];
        let mut ci = [1i64; 4];
        assert!(gemm(
            2,
            2,
            2,
            2,
            &ai,
            MatView::row_major(0, 2),
            &bi,
            MatView::row_major(0, 2),
            1,
            &mut ci,
            MatView::row_major(0, 2)
        ));
        assert_eq!(ci, [39, 45, 87, 101]);
    }

    #[test]
    fn gemm_rejects_out_of_bounds_views() {
        let a = [1.0; 3];
        let mut c = [0.0; 4];
        assert!(!gemm(
            2,
            2,
            2,
            1.0,
            &a,
            MatView::row_major(0, 2),
            &a,
            MatView::row_major(0, 2),
            0.0,
            &mut c,
            MatView::row_major(0, 2)
        ));
    }

    #[test]
    fn batched_broadcast() {
        // a: (2, 1, 2) batch of row vectors, b: (2, 1) shared.
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [10.0, 100.0];
        let out = batched_matmul(&a, &[2, 1, 2], &b, &[2, 1], &[2]);
        assert_eq!(out, vec![210.0, 430.0]);
    }
}
