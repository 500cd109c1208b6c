//! Transforms from an unconstrained real to a distribution's support, with
//! the log-Jacobian terms that make a density on the unconstrained value
//! (what ADVI fits): log p_u(u) = log p_x(f(u)) + log |f'(u)|.
//! All are elementwise but `Simplex`, which maps k - 1 reals to a point of
//! the k-simplex along the last axis.

use theon_tensor::{Result, Var};

#[derive(Clone, Debug)]
pub enum Transform {
    /// x = exp(u) for positive variables.
    Log,
    /// x = sigmoid(u) for the unit interval.
    LogOdds,
    /// x = lower + (upper - lower) sigmoid(u).
    Interval { lower: Var, upper: Var },
    /// PyMC's `simplex`: x = softmax([u, -Σu]) along the last axis, so u
    /// has one entry fewer than x.
    Simplex,
}

impl Transform {
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Log => "log",
            Transform::LogOdds => "logodds",
            Transform::Interval { .. } => "interval",
            Transform::Simplex => "simplex",
        }
    }

    /// Unconstrained to constrained.
    pub fn forward(&self, u: &Var) -> Result<Var> {
        match self {
            Transform::Log => Ok(u.exp()),
            Transform::LogOdds => Ok(u.sigmoid()),
            Transform::Interval { lower, upper } => lower + ((upper - lower)? * u.sigmoid())?,
            Transform::Simplex => simplex_logits(u)?.softmax(-1),
        }
    }

    /// Constrained to unconstrained.
    pub fn backward(&self, x: &Var) -> Result<Var> {
        let logit = |p: Var| -> Result<Var> { p.log() - (-p).log1p() };
        match self {
            Transform::Log => Ok(x.log()),
            Transform::LogOdds => logit(x.clone()),
            Transform::Interval { lower, upper } => logit(((x - lower)? / (upper - lower)?)?),
            Transform::Simplex => {
                // log x minus its mean sums to 0, so its last entry is
                // minus the sum of the others: drop it.
                let lx = x.log();
                let centred = (&lx - lx.mean_axes(&[-1], true)?)?;
                let k = x.static_shape().last().copied().flatten().unwrap_or(1) as i64;
                centred.slice_axis(-1, 0..k - 1)
            }
        }
    }

    /// The unconstrained value's shape for a value of `shape`.
    pub fn unconstrained_shape(&self, shape: &[usize]) -> Vec<usize> {
        let mut s = shape.to_vec();
        if let (Transform::Simplex, Some(last)) = (self, s.last_mut()) {
            *last = last.saturating_sub(1);
        }
        s
    }

    /// log |d forward / du|: elementwise, or per vector for `Simplex`.
    pub fn log_jacobian(&self, u: &Var) -> Result<Var> {
        let logistic = || u.log_sigmoid() + (-u).log_sigmoid();
        match self {
            Transform::Log => Ok(u.clone()),
            Transform::LogOdds => logistic(),
            Transform::Interval { lower, upper } => (upper - lower)?.log() + logistic()?,
            // The Jacobian of x_1..x_{k-1} is diag(x') - x'x'^T times
            // (I + 11^T): determinant k Π x_i, and Σ log x_i = -k lse(w).
            Transform::Simplex => {
                let w = simplex_logits(u)?;
                let k = w.static_shape().last().copied().flatten().unwrap_or(1) as f64;
                let lse = w.exp().sum_axes(&[-1], false)?.log();
                (lse * -k)? + k.ln()
            }
        }
    }
}

/// [u, -Σu] along the last axis.
fn simplex_logits(u: &Var) -> Result<Var> {
    Var::concatenate(&[u.clone(), -u.sum_axes(&[-1], true)?], -1)
}
