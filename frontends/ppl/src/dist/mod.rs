//! Distributions: exact log-densities (normalizing constants included),
//! supports, default transforms, and draws for predictive sampling.
//!
//! A distribution holds its parameters as expressions, so they may depend
//! on other random variables (hierarchical models). Parameters that are
//! constants are checked when the distribution is made.

mod continuous;
mod discrete;

use crate::transform::Transform;
use theon_tensor::{DType, Error, Result, Tensor, Var, constant, function, where_};

/// A probability given directly or through its logit.
#[derive(Clone, Debug)]
pub enum Prob {
    P(Var),
    Logit(Var),
}

impl Prob {
    /// A probability expression; `sigmoid(z)` is taken as the logit `z`
    /// (the same density, computed from z directly and always valid, so
    /// it needs no [0, 1] check).
    pub fn from_p(p: Var) -> Prob {
        if *p.op() == theon_compiler::Op::Unary(theon_compiler::UnaryOp::Sigmoid) {
            return Prob::Logit(p.inputs()[0].clone());
        }
        Prob::P(p)
    }
}

#[derive(Clone, Debug)]
pub enum Dist {
    Normal {
        mu: Var,
        sigma: Var,
    },
    HalfNormal {
        sigma: Var,
    },
    StudentT {
        nu: Var,
        mu: Var,
        sigma: Var,
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
    Exponential {
        lam: Var,
    },
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
}

/// Where a distribution puts its mass.
#[derive(Clone, Debug, PartialEq)]
pub enum Support {
    Real,
    Positive,
    UnitInterval,
    /// Between two constants.
    Interval(f64, f64),
    /// Between two expressions (a hierarchical uniform).
    SymbolicInterval,
    Discrete,
}

/// A parameter: a number (in the model's float dtype) or an expression.
pub trait IntoParam {
    fn into_param(self, dtype: DType) -> Var;
}
impl IntoParam for f64 {
    fn into_param(self, dtype: DType) -> Var {
        Var::scalar_const(self, dtype)
    }
}
impl IntoParam for i32 {
    fn into_param(self, dtype: DType) -> Var {
        Var::scalar_const(self as f64, dtype)
    }
}
impl IntoParam for &Var {
    fn into_param(self, dtype: DType) -> Var {
        self.cast(dtype)
    }
}
impl IntoParam for Var {
    fn into_param(self, dtype: DType) -> Var {
        self.cast(dtype)
    }
}
/// A tensor of parameters (a constant, in the model's dtype).
impl IntoParam for Tensor {
    fn into_param(self, dtype: DType) -> Var {
        constant(self.cast(dtype))
    }
}
impl IntoParam for &Tensor {
    fn into_param(self, dtype: DType) -> Var {
        constant(self.cast(dtype))
    }
}
/// A vector of parameters (a constant, in the model's dtype).
impl IntoParam for Vec<f64> {
    fn into_param(self, dtype: DType) -> Var {
        constant(Tensor::vector(self).cast(dtype))
    }
}
impl IntoParam for &crate::Rv {
    fn into_param(self, dtype: DType) -> Var {
        self.var().cast(dtype)
    }
}

/// -inf where `ok` is false, else `logp` (a support or parameter check).
pub(crate) fn bound(logp: Var, ok: Var) -> Result<Var> {
    where_(&ok, &logp, f64::NEG_INFINITY)
}

/// Check a constant parameter; expressions are checked at run time by the
/// density (which is -inf or NaN outside the parameter space).
pub(crate) fn check_const(
    dist: &str,
    what: &str,
    v: &Var,
    ok: impl Fn(f64) -> bool,
    rule: &str,
) -> Result<()> {
    if let Some(t) = v.as_constant()
        && let Some(bad) = t.to_f64_vec().into_iter().find(|x| !ok(*x))
    {
        return Err(Error::value(format!(
            "{dist}: {what} = {bad} is invalid ({rule})"
        )));
    }
    Ok(())
}

impl Dist {
    pub fn name(&self) -> &'static str {
        match self {
            Dist::Normal { .. } => "Normal",
            Dist::HalfNormal { .. } => "HalfNormal",
            Dist::StudentT { .. } => "StudentT",
            Dist::Laplace { .. } => "Laplace",
            Dist::Uniform { .. } => "Uniform",
            Dist::Beta { .. } => "Beta",
            Dist::Gamma { .. } => "Gamma",
            Dist::Exponential { .. } => "Exponential",
            Dist::Bernoulli { .. } => "Bernoulli",
            Dist::Binomial { .. } => "Binomial",
            Dist::Categorical { .. } => "Categorical",
            Dist::Poisson { .. } => "Poisson",
        }
    }

    /// The parameters' expressions.
    pub fn params(&self) -> Vec<&Var> {
        fn prob(p: &Prob) -> &Var {
            match p {
                Prob::P(v) | Prob::Logit(v) => v,
            }
        }
        match self {
            Dist::Normal { mu, sigma } => vec![mu, sigma],
            Dist::HalfNormal { sigma } => vec![sigma],
            Dist::StudentT { nu, mu, sigma } => vec![nu, mu, sigma],
            Dist::Laplace { mu, b } => vec![mu, b],
            Dist::Uniform { lower, upper } => vec![lower, upper],
            Dist::Beta { alpha, beta } | Dist::Gamma { alpha, beta } => vec![alpha, beta],
            Dist::Exponential { lam } => vec![lam],
            Dist::Bernoulli { p } | Dist::Categorical { p } => vec![prob(p)],
            Dist::Binomial { n, p } => vec![n, p],
            Dist::Poisson { mu } => vec![mu],
        }
    }

    /// Check constant parameters (sigma > 0, p in [0, 1], ...).
    pub fn validate(&self) -> Result<()> {
        let n = self.name();
        let pos = |v: &Var, what: &str| check_const(n, what, v, |x| x > 0.0, "must be > 0");
        let unit = |v: &Var, what: &str| {
            check_const(
                n,
                what,
                v,
                |x| (0.0..=1.0).contains(&x),
                "must be in [0, 1]",
            )
        };
        let finite =
            |v: &Var, what: &str| check_const(n, what, v, f64::is_finite, "must be finite");
        match self {
            Dist::Normal { mu, sigma } => {
                finite(mu, "mu")?;
                pos(sigma, "sigma")
            }
            Dist::HalfNormal { sigma } => pos(sigma, "sigma"),
            Dist::StudentT { nu, mu, sigma } => {
                pos(nu, "nu")?;
                finite(mu, "mu")?;
                pos(sigma, "sigma")
            }
            Dist::Laplace { mu, b } => {
                finite(mu, "mu")?;
                pos(b, "b")
            }
            Dist::Uniform { lower, upper } => {
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
            Dist::Beta { alpha, beta } | Dist::Gamma { alpha, beta } => {
                pos(alpha, "alpha")?;
                pos(beta, "beta")
            }
            Dist::Exponential { lam } => pos(lam, "lam"),
            Dist::Bernoulli { p: Prob::P(p) } => unit(p, "p"),
            Dist::Categorical { p: Prob::P(p) } => {
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
            Dist::Bernoulli { p: Prob::Logit(l) } | Dist::Categorical { p: Prob::Logit(l) } => {
                finite(l, "logit_p")
            }
            Dist::Binomial { n, p } => {
                check_const(
                    "Binomial",
                    "n",
                    n,
                    |x| x >= 0.0 && x.fract() == 0.0,
                    "must be a non-negative integer",
                )?;
                unit(p, "p")
            }
            Dist::Poisson { mu } => check_const("Poisson", "mu", mu, |x| x >= 0.0, "must be >= 0"),
        }
    }

    pub fn support(&self) -> Support {
        let constant = |v: &Var| {
            v.as_constant()
                .filter(|t| t.len() == 1)
                .map(|t| t.to_f64_vec()[0])
        };
        match self {
            Dist::Normal { .. } | Dist::StudentT { .. } | Dist::Laplace { .. } => Support::Real,
            Dist::HalfNormal { .. } | Dist::Gamma { .. } | Dist::Exponential { .. } => {
                Support::Positive
            }
            Dist::Beta { .. } => Support::UnitInterval,
            Dist::Uniform { lower, upper } => match (constant(lower), constant(upper)) {
                (Some(l), Some(u)) => Support::Interval(l, u),
                _ => Support::SymbolicInterval,
            },
            Dist::Bernoulli { .. }
            | Dist::Binomial { .. }
            | Dist::Categorical { .. }
            | Dist::Poisson { .. } => Support::Discrete,
        }
    }

    /// The transform ADVI uses for a free variable of this distribution.
    pub fn default_transform(&self) -> Option<Transform> {
        match self {
            Dist::Uniform { lower, upper } => Some(Transform::Interval {
                lower: lower.clone(),
                upper: upper.clone(),
            }),
            _ => match self.support() {
                Support::Real | Support::Discrete | Support::SymbolicInterval => None,
                Support::Positive => Some(Transform::Log),
                Support::UnitInterval => Some(Transform::LogOdds),
                Support::Interval(..) => unreachable!("uniform handled above"),
            },
        }
    }

    /// Shape implied by the parameters (the event axis of Categorical excluded).
    pub fn param_shape(&self) -> Result<theon_runtime::Dims<Option<usize>>> {
        let shapes: Vec<&[Option<usize>]> =
            self.params().iter().map(|v| v.static_shape()).collect();
        let mut s = theon_compiler::types::broadcast_shapes(self.name(), &shapes)?;
        if let Dist::Categorical { .. } = self {
            s.pop();
        }
        Ok(s)
    }

    /// A sensible starting value in the support (PyMC's initial point):
    /// the mode or mean where it is a constant, else a point inside.
    pub fn default_init(&self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let c = |v: &Var| {
            v.as_constant()
                .filter(|t| t.len() == 1)
                .map(|t| t.to_f64_vec()[0])
        };
        let value = match self {
            Dist::Normal { mu, .. } | Dist::StudentT { mu, .. } | Dist::Laplace { mu, .. } => {
                c(mu).unwrap_or(0.0)
            }
            Dist::HalfNormal { sigma } => c(sigma).unwrap_or(1.0),
            Dist::Uniform { lower, upper } => {
                // The midpoint, elementwise for constant bounds of any shape
                // (symbolic bounds: the transform starts at its middle).
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
            Dist::Beta { alpha, beta } => match (c(alpha), c(beta)) {
                (Some(a), Some(b)) => a / (a + b),
                _ => 0.5,
            },
            Dist::Gamma { alpha, beta } => match (c(alpha), c(beta)) {
                (Some(a), Some(b)) => a / b,
                _ => 1.0,
            },
            Dist::Exponential { lam } => c(lam).map_or(1.0, |l| 1.0 / l),
            _ => 0.0,
        };
        Tensor::try_full(value, dtype, shape)
    }

    /// Elementwise log-density (or mass) of `x`, -inf outside the support.
    pub fn logp(&self, x: &Var) -> Result<Var> {
        match self {
            Dist::Bernoulli { .. }
            | Dist::Binomial { .. }
            | Dist::Categorical { .. }
            | Dist::Poisson { .. } => discrete::logp(self, x),
            _ => continuous::logp(self, x),
        }
    }

    /// Random draws of `shape` (an int64 vector; the parameters broadcast to it).
    pub fn sample(
        &self,
        rng: &theon_tensor::RandomStream,
        shape: &Var,
        dtype: DType,
    ) -> Result<Var> {
        match self {
            Dist::Bernoulli { .. }
            | Dist::Binomial { .. }
            | Dist::Categorical { .. }
            | Dist::Poisson { .. } => discrete::sample(self, rng, shape, dtype),
            _ => continuous::sample(self, rng, shape, dtype),
        }
    }
}

/// The element pairs of two constants broadcast against each other.
pub(crate) fn broadcast_pairs(a: &Tensor, b: &Tensor) -> Result<Vec<(f64, f64)>> {
    let (x, y) = (constant(a.clone()), constant(b.clone()));
    let pair = function(
        theon_tensor::NO_INPUTS,
        &[&(&x + &y.zeros_like())?, &(&y + &x.zeros_like())?],
    )?
    .call::<Tensor>(&[])?;
    Ok(pair[0].iter_f64().zip(pair[1].iter_f64()).collect())
}

/// An error for an expression that cannot be a parameter.
pub(crate) fn not_float(dist: &str, what: &str, v: &Var) -> Error {
    Error::dtype(format!("{dist}: {what} must be a float, got {}", v.ty()))
}
