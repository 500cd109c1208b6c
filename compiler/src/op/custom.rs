//! The escape hatch: user-defined ops with their own type rule and
//! reference evaluation. (Their gradients are expressions, a level up:
//! `expr::custom::CustomImpl`, kept here only as an opaque payload.)

use crate::types::TensorType;
use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use theon_runtime::{Result, Tensor};

/// What the compiler needs of a custom op. One output.
pub trait CustomKernel: Send + Sync + 'static {
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
}

#[derive(Clone)]
pub struct CustomOp {
    kernel: Arc<dyn CustomKernel>,
    /// What the layer that made the op keeps with it (its gradient).
    payload: Arc<dyn Any + Send + Sync>,
}

impl CustomOp {
    /// An op from its kernel and the payload of the layer that builds it.
    pub fn from_parts(kernel: Arc<dyn CustomKernel>, payload: Arc<dyn Any + Send + Sync>) -> Self {
        CustomOp { kernel, payload }
    }
    pub fn kernel(&self) -> &dyn CustomKernel {
        &*self.kernel
    }
    pub fn payload(&self) -> &(dyn Any + Send + Sync) {
        &*self.payload
    }
    pub fn name(&self) -> &str {
        self.kernel.name()
    }
    pub fn props(&self) -> String {
        self.kernel.key()
    }
}

impl PartialEq for CustomOp {
    fn eq(&self, o: &Self) -> bool {
        self.name() == o.name() && self.props() == o.props()
    }
}
impl Eq for CustomOp {}
impl Hash for CustomOp {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.name().hash(h);
        self.props().hash(h);
    }
}
impl fmt::Debug for CustomOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Custom({}{{{}}})", self.name(), self.props())
    }
}
