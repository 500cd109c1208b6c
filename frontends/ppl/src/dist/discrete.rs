//! Discrete distributions: parameters, checks, log-masses and draws.
//! Values may be floats or integers; a value outside the support (not an
//! integer in range) has log-mass -inf.

use super::checks::{Checks, is_const, simplex_check, xlog1my, xlogy};
use super::{Prob, bound, check_const};
use theon_tensor::{DType, Error, Result, Tensor, Var, constant, where_};

#[derive(Clone, Debug)]
pub enum Discrete {
    Bernoulli {
        p: Prob,
    },
    Binomial {
        n: Var,
        p: Var,
    },
    /// Probabilities (or logits) along the last axis.
    Categorical {
        p: Prob,
    },
    Poisson {
        mu: Var,
    },
    /// Mean `mu`, dispersion `alpha` (PyMC's parametrization): variance
    /// mu + mu² / alpha; a Poisson whose rate is Gamma(alpha, alpha / mu).
    NegativeBinomial {
        mu: Var,
        alpha: Var,
    },
}

fn prob(p: &Prob) -> (&'static str, &Var) {
    match p {
        Prob::P(v) => ("p", v),
        Prob::Logit(v) => ("logit_p", v),
    }
}

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

impl Discrete {
    pub fn name(&self) -> &'static str {
        match self {
            Discrete::Bernoulli { .. } => "Bernoulli",
            Discrete::Binomial { .. } => "Binomial",
            Discrete::Categorical { .. } => "Categorical",
            Discrete::Poisson { .. } => "Poisson",
            Discrete::NegativeBinomial { .. } => "NegativeBinomial",
        }
    }

    /// The parameters' expressions, with their names.
    pub fn named_params(&self) -> Vec<(&'static str, &Var)> {
        match self {
            Discrete::Bernoulli { p } | Discrete::Categorical { p } => vec![prob(p)],
            Discrete::Binomial { n, p } => vec![("n", n), ("p", p)],
            Discrete::Poisson { mu } => vec![("mu", mu)],
            Discrete::NegativeBinomial { mu, alpha } => vec![("mu", mu), ("alpha", alpha)],
        }
    }

    /// Check constant parameters (p in [0, 1], ...).
    pub fn validate(&self) -> Result<()> {
        let n = self.name();
        let unit = |v: &Var, what: &str| {
            check_const(
                n,
                what,
                v,
                |x| (0.0..=1.0).contains(&x),
                "must be in [0, 1]",
            )
        };
        let pos = |v: &Var, what: &str| check_const(n, what, v, |x| x > 0.0, "must be > 0");
        match self {
            Discrete::Bernoulli { p: Prob::P(p) } => unit(p, "p"),
            Discrete::Categorical { p: Prob::P(p) } => {
                unit(p, "p")?;
                if let Some(t) = p.as_constant() {
                    let k = *t.shape().last().unwrap_or(&1);
                    for row in t.to_f64_vec().chunks(k.max(1)) {
                        let s: f64 = row.iter().sum();
                        if (s - 1.0).abs() > 1e-6 {
                            return Err(Error::value(format!(
                                "Categorical: probabilities must sum to 1, a row sums to {s}"
                            )));
                        }
                    }
                }
                Ok(())
            }
            Discrete::Bernoulli { p: Prob::Logit(l) }
            | Discrete::Categorical { p: Prob::Logit(l) } => {
                check_const(n, "logit_p", l, f64::is_finite, "must be finite")
            }
            Discrete::Binomial { n: count, p } => {
                check_const(
                    n,
                    "n",
                    count,
                    |x| x >= 0.0 && x.fract() == 0.0,
                    "must be a non-negative integer",
                )?;
                unit(p, "p")
            }
            Discrete::Poisson { mu } => check_const(n, "mu", mu, |x| x >= 0.0, "must be >= 0"),
            Discrete::NegativeBinomial { mu, alpha } => {
                pos(mu, "mu")?;
                pos(alpha, "alpha")
            }
        }
    }

    /// Parameters given as expressions are checked as PyMC's
    /// `check_parameters` does: a value outside the parameter space gives
    /// -inf (a finite or positive log-mass there is something an optimizer
    /// could exploit).
    pub fn logp(&self, x: &Var) -> Result<Var> {
        let xf = if x.dtype().is_float() {
            x.clone()
        } else {
            x.cast(DType::F64)
        };
        let mut c = Checks::default();
        let lp = match self {
            Discrete::Bernoulli { p } => {
                let (lp, lq) = log_probs(&mut c, p)?;
                let is_one = xf.equal(1.0)?;
                let v = where_(&is_one, &lp, &lq)?;
                bound(v, is_one.logical_or(&xf.equal(0.0)?)?)?
            }
            Discrete::Binomial { n, p } => {
                let n = c.param(n, |n| n.ge(0.0)?.logical_and(&integral(n)?), 0.0)?;
                let p = unit(&mut c, p)?;
                let k = xf.cast(n.dtype());
                let log_choose = ((((&n + 1.0)?.lgamma()) - (&k + 1.0)?.lgamma())?
                    - ((&n - &k)? + 1.0)?.lgamma())?;
                let lp = ((log_choose + xlogy(&k, &p)?)? + xlog1my(&(&n - &k)?, &p)?)?;
                let ok = k
                    .ge(0.0)?
                    .logical_and(&k.le(&n)?)?
                    .logical_and(&integral(&xf)?)?;
                bound(lp, ok)?
            }
            Discrete::Categorical { p } => {
                let logp = match p {
                    Prob::P(p) if is_const(p) => p.log(),
                    Prob::P(p) => {
                        // Elsewhere than on the simplex: a uniform safe point.
                        let k = p.static_shape().last().copied().flatten().unwrap_or(1);
                        let ok = simplex_check(p, k)?;
                        c.require(ok.clone())?;
                        where_(&ok.expand_dims(-1)?, p, 1.0 / k as f64)?.log()
                    }
                    Prob::Logit(l) => l.log_softmax(-1)?,
                };
                let k = logp
                    .static_shape()
                    .last()
                    .copied()
                    .flatten()
                    .ok_or_else(|| {
                        Error::shape(
                            "Categorical: the number of categories (last axis of p) must be known",
                        )
                    })?;
                let cats = constant(Tensor::arange(0.0, k as f64, 1.0)?.cast(xf.dtype()));
                let hit = xf.expand_dims(-1)?.equal(&cats)?;
                let picked = where_(&hit, &logp, 0.0)?.sum_axes(&[-1], false)?;
                let any = hit.cast(DType::I64).sum_axes(&[-1], false)?.equal(1)?;
                bound(picked, any)?
            }
            Discrete::Poisson { mu } => {
                let mu = c.param(mu, |mu| mu.ge(0.0), 1.0)?;
                let k = xf.cast(mu.dtype());
                let lp = ((xlogy(&k, &mu)? - &mu)? - (&k + 1.0)?.lgamma())?;
                bound(lp, k.ge(0.0)?.logical_and(&integral(&xf)?)?)?
            }
            Discrete::NegativeBinomial { mu, alpha } => {
                // lgamma(x + α) - lgamma(α) - lgamma(x + 1)
                //   - α log1p(μ / α) + x log μ - x log(α + μ)
                let mu = c.positive(mu)?;
                let alpha = c.positive(alpha)?;
                let k = xf.cast(mu.dtype());
                let ok = k.ge(0.0)?.logical_and(&integral(&xf)?)?;
                let k = where_(&ok, &k, 0.0)?;
                let norm = (((&k + &alpha)?.lgamma() - alpha.lgamma())? - (&k + 1.0)?.lgamma())?;
                let rates = ((-(&alpha * (&mu / &alpha)?.log1p())?) + xlogy(&k, &mu)?)?;
                let lp = ((norm + rates)? - (&k * (&alpha + &mu)?.log())?)?;
                bound(lp, ok)?
            }
        };
        c.finish(lp)
    }

    /// Random draws of `shape` (an int64 vector; the parameters broadcast to it).
    pub fn sample(
        &self,
        rng: &theon_tensor::RandomStream,
        shape: &Var,
        dtype: DType,
    ) -> Result<Var> {
        let sh = shape.clone();
        match self {
            Discrete::Bernoulli { p } => {
                let p = match p {
                    Prob::P(p) => p.clone(),
                    Prob::Logit(l) => l.sigmoid(),
                };
                Ok(rng.uniform(sh, p.dtype())?.lt(&p)?.cast(dtype))
            }
            Discrete::Binomial { n, p } => {
                rng.binomial(&n.cast(DType::F64), &p.cast(DType::F64), sh, dtype)
            }
            Discrete::Categorical { p } => {
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
            Discrete::Poisson { mu } => rng.poisson(&mu.cast(DType::F64), sh, dtype),
            Discrete::NegativeBinomial { mu, alpha } => {
                // Poisson(Gamma(alpha, rate alpha / mu)).
                let a = alpha.cast(DType::F64);
                let g = rng.gamma(&a, sh.clone(), DType::F64)?;
                let rate = ((g * &mu.cast(DType::F64))? / &a)?;
                rng.poisson(&rate, sh, dtype)
            }
        }
    }
}
