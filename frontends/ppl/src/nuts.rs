//! NUTS through the `nuts-rs` crate (the sampler behind nutpie): theon
//! compiles one function giving the joint log-density in the unconstrained
//! space (log-Jacobians included) and its gradient at a flat vector, and
//! nuts-rs adapts the step size and a diagonal mass matrix and builds the
//! trees. Chains run on threads, each with its own compiled function and
//! seeded stream, so a seed reproduces every chain exactly.

use crate::advi::family::{FreeVar, free_vars, unconstrained, unconstrained_init};
use crate::model::Model;
use crate::trace::{McmcRun, Trace};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use nuts_rs::{
    Chain, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings, EuclideanAdaptOptions, HasDims,
    LowRankNutsSettings, SamplerStats, Settings,
};
use rand::{Rng, RngExt, SeedableRng};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Instant;
use theon_tensor::{
    DType, Error, Function, Result, SliceSpec, Tensor, TensorType, Unused, Var, clone_replace_with,
    constant, function, grad,
};

/// NUTS settings, PyMC's defaults: 1000 tuning and 1000 kept draws per
/// chain, 4 chains, tree depth up to 10, target acceptance 0.8, a
/// diagonal mass matrix.
#[derive(Clone, Debug)]
pub struct Nuts {
    draws: usize,
    tune: usize,
    chains: usize,
    seed: u64,
    max_depth: u64,
    target_accept: f64,
    low_rank: bool,
    progressbar: Option<bool>,
}

impl Default for Nuts {
    fn default() -> Nuts {
        Nuts {
            draws: 1000,
            tune: 1000,
            chains: 4,
            seed: 0,
            max_depth: 10,
            target_accept: 0.8,
            low_rank: false,
            progressbar: None,
        }
    }
}

impl Nuts {
    pub fn new() -> Nuts {
        Nuts::default()
    }
    /// Kept draws per chain.
    pub fn draws(mut self, n: usize) -> Nuts {
        self.draws = n;
        self
    }
    /// Tuning (adaptation) draws per chain, discarded.
    pub fn tune(mut self, n: usize) -> Nuts {
        self.tune = n;
        self
    }
    pub fn chains(mut self, n: usize) -> Nuts {
        self.chains = n;
        self
    }
    pub fn seed(mut self, s: u64) -> Nuts {
        self.seed = s;
        self
    }
    /// Largest tree depth (at most 2^depth - 1 leapfrog steps per draw).
    pub fn max_depth(mut self, d: u64) -> Nuts {
        self.max_depth = d;
        self
    }
    /// The mean acceptance the step size is tuned for (PyMC's
    /// `target_accept`); higher means smaller steps and fewer divergences.
    pub fn target_accept(mut self, a: f64) -> Nuts {
        self.target_accept = a;
        self
    }
    /// Adapt a diagonal plus low-rank mass matrix (nutpie's
    /// `low_rank_modified_mass_matrix`) instead of a diagonal one: pays
    /// off for strongly correlated posteriors.
    pub fn low_rank(mut self, on: bool) -> Nuts {
        self.low_rank = on;
        self
    }
    /// Show a progress bar per chain (default: when stderr is a terminal).
    pub fn progressbar(mut self, show: bool) -> Nuts {
        self.progressbar = Some(show);
        self
    }

    fn check(&self) -> Result<()> {
        if self.draws == 0 || self.chains == 0 {
            return Err(Error::value("sample: draws and chains must be positive"));
        }
        let total = self.tune.checked_add(self.draws);
        if total.is_none() || self.chains.checked_mul(self.draws).is_none() {
            return Err(Error::value(format!(
                "sample: {} chains of {} tuning + {} draws overflow",
                self.chains, self.tune, self.draws
            )));
        }
        if !(self.target_accept > 0.0 && self.target_accept < 1.0) {
            return Err(Error::value(format!(
                "sample: target_accept must lie in (0, 1), got {}",
                self.target_accept
            )));
        }
        if self.max_depth == 0 || self.max_depth > 30 {
            return Err(Error::value(format!(
                "sample: max_depth must lie in 1..=30, got {}",
                self.max_depth
            )));
        }
        Ok(())
    }
}

/// The model's log-density at a flat unconstrained vector, compiled once
/// per chain: outputs logp and its gradient.
struct Density {
    f: Function,
    dim: usize,
    /// The argument, overwritten in place each call (no allocation).
    theta: Tensor,
    outs: Vec<Tensor>,
}

/// Why a log-density evaluation failed: a non-finite value is a divergence
/// (nuts-rs rejects the step); a failed call stops the chain.
#[derive(Debug)]
enum DensityError {
    NonFinite,
    Call(String),
}

impl std::fmt::Display for DensityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DensityError::NonFinite => write!(f, "the log-density is not finite"),
            DensityError::Call(e) => write!(f, "{e}"),
        }
    }
}
impl std::error::Error for DensityError {}
impl nuts_rs::LogpError for DensityError {
    fn is_recoverable(&self) -> bool {
        matches!(self, DensityError::NonFinite)
    }
}

impl HasDims for Density {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([("unconstrained_parameter".to_string(), self.dim as u64)])
    }
}

impl CpuLogpFunc for Density {
    type LogpError = DensityError;
    type FlowParameters = ();
    type ExpandedVector = Vec<f64>;

    fn dim(&self) -> usize {
        self.dim
    }

    fn logp(
        &mut self,
        position: &[f64],
        gradient: &mut [f64],
    ) -> std::result::Result<f64, DensityError> {
        // Once per leapfrog step: the argument and the results are reused
        // in place, nothing is allocated.
        let call = |e: Error| DensityError::Call(e.to_string());
        match self.theta.dtype() {
            DType::F32 => {
                for (t, p) in self
                    .theta
                    .as_slice_mut::<f32>()
                    .map_err(call)?
                    .iter_mut()
                    .zip(position)
                {
                    *t = *p as f32;
                }
            }
            _ => self
                .theta
                .as_slice_mut::<f64>()
                .map_err(call)?
                .copy_from_slice(position),
        }
        self.f
            .call_into(std::slice::from_ref(&self.theta), &mut self.outs)
            .map_err(call)?;
        let lp = self.outs[0].item::<f64>().map_err(call)?;
        let mut finite = lp.is_finite();
        for (g, v) in gradient.iter_mut().zip(self.outs[1].iter_f64()) {
            *g = v;
            finite &= v.is_finite();
        }
        if !finite {
            return Err(DensityError::NonFinite);
        }
        Ok(lp)
    }

    fn expand_vector<R: Rng + ?Sized>(
        &mut self,
        _rng: &mut R,
        array: &[f64],
    ) -> std::result::Result<Vec<f64>, CpuMathError> {
        Ok(array.to_vec())
    }
}

/// The graphs of one chain: logp and gradient at `theta`, and the
/// constrained values and deterministics recorded per draw.
struct Graphs {
    theta: Var,
    logp: Var,
    grad: Var,
    values: Vec<Var>,
    names: Vec<String>,
}

fn graphs(model: &Model, vars: &[FreeVar], dim: usize) -> Result<Graphs> {
    let dt = model.dtype();
    let theta = Var::input("theta", TensorType::fixed(dt, &[dim]));
    let un = unconstrained(vars, dt)?;
    // Each variable's unconstrained placeholder is a slice of theta.
    let pieces: Vec<(Var, Var)> = vars
        .iter()
        .zip(&un.u)
        .map(|(v, u)| {
            let s = theta.slice(&[SliceSpec::range(
                v.offset as i64,
                (v.offset + v.size) as i64,
            )])?;
            let shape: Vec<i64> = v.shape.iter().map(|&d| d as i64).collect();
            Ok((u.clone(), s.reshape(shape)?))
        })
        .collect::<Result<_>>()?;
    let to_x: Vec<(Var, Var)> = vars
        .iter()
        .map(|v| v.placeholder.clone())
        .zip(un.x.iter().cloned())
        .collect();
    // The data containers' current values as constants: the run samples
    // the posterior given the data at the call (a later `set_data` does
    // not reach it), and chains on other threads do not wait for each
    // other on the containers' locks.
    let mut fixed = pieces.clone();
    for (_, d) in model.data_vars() {
        let value = d.get_value()?;
        fixed.push((d, constant(value)));
    }
    let lp = (model.logp()? + &un.log_jac)?;
    let lp = clone_replace_with(&[lp], &to_x, Unused::Ignore)?;
    let lp = clone_replace_with(&lp, &fixed, Unused::Ignore)?.remove(0);
    let g = grad(&lp, &[&theta])?.remove(0);
    let mut values: Vec<Var> = un.x.clone();
    let mut names: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
    for (name, e) in model.deterministics() {
        values.push(clone_replace_with(&[e], &to_x, Unused::Ignore)?.remove(0));
        names.push(name);
    }
    let values = clone_replace_with(&values, &fixed, Unused::Ignore)?;
    Ok(Graphs {
        theta,
        logp: lp,
        grad: g,
        values,
        names,
    })
}

/// What one chain brings back: its draws of every recorded value, its
/// per-draw sample statistics (in [`STATS`] order) and its gradient
/// evaluations, tuning included.
struct ChainOut {
    values: Vec<Vec<Tensor>>,
    stats: Vec<Vec<f64>>,
    run: McmcRun,
}

/// The per-draw statistics, ArviZ's names: `diverging` (0/1), `step_size`,
/// `n_steps` (leapfrog steps), `tree_depth`, `energy` (the Hamiltonian at
/// the draw) and `mean_tree_accept` (the acceptance statistic the step
/// size is tuned on; ArviZ's `acceptance_rate`).
const STATS: [&str; 6] = [
    "diverging",
    "step_size",
    "n_steps",
    "tree_depth",
    "energy",
    "mean_tree_accept",
];

/// The depth of a tree of `n` leapfrog steps: a full tree of depth d has
/// 2^d - 1 steps, one that stopped early fewer.
fn tree_depth(n: u64) -> f64 {
    (u64::BITS - n.leading_zeros()) as f64
}

/// nuts-rs settings of either mass-matrix kind from ours.
fn configure<X>(
    mut s: nuts_rs::NutsSettings<EuclideanAdaptOptions<X>>,
    nuts: &Nuts,
) -> nuts_rs::NutsSettings<EuclideanAdaptOptions<X>>
where
    X: std::fmt::Debug + Copy + Default + serde::Serialize,
{
    s.num_tune = nuts.tune as u64;
    s.num_draws = nuts.draws as u64;
    s.maxdepth = nuts.max_depth;
    s.seed = nuts.seed;
    s.adapt_options.step_size_settings.target_accept = nuts.target_accept;
    s
}

/// One chain: compile its functions, start it, draw, record.
fn run_chain(
    model: &Model,
    vars: &[FreeVar],
    init: &[f64],
    nuts: &Nuts,
    chain: usize,
    bar: &ProgressBar,
) -> Result<ChainOut> {
    let dim = init.len();
    let compiling = Instant::now();
    let gr = graphs(model, vars, dim)?;
    let f = function(&[&gr.theta], &[&gr.logp, &gr.grad])?;
    let rec = function(&[&gr.theta], &gr.values)?;
    let compile_s = compiling.elapsed().as_secs_f64();
    let dtype = model.dtype();
    let density = Density {
        f,
        dim,
        theta: Tensor::zeros(dtype, &[dim]),
        outs: vec![],
    };
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(
        nuts.seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(chain as u64),
    );
    let run = Run {
        rec: &rec,
        init,
        nuts,
        chain,
        bar,
        dtype,
        n_values: gr.names.len(),
        compile_s,
    };
    let math = CpuMath::new(density);
    // The two kinds' statistics are different types with the same fields.
    if nuts.low_rank {
        let s = configure(LowRankNutsSettings::default(), nuts);
        let c = s
            .new_chain(chain as u64, math, &mut rng)
            .map_err(|e| run.err(&e))?;
        run.draws(c, &mut rng, |st| {
            (st.point.energy, st.adapt.step_size.mean_tree_accept)
        })
    } else {
        let s = configure(DiagNutsSettings::default(), nuts);
        let c = s
            .new_chain(chain as u64, math, &mut rng)
            .map_err(|e| run.err(&e))?;
        run.draws(c, &mut rng, |st| {
            (st.point.energy, st.adapt.step_size.mean_tree_accept)
        })
    }
}

/// What a chain's draw loop needs besides the sampler.
struct Run<'a> {
    rec: &'a Function,
    init: &'a [f64],
    nuts: &'a Nuts,
    chain: usize,
    bar: &'a ProgressBar,
    dtype: DType,
    /// How many values `rec` records per draw.
    n_values: usize,
    compile_s: f64,
}

impl Run<'_> {
    fn err(&self, e: &dyn std::fmt::Display) -> Error {
        Error::value(format!("NUTS chain {}: {e}", self.chain))
    }

    /// Tune, then draw and record; `point_stats` reads (energy, mean tree
    /// accept) from the sampler's statistics.
    fn draws<C: Chain<CpuMath<Density>>>(
        &self,
        mut sampler: C,
        rng: &mut impl Rng,
        point_stats: impl Fn(&<C as SamplerStats<CpuMath<Density>>>::Stats) -> (f64, f64),
    ) -> Result<ChainOut> {
        let nuts = self.nuts;
        let sampling = Instant::now();
        // PyMC's jitter+adapt_diag start: the initial point plus U(-1, 1).
        let start: Vec<f64> = self
            .init
            .iter()
            .map(|x| x + rng.random_range(-1.0..1.0))
            .collect();
        sampler.set_position(&start).map_err(|e| self.err(&e))?;
        let mut out = ChainOut {
            values: vec![Vec::with_capacity(nuts.draws); self.n_values],
            stats: vec![Vec::with_capacity(nuts.draws); STATS.len()],
            run: McmcRun {
                compile_s: self.compile_s,
                ..McmcRun::default()
            },
        };
        let mut divergences = 0;
        for k in 0..nuts.tune + nuts.draws {
            let (draw, _, st, info) = sampler.expanded_draw().map_err(|e| self.err(&e))?;
            out.run.gradient_evals += info.num_gradients;
            self.bar.inc(1);
            if k < nuts.tune {
                continue;
            }
            let x = Tensor::vector(draw.to_vec()).cast(self.dtype);
            for (c, t) in out.values.iter_mut().zip(self.rec.call(&[x])?) {
                c.push(t);
            }
            divergences += info.diverging as usize;
            let (energy, accept) = point_stats(&st);
            let row = [
                info.diverging as u8 as f64,
                info.step_size,
                info.num_steps as f64,
                tree_depth(info.num_steps),
                energy,
                accept,
            ];
            for (c, v) in out.stats.iter_mut().zip(row) {
                c.push(v);
            }
            if divergences > 0 && k % 50 == 0 {
                self.bar.set_message(format!("{divergences} divergences"));
            }
        }
        self.bar.set_message(format!("{divergences} divergences"));
        self.bar.finish();
        out.run.sampling_s = sampling.elapsed().as_secs_f64();
        Ok(out)
    }
}

impl Model {
    /// Draw from the posterior with NUTS (PyMC's `pm.sample`): a trace of
    /// `chains x draws` constrained values of every free variable and
    /// deterministic, with the sample statistics (diverging, step_size,
    /// n_steps, tree_depth, energy, mean_tree_accept) and the
    /// cost of the run (`Trace::run`: gradient evaluations, compile and
    /// sampling seconds).
    /// Free discrete variables are an error, as for ADVI.
    pub fn sample(&self, nuts: Nuts) -> Result<Trace> {
        self.check()?;
        self.check_continuous()?;
        nuts.check()?;
        let vars = free_vars(self);
        if vars.is_empty() {
            return Err(Error::model("the model has no free variables to sample"));
        }
        let init: Vec<f64> = unconstrained_init(self, &vars)?
            .iter()
            .flat_map(|t| t.to_f64_vec())
            .collect();
        let show = nuts
            .progressbar
            .unwrap_or_else(|| std::io::stderr().is_terminal());
        let bars = MultiProgress::with_draw_target(if show {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let style = ProgressStyle::with_template(
            "chain {prefix} {bar:30.cyan/blue} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
        )
        .map_err(|e| Error::value(e.to_string()))?;
        let outs: Vec<Result<ChainOut>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..nuts.chains)
                .map(|c| {
                    let bar = bars.add(ProgressBar::new((nuts.tune + nuts.draws) as u64));
                    bar.set_style(style.clone());
                    bar.set_prefix(c.to_string());
                    let (vars, init, nuts) = (&vars, &init, &nuts);
                    s.spawn(move || run_chain(self, vars, init, nuts, c, &bar))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::value("a NUTS chain panicked")))
                })
                .collect()
        });
        let outs: Vec<ChainOut> = outs.into_iter().collect::<Result<_>>()?;
        let mut names: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
        names.extend(self.deterministics().into_iter().map(|(n, _)| n));
        let vars_out: Vec<(String, Tensor)> = names
            .iter()
            .enumerate()
            .map(|(k, n)| {
                let all: Vec<Tensor> = outs
                    .iter()
                    .flat_map(|o| o.values[k].iter().cloned())
                    .collect();
                Ok((n.clone(), Tensor::stack(&all)?))
            })
            .collect::<Result<_>>()?;
        let stats = STATS
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let all: Vec<f64> = outs
                    .iter()
                    .flat_map(|o| o.stats[k].iter().copied())
                    .collect();
                (name.to_string(), Tensor::vector(all))
            })
            .collect();
        let mut trace = Trace::with_chains(nuts.chains, nuts.draws, vars_out, stats)?;
        trace.run = Some(McmcRun {
            gradient_evals: outs.iter().map(|o| o.run.gradient_evals).sum(),
            compile_s: outs.iter().map(|o| o.run.compile_s).fold(0.0, f64::max),
            sampling_s: outs.iter().map(|o| o.run.sampling_s).fold(0.0, f64::max),
        });
        Ok(trace)
    }
}
