//! Activation functions, applied elementwise (softmax: over the last axis).

use theon_tensor::{Result, Var};

/// What a layer applies to its pre-activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// No activation (logits, regression outputs).
    Identity,
    Tanh,
    /// max(x, 0).
    Relu,
    Sigmoid,
    /// ln(1 + e^x).
    Softplus,
    /// Over the last axis: class probabilities.
    Softmax,
}

impl Activation {
    pub fn apply(self, z: &Var) -> Result<Var> {
        Ok(match self {
            Activation::Identity => z.clone(),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.maximum(0.0)?,
            Activation::Sigmoid => z.sigmoid(),
            Activation::Softplus => z.softplus(),
            Activation::Softmax => z.softmax(-1)?,
        })
    }
}
