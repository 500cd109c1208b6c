//! The call protocol: what every backend's call shares.
//!
//! A call resolves and checks its arguments against the inputs' types,
//! locks the shared variables it touches (in id order, so concurrent calls
//! cannot deadlock; re-entrance is an error), checks their values against
//! their types, lets the backend compute outputs and update values, checks
//! every update and allocates what it needs before writing any, writes
//! them, and advances the random streams. Only the computing is the
//! backend's: the interpreter and the JIT implement `Backend`, and
//! everything a backend may trust is checked here, once. The module is
//! crate-private: a foreign backend or protocol could hand native code
//! anything.

mod locked;
mod protocol;

pub(crate) use protocol::{Call, Protocol, Update, copy_raw};

use crate::op::InputId;
use crate::types::TensorType;
use theon_runtime::Result;

/// One argument of a function.
#[derive(Clone, Debug)]
pub struct InputSpec {
    pub id: InputId,
    pub name: String,
    pub ty: TensorType,
}

/// What computes a call: given checked arguments and locked, checked
/// shared values, write the outputs into `call.outs` and hand the update
/// values to `call.commit` exactly once.
pub(crate) trait Backend: Send + Sync {
    fn run(&self, call: &mut Call<'_>) -> Result<()>;
}
