//! The pieces every density is built from: parameter and support checks
//! with their "double where" (so gradients stay finite where a check
//! fails), and the 0 log 0 = 0 products.

use super::bound;
use theon_tensor::{Result, Var, where_};

/// c * log(y), with 0 where c is 0 and y is 0 or inf (0 log 0 = 0, and
/// a zero power of an infinite value is 1). The log is taken of a safe y
/// there, so the gradient w.r.t. c is log y wherever y is positive and
/// finite (a `where(c == 0, 0, c log y)` would drop it at c = 0: Gamma and
/// Beta at alpha = 1) and no NaN reaches either gradient.
pub(crate) fn xlogy(c: &Var, y: &Var) -> Result<Var> {
    let edge = y.equal(0.0)?.logical_or(&y.equal(f64::INFINITY)?)?;
    let zero = c.equal(0.0)?.logical_and(&edge)?;
    c * where_(&zero, 1.0, y)?.log()
}

/// c * log(1 - y), with 0 where c is 0 and y is 1 (as `xlogy`).
pub(crate) fn xlog1my(c: &Var, y: &Var) -> Result<Var> {
    let zero = c.equal(0.0)?.logical_and(&y.equal(1.0)?)?;
    c * (-where_(&zero, 0.0, y)?).log1p()
}

pub(crate) fn is_const(v: &Var) -> bool {
    v.as_constant().is_some()
}

/// The checks of a density, and the "double where" that goes with them:
/// where a check fails, the density is computed at a safe point instead
/// (so it and its gradients stay finite there), and `finish` makes it -inf.
/// `bound` alone would leave NaN gradients: the unselected branch's zero
/// cotangent times an infinite partial derivative.
#[derive(Default)]
pub(crate) struct Checks {
    ok: Option<Var>,
}

impl Checks {
    /// `v` where `cond`, else `safe`; records the check.
    pub(crate) fn guard(&mut self, v: &Var, cond: Var, safe: f64) -> Result<Var> {
        let out = where_(&cond, v, safe)?;
        self.require(cond)?;
        Ok(out)
    }
    /// Records a check (of the density's shape or broadcastable to it).
    pub(crate) fn require(&mut self, cond: Var) -> Result<()> {
        self.ok = Some(match self.ok.take() {
            Some(ok) => ok.logical_and(&cond)?,
            None => cond,
        });
        Ok(())
    }
    /// A parameter that must satisfy `valid` (safe point `safe`);
    /// constants were checked when the distribution was made, so only
    /// expressions cost a check.
    pub(crate) fn param(
        &mut self,
        p: &Var,
        valid: impl FnOnce(&Var) -> Result<Var>,
        safe: f64,
    ) -> Result<Var> {
        if is_const(p) {
            return Ok(p.clone());
        }
        self.guard(p, valid(p)?, safe)
    }
    /// A parameter that must be > 0.
    pub(crate) fn positive(&mut self, p: &Var) -> Result<Var> {
        self.param(p, |p| p.gt(0.0), 1.0)
    }
    /// -inf wherever a check failed.
    pub(crate) fn finish(self, logp: Var) -> Result<Var> {
        match self.ok {
            Some(ok) => bound(logp, ok),
            None => Ok(logp),
        }
    }
}

/// Per vector along the last axis (of `k` entries): every entry in [0, 1]
/// and the sum 1, to 1e-5 (as `isclose`) or to what k roundings of the
/// dtype allow, if more.
pub(crate) fn simplex_check(p: &Var, k: usize) -> Result<Var> {
    let eps = if p.dtype() == theon_tensor::DType::F32 {
        f32::EPSILON as f64
    } else {
        f64::EPSILON
    };
    let tol = 1e-5f64.max(4.0 * k as f64 * eps);
    let in_unit = p.ge(0.0)?.logical_and(&p.le(1.0)?)?;
    let all_in = in_unit
        .cast(theon_tensor::DType::I64)
        .min_axes(&[-1], false)?
        .equal(1)?;
    let sums_to_one = (p.sum_axes(&[-1], false)? - 1.0)?.abs().le(tol)?;
    all_in.logical_and(&sums_to_one)
}
