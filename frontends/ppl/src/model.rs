//! `Model`: named random variables whose joint log-probability is an
//! expression.
//!
//! A free variable is a symbolic placeholder for its value (users build
//! expressions with it: `x.dot(&w)`); an observed variable ties a
//! distribution to data. ADVI, sampling and `sample_node` substitute values
//! for the placeholders. Model handles are cheap clones of shared state.

use crate::dist::{Continuous, Discrete, Dist, IntoParam, Prob, Support};
use crate::transform::Transform;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use theon_compiler::types::{broadcast_shapes, fmt_dims};
use theon_tensor::{
    DType, Error, Result, Tensor, TensorType, Unused, Var, clone_replace_with, constant,
    shared_resizable,
};

#[derive(Clone, Debug)]
pub(crate) enum RvKind {
    Free {
        shape: Vec<usize>,
        transform: Option<Transform>,
        init: Option<Tensor>,
    },
    Observed {
        data: Var,
        total_size: Option<usize>,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct RvEntry {
    pub name: String,
    pub dist: Dist,
    /// The placeholder of a free variable's value; the data of an observed one.
    pub var: Var,
    pub kind: RvKind,
}

#[derive(Default)]
pub(crate) struct State {
    pub dtype: Option<DType>,
    pub rvs: Vec<RvEntry>,
    pub deterministics: Vec<(String, Var)>,
    /// Extra log-probability terms (PyMC's `Potential`), summed.
    pub potentials: Vec<(String, Var)>,
    pub data: Vec<(String, Var)>,
    /// Errors from builder calls that cannot return one (`init`, `observed`);
    /// reported by the next fallible model operation.
    pub pending: Vec<Error>,
}

/// A probabilistic model.
#[derive(Clone, Default)]
pub struct Model(Arc<Mutex<State>>);

/// A random variable of a model; derefs to its expression (the value
/// placeholder for a free variable, the data for an observed one).
#[derive(Clone)]
pub struct Rv {
    model: Model,
    index: usize,
    var: Var,
}

impl Deref for Rv {
    type Target = Var;
    fn deref(&self) -> &Var {
        &self.var
    }
}

impl std::fmt::Debug for Rv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rv({} {})", self.name(), self.var.ty())
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        let names: Vec<&str> = st.rvs.iter().map(|r| r.name.as_str()).collect();
        write!(f, "Model[{}]", names.join(", "))
    }
}

impl std::borrow::Borrow<Var> for Rv {
    fn borrow(&self) -> &Var {
        &self.var
    }
}

/// Observed data: an expression (a `Data` container, a minibatch) or a tensor.
pub enum Observed {
    Var(Var),
    Tensor(Tensor),
}
impl From<&Var> for Observed {
    fn from(v: &Var) -> Self {
        Observed::Var(v.clone())
    }
}
impl From<Var> for Observed {
    fn from(v: Var) -> Self {
        Observed::Var(v)
    }
}
impl From<Tensor> for Observed {
    fn from(t: Tensor) -> Self {
        Observed::Tensor(t)
    }
}
impl From<&Tensor> for Observed {
    fn from(t: &Tensor) -> Self {
        Observed::Tensor(t.clone())
    }
}

/// The shape of a variable: `()` for the parameters' broadcast shape
/// (PyMC's default; a scalar for scalar parameters), or a static shape
/// `[2, 5]`, `&[2, 5][..]`, a Vec (`[]` is an explicit scalar).
pub struct Shape(pub Option<Vec<usize>>);
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(s: [usize; N]) -> Self {
        Shape(Some(s.to_vec()))
    }
}
impl From<&[usize]> for Shape {
    fn from(s: &[usize]) -> Self {
        Shape(Some(s.to_vec()))
    }
}
impl From<Vec<usize>> for Shape {
    fn from(s: Vec<usize>) -> Self {
        Shape(Some(s))
    }
}
impl From<()> for Shape {
    fn from(_: ()) -> Self {
        Shape(None)
    }
}

impl Rv {
    pub fn var(&self) -> &Var {
        &self.var
    }
    pub fn name(&self) -> String {
        self.model.lock().rvs[self.index].name.clone()
    }

    /// The initial value (PyMC's initval). A mismatch is reported by the
    /// next fallible model call; `try_init` reports it here.
    pub fn init(self, value: impl Into<Tensor>) -> Rv {
        let value = value.into();
        if let Err(e) = self.set_init(value) {
            self.model.lock().pending.push(e);
        }
        self
    }

    pub fn try_init(self, value: impl Into<Tensor>) -> Result<Rv> {
        self.set_init(value.into())?;
        Ok(self)
    }

    fn set_init(&self, value: Tensor) -> Result<()> {
        let mut st = self.model.lock();
        let dtype = st.dtype.unwrap_or(DType::F64);
        let e = &mut st.rvs[self.index];
        let name = e.name.clone();
        match &mut e.kind {
            RvKind::Free { shape, init, .. } => {
                if value.shape() != shape.as_slice() {
                    return Err(Error::shape(format!(
                        "init of '{name}' has shape {:?}, the variable has shape {:?}",
                        value.shape(),
                        shape
                    )));
                }
                if value.to_f64_vec().iter().any(|v| !v.is_finite()) {
                    return Err(Error::value(format!(
                        "init of '{name}' has a non-finite value"
                    )));
                }
                *init = Some(value.cast(dtype));
                Ok(())
            }
            RvKind::Observed { .. } => Err(Error::model(format!(
                "'{name}' is observed; only free variables have an init"
            ))),
        }
    }

    /// Observe the variable: its value is `data`. Shape mismatches are
    /// reported by the next fallible model call (`try_observed` reports here).
    pub fn observed(self, data: impl Into<Observed>) -> Rv {
        let model = self.model.clone();
        match self.clone().try_observed(data) {
            Ok(rv) => rv,
            Err(e) => {
                model.lock().pending.push(e);
                self
            }
        }
    }

    pub fn try_observed(self, data: impl Into<Observed>) -> Result<Rv> {
        let mut st = self.model.lock();
        let dtype = st.dtype.unwrap_or(DType::F64);
        let e = &mut st.rvs[self.index];
        let data = match data.into() {
            Observed::Var(v) => v,
            Observed::Tensor(t) => {
                if t.to_f64_vec().iter().any(|v| v.is_nan()) {
                    return Err(Error::value(format!(
                        "observed data of '{}' contains NaN",
                        e.name
                    )));
                }
                constant(t.cast(if t.dtype().is_float() {
                    dtype
                } else {
                    t.dtype()
                }))
            }
        };
        let pshape = e.dist.param_shape()?;
        let fits = broadcast_shapes("", &[&pshape, data.static_shape()])
            .ok()
            .is_some_and(|b| {
                b.len() == data.rank()
                    && b.iter()
                        .zip(data.static_shape())
                        .all(|(a, d)| d.is_none() || a == d)
            });
        if !fits {
            return Err(Error::shape(format!(
                "observed data of '{}' has shape {}, its {} has parameters of shape {}",
                e.name,
                fmt_dims(data.static_shape()),
                e.dist.name(),
                fmt_dims(&pshape)
            )));
        }
        e.kind = RvKind::Observed {
            data: data.clone(),
            total_size: None,
        };
        e.var = data.clone();
        drop(st);
        Ok(Rv {
            model: self.model,
            index: self.index,
            var: data,
        })
    }

    /// The size of the full data set when the observed data is a minibatch:
    /// the log-likelihood is scaled by total_size / batch size.
    pub fn total_size(self, n: usize) -> Rv {
        let mut st = self.model.lock();
        let name = st.rvs[self.index].name.clone();
        match &mut st.rvs[self.index].kind {
            RvKind::Observed { total_size, .. } => *total_size = Some(n),
            RvKind::Free { .. } => st.pending.push(Error::model(format!(
                "total_size on '{name}': only observed variables scale"
            ))),
        }
        drop(st);
        self
    }
}

/// Constructors `fn(name, params.., shape)` for distributions whose
/// values have a shape of their own (parameters broadcast to it).
macro_rules! shaped {
    ($($(#[$doc:meta])* $fn:ident($($p:ident),*) => $family:ident::$variant:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $fn(&self, name: &str, $($p: impl IntoParam,)* shape: impl Into<Shape>) -> Result<Rv> {
            let dt = self.dtype();
            self.free(name, $family::$variant { $($p: $p.into_param(dt)),* }.into(), shape)
        }
    )*};
}

/// Constructors `fn(name, params..)` for distributions whose values take
/// the parameters' shape.
macro_rules! param_shaped {
    ($($(#[$doc:meta])* $fn:ident($($p:ident),*) => $family:ident::$variant:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $fn(&self, name: &str, $($p: impl IntoParam),*) -> Result<Rv> {
            let dt = self.dtype();
            self.add(name, $family::$variant { $($p: $p.into_param(dt)),* }.into(), None)
        }
    )*};
}

impl Model {
    pub fn new() -> Model {
        Model::default()
    }

    /// A model computing in `dtype` (float32 or float64; float64 by default).
    pub fn with_dtype(dtype: DType) -> Result<Model> {
        if !dtype.is_float() {
            return Err(Error::dtype(format!(
                "a model computes in float32 or float64, not {dtype}"
            )));
        }
        let m = Model::new();
        m.lock().dtype = Some(dtype);
        Ok(m)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn dtype(&self) -> DType {
        self.lock().dtype.unwrap_or(DType::F64)
    }

    /// Errors recorded by builder calls, first one first.
    pub fn check(&self) -> Result<()> {
        match self.lock().pending.first() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn claim(&self, st: &State, name: &str) -> Result<()> {
        let taken = st.rvs.iter().any(|r| r.name == name)
            || st.deterministics.iter().any(|(n, _)| n == name)
            || st.potentials.iter().any(|(n, _)| n == name)
            || st.data.iter().any(|(n, _)| n == name);
        if taken {
            return Err(Error::model(format!(
                "the model already has a variable named '{name}'"
            )));
        }
        Ok(())
    }

    /// A data container (PyMC's `pm.Data`): a shared variable whose first
    /// axis may change with `set_data`.
    pub fn data(&self, name: &str, value: impl Into<Tensor>) -> Result<Var> {
        let value = value.into();
        let mut st = self.lock();
        self.claim(&st, name)?;
        check_data(name, &value)?;
        let dt = if value.dtype().is_float() {
            st.dtype.unwrap_or(DType::F64)
        } else {
            value.dtype()
        };
        let fixed: Vec<usize> = (1..value.rank()).collect();
        let v = shared_resizable(name, value.cast(dt), &fixed);
        st.data.push((name.to_string(), v.clone()));
        Ok(v)
    }

    /// Replace the value of a data container (new rows allowed).
    pub fn set_data(&self, name: &str, value: impl Into<Tensor>) -> Result<()> {
        let st = self.lock();
        let (_, v) = st
            .data
            .iter()
            .find(|(n, _)| n == name)
            .ok_or_else(|| Error::model(format!("the model has no data container '{name}'")))?;
        let value = value.into();
        check_data(name, &value)?;
        let value = if value.dtype().is_float() {
            value.cast(v.dtype())
        } else {
            value
        };
        v.set_value(value)
    }

    /// Add a variable of a distribution and shape (free until observed).
    pub fn free(&self, name: &str, dist: Dist, shape: impl Into<Shape>) -> Result<Rv> {
        self.add(name, dist, shape.into().0)
    }

    fn add(&self, name: &str, dist: Dist, shape: Option<Vec<usize>>) -> Result<Rv> {
        let dt = self.dtype();
        let mut st = self.lock();
        self.claim(&st, name)?;
        dist.validate()
            .map_err(|e| e.context(format!("'{name}'")))?;
        let pshape = dist
            .param_shape()
            .map_err(|e| e.context(format!("'{name}'")))?;
        let shape = match shape {
            Some(s) => {
                let dims: theon_runtime::Dims<Option<usize>> = s.iter().map(|&d| Some(d)).collect();
                let b = broadcast_shapes("", &[&pshape, &dims]).ok();
                if b.as_ref() != Some(&dims) {
                    return Err(Error::shape(format!(
                        "'{name}': parameters of shape {} do not broadcast to the shape {}",
                        fmt_dims(&pshape),
                        fmt_dims(&dims)
                    )));
                }
                s
            }
            // Unknown sizes (parameters on resizable data) are fine for a
            // variable that will be observed; fit rejects a free one.
            None => pshape
                .iter()
                .map(|d| d.unwrap_or(1))
                .collect::<Vec<usize>>(),
        };
        // A size that could never be allocated is an error here, not an
        // abort later (initial values, q's parameters, draws).
        let n =
            theon_runtime::alloc::try_numel(&shape).map_err(|e| e.context(format!("'{name}'")))?;
        theon_runtime::alloc::try_bytes(n, dt).map_err(|e| e.context(format!("'{name}'")))?;
        let var = Var::input(name, TensorType::fixed(dt, &shape));
        let transform = dist.default_transform();
        st.rvs.push(RvEntry {
            name: name.to_string(),
            dist,
            var: var.clone(),
            kind: RvKind::Free {
                shape,
                transform,
                init: None,
            },
        });
        Ok(Rv {
            model: self.clone(),
            index: st.rvs.len() - 1,
            var,
        })
    }

    shaped! {
        /// Normal(mu, sigma).
        normal(mu, sigma) => Continuous::Normal,
        /// HalfNormal(sigma) on x >= 0.
        half_normal(sigma) => Continuous::HalfNormal,
        /// LogNormal(mu, sigma): log x ~ Normal(mu, sigma).
        log_normal(mu, sigma) => Continuous::LogNormal,
        /// StudentT(nu, mu, sigma).
        student_t(nu, mu, sigma) => Continuous::StudentT,
        /// HalfStudentT(nu, sigma) on x >= 0.
        half_student_t(nu, sigma) => Continuous::HalfStudentT,
        /// Cauchy(alpha, beta): location alpha, scale beta.
        cauchy(alpha, beta) => Continuous::Cauchy,
        /// HalfCauchy(beta) on x >= 0.
        half_cauchy(beta) => Continuous::HalfCauchy,
        /// Laplace(mu, b).
        laplace(mu, b) => Continuous::Laplace,
        /// Uniform(lower, upper).
        uniform(lower, upper) => Continuous::Uniform,
        /// Beta(alpha, beta) on [0, 1].
        beta(alpha, beta) => Continuous::Beta,
        /// Gamma(alpha, beta) with rate beta.
        gamma(alpha, beta) => Continuous::Gamma,
        /// InverseGamma(alpha, beta) with scale beta.
        inverse_gamma(alpha, beta) => Continuous::InverseGamma,
        /// Weibull(alpha, beta): shape alpha, scale beta.
        weibull(alpha, beta) => Continuous::Weibull,
        /// Exponential(lam).
        exponential(lam) => Continuous::Exponential,
    }

    param_shaped! {
        /// Dirichlet(a) over the last axis of `a` (free: the simplex transform).
        dirichlet(a) => Continuous::Dirichlet,
        /// MvNormal(mu, chol): mean `mu` (last axis k), covariance
        /// `chol chol^T` with `chol` the k x k lower Cholesky factor (as
        /// PyMC's `chol=`; its upper triangle is not read).
        mv_normal(mu, chol) => Continuous::MvNormal,
        /// Binomial(n, p).
        binomial(n, p) => Discrete::Binomial,
        /// Poisson(mu).
        poisson(mu) => Discrete::Poisson,
        /// NegativeBinomial(mu, alpha): mean mu, variance mu + mu^2 / alpha.
        negative_binomial(mu, alpha) => Discrete::NegativeBinomial,
    }

    /// MvNormal with a constant covariance matrix (factored here, once).
    pub fn mv_normal_cov(&self, name: &str, mu: impl IntoParam, cov: &Tensor) -> Result<Rv> {
        let chol = crate::dist::cholesky(cov).map_err(|e| e.context(format!("'{name}'")))?;
        self.mv_normal(name, mu, chol)
    }

    /// Bernoulli(p); the shape is the parameter's.
    pub fn bernoulli(&self, name: &str, p: impl IntoParam) -> Result<Rv> {
        let p = Prob::from_p(p.into_param(self.dtype()));
        self.add(name, Discrete::Bernoulli { p }.into(), None)
    }
    /// Bernoulli with logit-probability `logit_p`.
    pub fn bernoulli_logit(&self, name: &str, logit_p: impl IntoParam) -> Result<Rv> {
        let p = Prob::Logit(logit_p.into_param(self.dtype()));
        self.add(name, Discrete::Bernoulli { p }.into(), None)
    }
    /// Categorical with probabilities `p` along the last axis.
    pub fn categorical(&self, name: &str, p: impl IntoParam) -> Result<Rv> {
        let p = Prob::from_p(p.into_param(self.dtype()));
        self.add(name, Discrete::Categorical { p }.into(), None)
    }
    /// Categorical with logits along the last axis.
    pub fn categorical_logit(&self, name: &str, logit_p: impl IntoParam) -> Result<Rv> {
        let p = Prob::Logit(logit_p.into_param(self.dtype()));
        self.add(name, Discrete::Categorical { p }.into(), None)
    }

    /// A named function of other variables, recorded in traces.
    pub fn deterministic(&self, name: &str, expr: &Var) -> Result<Var> {
        let mut st = self.lock();
        self.claim(&st, name)?;
        let v = expr.clone().named(name);
        st.deterministics.push((name.to_string(), v.clone()));
        Ok(v)
    }

    /// A term added to the model's log-probability (PyMC's `Potential`):
    /// its elements are summed into the joint density, unscaled by
    /// minibatches, as a constraint or a custom likelihood. It must be a
    /// float expression of the model's variables.
    pub fn potential(&self, name: &str, expr: &Var) -> Result<Var> {
        if !expr.dtype().is_float() {
            return Err(Error::dtype(format!(
                "potential '{name}' must be a float expression, got {}",
                expr.ty()
            )));
        }
        let mut st = self.lock();
        self.claim(&st, name)?;
        let v = expr.clone().named(name);
        st.potentials.push((name.to_string(), v.clone()));
        Ok(v)
    }

    /// Potentials: (name, expression).
    pub fn potentials(&self) -> Vec<(String, Var)> {
        self.lock().potentials.clone()
    }

    /// Set the initial value of the free variable `name` (PyMC's
    /// `initvals`): where ADVI's q and NUTS's chains start. The value must
    /// have the variable's shape and be finite. This is how a layer's
    /// start made by `theon::nn` is overridden.
    pub fn set_initial(&self, name: &str, value: impl Into<Tensor>) -> Result<()> {
        let found = {
            let st = self.lock();
            st.rvs
                .iter()
                .position(|r| r.name == name)
                .map(|i| (i, st.rvs[i].var.clone()))
        };
        let Some((index, var)) = found else {
            return Err(Error::model(format!(
                "set_initial: the model has no free variable '{name}'"
            )));
        };
        Rv {
            model: self.clone(),
            index,
            var,
        }
        .set_init(value.into())
    }

    /// A variable (free, observed, deterministic or data) by name.
    pub fn var(&self, name: &str) -> Result<Var> {
        let st = self.lock();
        if let Some(r) = st.rvs.iter().find(|r| r.name == name) {
            return Ok(r.var.clone());
        }
        if let Some((_, v)) = st
            .deterministics
            .iter()
            .chain(&st.data)
            .find(|(n, _)| n == name)
        {
            return Ok(v.clone());
        }
        let mut names: Vec<&str> = st.rvs.iter().map(|r| r.name.as_str()).collect();
        names.extend(
            st.deterministics
                .iter()
                .chain(&st.data)
                .map(|(n, _)| n.as_str()),
        );
        Err(Error::model(format!(
            "the model has no variable '{name}' (it has: {})",
            names.join(", ")
        )))
    }

    /// Free variables: (name, value placeholder).
    pub fn free_vars(&self) -> Vec<(String, Var)> {
        self.lock()
            .rvs
            .iter()
            .filter(|r| matches!(r.kind, RvKind::Free { .. }))
            .map(|r| (r.name.clone(), r.var.clone()))
            .collect()
    }

    /// Deterministics: (name, expression).
    pub fn deterministics(&self) -> Vec<(String, Var)> {
        self.lock().deterministics.clone()
    }

    /// The data containers, by name.
    pub fn data_vars(&self) -> Vec<(String, Var)> {
        self.lock().data.clone()
    }

    pub(crate) fn entries(&self) -> Vec<RvEntry> {
        self.lock().rvs.clone()
    }

    /// The log-prior of the free variables and the log-likelihood of the
    /// observed ones (scaled for minibatches), as expressions of the free
    /// variables' placeholders. No Jacobian terms.
    pub fn logp_terms(&self) -> Result<(Var, Var)> {
        self.check()?;
        let dt = self.dtype();
        let mut prior = Var::scalar_const(0.0, dt);
        let mut lik = Var::scalar_const(0.0, dt);
        for r in self.entries() {
            let lp = r
                .dist
                .logp(&r.var)
                .map_err(|e| e.context(format!("'{}'", r.name)))?;
            let lp = lp.cast(dt).sum()?;
            match &r.kind {
                RvKind::Free { .. } => prior = (prior + lp)?,
                RvKind::Observed { data, total_size } => {
                    let lp = match total_size {
                        Some(n) => {
                            let batch = match data.static_shape().first() {
                                Some(Some(b)) => Var::scalar_const(*b as f64, dt),
                                Some(None) => data.dim(0)?.cast(dt),
                                None => Var::scalar_const(1.0, dt),
                            };
                            (lp * (Var::scalar_const(*n as f64, dt) / batch)?)?
                        }
                        None => lp,
                    };
                    lik = (lik + lp)?;
                }
            }
        }
        // As PyMC's datalogp: potentials with the likelihood, unscaled.
        for (name, v) in self.potentials() {
            let term = v
                .cast(dt)
                .sum()
                .map_err(|e| e.context(format!("potential '{name}'")))?;
            lik = (lik + term)?;
        }
        Ok((prior.named("varlogp"), lik.named("datalogp")))
    }

    /// The joint log-probability at the free variables' placeholders.
    pub fn logp(&self) -> Result<Var> {
        let (a, b) = self.logp_terms()?;
        Ok((a + b)?.named("logp"))
    }

    /// The initial value of each free variable (its `init`, or a point in
    /// the support: the constant mean or mode, else 0, 1 or 1/2; a Uniform
    /// with bounds that are expressions starts at their midpoint, evaluated
    /// at the earlier variables' initial values).
    pub fn initial_point(&self) -> Result<Vec<(String, Tensor)>> {
        self.check()?;
        let dt = self.dtype();
        let mut point: Vec<(String, Tensor)> = vec![];
        let mut known: Vec<(Var, Var)> = vec![];
        for r in self.entries() {
            let RvKind::Free { shape, init, .. } = r.kind else {
                continue;
            };
            let value = match (init, &r.dist) {
                (Some(t), _) => t,
                (None, Dist::Continuous(Continuous::Uniform { lower, upper }))
                    if lower.as_constant().is_none() || upper.as_constant().is_none() =>
                {
                    let mid = (((lower + upper)? * 0.5)? + Var::zeros(shape.clone(), dt)?)?;
                    let mid = clone_replace_with(&[mid], &known, Unused::Ignore)?.remove(0);
                    theon_tensor::function(theon_tensor::NO_INPUTS, &[&mid])
                        .and_then(|f| f.call::<Tensor>(&[]))
                        .map_err(|e| e.context(format!("the initial value of '{}'", r.name)))?
                        .remove(0)
                }
                (None, d) => d.default_init(&shape, dt)?,
            };
            known.push((r.var.clone(), constant(value.clone())));
            point.push((r.name, value));
        }
        Ok(point)
    }

    /// Replace placeholders in expressions (e.g. by values in a trace).
    /// (Placeholders the expressions do not use are ignored.)
    pub fn substitute(&self, exprs: &[Var], values: &[(Var, Var)]) -> Result<Vec<Var>> {
        clone_replace_with(exprs, values, Unused::Ignore)
    }

    /// Is every free variable continuous with a static shape (what ADVI needs)?
    pub(crate) fn check_continuous(&self) -> Result<()> {
        for r in self.entries() {
            if let RvKind::Free { .. } = &r.kind
                && r.dist.param_shape()?.contains(&None)
            {
                return Err(Error::shape(format!(
                    "free variable '{}': its parameters have shape {}, not known before running (do they depend on resizable data?)",
                    r.name,
                    fmt_dims(&r.dist.param_shape()?)
                )));
            }
            if matches!(r.kind, RvKind::Free { .. }) && r.dist.support() == Support::Discrete {
                return Err(Error::model(format!(
                    "'{}' is a free discrete variable ({}); ADVI needs continuous free variables (observe it)",
                    r.name,
                    r.dist.name()
                )));
            }
        }
        Ok(())
    }
}

/// The one rule for data (`data` and `set_data` alike): float data must be
/// finite. theon does not impute missing values (PyMC's NaN), and an
/// infinite observation makes every density -inf or NaN.
fn check_data(name: &str, value: &Tensor) -> Result<()> {
    if value.dtype().is_float()
        && let Some(bad) = value.iter_f64().find(|v| !v.is_finite())
    {
        return Err(Error::value(format!(
            "data '{name}' contains {bad}: data must be finite (theon does not impute missing values)"
        )));
    }
    Ok(())
}
