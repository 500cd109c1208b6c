//! theon: a symbolic tensor compiler in the line of Theano and PyTensor,
//! with a probabilistic-programming layer.
//!
//! This facade re-exports the crates; most programs need only
//! `use theon::prelude::*;`.

pub use theon_compiler as compiler;
pub use theon_ppl as ppl;
pub use theon_runtime as runtime;
pub use theon_tensor as tensor;

/// Everything a model or a training script usually needs.
pub mod prelude {
    pub use theon_runtime::io::{read_csv, read_csv_column, read_npy, write_csv, write_npy};
    pub use theon_tensor::*;
}
