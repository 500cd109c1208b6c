//! Native code: the optimized graph, its layout and per-shape plans, and
//! one Cranelift function per compiled `Function`.

pub mod cpu;
pub(crate) mod exec;
pub(crate) mod jit;
pub(crate) mod layout;
pub(crate) mod lower;
pub mod math;
pub(crate) mod plan;
pub(crate) mod region;
pub(crate) mod rt;
pub mod small_gemm;
pub mod threads;

pub use cpu::CpuLevel;
pub(crate) use jit::JitFunction;

/// What this backend offers the rewrites (`rewrite::Ctx::backend`).
pub fn capabilities() -> crate::rewrite::Capabilities {
    crate::rewrite::Capabilities {
        wide_math: math::slice::OPS.to_vec(),
        gemm_call: Some(lower::gemm_is_call),
    }
}
pub use lower::{JitOptions, OptLevel, StepKind};
