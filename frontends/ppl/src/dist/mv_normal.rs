//! The multivariate normal through the Cholesky factor of its covariance:
//! log N(x | mu, L L^T) = -k/2 log 2π - Σ log |L_ii| - |L^-1 (x - mu)|² / 2,
//! with one triangular solve (never the covariance itself, so factors near
//! the edges of the float range work as SciPy's `multivariate_normal`
//! cannot).

use super::checks::{Checks, is_const};
use theon_tensor::{DType, Error, Result, Tensor, Var, constant, where_};

const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// The factor's size, which must be known when the model is built.
fn size(chol: &Var) -> Result<usize> {
    match chol.static_shape() {
        [Some(a), Some(b)] if a == b => Ok(*a),
        _ => Err(Error::shape(format!(
            "MvNormal: chol must be a square matrix of known size, got {}",
            chol.ty()
        ))),
    }
}

fn eye(k: usize, dtype: DType) -> Var {
    let v: Vec<f64> = (0..k * k)
        .map(|i| if i / k == i % k { 1.0 } else { 0.0 })
        .collect();
    constant(Tensor::new(v, &[k, k]).expect("k * k entries").cast(dtype))
}

pub(super) fn validate(mu: &Var, chol: &Var) -> Result<()> {
    let k = size(chol)?;
    match mu.static_shape().last() {
        Some(Some(m)) if *m == k => {}
        // A scalar mean, or one that broadcasts, is fine.
        None | Some(Some(1)) => {}
        _ => {
            return Err(Error::shape(format!(
                "MvNormal: mu must end in an axis of {k} (chol is {k} x {k}), got {}",
                mu.ty()
            )));
        }
    }
    if let Some(t) = chol.as_constant() {
        let v = t.to_f64_vec();
        if let Some(i) = (0..k).find(|&i| !(v[i * k + i] != 0.0 && v[i * k + i].is_finite())) {
            return Err(Error::value(format!(
                "MvNormal: chol[{i}, {i}] = {} (the diagonal of a Cholesky factor must be non-zero and finite)",
                v[i * k + i]
            )));
        }
    }
    Ok(())
}

pub(super) fn logp(c: &mut Checks, x: &Var, mu: &Var, chol: &Var) -> Result<Var> {
    let k = size(chol)?;
    let e = eye(k, chol.dtype());
    let diag = (chol * &e)?.sum_axes(&[-1], false)?;
    // A zero on the diagonal is a singular covariance: -inf there, and the
    // identity as the safe factor so the rest stays finite.
    let chol = if is_const(chol) {
        chol.clone()
    } else {
        let ok = diag.not_equal(0.0)?.cast(DType::I64).min()?.equal(1)?;
        c.require(ok.clone())?;
        where_(&ok, chol, &e)?
    };
    let diag = (&chol * &e)?.sum_axes(&[-1], false)?;
    let log_det = diag.abs().log().sum()?;
    let z = chol.solve_triangular(&(x - mu)?, false)?;
    let quad = z.square().sum_axes(&[-1], false)?;
    (quad * -0.5)? - (log_det + k as f64 * HALF_LN_2PI)?
}

/// mu + L z for standard normal draws `z` (event axis last).
pub(super) fn sample(mu: &Var, chol: &Var, z: &Var) -> Result<Var> {
    mu + z.matmul(&chol.cast(z.dtype()).t())?
}

/// The lower Cholesky factor of a constant symmetric positive definite
/// matrix (float64 arithmetic, the matrix's dtype), or an error naming the
/// first pivot that is not positive.
pub fn cholesky(cov: &Tensor) -> Result<Var> {
    let k = match cov.shape() {
        &[a, b] if a == b && a > 0 => a,
        s => {
            return Err(Error::shape(format!(
                "cholesky: needs a non-empty square matrix, got shape {s:?}"
            )));
        }
    };
    let a = cov.to_f64_vec();
    if let Some((i, j)) = (0..k)
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .find(|&(i, j)| a[i * k + j] != a[j * k + i])
    {
        return Err(Error::value(format!(
            "cholesky: the matrix is not symmetric: [{i}, {j}] = {} but [{j}, {i}] = {}",
            a[i * k + j],
            a[j * k + i]
        )));
    }
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = (0..j).map(|m| l[i * k + m] * l[j * k + m]).sum();
            if i == j {
                let d = a[i * k + i] - s;
                if !(d > 0.0 && d.is_finite()) {
                    return Err(Error::value(format!(
                        "cholesky: the matrix is not positive definite (pivot {i} is {d})"
                    )));
                }
                l[i * k + i] = d.sqrt();
            } else {
                l[i * k + j] = (a[i * k + j] - s) / l[j * k + j];
            }
        }
    }
    Ok(constant(Tensor::new(l, &[k, k])?.cast(cov.dtype())))
}
