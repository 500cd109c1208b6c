//! The call protocol: what every backend's call shares.
//!
//! A call checks its arguments against the inputs' types, locks the shared
//! variables it touches (in id order, so concurrent calls cannot deadlock;
//! re-entrance is an error), checks their values against their types, lets
//! the backend compute outputs and update values, checks every update
//! before writing any, writes them, and advances the random streams. Only
//! the computing is the backend's: the interpreter and the JIT implement
//! `Backend`, and everything a backend may trust is checked here, once.

mod locked;
mod protocol;

pub use locked::Locked;
pub(crate) use protocol::copy_raw;
pub use protocol::{Call, Protocol, Update};

use crate::op::InputId;
use crate::types::TensorType;
use std::borrow::Borrow;
use theon_runtime::{Result, Tensor};

/// One argument of a function.
#[derive(Clone, Debug)]
pub struct InputSpec {
    pub id: InputId,
    pub name: String,
    pub ty: TensorType,
}

/// The arguments of a call, however the caller holds them.
pub trait Args {
    fn count(&self) -> usize;
    fn arg(&self, k: usize) -> &Tensor;
}

impl<T: Borrow<Tensor>> Args for &[T] {
    fn count(&self) -> usize {
        self.len()
    }
    fn arg(&self, k: usize) -> &Tensor {
        self[k].borrow()
    }
}

/// What computes a call: given checked arguments and locked, checked
/// shared values, write the outputs into `call.outs` and hand the update
/// values to `call.commit` exactly once.
pub trait Backend: Send + Sync {
    fn run(&self, call: &mut Call<'_>) -> Result<()>;
}
