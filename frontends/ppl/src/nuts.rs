//! NUTS through the `nuts-rs` crate (the sampler behind nutpie): theon
//! compiles one function giving the joint log-density in the unconstrained
//! space (log-Jacobians included) and its gradient at a flat vector, and
//! nuts-rs adapts the step size and a diagonal mass matrix and builds the
//! trees. Chains run on threads, each with its own compiled function and
//! seeded stream, so a seed reproduces every chain exactly.

use crate::advi::family::{FreeVar, free_vars, unconstrained, unconstrained_init};
use crate::model::Model;
use crate::trace::Trace;
use nuts_rs::{Chain, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings, HasDims, Settings};
use rand::{Rng, RngExt, SeedableRng};
use std::collections::HashMap;
use theon_tensor::{
    DType, Error, Function, Result, SliceSpec, Tensor, TensorType, Unused, Var, clone_replace_with,
    function, grad,
};

/// NUTS settings, PyMC's defaults: 1000 tuning and 1000 kept draws per
/// chain, 4 chains, tree depth up to 10, target acceptance 0.8.
#[derive(Clone, Debug)]
pub struct Nuts {
    draws: usize,
    tune: usize,
    chains: usize,
    seed: u64,
    max_depth: u64,
}

impl Default for Nuts {
    fn default() -> Nuts {
        Nuts {
            draws: 1000,
            tune: 1000,
            chains: 4,
            seed: 0,
            max_depth: 10,
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
}

/// The model's log-density at a flat unconstrained vector, compiled once
/// per chain: outputs logp and its gradient.
struct Density {
    f: Function,
    dim: usize,
    dtype: DType,
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
        // Once per leapfrog step: one argument tensor, results read in place.
        let x = Tensor::vector(position.to_vec());
        let x = if self.dtype == DType::F64 {
            x
        } else {
            x.cast(self.dtype)
        };
        let call = |e: Error| DensityError::Call(e.to_string());
        self.f.call_into(&[x], &mut self.outs).map_err(call)?;
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
    let lp = (model.logp()? + &un.log_jac)?;
    let lp = clone_replace_with(&[lp], &to_x, Unused::Ignore)?;
    let lp = clone_replace_with(&lp, &pieces, Unused::Ignore)?.remove(0);
    let g = grad(&lp, &[&theta])?.remove(0);
    let mut values: Vec<Var> = un.x.clone();
    let mut names: Vec<String> = vars.iter().map(|v| v.name.clone()).collect();
    for (name, e) in model.deterministics() {
        values.push(clone_replace_with(&[e], &to_x, Unused::Ignore)?.remove(0));
        names.push(name);
    }
    let values = clone_replace_with(&values, &pieces, Unused::Ignore)?;
    Ok(Graphs {
        theta,
        logp: lp,
        grad: g,
        values,
        names,
    })
}

/// What one chain brings back: its draws of every recorded value and its
/// sample statistics.
struct ChainOut {
    values: Vec<Vec<Tensor>>,
    diverging: Vec<f64>,
    step_size: Vec<f64>,
    n_steps: Vec<f64>,
}

/// The depth of a tree of `n` leapfrog steps: a full tree of depth d has
/// 2^d - 1 steps, one that stopped early fewer.
fn tree_depth(n: u64) -> f64 {
    (u64::BITS - n.leading_zeros()) as f64
}

fn run_chain(
    model: &Model,
    vars: &[FreeVar],
    init: &[f64],
    nuts: &Nuts,
    chain: usize,
) -> Result<ChainOut> {
    let dim = init.len();
    let gr = graphs(model, vars, dim)?;
    let f = function(&[&gr.theta], &[&gr.logp, &gr.grad])?;
    let rec = function(&[&gr.theta], &gr.values)?;
    let dtype = model.dtype();
    let density = Density {
        f,
        dim,
        dtype,
        outs: vec![],
    };
    let settings = DiagNutsSettings {
        num_tune: nuts.tune as u64,
        num_draws: nuts.draws as u64,
        maxdepth: nuts.max_depth,
        seed: nuts.seed,
        ..Default::default()
    };
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(
        nuts.seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(chain as u64),
    );
    let nerr = |e: &dyn std::fmt::Display| Error::value(format!("NUTS chain {chain}: {e}"));
    let mut sampler = settings
        .new_chain(chain as u64, CpuMath::new(density), &mut rng)
        .map_err(|e| nerr(&e))?;
    // PyMC's jitter+adapt_diag start: the initial point plus U(-1, 1).
    let start: Vec<f64> = init
        .iter()
        .map(|x| x + rng.random_range(-1.0..1.0))
        .collect();
    sampler.set_position(&start).map_err(|e| nerr(&e))?;
    let mut out = ChainOut {
        values: vec![Vec::with_capacity(nuts.draws); gr.names.len()],
        diverging: vec![],
        step_size: vec![],
        n_steps: vec![],
    };
    for k in 0..nuts.tune + nuts.draws {
        let (draw, info) = sampler.draw().map_err(|e| nerr(&e))?;
        if k < nuts.tune {
            continue;
        }
        let x = Tensor::vector(draw.to_vec()).cast(dtype);
        for (c, t) in out.values.iter_mut().zip(rec.call(&[x])?) {
            c.push(t);
        }
        out.diverging.push(info.diverging as u8 as f64);
        out.step_size.push(info.step_size);
        out.n_steps.push(info.num_steps as f64);
    }
    Ok(out)
}

impl Model {
    /// Draw from the posterior with NUTS (PyMC's `pm.sample`): a trace of
    /// `chains x draws` constrained values of every free variable and
    /// deterministic, with sample statistics `diverging`, `step_size`,
    /// `n_steps` (leapfrog steps per draw) and `tree_depth`. Free discrete
    /// variables are an error, as for ADVI.
    pub fn sample(&self, nuts: Nuts) -> Result<Trace> {
        self.check()?;
        self.check_continuous()?;
        if nuts.draws == 0 || nuts.chains == 0 {
            return Err(Error::value("sample: draws and chains must be positive"));
        }
        let vars = free_vars(self);
        if vars.is_empty() {
            return Err(Error::model("the model has no free variables to sample"));
        }
        let init: Vec<f64> = unconstrained_init(self, &vars)?
            .iter()
            .flat_map(|t| t.to_f64_vec())
            .collect();
        let outs: Vec<Result<ChainOut>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..nuts.chains)
                .map(|c| {
                    let (vars, init, nuts) = (&vars, &init, &nuts);
                    s.spawn(move || run_chain(self, vars, init, nuts, c))
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
        let stat = |f: fn(&ChainOut) -> &Vec<f64>| -> Tensor {
            Tensor::vector(
                outs.iter()
                    .flat_map(|o| f(o).iter().copied())
                    .collect::<Vec<f64>>(),
            )
        };
        let stats = vec![
            ("diverging".to_string(), stat(|o| &o.diverging)),
            ("step_size".to_string(), stat(|o| &o.step_size)),
            ("n_steps".to_string(), stat(|o| &o.n_steps)),
            (
                "tree_depth".to_string(),
                Tensor::vector(
                    outs.iter()
                        .flat_map(|o| o.n_steps.iter().map(|&n| tree_depth(n as u64)))
                        .collect::<Vec<f64>>(),
                ),
            ),
        ];
        Trace::with_chains(nuts.chains, nuts.draws, vars_out, stats)
    }
}
