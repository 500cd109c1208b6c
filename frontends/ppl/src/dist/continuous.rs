//! Continuous distributions: parameters, checks, supports, starting
//! points, log-densities and draws. Dirichlet and MvNormal have an event
//! axis (the last): one density per vector.

use super::checks::{Checks, is_const, simplex_check, xlog1my, xlogy};
use super::{Support, broadcast_pairs, check_const, not_float};
use theon_tensor::{DType, Error, Result, Tensor, Var, where_};

/// 0.5 ln(2π)
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;
const LN_PI: f64 = 1.144_729_885_849_400_2;

#[derive(Clone, Debug)]
pub enum Continuous {
    Normal {
        mu: Var,
        sigma: Var,
    },
    HalfNormal {
        sigma: Var,
    },
    LogNormal {
        mu: Var,
        sigma: Var,
    },
    StudentT {
        nu: Var,
        mu: Var,
        sigma: Var,
    },
    /// |StudentT(nu, 0, sigma)|.
    HalfStudentT {
        nu: Var,
        sigma: Var,
    },
    /// Location `alpha`, scale `beta` (PyMC's names).
    Cauchy {
        alpha: Var,
        beta: Var,
    },
    HalfCauchy {
        beta: Var,
    },
    Laplace {
        mu: Var,
        b: Var,
    },
    Uniform {
        lower: Var,
        upper: Var,
    },
    Beta {
        alpha: Var,
        beta: Var,
    },
    /// Shape `alpha`, rate `beta` (PyMC's parametrization).
    Gamma {
        alpha: Var,
        beta: Var,
    },
    /// Shape `alpha`, scale `beta`: 1 / Gamma(alpha, rate beta).
    InverseGamma {
        alpha: Var,
        beta: Var,
    },
    /// Shape `alpha`, scale `beta`.
    Weibull {
        alpha: Var,
        beta: Var,
    },
    Exponential {
        lam: Var,
    },
    /// Concentrations along the last axis; values on the simplex.
    Dirichlet {
        a: Var,
    },
    /// Mean along the last axis and the lower Cholesky factor of the
    /// covariance (`cov = chol chol^T`).
    MvNormal {
        mu: Var,
        chol: Var,
    },
}

impl Continuous {
    pub fn name(&self) -> &'static str {
        match self {
            Continuous::Normal { .. } => "Normal",
            Continuous::HalfNormal { .. } => "HalfNormal",
            Continuous::LogNormal { .. } => "LogNormal",
            Continuous::StudentT { .. } => "StudentT",
            Continuous::HalfStudentT { .. } => "HalfStudentT",
            Continuous::Cauchy { .. } => "Cauchy",
            Continuous::HalfCauchy { .. } => "HalfCauchy",
            Continuous::Laplace { .. } => "Laplace",
            Continuous::Uniform { .. } => "Uniform",
            Continuous::Beta { .. } => "Beta",
            Continuous::Gamma { .. } => "Gamma",
            Continuous::InverseGamma { .. } => "InverseGamma",
            Continuous::Weibull { .. } => "Weibull",
            Continuous::Exponential { .. } => "Exponential",
            Continuous::Dirichlet { .. } => "Dirichlet",
            Continuous::MvNormal { .. } => "MvNormal",
        }
    }

    /// The parameters' expressions, with their names.
    pub fn named_params(&self) -> Vec<(&'static str, &Var)> {
        use Continuous::*;
        match self {
            Normal { mu, sigma } | LogNormal { mu, sigma } => vec![("mu", mu), ("sigma", sigma)],
            HalfNormal { sigma } => vec![("sigma", sigma)],
            StudentT { nu, mu, sigma } => vec![("nu", nu), ("mu", mu), ("sigma", sigma)],
            HalfStudentT { nu, sigma } => vec![("nu", nu), ("sigma", sigma)],
            Cauchy { alpha, beta } => vec![("alpha", alpha), ("beta", beta)],
            HalfCauchy { beta } => vec![("beta", beta)],
            Laplace { mu, b } => vec![("mu", mu), ("b", b)],
            Uniform { lower, upper } => vec![("lower", lower), ("upper", upper)],
            Beta { alpha, beta }
            | Gamma { alpha, beta }
            | InverseGamma { alpha, beta }
            | Weibull { alpha, beta } => vec![("alpha", alpha), ("beta", beta)],
            Exponential { lam } => vec![("lam", lam)],
            Dirichlet { a } => vec![("a", a)],
            MvNormal { mu, chol } => vec![("mu", mu), ("chol", chol)],
        }
    }

    /// Check constant parameters (sigma > 0, ...).
    pub fn validate(&self) -> Result<()> {
        let n = self.name();
        let pos = |v: &Var, what: &str| check_const(n, what, v, |x| x > 0.0, "must be > 0");
        let finite =
            |v: &Var, what: &str| check_const(n, what, v, f64::is_finite, "must be finite");
        use Continuous::*;
        match self {
            Normal { mu, sigma } | LogNormal { mu, sigma } => {
                finite(mu, "mu")?;
                pos(sigma, "sigma")
            }
            HalfNormal { sigma } => pos(sigma, "sigma"),
            StudentT { nu, mu, sigma } => {
                pos(nu, "nu")?;
                finite(mu, "mu")?;
                pos(sigma, "sigma")
            }
            HalfStudentT { nu, sigma } => {
                pos(nu, "nu")?;
                pos(sigma, "sigma")
            }
            Cauchy { alpha, beta } => {
                finite(alpha, "alpha")?;
                pos(beta, "beta")
            }
            HalfCauchy { beta } => pos(beta, "beta"),
            Laplace { mu, b } => {
                finite(mu, "mu")?;
                pos(b, "b")
            }
            Uniform { lower, upper } => {
                finite(lower, "lower")?;
                finite(upper, "upper")?;
                if let (Some(l), Some(u)) = (lower.as_constant(), upper.as_constant())
                    && broadcast_pairs(l, u)?.iter().any(|(a, b)| a >= b)
                {
                    return Err(Error::value(format!(
                        "Uniform: lower must be below upper, got {l} and {u}"
                    )));
                }
                Ok(())
            }
            Beta { alpha, beta }
            | Gamma { alpha, beta }
            | InverseGamma { alpha, beta }
            | Weibull { alpha, beta } => {
                pos(alpha, "alpha")?;
                pos(beta, "beta")
            }
            Exponential { lam } => pos(lam, "lam"),
            Dirichlet { a } => {
                if a.rank() == 0 {
                    return Err(Error::shape(
                        "Dirichlet: a must have a last (category) axis, got a scalar",
                    ));
                }
                pos(a, "a")
            }
            MvNormal { mu, chol } => {
                finite(mu, "mu")?;
                super::mv_normal::validate(mu, chol)
            }
        }
    }

    pub fn support(&self) -> Support {
        let constant = |v: &Var| {
            v.as_constant()
                .filter(|t| t.len() == 1)
                .map(|t| t.to_f64_vec()[0])
        };
        use Continuous::*;
        match self {
            Normal { .. } | StudentT { .. } | Laplace { .. } | Cauchy { .. } | MvNormal { .. } => {
                Support::Real
            }
            HalfNormal { .. }
            | LogNormal { .. }
            | HalfStudentT { .. }
            | HalfCauchy { .. }
            | Gamma { .. }
            | InverseGamma { .. }
            | Weibull { .. }
            | Exponential { .. } => Support::Positive,
            Beta { .. } => Support::UnitInterval,
            Dirichlet { .. } => Support::Simplex,
            Uniform { lower, upper } => match (constant(lower), constant(upper)) {
                (Some(l), Some(u)) => Support::Interval(l, u),
                _ => Support::SymbolicInterval,
            },
        }
    }

    /// Number of trailing axes one density covers (1 for vectors).
    pub fn event_rank(&self) -> usize {
        match self {
            Continuous::Dirichlet { .. } | Continuous::MvNormal { .. } => 1,
            _ => 0,
        }
    }

    /// A starting value in the support: the mode or mean where it is a
    /// constant, else a point inside.
    pub fn default_init(&self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let c = |v: &Var| {
            v.as_constant()
                .filter(|t| t.len() == 1)
                .map(|t| t.to_f64_vec()[0])
        };
        use Continuous::*;
        let value = match self {
            Normal { mu, .. } | StudentT { mu, .. } | Laplace { mu, .. } => c(mu).unwrap_or(0.0),
            Cauchy { alpha, .. } => c(alpha).unwrap_or(0.0),
            HalfNormal { sigma } | HalfStudentT { sigma, .. } => c(sigma).unwrap_or(1.0),
            HalfCauchy { beta } => c(beta).unwrap_or(1.0),
            // The median exp(mu).
            LogNormal { mu, .. } => c(mu).map_or(1.0, f64::exp),
            Uniform { lower, upper } => {
                // The midpoint, elementwise for constant bounds of any shape
                // (symbolic bounds: the model evaluates their midpoint).
                if let (Some(l), Some(u)) = (lower.as_constant(), upper.as_constant())
                    && let Ok(pairs) = broadcast_pairs(l, u)
                    && (pairs.len() == 1 || pairs.len() == shape.iter().product::<usize>())
                {
                    let mid: Vec<f64> = pairs.iter().map(|(a, b)| 0.5 * (a + b)).collect();
                    let full = if mid.len() == 1 {
                        vec![mid[0]; shape.iter().product()]
                    } else {
                        mid
                    };
                    if let Ok(t) = Tensor::new(full, shape) {
                        return Ok(t.cast(dtype));
                    }
                }
                0.5
            }
            Beta { alpha, beta } => match (c(alpha), c(beta)) {
                (Some(a), Some(b)) => a / (a + b),
                _ => 0.5,
            },
            Gamma { alpha, beta } => match (c(alpha), c(beta)) {
                (Some(a), Some(b)) => a / b,
                _ => 1.0,
            },
            // The mode beta / (alpha + 1).
            InverseGamma { alpha, beta } => match (c(alpha), c(beta)) {
                (Some(a), Some(b)) => b / (a + 1.0),
                _ => 1.0,
            },
            Weibull { beta, .. } => c(beta).unwrap_or(1.0),
            Exponential { lam } => c(lam).map_or(1.0, |l| 1.0 / l),
            // The centre of the simplex.
            Dirichlet { .. } => 1.0 / *shape.last().unwrap_or(&1) as f64,
            MvNormal { mu, .. } => {
                // The mean, repeated over the leading axes.
                if let Some(m) = mu.as_constant()
                    && let n = shape.iter().product::<usize>()
                    && !m.is_empty()
                    && n % m.len() == 0
                    && (m.len() == 1 || shape.last() == Some(&m.len()))
                {
                    let v = m.to_f64_vec();
                    let full: Vec<f64> = (0..n).map(|i| v[i % v.len()]).collect();
                    return Ok(Tensor::new(full, shape)?.cast(dtype));
                }
                0.0
            }
        };
        Tensor::try_full(value, dtype, shape)
    }

    /// Elementwise log-density of `x` (per vector for event rank 1), -inf
    /// outside the support or the parameter space.
    pub fn logp(&self, x: &Var) -> Result<Var> {
        if !x.dtype().is_float() {
            return Err(not_float(self.name(), "the value", x));
        }
        let mut c = Checks::default();
        use Continuous::*;
        let lp = match self {
            Normal { mu, sigma } => {
                let sigma = c.positive(sigma)?;
                let z = ((x - mu)? / &sigma)?;
                (((z.square() * -0.5)? - sigma.log())? - HALF_LN_2PI)?
            }
            HalfNormal { sigma } => {
                // log(2/π)/2 - log σ - x²/(2σ²), x >= 0
                let sigma = c.positive(sigma)?;
                let x = c.guard(x, x.ge(0.0)?, 0.0)?;
                let k = 0.5 * (2.0 / std::f64::consts::PI).ln();
                ((((&x / &sigma)?.square() * -0.5)? - sigma.log())? + k)?
            }
            LogNormal { mu, sigma } => {
                let sigma = c.positive(sigma)?;
                let x = c.guard(x, x.gt(0.0)?, 1.0)?;
                let lx = x.log();
                let z = ((&lx - mu)? / &sigma)?;
                ((((z.square() * -0.5)? - sigma.log())? - HALF_LN_2PI)? - lx)?
            }
            StudentT { nu, mu, sigma } => {
                let nu = c.positive(nu)?;
                let sigma = c.positive(sigma)?;
                student_t(&nu, &(x - mu)?.abs(), &sigma)?
            }
            HalfStudentT { nu, sigma } => {
                let nu = c.positive(nu)?;
                let sigma = c.positive(sigma)?;
                let x = c.guard(x, x.ge(0.0)?, 0.0)?;
                (student_t(&nu, &x, &sigma)? + std::f64::consts::LN_2)?
            }
            Cauchy { alpha, beta } => {
                let beta = c.positive(beta)?;
                let t = ((x - alpha)?.abs() / &beta)?;
                ((-(beta.log() + LN_PI)?) - log1p_square(&t)?)?
            }
            HalfCauchy { beta } => {
                let beta = c.positive(beta)?;
                let x = c.guard(x, x.ge(0.0)?, 0.0)?;
                let t = (&x / &beta)?;
                (((-(beta.log() + LN_PI)?) - log1p_square(&t)?)? + std::f64::consts::LN_2)?
            }
            Laplace { mu, b } => {
                let b = c.positive(b)?;
                ((-(&b * 2.0)?.log()) - ((x - mu)?.abs() / &b)?)?
            }
            Uniform { lower, upper } => {
                // Halves first: upper - lower overflows for bounds near ±f64::MAX.
                let width = ((upper * 0.5)? - (lower * 0.5)?)?;
                let width = if is_const(lower) && is_const(upper) {
                    width
                } else {
                    c.guard(&width, upper.gt(lower)?, 1.0)?
                };
                let inside = x.ge(lower)?.logical_and(&x.le(upper)?)?;
                c.guard(x, inside, 0.0)?;
                (-(width.log() + std::f64::consts::LN_2)? + x.zeros_like())?
            }
            Beta { alpha, beta } => {
                let alpha = c.positive(alpha)?;
                let beta = c.positive(beta)?;
                let x = c.guard(x, x.ge(0.0)?.logical_and(&x.le(1.0)?)?, 0.5)?;
                let lbeta = ((alpha.lgamma() + beta.lgamma())? - (&alpha + &beta)?.lgamma())?;
                ((xlogy(&(&alpha - 1.0)?, &x)? + xlog1my(&(&beta - 1.0)?, &x)?)? - lbeta)?
            }
            Gamma { alpha, beta } => {
                let alpha = c.positive(alpha)?;
                let beta = c.positive(beta)?;
                let x = c.guard(x, x.ge(0.0)?, 1.0)?;
                let lp =
                    (((&alpha * &beta.log())? - alpha.lgamma())? + xlogy(&(&alpha - 1.0)?, &x)?)?;
                (lp - (&beta * &x)?)?
            }
            InverseGamma { alpha, beta } => {
                // α log β - lgamma(α) - (α + 1) log x - β / x, x > 0.
                let alpha = c.positive(alpha)?;
                let beta = c.positive(beta)?;
                let x = c.guard(x, x.gt(0.0)?, 1.0)?;
                let lp =
                    (((&alpha * &beta.log())? - alpha.lgamma())? - ((&alpha + 1.0)? * x.log())?)?;
                (lp - (&beta / &x)?)?
            }
            Weibull { alpha, beta } => {
                // log α - log β + (α - 1) log z - z^α, z = x / β >= 0.
                let alpha = c.positive(alpha)?;
                let beta = c.positive(beta)?;
                let x = c.guard(x, x.ge(0.0)?, 1.0)?;
                let z = (&x / &beta)?;
                let lp = ((alpha.log() - beta.log())? + xlogy(&(&alpha - 1.0)?, &z)?)?;
                (lp - z.pow(&alpha)?)?
            }
            Exponential { lam } => {
                let lam = c.positive(lam)?;
                let x = c.guard(x, x.ge(0.0)?, 0.0)?;
                (lam.log() - (&lam * &x)?)?
            }
            Dirichlet { a } => {
                // Σ (a_i - 1) log x_i + lgamma(Σ a) - Σ lgamma(a_i) on the simplex.
                let a = if is_const(a) {
                    a.clone()
                } else {
                    let ok = a
                        .gt(0.0)?
                        .cast(DType::I64)
                        .min_axes(&[-1], false)?
                        .equal(1)?;
                    c.require(ok)?;
                    where_(&a.gt(0.0)?, a, 1.0)?
                };
                let k = x.static_shape().last().copied().flatten().unwrap_or(1);
                let on_simplex = simplex_check(x, k)?;
                let safe = where_(&on_simplex.expand_dims(-1)?, x, 1.0 / k as f64)?;
                c.require(on_simplex)?;
                let a_full = (&a + safe.zeros_like())?;
                let terms = xlogy(&(&a_full - 1.0)?, &safe)?.sum_axes(&[-1], false)?;
                let norm = (a_full.sum_axes(&[-1], false)?.lgamma()
                    - a_full.lgamma().sum_axes(&[-1], false)?)?;
                (terms + norm)?
            }
            MvNormal { mu, chol } => super::mv_normal::logp(&mut c, x, mu, chol)?,
        };
        c.finish(lp)
    }

    /// Random draws of `shape` (an int64 vector; event axis included).
    pub fn sample(
        &self,
        rng: &theon_tensor::RandomStream,
        shape: &Var,
        dtype: DType,
    ) -> Result<Var> {
        let sh = shape;
        let normal = || rng.normal(sh.clone(), dtype);
        let uniform = || rng.uniform(sh.clone(), dtype);
        let gamma =
            |alpha: &Var| -> Result<Var> { rng.gamma(&alpha.cast(dtype), sh.clone(), dtype) };
        // z / sqrt(chi2(nu) / nu), chi2(nu) = 2 Gamma(nu / 2).
        let student = |nu: &Var| -> Result<Var> {
            let chi2 = (gamma(&(nu * 0.5)?)? * 2.0)?;
            normal()? / (chi2 / nu)?.sqrt()
        };
        // The ratio of two standard normals is a standard Cauchy.
        let cauchy = || -> Result<Var> { normal()? / normal()? };
        use Continuous::*;
        match self {
            Normal { mu, sigma } => mu + (sigma * normal()?)?,
            HalfNormal { sigma } => sigma * normal()?.abs(),
            LogNormal { mu, sigma } => Ok((mu + (sigma * normal()?)?)?.exp()),
            StudentT { nu, mu, sigma } => mu + (sigma * student(nu)?)?,
            HalfStudentT { nu, sigma } => sigma * student(nu)?.abs(),
            Cauchy { alpha, beta } => alpha + (beta * cauchy()?)?,
            HalfCauchy { beta } => beta * cauchy()?.abs(),
            Laplace { mu, b } => {
                let c = (uniform()? - 0.5)?;
                let mag = (c.abs() * -2.0)?.log1p();
                mu - ((b * c.sign())? * mag)?
            }
            Uniform { lower, upper } => lower + ((upper - lower)? * uniform()?)?,
            Beta { alpha, beta } => {
                // g1 / (g1 + g2) = sigmoid(log g1 - log g2), with the gammas drawn
                // in log space: log G(a) = log G(a + 1) + log(U) / a (Marsaglia
                // and Tsang). Both gammas underflow to 0 for small concentrations
                // (0 / 0); their logs do not.
                let log_gamma = |a: &Var| -> Result<Var> {
                    let a = a.cast(dtype);
                    gamma(&(&a + 1.0)?)?.log() + (uniform()?.log() / &a)?
                };
                Ok((log_gamma(alpha)? - log_gamma(beta)?)?.sigmoid())
            }
            Gamma { alpha, beta } => gamma(alpha)? / beta,
            InverseGamma { alpha, beta } => beta / gamma(alpha)?,
            // beta (-log(1 - u))^(1 / alpha)
            Weibull { alpha, beta } => {
                let e = -(-uniform()?).log1p();
                beta * e.pow(alpha.reciprocal())?
            }
            Exponential { lam } => (-(-uniform()?).log1p()) / lam,
            Dirichlet { a } => {
                // Normalized gammas, from their logs (as Beta): softmax of
                // log G(a + 1) + log(U) / a along the category axis.
                let a = a.cast(dtype);
                let lg = (gamma(&(&a + 1.0)?)?.log() + (uniform()?.log() / &a)?)?;
                lg.softmax(-1)
            }
            MvNormal { mu, chol } => super::mv_normal::sample(mu, chol, &normal()?),
        }
    }
}

/// log1p(t²) for t >= 0; past t = 1 as 2 log t + log1p(1/t²), which does
/// not overflow with t² (x far in the tail). Each branch sees a safe t
/// where it is not taken.
fn log1p_square(t: &Var) -> Result<Var> {
    let big = t.gt(1.0)?;
    let tb = where_(&big, t, 2.0)?;
    let ts = where_(&big, 1.0, t)?;
    where_(
        &big,
        ((tb.log() * 2.0)? + tb.square().reciprocal().log1p())?,
        ts.square().log1p(),
    )
}

/// StudentT(nu, 0, sigma)'s log-density at |x - mu| = `d`.
fn student_t(nu: &Var, d: &Var, sigma: &Var) -> Result<Var> {
    let np1 = ((nu + 1.0)? * 0.5)?;
    let lp = (((np1.lgamma() - (nu * 0.5)?.lgamma())?
        - ((nu * std::f64::consts::PI)?.log() * 0.5)?)?
        - sigma.log())?;
    let t = (d / (sigma * &nu.sqrt())?)?;
    lp - (np1 * log1p_square(&t)?)?
}
