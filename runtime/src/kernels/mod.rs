//! Reference kernels over contiguous row-major buffers.
//!
//! The interpreter is built from these, and the JIT calls the ones that
//! beat generated code (GEMM, data movement). They take slices and shapes,
//! not graph ops: the compiler decides what each op means.

pub mod conv;
pub mod gemm;
pub mod im2col;
pub mod layout;
pub mod map;
pub mod movement;
pub mod pool;
pub mod reduce;
