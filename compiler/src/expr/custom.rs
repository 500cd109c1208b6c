//! User-defined ops as users write them: the compiler's `CustomKernel`
//! (type rule, evaluation) plus a gradient in expressions.

use super::Var;
use crate::op::{CustomKernel, CustomOp};
use std::sync::Arc;
use theon_runtime::{Error, Result};

/// A custom op: its kernel and (optionally) its vector-Jacobian products.
pub trait CustomImpl: CustomKernel {
    /// Vector-Jacobian products for each input (`None` = no gradient).
    fn grad(&self, inputs: &[Var], output: &Var, gout: &Var) -> Result<Vec<Option<Var>>> {
        let _ = (inputs, output, gout);
        Err(Error::grad(format!(
            "custom op {} defines no gradient",
            self.name()
        )))
    }
}

impl CustomOp {
    pub fn new(imp: impl CustomImpl) -> CustomOp {
        let imp: Arc<dyn CustomImpl> = Arc::new(imp);
        CustomOp::from_parts(imp.clone(), Arc::new(imp))
    }

    /// The op's vector-Jacobian products (an error for ops made without
    /// `CustomImpl`).
    pub fn grad(&self, inputs: &[Var], output: &Var, gout: &Var) -> Result<Vec<Option<Var>>> {
        match self.payload().downcast_ref::<Arc<dyn CustomImpl>>() {
            Some(imp) => imp.grad(inputs, output, gout),
            None => Err(Error::grad(format!(
                "custom op {} defines no gradient",
                self.name()
            ))),
        }
    }
}
