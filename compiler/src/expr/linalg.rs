//! Matrix products.

use super::Var;
use crate::op::Op;
use theon_runtime::{Error, Result};

impl Var {
    /// `dot` for vectors and matrices: vector·vector is a scalar,
    /// matrix·vector and vector·matrix are vectors, matrix·matrix a matrix.
    /// For batched products use `matmul`.
    pub fn dot(&self, other: &Var) -> Result<Var> {
        if self.rank() == 0 || other.rank() == 0 || self.rank() > 2 || other.rank() > 2 {
            return Err(Error::shape(format!(
                "dot: needs vectors or matrices, got {} and {} (use matmul for batches, * for scalars)",
                self.ty(),
                other.ty()
            )));
        }
        Var::apply_as("dot", Op::MatMul, &[self, other])
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
