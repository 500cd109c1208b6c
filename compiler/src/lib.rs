//! theon-compiler: from symbolic expressions to callable functions.
//!
//! Data flows one way: `expr` (what users build) → `graph` (the mutable IR,
//! after `replace` substitutions) → rewrites → a backend (`interp`, the
//! reference; the JIT) → `function::Function`.

/// Run `$body` with `$T` the Rust type of a float dtype; other dtypes
/// return a dtype error from the enclosing function (type inference
/// admits only floats where this is used: convolution and pooling).
macro_rules! by_float {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            theon_runtime::DType::F32 => {
                type $T = f32;
                $body
            }
            theon_runtime::DType::F64 => {
                type $T = f64;
                $body
            }
            d => {
                return Err(theon_runtime::Error::dtype(format!(
                    "expected a float operand, got {d}"
                )))
            }
        }
    };
}

pub(crate) mod call;
pub mod codegen;
pub mod expr;
pub mod function;
pub mod grad;
pub mod graph;
pub mod interp;
pub(crate) mod lock;
pub mod op;
pub mod replace;
pub mod rewrite;
pub mod schedule;
pub mod shared;
pub mod types;
pub mod vectorize;

pub use call::InputSpec;
pub use codegen::{CpuLevel, JitOptions, OptLevel, StepKind};
pub use expr::custom::CustomImpl;
pub use expr::{Conv2d, DimArg, IntoShape, Operand, Padding, Pool2d, RandomStream, Var, VarId};
pub use function::{CompileOptions, Function, FunctionSpec, Mode, ProfileReport, StepProfile};
pub use grad::{Disconnected, GradCheck, VerifyGrad, grad, hessian, jacobian, verify_grad};
pub use graph::{Graph, NodeId, PrintOptions, Value};
pub use op::{BinaryOp, Op, ReduceOp, SliceSpec, UnaryOp};
pub use replace::{Unused, clone_replace, clone_replace_with};
pub use rewrite::{Rewrites, Trace};
pub use shared::SharedVar;
pub use theon_runtime::{DType, Error, ErrorKind, Result, Tensor};
pub use types::{Dim, TensorType};
pub use vectorize::vectorize;
