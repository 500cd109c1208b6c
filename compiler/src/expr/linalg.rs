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

    /// NumPy `matmul`: the last two axes multiply, leading axes broadcast
    /// as batch dims; vectors are promoted and their axis removed.
    pub fn matmul(&self, other: &Var) -> Result<Var> {
        Var::apply(Op::MatMul, &[self, other])
    }
}
