//! Symbolic inputs, constants and shared variables.

use theon_compiler::{DType, Dim, SharedVar, Tensor, TensorType, Var};

/// A symbolic input of any dtype and rank, every dim unknown.
pub fn tensor(name: &str, dtype: DType, rank: usize) -> Var {
    Var::input(name, TensorType::new(dtype, vec![None; rank]))
}

/// A symbolic input with some dims known (`Some(1)` dims broadcast).
pub fn tensor_with_shape(name: &str, dtype: DType, shape: &[Dim]) -> Var {
    Var::input(name, TensorType::new(dtype, shape.to_vec()))
}

/// float64 scalar.
pub fn scalar(name: &str) -> Var {
    tensor(name, DType::F64, 0)
}
/// float32 scalar.
pub fn fscalar(name: &str) -> Var {
    tensor(name, DType::F32, 0)
}
/// int64 scalar.
pub fn iscalar(name: &str) -> Var {
    tensor(name, DType::I64, 0)
}
/// bool scalar.
pub fn bscalar(name: &str) -> Var {
    tensor(name, DType::Bool, 0)
}
/// float64 vector.
pub fn vector(name: &str) -> Var {
    tensor(name, DType::F64, 1)
}
/// float32 vector.
pub fn fvector(name: &str) -> Var {
    tensor(name, DType::F32, 1)
}
/// int64 vector.
pub fn ivector(name: &str) -> Var {
    tensor(name, DType::I64, 1)
}
/// float64 matrix.
pub fn matrix(name: &str) -> Var {
    tensor(name, DType::F64, 2)
}
/// float32 matrix.
pub fn fmatrix(name: &str) -> Var {
    tensor(name, DType::F32, 2)
}
/// int64 matrix.
pub fn imatrix(name: &str) -> Var {
    tensor(name, DType::I64, 2)
}

/// A constant expression.
pub fn constant(value: impl Into<Tensor>) -> Var {
    Var::constant(value.into())
}

/// A shared variable with the value's shape fixed (parameters). The
/// returned expression reads it; `get_value` / `set_value` reach the storage.
pub fn shared(name: &str, value: impl Into<Tensor>) -> Var {
    Var::shared(&SharedVar::new(name, value.into()))
}

/// A shared variable whose dims may change with `set_value`, except the
/// axes in `fixed_axes` (data containers).
pub fn shared_resizable(name: &str, value: impl Into<Tensor>, fixed_axes: &[usize]) -> Var {
    Var::shared(&SharedVar::resizable(name, value.into(), fixed_axes))
}
