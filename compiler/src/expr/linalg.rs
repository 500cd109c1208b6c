//! Matrix products.

use super::Var;
use crate::op::Op;
use theon_runtime::{Error, Result};

impl Var {
    /// NumPy's `dot`: vector·vector is a scalar, matrix·vector and
    /// vector·matrix are vectors, matrix·matrix a matrix, and for higher
    /// ranks the sum over the last axis of `self` and the second-to-last
    /// of `other`: `dot(a, b)[i.., j.., n] = Σ_k a[i.., k] b[j.., k, n]`
    /// (not `matmul`'s batch broadcasting).
    pub fn dot(&self, other: &Var) -> Result<Var> {
        let (ra, rb) = (self.rank(), other.rank());
        if ra == 0 || rb == 0 {
            return Err(Error::shape(format!(
                "dot: needs operands of rank >= 1, got {} and {} (use * for scalars)",
                self.ty(),
                other.ty()
            )));
        }
        // Up to matrices, and anything against a vector, is a matmul.
        if (ra <= 2 && rb <= 2) || rb == 1 {
            return Var::apply_as("dot", Op::MatMul, &[self, other]);
        }
        let (ka, kb) = (self.static_shape()[ra - 1], other.static_shape()[rb - 2]);
        if let (Some(x), Some(y)) = (ka, kb)
            && x != y
        {
            return Err(Error::shape(format!(
                "dot: {} · {}: the last axis of the first ({x}) must match the second-to-last of the second ({y})",
                self.ty(),
                other.ty()
            )));
        }
        // Contract over b's axis -2: bring it first, flatten both sides to
        // matrices, multiply, and give the result a's and b's free axes.
        let mut perm = vec![rb - 2];
        perm.extend(0..rb - 2);
        perm.push(rb - 1);
        let bt = other.permute(&perm)?;
        let (sa, sb) = (self.shape(), other.shape());
        let minus_one = Var::constant(theon_runtime::Tensor::vector(vec![-1i64]));
        let part = |s: &Var, lo: usize, hi: usize| s.slice_axis(0, lo as i64..hi as i64);
        let a2 = self.reshape(Var::concatenate(
            &[minus_one.clone(), part(&sa, ra - 1, ra)?],
            0,
        )?)?;
        let b2 = bt.reshape(Var::concatenate(
            &[part(&sb, rb - 2, rb - 1)?, minus_one],
            0,
        )?)?;
        let out = a2.matmul(&b2)?;
        let shape = Var::concatenate(
            &[
                part(&sa, 0, ra - 1)?,
                part(&sb, 0, rb - 2)?,
                part(&sb, rb - 1, rb)?,
            ],
            0,
        )?;
        out.reshape(shape)
    }

    /// `z` with `L z = b` (or `L^T z = b` when `trans`) for a lower
    /// triangular `self` = L (k x k; its upper triangle is not read) and
    /// every vector along `b`'s last axis, as SciPy's
    /// `solve_triangular(L, b, lower=True)`. A zero on L's diagonal gives
    /// infinities or NaN, as there.
    pub fn solve_triangular(&self, b: &Var, trans: bool) -> Result<Var> {
        Var::apply(Op::SolveTriangular { trans }, &[self, b])
    }

    /// NumPy `matmul`: the last two axes multiply, leading axes broadcast
    /// as batch dims; vectors are promoted and their axis removed.
    pub fn matmul(&self, other: &Var) -> Result<Var> {
        Var::apply(Op::MatMul, &[self, other])
    }
}
