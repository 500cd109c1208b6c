//! Native code: the optimized graph, its layout and per-shape plans, and
//! one Cranelift function per compiled `Function`.

pub mod exec;
pub mod jit;
pub mod layout;
pub mod lower;
pub mod math;
pub mod plan;
pub mod region;
pub mod rt;
pub mod small_gemm;

pub use jit::JitFunction;
pub use lower::{JitOptions, OptLevel, StepKind};
