//! Helpers for theon's integration tests.

use theon::prelude::*;

/// Compile with the interpreter and call.
pub fn eval_interp(inputs: &[&Var], outputs: &[&Var], args: &[Tensor]) -> Result<Vec<Tensor>> {
    compile(inputs, outputs).mode(Mode::Interpret).build()?.call(args)
}

/// Assert two tensors agree elementwise within tolerances, with a useful message.
#[track_caller]
pub fn assert_close(got: &Tensor, want: &Tensor, rtol: f64, atol: f64) {
    assert_eq!(got.shape(), want.shape(), "shape: got {got} want {want}");
    assert!(got.allclose(want, rtol, atol), "values differ:\n got  {got}\n want {want}");
}
