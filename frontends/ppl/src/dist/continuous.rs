//! Continuous distributions: log-densities and draws.

use super::{Dist, bound, not_float};
use theon_tensor::{DType, Result, Var, where_};

/// 0.5 ln(2π)
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

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

pub fn logp(d: &Dist, x: &Var) -> Result<Var> {
    if !x.dtype().is_float() {
        return Err(not_float(d.name(), "the value", x));
    }
    let mut c = Checks::default();
    let lp = match d {
        Dist::Normal { mu, sigma } => {
            let sigma = c.positive(sigma)?;
            let z = ((x - mu)? / &sigma)?;
            (((z.square() * -0.5)? - sigma.log())? - HALF_LN_2PI)?
        }
        Dist::HalfNormal { sigma } => {
            // log(2/π)/2 - log σ - x²/(2σ²), x >= 0
            let sigma = c.positive(sigma)?;
            let x = c.guard(x, x.ge(0.0)?, 0.0)?;
            let k = 0.5 * (2.0 / std::f64::consts::PI).ln();
            ((((&x / &sigma)?.square() * -0.5)? - sigma.log())? + k)?
        }
        Dist::StudentT { nu, mu, sigma } => {
            let nu = c.positive(nu)?;
            let sigma = c.positive(sigma)?;
            let half = |v: Var| v * 0.5;
            let np1 = half((&nu + 1.0)?)?;
            let lp = (((np1.lgamma() - half(nu.clone())?.lgamma())?
                - ((&nu * std::f64::consts::PI)?.log() * 0.5)?)?
                - sigma.log())?;
            // log1p(t²) with t = |x - mu| / (sigma sqrt(nu)); past t = 1 as
            // 2 log t + log1p(1/t²), which does not overflow with t² (x far
            // in the tail). Each branch sees a safe t where it is not taken.
            let t = ((x - mu)?.abs() / (&sigma * &nu.sqrt())?)?;
            let big = t.gt(1.0)?;
            let tb = where_(&big, &t, 2.0)?;
            let ts = where_(&big, 1.0, &t)?;
            let log1p_t2 = where_(
                &big,
                ((tb.log() * 2.0)? + tb.square().reciprocal().log1p())?,
                ts.square().log1p(),
            )?;
            (lp - (np1 * log1p_t2)?)?
        }
        Dist::Laplace { mu, b } => {
            let b = c.positive(b)?;
            ((-(&b * 2.0)?.log()) - ((x - mu)?.abs() / &b)?)?
        }
        Dist::Uniform { lower, upper } => {
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
        Dist::Beta { alpha, beta } => {
            let alpha = c.positive(alpha)?;
            let beta = c.positive(beta)?;
            let x = c.guard(x, x.ge(0.0)?.logical_and(&x.le(1.0)?)?, 0.5)?;
            let lbeta = ((alpha.lgamma() + beta.lgamma())? - (&alpha + &beta)?.lgamma())?;
            ((xlogy(&(&alpha - 1.0)?, &x)? + xlog1my(&(&beta - 1.0)?, &x)?)? - lbeta)?
        }
        Dist::Gamma { alpha, beta } => {
            let alpha = c.positive(alpha)?;
            let beta = c.positive(beta)?;
            let x = c.guard(x, x.ge(0.0)?, 1.0)?;
            let lp = (((&alpha * &beta.log())? - alpha.lgamma())? + xlogy(&(&alpha - 1.0)?, &x)?)?;
            (lp - (&beta * &x)?)?
        }
        Dist::Exponential { lam } => {
            let lam = c.positive(lam)?;
            let x = c.guard(x, x.ge(0.0)?, 0.0)?;
            (lam.log() - (&lam * &x)?)?
        }
        _ => unreachable!("discrete distributions are in discrete.rs"),
    };
    c.finish(lp)
}

pub fn sample(
    d: &Dist,
    rng: &theon_tensor::RandomStream,
    shape: &Var,
    dtype: DType,
) -> Result<Var> {
    let sh = shape;
    let normal = || rng.normal(sh.clone(), dtype);
    let uniform = || rng.uniform(sh.clone(), dtype);
    let gamma = |alpha: &Var| -> Result<Var> { rng.gamma(&alpha.cast(dtype), sh.clone(), dtype) };
    match d {
        Dist::Normal { mu, sigma } => mu + (sigma * normal()?)?,
        Dist::HalfNormal { sigma } => sigma * normal()?.abs(),
        Dist::StudentT { nu, mu, sigma } => {
            // z / sqrt(chi2(nu) / nu), chi2(nu) = 2 Gamma(nu / 2).
            let chi2 = (gamma(&(nu * 0.5)?)? * 2.0)?;
            let t = (normal()? / (chi2 / nu)?.sqrt())?;
            mu + (sigma * t)?
        }
        Dist::Laplace { mu, b } => {
            let c = (uniform()? - 0.5)?;
            let mag = (c.abs() * -2.0)?.log1p();
            mu - ((b * c.sign())? * mag)?
        }
        Dist::Uniform { lower, upper } => lower + ((upper - lower)? * uniform()?)?,
        Dist::Beta { alpha, beta } => {
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
        Dist::Gamma { alpha, beta } => gamma(alpha)? / beta,
        Dist::Exponential { lam } => (-(-uniform()?).log1p()) / lam,
        _ => unreachable!("discrete distributions are in discrete.rs"),
    }
}
