//! Discrete distributions: log-masses and draws. Values may be floats or
//! integers; a value outside the support (not an integer in range) has
//! log-mass -inf.

use super::continuous::{Checks, is_const, xlog1my, xlogy};
use super::{Dist, Prob, bound};
use theon_tensor::{DType, Result, Tensor, Var, constant, where_};

/// `x` holds an integer value.
fn integral(x: &Var) -> Result<Var> {
    if !x.dtype().is_float() {
        return x.equal(x);
    }
    x.cast(DType::I64).cast(x.dtype()).equal(x)
}

/// A probability in [0, 1] (checked when it is an expression).
fn unit(c: &mut Checks, p: &Var) -> Result<Var> {
    c.param(p, |p| p.ge(0.0)?.logical_and(&p.le(1.0)?), 0.5)
}

/// Probabilities' logs and log-complements.
fn log_probs(c: &mut Checks, p: &Prob) -> Result<(Var, Var)> {
    Ok(match p {
        Prob::P(p) => {
            let p = unit(c, p)?;
            (p.log(), (-&p).log1p())
        }
        Prob::Logit(l) => (l.log_sigmoid(), (-l).log_sigmoid()),
    })
}

/// Parameters given as expressions are checked as PyMC's
/// `check_parameters` does: a value outside the parameter space gives -inf
/// (a finite or positive log-mass there is something an optimizer could
/// exploit).
pub fn logp(d: &Dist, x: &Var) -> Result<Var> {
    let xf = if x.dtype().is_float() {
        x.clone()
    } else {
        x.cast(DType::F64)
    };
    let mut c = Checks::default();
    let lp = match d {
        Dist::Bernoulli { p } => {
            let (lp, lq) = log_probs(&mut c, p)?;
            let is_one = xf.equal(1.0)?;
            let v = where_(&is_one, &lp, &lq)?;
            bound(v, is_one.logical_or(&xf.equal(0.0)?)?)?
        }
        Dist::Binomial { n, p } => {
            let n = c.param(n, |n| n.ge(0.0)?.logical_and(&integral(n)?), 0.0)?;
            let p = unit(&mut c, p)?;
            let k = xf.cast(n.dtype());
            let log_choose =
                ((((&n + 1.0)?.lgamma()) - (&k + 1.0)?.lgamma())? - ((&n - &k)? + 1.0)?.lgamma())?;
            let lp = ((log_choose + xlogy(&k, &p)?)? + xlog1my(&(&n - &k)?, &p)?)?;
            let ok = k
                .ge(0.0)?
                .logical_and(&k.le(&n)?)?
                .logical_and(&integral(&xf)?)?;
            bound(lp, ok)?
        }
        Dist::Categorical { p } => {
            let logp = match p {
                Prob::P(p) if is_const(p) => p.log(),
                Prob::P(p) => {
                    // Each in [0, 1] and the sum 1 (to 1e-5, as `isclose`,
                    // or to what k roundings of the dtype allow, if more);
                    // elsewhere a uniform safe point.
                    let k = p.static_shape().last().copied().flatten().unwrap_or(1);
                    let eps = if p.dtype() == DType::F32 {
                        f32::EPSILON as f64
                    } else {
                        f64::EPSILON
                    };
                    let tol = 1e-5f64.max(4.0 * k as f64 * eps);
                    let in_unit = p.ge(0.0)?.logical_and(&p.le(1.0)?)?;
                    let all_in = in_unit.cast(DType::I64).min_axes(&[-1], true)?.equal(1)?;
                    let sums_to_one = (p.sum_axes(&[-1], true)? - 1.0)?.abs().le(tol)?;
                    let ok = all_in.logical_and(&sums_to_one)?;
                    c.require(ok.squeeze(&[-1])?)?;
                    where_(&ok, p, 1.0 / k as f64)?.log()
                }
                Prob::Logit(l) => l.log_softmax(-1)?,
            };
            let k = logp
                .static_shape()
                .last()
                .copied()
                .flatten()
                .ok_or_else(|| {
                    theon_tensor::Error::shape(
                        "Categorical: the number of categories (last axis of p) must be known",
                    )
                })?;
            let cats = constant(Tensor::arange(0.0, k as f64, 1.0)?.cast(xf.dtype()));
            let hit = xf.expand_dims(-1)?.equal(&cats)?;
            let picked = where_(&hit, &logp, 0.0)?.sum_axes(&[-1], false)?;
            let any = hit.cast(DType::I64).sum_axes(&[-1], false)?.equal(1)?;
            bound(picked, any)?
        }
        Dist::Poisson { mu } => {
            let mu = c.param(mu, |mu| mu.ge(0.0), 1.0)?;
            let k = xf.cast(mu.dtype());
            let lp = ((xlogy(&k, &mu)? - &mu)? - (&k + 1.0)?.lgamma())?;
            bound(lp, k.ge(0.0)?.logical_and(&integral(&xf)?)?)?
        }
        _ => unreachable!("continuous distributions are in continuous.rs"),
    };
    c.finish(lp)
}

pub fn sample(
    d: &Dist,
    rng: &theon_tensor::RandomStream,
    shape: &Var,
    dtype: DType,
) -> Result<Var> {
    let sh = shape.clone();
    match d {
        Dist::Bernoulli { p } => {
            let p = match p {
                Prob::P(p) => p.clone(),
                Prob::Logit(l) => l.sigmoid(),
            };
            Ok(rng.uniform(sh, p.dtype())?.lt(&p)?.cast(dtype))
        }
        Dist::Binomial { n, p } => {
            rng.binomial(&n.cast(DType::F64), &p.cast(DType::F64), sh, dtype)
        }
        Dist::Categorical { p } => {
            // Gumbel-max: argmax(log p + g), g = -log(-log u).
            let logp = match p {
                Prob::P(p) => p.log(),
                Prob::Logit(l) => l.clone(),
            };
            let k = logp.static_shape().last().copied().flatten().unwrap_or(1);
            let full = Var::concatenate(&[sh, constant(Tensor::vector(vec![k as i64]))], 0)?;
            let u = rng.uniform(full, logp.dtype())?;
            let g = -(-u.log()).log();
            Ok((logp + g)?.argmax(Some(-1), false)?.cast(dtype))
        }
        Dist::Poisson { mu } => rng.poisson(&mu.cast(DType::F64), sh, dtype),
        _ => unreachable!("continuous distributions are in continuous.rs"),
    }
}
