//! ADVI: fit a Gaussian in the unconstrained space of the free variables
//! by stochastic gradient descent on the negative ELBO.
//!
//! The objective is PyMC's: loss = -datalogp + logq - varlogp averaged over
//! `obj_n_mc` reparameterized draws, where varlogp includes the transforms'
//! log-Jacobians and logq is the Gaussian log density at the draws (from
//! the standard-normal draws, as PyMC computes it). One training step —
//! draw, loss, gradient, optimizer update — is one compiled function whose
//! state lives in shared variables.

mod approx;
mod callbacks;
pub(crate) mod family;
mod optimizer;
mod quadrature;

pub use approx::{Approximation, Size};
pub use callbacks::{Callback, CheckParametersConvergence, Control, Diff, FitInfo};
pub use family::{Family, FreeVar, Group};
pub use optimizer::Optimizer;

use crate::model::Model;
use family::{free_vars, unconstrained, unconstrained_init};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use theon_tensor::{
    CompileOptions, Error, Function, RandomStream, Result, Tensor, Unused, Var, clone_replace_with,
    compile, constant, function, grad, vectorize, where_,
};

/// Mean-field ADVI (PyMC's `pm.ADVI`); `FullRankAdvi::new()` for full rank.
pub struct Advi {
    full_rank: bool,
    seed: u64,
    obj_n_mc: usize,
    optimizer: Optimizer,
    progressbar: Option<bool>,
    callbacks: Vec<Box<dyn Callback>>,
    options: CompileOptions,
    start_sigma: Option<f64>,
    kl_warmup: usize,
    temperature: f64,
    full_rank_groups: Vec<Vec<String>>,
}

/// Full-rank ADVI (PyMC's `pm.FullRankADVI`): a Cholesky factor captures
/// correlations between the free variables.
pub struct FullRankAdvi;

impl FullRankAdvi {
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> Advi {
        Advi {
            full_rank: true,
            ..Advi::new()
        }
    }
}

impl Default for Advi {
    fn default() -> Self {
        Advi::new()
    }
}

impl Advi {
    pub fn new() -> Advi {
        Advi {
            full_rank: false,
            seed: 0,
            obj_n_mc: 1,
            optimizer: Optimizer::default(),
            progressbar: None,
            callbacks: vec![],
            options: CompileOptions::default(),
            start_sigma: None,
            kl_warmup: 0,
            temperature: 1.0,
            full_rank_groups: vec![],
        }
    }
    /// Fit the named free variables as one full-rank block, independent of
    /// the rest (PyMC's `pm.Group(names, vfam="fr")`): their correlations
    /// are captured at the cost of the block's size squared, while the
    /// other variables keep this method's family (mean-field for `Advi`,
    /// one more full-rank block for `FullRankAdvi`). May be called again
    /// for more blocks; a name must be a free variable, in one block.
    pub fn full_rank_group<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.full_rank_groups
            .push(names.into_iter().map(|s| s.as_ref().to_owned()).collect());
        self
    }
    /// Likelihood tempering: fit q to the tempered posterior
    /// p(w | D)_T ∝ p(D | w)^(1/T) p(w) (a "cold posterior" for T < 1),
    /// by weighting the prior and entropy terms of the loss by T (the
    /// same optimum as dividing the log-likelihood by T, on the
    /// likelihood's scale). T = 1 (the default) is the exact posterior;
    /// `hist` holds the weighted loss. Combines with `kl_warmup`
    /// (weight beta·T).
    pub fn temperature(mut self, t: f64) -> Self {
        self.temperature = t;
        self
    }
    /// KL warm-up (Bowman et al. 2016, Sønderby et al. 2016): for the first
    /// `steps` steps the prior and entropy terms of the loss are weighted
    /// by beta rising linearly from 1/steps to 1, so the likelihood shapes
    /// q before the prior pulls it in; from then on the loss is the
    /// negative ELBO. Off (0) by default; `hist` holds the weighted loss
    /// during the warm-up.
    pub fn kl_warmup(mut self, steps: usize) -> Self {
        self.kl_warmup = steps;
        self
    }
    /// The standard deviation q starts with for every variable
    /// (unconstrained space). PyMC's start: ln 2 mean-field, 1 full-rank.
    pub fn start_sigma(mut self, sigma: f64) -> Self {
        self.start_sigma = Some(sigma);
        self
    }
    /// Seed of the draws: the same seed gives bit-identical fits.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Draws per step for the ELBO estimate (default 1).
    pub fn obj_n_mc(mut self, n: usize) -> Self {
        self.obj_n_mc = n;
        self
    }
    pub fn optimizer(mut self, o: Optimizer) -> Self {
        self.optimizer = o;
        self
    }
    /// Show a progress bar (default: when stderr is a terminal).
    pub fn progressbar(mut self, show: bool) -> Self {
        self.progressbar = Some(show);
        self
    }
    /// How the step function is compiled (mode, rewrites, profiling).
    pub fn compile_options(mut self, options: CompileOptions) -> Self {
        self.options = options;
        self
    }
    /// Run `cb` every `cb.every()` steps; it may stop the fit.
    pub fn callback(mut self, cb: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(cb));
        self
    }
}

/// The positions in `vars` of each group's names; an unknown name, an
/// empty group or a name in two groups is an error naming it.
fn group_positions(vars: &[FreeVar], groups: &[Vec<String>]) -> Result<Vec<Vec<usize>>> {
    let mut seen: Vec<Option<usize>> = vec![None; vars.len()];
    let mut blocks = vec![];
    for (g, names) in groups.iter().enumerate() {
        if names.is_empty() {
            return Err(Error::value(format!(
                "full_rank_group {g}: the group names no variables"
            )));
        }
        let mut block = vec![];
        for name in names {
            let k = vars.iter().position(|v| &v.name == name).ok_or_else(|| {
                let all: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
                Error::model(format!(
                    "full_rank_group {g}: '{name}' is not a free variable of the model (it has: {})",
                    all.join(", ")
                ))
            })?;
            if let Some(first) = seen[k].replace(g) {
                return Err(Error::value(format!(
                    "full_rank_group {g}: '{name}' is already in group {first}"
                )));
            }
            block.push(k);
        }
        blocks.push(block);
    }
    Ok(blocks)
}

/// One entry of a parameter as a user reads it: `mu of w_in_1[0, 3]`.
fn entry_name(family: &Family, vars: &[FreeVar], param: usize, flat: usize) -> String {
    let at = |v: &FreeVar, i: usize| -> String {
        let mut idx = vec![0; v.shape.len()];
        let mut k = i;
        for a in (0..v.shape.len()).rev() {
            idx[a] = k % v.shape[a];
            k /= v.shape[a];
        }
        let idx: Vec<String> = idx.iter().map(|d| d.to_string()).collect();
        if idx.is_empty() {
            v.name.clone()
        } else {
            format!("{}[{}]", v.name, idx.join(", "))
        }
    };
    let by_offset = |f: usize| {
        vars.iter()
            .find(|v| f >= v.offset && f < v.offset + v.size)
            .map(|v| at(v, f - v.offset))
            .unwrap_or_default()
    };
    match family {
        Family::MeanField { mu, .. } => {
            let n = mu.len();
            let which = if param < n { "mu" } else { "rho" };
            format!("{which} of {}", at(&vars[param % n], flat))
        }
        Family::FullRank { .. } => {
            if param == 0 {
                format!("mu of {}", by_offset(flat))
            } else {
                let (mut i, mut rem) = (0usize, flat);
                while rem > i {
                    rem -= i + 1;
                    i += 1;
                }
                format!("L[{i}, {rem}] ({} with {})", by_offset(i), by_offset(rem))
            }
        }
        Family::Grouped(groups) => {
            let mut p = param;
            for g in groups {
                let n = g.family.params().len();
                if p < n {
                    return entry_name(&g.family, &g.local, p, flat);
                }
                p -= n;
            }
            String::new()
        }
    }
}

/// Updates that write nothing unless the loss and every new value are
/// finite (x * 0 sums to 0 exactly then, to NaN otherwise), so a diverging
/// step leaves parameters and optimizer state as they were; and the flag
/// `finite` saying whether they were written.
pub(crate) fn finite_guard(loss: &Var, updates: &[(Var, Var)]) -> Result<(Var, Vec<(Var, Var)>)> {
    let mut zero = (loss * 0.0)?;
    for (_, new) in updates {
        zero = (zero + (new * 0.0)?.sum()?)?;
    }
    let ok = zero.equal(0.0)?.named("finite");
    let guarded = updates
        .iter()
        .map(|(t, new)| Ok((t.clone(), where_(&ok, new, t)?)))
        .collect::<Result<_>>()?;
    Ok((ok, guarded))
}

/// A prepared fit (PyMC's inference object): the compiled step and the
/// approximation it trains. `fit` may be called again to continue; after
/// an error the approximation and the optimizer keep their last finite
/// state.
pub struct Inference {
    approx: Approximation,
    vars: Vec<FreeVar>,
    step: Function,
    params: Vec<Var>,
    /// The parameters' new values (what a step would write), for naming
    /// the entries of a step that went non-finite.
    new_params: Vec<Var>,
    rng: RandomStream,
    progressbar: Option<bool>,
    callbacks: Vec<Box<dyn Callback>>,
}

impl Model {
    /// Build the approximation and compile its training step.
    pub fn inference(&self, method: Advi) -> Result<Inference> {
        self.check()?;
        self.check_continuous()?;
        if method.obj_n_mc == 0 {
            return Err(Error::value("obj_n_mc must be at least 1"));
        }
        if let Some(s) = method.start_sigma
            && !(s > 0.0 && s.is_finite())
        {
            return Err(Error::value(format!(
                "start_sigma must be positive and finite, got {s}"
            )));
        }
        let dt = self.dtype();
        let vars = free_vars(self);
        if vars.is_empty() {
            return Err(Error::model("the model has no free variables to fit"));
        }
        let init = unconstrained_init(self, &vars)?;
        let family = if !method.full_rank_groups.is_empty() {
            let blocks = group_positions(&vars, &method.full_rank_groups)?;
            Family::grouped(
                &vars,
                &init,
                dt,
                method.start_sigma,
                &blocks,
                method.full_rank,
            )?
        } else if method.full_rank {
            Family::full_rank(&vars, &init, dt, method.start_sigma)?
        } else {
            Family::mean_field(&vars, &init, dt, method.start_sigma)
        };
        let rng = RandomStream::named("advi", method.seed);
        let t = method.temperature;
        if !(t > 0.0 && t.is_finite()) {
            return Err(Error::value(format!(
                "Advi::temperature: needs a positive, finite T, got {t}"
            )));
        }
        let beta = (method.kl_warmup > 0).then(|| {
            theon_tensor::shared(
                "kl_beta",
                Tensor::scalar(1.0 / method.kl_warmup as f64).cast(dt),
            )
        });
        let kl_weight = match (&beta, t == 1.0) {
            (None, true) => None,
            (None, false) => Some(Var::scalar_const(t, dt)),
            (Some(b), true) => Some(b.clone()),
            (Some(b), false) => Some((b * t)?),
        };
        let loss = objective(
            self,
            &family,
            &vars,
            &rng,
            method.obj_n_mc,
            kl_weight.as_ref(),
        )?;
        let params = family.params();
        let grads = grad(&loss, &params)?;
        let mut updates = method.optimizer.updates(&params, &grads)?;
        if let Some(b) = &beta {
            let step = 1.0 / method.kl_warmup as f64;
            updates.push((b.clone(), (b + step)?.minimum(1.0)?));
        }
        let (ok, guarded) = finite_guard(&loss, &updates)?;
        let ups: Vec<(&Var, &Var)> = guarded.iter().map(|(a, b)| (a, b)).collect();
        let step = compile(theon_tensor::NO_INPUTS, &[&loss, &ok])
            .options(method.options.clone())
            .updates(&ups)
            .name("advi_step")
            .build()?;
        let new_params: Vec<Var> = params
            .iter()
            .map(|p| {
                updates
                    .iter()
                    .find(|(t, _)| t.same(p))
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| p.clone())
            })
            .collect();
        let approx = Approximation::new(
            self.clone(),
            family,
            vars.clone(),
            RandomStream::named("approx", method.seed ^ 0x5eed_5eed),
            vec![],
        );
        Ok(Inference {
            approx,
            vars,
            step,
            params,
            new_params,
            rng,
            progressbar: method.progressbar,
            callbacks: method.callbacks,
        })
    }

    /// Fit an approximation with `n` steps of `method` (PyMC's `pm.fit`).
    pub fn fit(&self, n: usize, method: Advi) -> Result<Approximation> {
        let mut inference = self.inference(method)?;
        inference.fit(n)?;
        Ok(inference.into_approx())
    }
}

impl Inference {
    /// The approximation as trained so far.
    pub fn approx(&self) -> &Approximation {
        &self.approx
    }
    pub fn into_approx(self) -> Approximation {
        self.approx
    }
    /// The compiled training step (one call = one step; returns the loss).
    pub fn step_function(&self) -> &Function {
        &self.step
    }

    /// Run `n` more steps. A non-finite loss or parameter stops with an
    /// error naming the step and the entries; the parameters are restored
    /// to their values before that step.
    pub fn fit(&mut self, n: usize) -> Result<()> {
        let show = self
            .progressbar
            .unwrap_or_else(|| std::io::stderr().is_terminal());
        let bar = if show {
            ProgressBar::new(n as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40.cyan/blue} {percent:>3}% [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .map_err(|e| Error::value(e.to_string()))?,
        );
        let done = self.approx.hist.len();
        self.approx.hist.reserve(n);
        let mut outs = Vec::new();
        let no_args: [Tensor; 0] = [];
        let tick = (n / 200).max(1);
        for i in 0..n {
            let step = self
                .step
                .call_into(&no_args, &mut outs)
                .and_then(|_| Ok((outs[0].item::<f64>()?, outs[1].item::<bool>()?)));
            let (loss, finite) = match step {
                Ok(r) => r,
                Err(e) => {
                    bar.abandon();
                    return Err(e.context(format!("step {}", done + i)));
                }
            };
            if !finite {
                bar.abandon();
                let bad = self.non_finite_entries()?;
                let params = if bad.is_empty() {
                    String::new()
                } else {
                    format!("; non-finite after the update: {}", bad.join(", "))
                };
                return Err(Error::non_finite(format!(
                    "step {}: the loss is {loss}{params}; the parameters are left at their values before this step",
                    done + i
                )));
            }
            let hist = &mut self.approx.hist;
            hist.push(loss);
            if (i + 1) % tick == 0 || i + 1 == n {
                let recent = &hist[hist.len().saturating_sub(1000)..];
                bar.set_position((i + 1) as u64);
                bar.set_message(format!(
                    "Average Loss = {:.4}",
                    recent.iter().sum::<f64>() / recent.len() as f64
                ));
            }
            let mut stop = false;
            for cb in &mut self.callbacks {
                if (i + 1) % cb.every().max(1) == 0 {
                    let info = FitInfo {
                        step: hist.len(),
                        hist,
                        params: &self.params,
                    };
                    if cb.call(&info)? == Control::Stop {
                        stop = true;
                    }
                }
            }
            if stop {
                break;
            }
        }
        bar.finish();
        Ok(())
    }

    /// The parameter entries the last (rejected) step would have made
    /// non-finite: the step's draws are replayed (the random stream is
    /// counter-based) without applying anything.
    fn non_finite_entries(&self) -> Result<Vec<String>> {
        let state = self.rng.state();
        let saved = state.rng_state()?;
        state.set_rng_state(saved.back(1))?;
        let values =
            function(theon_tensor::NO_INPUTS, &self.new_params).and_then(|f| f.call::<Tensor>(&[]));
        state.set_rng_state(saved)?;
        let mut bad = vec![];
        for (k, t) in values?.iter().enumerate() {
            for (j, v) in t.iter_f64().enumerate() {
                if !v.is_finite() && bad.len() < 8 {
                    bad.push(entry_name(self.approx.family(), &self.vars, k, j));
                }
            }
        }
        Ok(bad)
    }
}

/// The negative ELBO of `family` for `model` with `n_mc` draws: the log
/// terms are written in unconstrained coordinates, then q's draws are
/// substituted (vectorized over the draws when there are several).
fn objective(
    model: &Model,
    family: &Family,
    vars: &[FreeVar],
    rng: &RandomStream,
    n_mc: usize,
    kl_weight: Option<&Var>,
) -> Result<Var> {
    let (varlogp, datalogp) = model.logp_terms()?;
    let un = unconstrained(vars, model.dtype())?;
    let to_u: Vec<(&Var, &Var)> = vars.iter().map(|v| &v.placeholder).zip(&un.x).collect();
    let mut terms = clone_replace_with(&[varlogp, datalogp], &to_u, Unused::Ignore)?;
    terms.push(un.log_jac);
    let size = (n_mc > 1).then(|| constant(Tensor::scalar(n_mc as i64)));
    let (draws, logq) = family.draw(vars, rng, size.as_ref(), false)?;
    let repl: Vec<(Var, Var)> = un.u.iter().cloned().zip(draws).collect();
    let terms = match &size {
        None => clone_replace_with(&terms, &repl, Unused::Ignore)?,
        Some(n) => vectorize(&terms, &repl, n)?,
    };
    // -ELBO = KL part (logq - log prior - log Jacobian) - log likelihood.
    let loss = match kl_weight {
        None => (((logq - &terms[1])? - &terms[0])? - &terms[2])?,
        Some(b) => ((((logq - &terms[0])? - &terms[2])? * b)? - &terms[1])?,
    };
    Ok(if size.is_some() { loss.mean()? } else { loss }.named("loss"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use theon_tensor::{DType, function};

    /// The ADVI loss and its gradient for a small BNN: with the draws held
    /// fixed (the stream reseeded before each call), the symbolic gradient
    /// matches central finite differences in every parameter entry.
    #[test]
    fn objective_gradient_matches_finite_differences() {
        let model = Model::new();
        let xv = Tensor::new(
            (0..12)
                .map(|i| ((i * 7) % 5) as f64 / 2.0 - 1.0)
                .collect::<Vec<_>>(),
            &[6, 2],
        )
        .unwrap();
        let yv = Tensor::vector(vec![0.0, 1.0, 1.0, 0.0, 1.0, 0.0]);
        let x = model.data("x", xv).unwrap();
        let y = model.data("y", yv).unwrap();
        let w1 = model.normal("w1", 0.0, 1.0, [2, 3]).unwrap();
        let w2 = model.normal("w2", 0.0, 1.0, [3]).unwrap();
        let s = model.half_normal("s", 1.0, ()).unwrap();
        let p = (x.dot(&w1).unwrap().tanh().dot(&w2).unwrap() * &*s)
            .unwrap()
            .sigmoid();
        model
            .bernoulli("out", &p)
            .unwrap()
            .observed(&y)
            .total_size(12);
        let vars = free_vars(&model);
        let init = unconstrained_init(&model, &vars).unwrap();
        let family = Family::mean_field(&vars, &init, DType::F64, None);
        let rng = RandomStream::named("fd", 3);
        let loss = objective(&model, &family, &vars, &rng, 1, None).unwrap();
        let params = family.params();
        let grads = grad(&loss, &params).unwrap();
        let mut outs = vec![&loss];
        outs.extend(grads.iter());
        let f = function(theon_tensor::NO_INPUTS, &outs).unwrap();
        let eval = || {
            rng.seed(3);
            f.call::<Tensor>(&[]).unwrap()
        };
        // Move off the initial point so every term is exercised.
        for (k, prm) in params.iter().enumerate() {
            let v = prm.get_value().unwrap();
            let moved: Vec<f64> = v
                .to_f64_vec()
                .iter()
                .enumerate()
                .map(|(i, a)| a + 0.1 * ((i + k) % 3) as f64 - 0.1)
                .collect();
            prm.set_value(Tensor::new(moved, v.shape()).unwrap())
                .unwrap();
        }
        let base = eval();
        let h = 1e-6;
        for (k, prm) in params.iter().enumerate() {
            let v = prm.get_value().unwrap();
            let g = base[k + 1].to_f64_vec();
            for i in 0..v.len() {
                let at = |d: f64| {
                    let mut t = v.to_f64_vec();
                    t[i] += d;
                    prm.set_value(Tensor::new(t, v.shape()).unwrap()).unwrap();
                    eval()[0].item::<f64>().unwrap()
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                prm.set_value(v.clone()).unwrap();
                assert!(
                    (fd - g[i]).abs() < 1e-5 * (1.0 + fd.abs()),
                    "{}[{i}]: symbolic {} vs numeric {fd}",
                    prm.name().unwrap_or_default(),
                    g[i]
                );
            }
        }
    }
}
