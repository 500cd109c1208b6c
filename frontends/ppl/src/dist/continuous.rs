//! Continuous distributions: log-densities and draws.

use super::{Dist, bound, not_float};
use theon_tensor::{DType, Result, Var, where_};

/// 0.5 ln(2π)
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// c * log(x), with 0 where c is 0 (0 * log 0 would be NaN).
pub(crate) fn xlogy(c: &Var, logx: &Var) -> Result<Var> {
    where_(&c.equal(0.0)?, 0.0, (c * logx)?)
}

fn is_const(v: &Var) -> bool {
    v.as_constant().is_some()
}

/// `logp`, -inf where `param > 0` fails (only checked for expressions;
/// constants were validated when the distribution was made).
fn positive(logp: Var, params: &[&Var]) -> Result<Var> {
    let mut logp = logp;
    for p in params.iter().filter(|p| !is_const(p)) {
        logp = bound(logp, p.gt(0.0)?)?;
    }
    Ok(logp)
}

pub fn logp(d: &Dist, x: &Var) -> Result<Var> {
    if !x.dtype().is_float() {
        return Err(not_float(d.name(), "the value", x));
    }
    match d {
        Dist::Normal { mu, sigma } => {
            let z = ((x - mu)? / sigma)?;
            let lp = (((z.square() * -0.5)? - sigma.log())? - HALF_LN_2PI)?;
            positive(lp, &[sigma])
        }
        Dist::HalfNormal { sigma } => {
            // log(2/π)/2 - log σ - x²/(2σ²), x >= 0
            let c = 0.5 * (2.0 / std::f64::consts::PI).ln();
            let lp = ((((x / sigma)?.square() * -0.5)? - sigma.log())? + c)?;
            positive(bound(lp, x.ge(0.0)?)?, &[sigma])
        }
        Dist::StudentT { nu, mu, sigma } => {
            let half = |v: Var| v * 0.5;
            let np1 = half((nu + 1.0)?)?;
            let z2 = ((x - mu)? / sigma)?.square();
            let lp = (((np1.lgamma() - half(nu.clone())?.lgamma())?
                - ((nu * std::f64::consts::PI)?.log() * 0.5)?)?
                - sigma.log())?;
            let tail = (np1 * (z2 / nu)?.log1p())?;
            positive((lp - tail)?, &[nu, sigma])
        }
        Dist::Laplace { mu, b } => {
            let lp = ((-(b * 2.0)?.log()) - ((x - mu)?.abs() / b)?)?;
            positive(lp, &[b])
        }
        Dist::Uniform { lower, upper } => {
            let lp = -(upper - lower)?.log();
            let inside = x.ge(lower)?.logical_and(&x.le(upper)?)?;
            let lp = (lp + x.zeros_like())?;
            let lp = bound(lp, inside)?;
            if is_const(lower) && is_const(upper) {
                Ok(lp)
            } else {
                bound(lp, upper.gt(lower)?)
            }
        }
        Dist::Beta { alpha, beta } => {
            let lbeta = ((alpha.lgamma() + beta.lgamma())? - (alpha + beta)?.lgamma())?;
            let lp = ((xlogy(&(alpha - 1.0)?, &x.log())?
                + xlogy(&(beta - 1.0)?, &(-x).log1p())?)?
                - lbeta)?;
            let inside = x.ge(0.0)?.logical_and(&x.le(1.0)?)?;
            positive(bound(lp, inside)?, &[alpha, beta])
        }
        Dist::Gamma { alpha, beta } => {
            let lp =
                (((alpha * &beta.log())? - alpha.lgamma())? + xlogy(&(alpha - 1.0)?, &x.log())?)?;
            let lp = (lp - (beta * x)?)?;
            positive(bound(lp, x.ge(0.0)?)?, &[alpha, beta])
        }
        Dist::Exponential { lam } => {
            let lp = (lam.log() - (lam * x)?)?;
            positive(bound(lp, x.ge(0.0)?)?, &[lam])
        }
        _ => unreachable!("discrete distributions are in discrete.rs"),
    }
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
            let (g1, g2) = (gamma(alpha)?, gamma(beta)?);
            &g1 / (&g1 + &g2)?
        }
        Dist::Gamma { alpha, beta } => gamma(alpha)? / beta,
        Dist::Exponential { lam } => (-(-uniform()?).log1p()) / lam,
        _ => unreachable!("discrete distributions are in discrete.rs"),
    }
}
