//! The escape hatch: user-defined ops with their own type rule, reference
//! evaluation and (optionally) gradient.

use crate::expr::Var;
use crate::types::TensorType;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use theon_runtime::{Error, Result, Tensor};

/// What a custom op must provide. One output.
pub trait CustomImpl: Send + Sync + 'static {
    /// Printed op name.
    fn name(&self) -> &str;
    /// Properties that distinguish instances (equal names and keys merge).
    fn key(&self) -> String {
        String::new()
    }
    /// Output type from input types.
    fn infer(&self, inputs: &[&TensorType]) -> Result<TensorType>;
    /// Reference evaluation; also what the JIT calls back into.
    fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor>;
    /// Vector-Jacobian products for each input (`None` = no gradient).
    fn grad(&self, inputs: &[Var], output: &Var, gout: &Var) -> Result<Vec<Option<Var>>> {
        let _ = (inputs, output, gout);
        Err(Error::grad(format!(
            "custom op {} defines no gradient",
            self.name()
        )))
    }
}

#[derive(Clone)]
pub struct CustomOp(pub Arc<dyn CustomImpl>);

impl CustomOp {
    pub fn new(imp: impl CustomImpl) -> CustomOp {
        CustomOp(Arc::new(imp))
    }
    pub fn name(&self) -> &str {
        self.0.name()
    }
    pub fn props(&self) -> String {
        self.0.key()
    }
}

impl PartialEq for CustomOp {
    fn eq(&self, o: &Self) -> bool {
        self.0.name() == o.0.name() && self.0.key() == o.0.key()
    }
}
impl Eq for CustomOp {}
impl Hash for CustomOp {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.name().hash(h);
        self.0.key().hash(h);
    }
}
impl fmt::Debug for CustomOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Custom({}{{{}}})", self.0.name(), self.0.key())
    }
}
