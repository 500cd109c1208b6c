//! theon-runtime: the data side of theon.
//!
//! Tensors (dtype + row-major storage), the reference scalar math every
//! backend is measured against, kernels (GEMM, strided copies, reductions),
//! counter-based random fills, and file formats (.npy, .npz, CSV).
//! Nothing here knows about graphs.

pub mod alloc;
pub mod dtype;
pub mod element;
pub mod error;
pub mod io;
pub mod kernels;
pub mod random;
pub mod shape;
pub mod tensor;

mod convert;
mod display;

pub use dtype::DType;
pub use element::{Element, Float, convert};
pub use error::{Error, ErrorKind, Result};
pub use shape::{Dims, Shape};
pub use tensor::{Data, Tensor};
