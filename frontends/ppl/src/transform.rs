//! Transforms from an unconstrained real to a distribution's support, with
//! the log-Jacobian terms that make a density on the unconstrained value
//! (what ADVI fits): log p_u(u) = log p_x(f(u)) + log |f'(u)|.

use theon_tensor::{Result, Var};

#[derive(Clone, Debug)]
pub enum Transform {
    /// x = exp(u) for positive variables.
    Log,
    /// x = sigmoid(u) for the unit interval.
    LogOdds,
    /// x = lower + (upper - lower) sigmoid(u).
    Interval { lower: Var, upper: Var },
}

impl Transform {
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Log => "log",
            Transform::LogOdds => "logodds",
            Transform::Interval { .. } => "interval",
        }
    }

    /// Unconstrained to constrained.
    pub fn forward(&self, u: &Var) -> Result<Var> {
        match self {
            Transform::Log => Ok(u.exp()),
            Transform::LogOdds => Ok(u.sigmoid()),
            Transform::Interval { lower, upper } => lower + ((upper - lower)? * u.sigmoid())?,
        }
    }

    /// Constrained to unconstrained.
    pub fn backward(&self, x: &Var) -> Result<Var> {
        let logit = |p: Var| -> Result<Var> { p.log() - (-p).log1p() };
        match self {
            Transform::Log => Ok(x.log()),
            Transform::LogOdds => logit(x.clone()),
            Transform::Interval { lower, upper } => logit(((x - lower)? / (upper - lower)?)?),
        }
    }

    /// Elementwise log |d forward / du|.
    pub fn log_jacobian(&self, u: &Var) -> Result<Var> {
        let logistic = || u.log_sigmoid() + (-u).log_sigmoid();
        match self {
            Transform::Log => Ok(u.clone()),
            Transform::LogOdds => logistic(),
            Transform::Interval { lower, upper } => (upper - lower)?.log() + logistic()?,
        }
    }
}
