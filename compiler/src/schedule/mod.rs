//! Planning: the stage between rewriting and code generation. With the
//! graph optimized, fix the schedule (a topological order, with batch
//! regions the code generator runs a chunk of leading indices at a time)
//! and decide which values are written in place. Nothing here changes the
//! graph; both backends run what it plans.

pub mod memory;
pub mod regions;

pub use memory::{MemoryPlan, buffer_root, plan};
pub use regions::aligned;
