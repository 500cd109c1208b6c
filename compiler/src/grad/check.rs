//! Gradient helpers: `jacobian`, `hessian`, and `verify_grad`, a
//! finite-difference checker users can run on their own expressions.

use super::{Disconnected, grad};
use crate::expr::Var;
use crate::function::{CompileOptions, Function, FunctionSpec, Mode};
use crate::types::{TensorType, fmt_shape};
use theon_runtime::{DType, Error, Result, Tensor};

/// d y\[i\] / d wrt for a scalar or vector `y` of static length: shape
/// `(len(y), *wrt.shape)` (just the gradient for a scalar `y`).
pub fn jacobian(y: &Var, wrt: &Var) -> Result<Var> {
    match y.rank() {
        0 => Ok(grad(y, std::slice::from_ref(wrt), Disconnected::Zero)?
            .remove(0)
            .expect("Zero gives Some")),
        1 => {
            let n = y.static_shape()[0].ok_or_else(|| {
                Error::grad(format!(
                    "jacobian needs a vector of known length, got {}",
                    y.ty()
                ))
            })?;
            if n == 0 {
                let mut shape = vec![0usize];
                shape.extend(wrt.ty().static_shape().ok_or_else(|| {
                    Error::grad("jacobian of an empty vector needs wrt of known shape")
                })?);
                return Var::zeros(shape.as_slice(), wrt.dtype());
            }
            let rows: Vec<Var> = (0..n as i64)
                .map(|i| {
                    let yi = y.index(0, i)?;
                    Ok(grad(&yi, std::slice::from_ref(wrt), Disconnected::Zero)?
                        .remove(0)
                        .expect("Zero gives Some"))
                })
                .collect::<Result<_>>()?;
            Var::stack(&rows, 0)
        }
        _ => Err(Error::grad(format!(
            "jacobian needs a scalar or a vector, got {} (flatten it)",
            y.ty()
        ))),
    }
}

/// Second derivatives of a scalar cost: shape `(n, *wrt.shape)` with
/// `n` the number of elements of `wrt` (an `(n, n)` matrix for a vector).
pub fn hessian(cost: &Var, wrt: &Var) -> Result<Var> {
    let g = grad(cost, std::slice::from_ref(wrt), Disconnected::Zero)?
        .remove(0)
        .expect("Zero gives Some");
    let n = wrt.ty().static_len().ok_or_else(|| {
        Error::grad(format!(
            "hessian needs wrt of known shape, got {}",
            wrt.ty()
        ))
    })?;
    jacobian(&g.reshape([n as i64])?, wrt)
}

/// Options of `verify_grad`.
#[derive(Clone, Debug)]
pub struct VerifyGrad {
    /// Finite-difference step.
    pub eps: f64,
    /// Allowed error: |analytic - numeric| <= atol + rtol * |numeric|.
    pub rtol: f64,
    pub atol: f64,
    /// Seed of the random projection of non-scalar outputs.
    pub seed: u64,
    /// Backend that evaluates both.
    pub mode: Mode,
}

impl Default for VerifyGrad {
    fn default() -> Self {
        VerifyGrad {
            eps: 1e-6,
            rtol: 1e-6,
            atol: 1e-8,
            seed: 7,
            mode: Mode::default(),
        }
    }
}

/// Largest errors seen by `verify_grad`.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheck {
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    pub n_checked: usize,
}

fn compile(inputs: &[Var], outputs: &[Var], mode: Mode) -> Result<Function> {
    Function::compile(FunctionSpec {
        inputs,
        outputs,
        updates: &[],
        givens: &[],
        options: CompileOptions {
            mode,
            name: Some("verify_grad".into()),
            ..Default::default()
        },
    })
}

/// Check the gradient of `f` at `points` (float64 tensors) against central
/// finite differences of a random projection `sum(f(x) * r)`. Returns the
/// errors, or an error naming the first element out of tolerance.
pub fn verify_grad(
    f: impl Fn(&[Var]) -> Result<Var>,
    points: &[Tensor],
    opts: &VerifyGrad,
) -> Result<GradCheck> {
    let inputs: Vec<Var> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if p.dtype() != DType::F64 {
                return Err(Error::dtype(format!(
                    "verify_grad: point {i} must be float64, got {}",
                    p.dtype()
                )));
            }
            Ok(Var::input(
                &format!("x{i}"),
                TensorType::fixed(p.dtype(), p.shape()),
            ))
        })
        .collect::<Result<_>>()?;
    let out = f(&inputs)?;
    if !out.dtype().is_float() {
        return Err(Error::dtype(format!(
            "verify_grad: f must return a float tensor, got {}",
            out.ty()
        )));
    }
    let out_value = compile(&inputs, std::slice::from_ref(&out), opts.mode)?
        .call(points)?
        .remove(0);
    let proj = Tensor::randn(out.dtype(), out_value.shape(), opts.seed);
    let cost = (&out * &Var::constant(proj))?.sum()?;
    let grads: Vec<Var> = grad(&cost, &inputs, Disconnected::Zero)?
        .into_iter()
        .flatten()
        .collect();
    let analytic = compile(&inputs, &grads, opts.mode)?.call(points)?;
    let cost_fn = compile(&inputs, std::slice::from_ref(&cost), opts.mode)?;
    let eval = |pts: &[Tensor]| -> Result<f64> { cost_fn.call(pts)?[0].item::<f64>() };

    let mut report = GradCheck {
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        n_checked: 0,
    };
    let mut pts: Vec<Tensor> = points.to_vec();
    for (i, a) in analytic.iter().enumerate() {
        let a = a.to_f64_vec();
        for j in 0..points[i].len() {
            let base = points[i].as_slice::<f64>()?[j];
            pts[i].as_slice_mut::<f64>()?[j] = base + opts.eps;
            let up = eval(&pts)?;
            pts[i].as_slice_mut::<f64>()?[j] = base - opts.eps;
            let down = eval(&pts)?;
            pts[i].as_slice_mut::<f64>()?[j] = base;
            let numeric = (up - down) / (2.0 * opts.eps);
            let abs = (a[j] - numeric).abs();
            let rel = abs / numeric.abs().max(f64::MIN_POSITIVE);
            report.n_checked += 1;
            report.max_abs_err = report.max_abs_err.max(abs);
            if numeric.abs() > opts.atol {
                report.max_rel_err = report.max_rel_err.max(rel);
            }
            if !(abs <= opts.atol + opts.rtol * numeric.abs()) {
                let idx = unravel(j, points[i].shape());
                return Err(Error::grad(format!(
                    "verify_grad: d/d{} at {} of {}: analytic {:e} vs finite difference {:e} (abs error {:e}, rel error {:e})",
                    format_args!("x{i}"),
                    fmt_shape(&idx),
                    fmt_shape(points[i].shape()),
                    a[j],
                    numeric,
                    abs,
                    rel
                )));
            }
        }
    }
    Ok(report)
}

fn unravel(mut k: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for a in (0..shape.len()).rev() {
        idx[a] = k % shape[a].max(1);
        k /= shape[a].max(1);
    }
    idx
}
