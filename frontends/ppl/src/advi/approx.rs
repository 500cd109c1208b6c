//! The fitted approximation: summaries, samples, and `sample_node` — the
//! posterior substituted into any expression of the model, vectorized over
//! draws, as an expression to compile.

use super::family::{Family, FreeVar, unconstrained};
use crate::model::Model;
use crate::trace::Trace;
use crate::transform::Transform;
use theon_tensor::{
    DType, Error, RandomStream, Result, Tensor, Unused, Var, clone_replace_with, constant,
    function, vectorize,
};

pub struct Approximation {
    model: Model,
    family: Family,
    vars: Vec<FreeVar>,
    rng: RandomStream,
    pub(crate) hist: Vec<f64>,
}

impl std::fmt::Debug for Approximation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let over = match self.family {
            Family::Grouped(_) => String::new(),
            _ => {
                let names: Vec<&str> = self.vars.iter().map(|v| v.name.as_str()).collect();
                format!(" over {}", names.join(", "))
            }
        };
        write!(
            f,
            "Approximation({}{over}; {} steps)",
            self.family.describe(),
            self.hist.len()
        )
    }
}

/// How many draws: a number, or a symbolic int64 scalar (a function input).
pub enum Size {
    /// A number of draws (negative ones are refused by `sample_node`).
    Fixed(i64),
    Sym(Var),
}
impl From<usize> for Size {
    fn from(n: usize) -> Self {
        Size::Fixed(i64::try_from(n).unwrap_or(i64::MAX))
    }
}
impl From<i32> for Size {
    fn from(n: i32) -> Self {
        Size::Fixed(n as i64)
    }
}
impl From<i64> for Size {
    fn from(n: i64) -> Self {
        Size::Fixed(n)
    }
}
impl From<&Var> for Size {
    fn from(v: &Var) -> Self {
        Size::Sym(v.clone())
    }
}
impl From<Var> for Size {
    fn from(v: Var) -> Self {
        Size::Sym(v)
    }
}

impl Approximation {
    pub(crate) fn new(
        model: Model,
        family: Family,
        vars: Vec<FreeVar>,
        rng: RandomStream,
        hist: Vec<f64>,
    ) -> Approximation {
        Approximation {
            model,
            family,
            vars,
            rng,
            hist,
        }
    }

    /// The loss at every step of the fit.
    pub fn hist(&self) -> &[f64] {
        &self.hist
    }
    pub fn family(&self) -> &Family {
        &self.family
    }
    pub fn model(&self) -> &Model {
        &self.model
    }
    /// The random stream of `sample`/`sample_node` (reseed to reproduce).
    pub fn rng(&self) -> &RandomStream {
        &self.rng
    }
    /// The free variables in the approximation's flat order.
    pub fn free_vars(&self) -> &[FreeVar] {
        &self.vars
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.vars
            .iter()
            .position(|v| v.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.vars.iter().map(|v| v.name.as_str()).collect();
                Error::model(format!(
                    "the approximation has no free variable '{name}' (it has: {})",
                    names.join(", ")
                ))
            })
    }

    /// Mean of q for a variable in unconstrained space (exact).
    pub fn mean_unconstrained(&self, name: &str) -> Result<Tensor> {
        self.family.mean_of(&self.vars, self.index(name)?)
    }

    /// Standard deviation of q for a variable in unconstrained space (exact).
    pub fn std_unconstrained(&self, name: &str) -> Result<Tensor> {
        self.family.std_of(&self.vars, self.index(name)?)
    }

    /// The covariance of q in unconstrained space (flat order): L Lᵀ for
    /// full rank, diagonal for mean-field, block-diagonal for groups.
    pub fn covariance(&self) -> Result<Tensor> {
        self.family.covariance(&self.vars)
    }

    /// Posterior mean of a variable in its own (constrained) space: exact
    /// for untransformed variables, by quadrature of q's marginals through
    /// log, logodds and constant-interval transforms (deterministic, to
    /// rounding), else from 4000 draws of a fixed stream (the same every
    /// call).
    pub fn mean(&self, name: &str) -> Result<Tensor> {
        let k = self.index(name)?;
        if self.vars[k].transform.is_none() {
            return self.mean_unconstrained(name);
        }
        match self.transformed_moments(k)? {
            Some((mean, _)) => Ok(mean),
            None => self.fixed_draws(|a| a.sample(4000)?.mean(name)),
        }
    }

    /// Posterior standard deviation in the constrained space (as `mean`).
    pub fn std(&self, name: &str) -> Result<Tensor> {
        let k = self.index(name)?;
        if self.vars[k].transform.is_none() {
            return self.std_unconstrained(name);
        }
        match self.transformed_moments(k)? {
            Some((_, sd)) => Ok(sd),
            None => self.fixed_draws(|a| a.sample(4000)?.std(name)),
        }
    }

    /// Elementwise (mean, sd) of variable `k` in its constrained space,
    /// when its transform is a fixed function of one coordinate.
    fn transformed_moments(&self, k: usize) -> Result<Option<(Tensor, Tensor)>> {
        let v = &self.vars[k];
        let splat = |x: &Var| {
            x.as_constant()
                .filter(|t| t.len() == 1)
                .and_then(|t| t.item::<f64>().ok())
        };
        let sigmoid = |u: f64| theon_runtime::Float::sigmoid(u);
        let f: Box<dyn Fn(f64) -> f64> = match &v.transform {
            Some(Transform::Log) => Box::new(f64::exp),
            Some(Transform::LogOdds) => Box::new(sigmoid),
            Some(Transform::Interval { lower, upper }) => match (splat(lower), splat(upper)) {
                (Some(l), Some(u)) => Box::new(move |x| l + (u - l) * sigmoid(x)),
                _ => return Ok(None),
            },
            // Not a function of one coordinate: from draws.
            Some(Transform::Simplex) | None => return Ok(None),
        };
        let mu = self.mean_unconstrained(&v.name)?;
        let sd = self.std_unconstrained(&v.name)?;
        let (means, sds): (Vec<f64>, Vec<f64>) = mu
            .iter_f64()
            .zip(sd.iter_f64())
            .map(|(m, s)| super::quadrature::moments(&f, m, s))
            .unzip();
        let dt = mu.dtype();
        Ok(Some((
            Tensor::new(means, mu.shape())?.cast(dt),
            Tensor::new(sds, mu.shape())?.cast(dt),
        )))
    }

    /// Run `f` with the approximation's stream at a fixed state, then put
    /// the stream back: estimates that draw are the same every call.
    fn fixed_draws<R>(&self, f: impl FnOnce(&Self) -> Result<R>) -> Result<R> {
        let state = self.rng.state();
        let saved = state.rng_state()?;
        state.set_rng_state(theon_runtime::random::RngState::new(0x5eed_cafe))?;
        let r = f(self);
        state.set_rng_state(saved)?;
        r
    }

    /// The free variables' constrained values: batched draws, or the mean.
    fn values(&self, size: Option<&Var>, deterministic: bool) -> Result<Vec<(Var, Var)>> {
        let dt = self.family.params()[0].dtype();
        let un = unconstrained(&self.vars, dt)?;
        let (draws, _) = self
            .family
            .draw(&self.vars, &self.rng, size, deterministic)?;
        let repl: Vec<(Var, Var)> = un.u.iter().cloned().zip(draws).collect();
        let xs = match size {
            None => clone_replace_with(&un.x, &repl, Unused::Ignore)?,
            Some(n) => vectorize(&un.x, &repl, n)?,
        };
        Ok(self
            .vars
            .iter()
            .map(|v| v.placeholder.clone())
            .zip(xs)
            .collect())
    }

    /// `expr` with every free variable replaced by draws from q, a new
    /// leading axis of `size` draws: one vectorized expression (batched
    /// products, no per-draw loop). Compile it with `function`; each call
    /// draws afresh from the approximation's random stream.
    pub fn sample_node(&self, expr: &Var, size: impl Into<Size>) -> Result<Var> {
        let n = match size.into() {
            // As `sample`: at least one draw.
            Size::Fixed(k) if k <= 0 => {
                return Err(Error::value(format!(
                    "sample_node: the number of draws must be positive, got {k}"
                )));
            }
            Size::Fixed(k) => constant(Tensor::scalar(k)),
            Size::Sym(v) => {
                if v.rank() != 0 || !v.dtype().is_int() {
                    return Err(Error::shape(format!(
                        "sample_node: the size must be an integer scalar, got {}",
                        v.ty()
                    )));
                }
                v.cast(DType::I64)
            }
        };
        let repl = self.values(Some(&n), false)?;
        Ok(vectorize(std::slice::from_ref(expr), &repl, &n)?.remove(0))
    }

    /// `expr` at the mean of q (the deterministic option).
    pub fn mean_node(&self, expr: &Var) -> Result<Var> {
        let repl = self.values(None, true)?;
        Ok(clone_replace_with(std::slice::from_ref(expr), &repl, Unused::Ignore)?.remove(0))
    }

    /// `draws` draws of every free variable and deterministic, by name.
    pub fn sample(&self, draws: usize) -> Result<Trace> {
        if draws == 0 {
            return Err(Error::value("sample: draws must be positive"));
        }
        let n = constant(Tensor::scalar(draws as i64));
        let repl = self.values(Some(&n), false)?;
        let mut names: Vec<String> = self.vars.iter().map(|v| v.name.clone()).collect();
        let mut outs: Vec<Var> = repl.iter().map(|(_, v)| v.clone()).collect();
        let dets = self.model.deterministics();
        if !dets.is_empty() {
            let exprs: Vec<Var> = dets.iter().map(|(_, e)| e.clone()).collect();
            outs.extend(vectorize(&exprs, &repl, &n)?);
            names.extend(dets.into_iter().map(|(n, _)| n));
        }
        let f = function(theon_tensor::NO_INPUTS, &outs)?;
        let values = f.call::<Tensor>(&[])?;
        Trace::new(draws, names.into_iter().zip(values).collect())
    }
}
