//! theon-tensor: the Theano-like API.
//!
//! ```
//! use theon_tensor::*;
//! let x = vector("x");
//! let w = shared("w", Tensor::vector(vec![1.0, 2.0]));
//! let y = (&x * &w).unwrap().sum().unwrap();
//! let f = function(&[&x], &[&y]).unwrap();
//! let out = f.call(&[Tensor::vector(vec![3.0, 4.0])]).unwrap();
//! assert_eq!(out[0].item::<f64>().unwrap(), 11.0);
//! ```

mod builder;
mod inputs;

pub use builder::{FunctionBuilder, NO_INPUTS, compile, function};
pub use inputs::*;
pub use theon_compiler::{
    BinaryOp, CompileOptions, Conv2d, CpuLevel, DType, DimArg, Error, ErrorKind, Function, Graph,
    IntoShape, JitOptions, Mode, Operand, OptLevel, Padding, Pool2d, PrintOptions, RandomStream,
    ReduceOp, Result, Rewrites, SharedVar, SliceSpec, StepKind, Tensor, TensorType,
    Trace as RewriteTrace, UnaryOp, Unused, Var,
};
pub use theon_compiler::{
    Disconnected, GradCheck, VerifyGrad, hessian, jacobian, vectorize, verify_grad,
};

use std::borrow::Borrow;

/// New versions of `outputs` with each `(old, new)` substituted (Theano's
/// `clone_replace`). The replacement must fit the original's type: same
/// dtype and rank, no conflicting static size.
/// A replacement of a variable the outputs do not use is an error (see
/// `clone_replace_with`).
/// Pairs may be `(&Var, &Var)` or `(Var, Var)` (what `vectorize` takes).
pub fn clone_replace<O, A, B>(outputs: &[O], replace: &[(A, B)]) -> Result<Vec<Var>>
where
    O: Borrow<Var>,
    A: Borrow<Var>,
    B: Borrow<Var>,
{
    clone_replace_with(outputs, replace, Unused::Error)
}

/// `clone_replace` with a choice for replacements the outputs do not use.
pub fn clone_replace_with<O, A, B>(
    outputs: &[O],
    replace: &[(A, B)],
    unused: Unused,
) -> Result<Vec<Var>>
where
    O: Borrow<Var>,
    A: Borrow<Var>,
    B: Borrow<Var>,
{
    let outs: Vec<Var> = outputs.iter().map(|o| o.borrow().clone()).collect();
    let pairs: Vec<(Var, Var)> = replace
        .iter()
        .map(|(a, b)| (a.borrow().clone(), b.borrow().clone()))
        .collect();
    theon_compiler::clone_replace_with(&outs, &pairs, unused)
}

/// Gradients of a scalar `cost` with respect to each of `wrt`, as
/// expressions. A `wrt` the cost does not depend on is an error; see
/// `grad_with` for PyTensor's other `disconnected_inputs` choices.
pub fn grad<V: Borrow<Var>>(cost: &Var, wrt: &[V]) -> Result<Vec<Var>> {
    let wrt: Vec<Var> = wrt.iter().map(|w| w.borrow().clone()).collect();
    Ok(theon_compiler::grad(cost, &wrt, Disconnected::Raise)?
        .into_iter()
        .flatten()
        .collect())
}

/// `grad` with a choice for disconnected inputs (`None` entries only with
/// `Disconnected::Ignore`).
pub fn grad_with<V: Borrow<Var>>(
    cost: &Var,
    wrt: &[V],
    disconnected: Disconnected,
) -> Result<Vec<Option<Var>>> {
    let wrt: Vec<Var> = wrt.iter().map(|w| w.borrow().clone()).collect();
    theon_compiler::grad(cost, &wrt, disconnected)
}

/// `where(cond, a, b)`: elements of `a` where `cond`, else of `b` (Theano's `switch`).
pub fn where_(cond: &Var, a: impl Operand, b: impl Operand) -> Result<Var> {
    Var::where_(cond, a, b)
}

/// Alias of `where_` (Theano's name).
pub fn switch(cond: &Var, a: impl Operand, b: impl Operand) -> Result<Var> {
    Var::where_(cond, a, b)
}

/// Join along an existing axis.
pub fn concatenate<V: Borrow<Var>>(parts: &[V], axis: i64) -> Result<Var> {
    let v: Vec<Var> = parts.iter().map(|p| p.borrow().clone()).collect();
    Var::concatenate(&v, axis)
}

/// Join along a new axis.
pub fn stack<V: Borrow<Var>>(parts: &[V], axis: i64) -> Result<Var> {
    let v: Vec<Var> = parts.iter().map(|p| p.borrow().clone()).collect();
    Var::stack(&v, axis)
}

/// Matrix/vector product (see `Var::dot`).
pub fn dot(a: &Var, b: &Var) -> Result<Var> {
    a.dot(b)
}

/// Debug-print expressions as a tree (PyTensor's `debugprint`).
pub fn debugprint<V: Borrow<Var>>(outputs: &[V], types: bool) -> String {
    let outs: Vec<Var> = outputs.iter().map(|o| o.borrow().clone()).collect();
    match Graph::from_vars(&outs) {
        Ok((g, _)) => g.print(PrintOptions { types }),
        Err(e) => format!("<cannot print: {e}>"),
    }
}

/// Graphviz DOT text of expressions.
pub fn to_dot<V: Borrow<Var>>(outputs: &[V]) -> Result<String> {
    let outs: Vec<Var> = outputs.iter().map(|o| o.borrow().clone()).collect();
    Ok(Graph::from_vars(&outs)?.0.to_dot())
}
