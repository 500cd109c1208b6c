//! Predictive sampling. PyMC's `sample_posterior_predictive`: for each
//! posterior draw in a trace, draw the observed variables from their
//! distributions given the draw — one compiled call per draw (the
//! notebook's slow path; `Approximation::sample_node` is the fast one).
//! And `sample_prior_predictive`: ancestral draws of the whole model; and
//! `Trace::sample_node`, the compiled, vectorized predictive over the
//! draws of an MCMC trace.

use crate::model::{Model, RvKind};
use crate::trace::Trace;
use theon_tensor::{
    Error, RandomStream, Result, Tensor, Unused, Var, clone_replace_with, constant, function,
    vectorize,
};

/// PyMC's `sample_prior_predictive`: `draws` joint draws of every free
/// variable, deterministic and observed variable from the prior (each
/// variable drawn from its distribution given the draws of the variables
/// it depends on, in model order), as one trace. Observed variables take
/// their data's shape, as in PyMC; their data are not used otherwise.
pub fn sample_prior_predictive(model: &Model, draws: usize, seed: u64) -> Result<Trace> {
    model.check()?;
    if draws == 0 {
        return Err(Error::value(
            "sample_prior_predictive: draws must be positive",
        ));
    }
    let rng = RandomStream::named("prior", seed);
    let dt = model.dtype();
    let mut names = vec![];
    let mut outs = vec![];
    // Free placeholders -> their draws, for everything after them.
    let mut drawn: Vec<(Var, Var)> = vec![];
    for r in model.entries() {
        let shape = match &r.kind {
            RvKind::Free { shape, .. } => constant(Tensor::vector(
                shape.iter().map(|&d| d as i64).collect::<Vec<i64>>(),
            )),
            RvKind::Observed { data, .. } => {
                (r.dist.value_zeros()? + data.zeros_like().cast(dt))?.shape()
            }
        };
        let x = r.dist.sample(&rng, &shape, dt)?;
        let x = clone_replace_with(&[x], &drawn, Unused::Ignore)
            .map_err(|e| e.context(format!("drawing '{}'", r.name)))?
            .remove(0);
        if let RvKind::Free { .. } = r.kind {
            drawn.push((r.var.clone(), x.clone()));
        }
        names.push(r.name.clone());
        outs.push(x);
    }
    for (name, e) in model.deterministics() {
        outs.push(clone_replace_with(&[e], &drawn, Unused::Ignore)?.remove(0));
        names.push(name);
    }
    let f = function(theon_tensor::NO_INPUTS, &outs)?;
    stacked_calls(names, draws, |_| f.call::<Tensor>(&[]))
}

/// A trace of `draws` calls of a compiled function, one draw per call:
/// output k of every call stacked under `names[k]`.
fn stacked_calls(
    names: Vec<String>,
    draws: usize,
    mut call: impl FnMut(usize) -> Result<Vec<Tensor>>,
) -> Result<Trace> {
    let mut collected: Vec<Vec<Tensor>> = vec![Vec::with_capacity(draws); names.len()];
    for k in 0..draws {
        for (c, t) in collected.iter_mut().zip(call(k)?) {
            c.push(t);
        }
    }
    let stacked: Vec<(String, Tensor)> = names
        .into_iter()
        .zip(collected)
        .map(|(n, ts)| Ok((n, Tensor::stack(&ts)?)))
        .collect::<Result<_>>()?;
    Trace::new(draws, stacked)
}

/// Draws of every observed variable for the first `draws` draws of `trace`
/// (all of them with `None`), with the model's current data (swap it with
/// `Model::set_data` first to predict on new inputs).
pub fn sample_posterior_predictive(
    model: &Model,
    trace: &Trace,
    draws: Option<usize>,
    seed: u64,
) -> Result<Trace> {
    model.check()?;
    let draws = draws.unwrap_or(trace.draws);
    if draws == 0 || draws > trace.draws {
        return Err(Error::value(format!(
            "sample_posterior_predictive: {draws} draws from a trace of {}",
            trace.draws
        )));
    }
    let rng = RandomStream::named("ppc", seed);
    let dt = model.dtype();
    let mut names = vec![];
    let mut outs = vec![];
    for r in model.entries() {
        if let RvKind::Observed { .. } = r.kind {
            // The draw's shape: the value's the parameters imply,
            // broadcast with the observed data's, as PyMC fixes an
            // observed variable's shape to its data.
            let probe = r.dist.value_zeros()?;
            let shape = (probe + r.var.zeros_like().cast(dt))?.shape();
            outs.push(r.dist.sample(&rng, &shape, dt)?);
            names.push(r.name.clone());
        }
    }
    if outs.is_empty() {
        return Err(Error::model("the model has no observed variables"));
    }
    let free = model.free_vars();
    let inputs: Vec<&Var> = free.iter().map(|(_, v)| v).collect();
    let f = function(&inputs, &outs)?;
    stacked_calls(names, draws, |k| {
        let args: Vec<Tensor> = free
            .iter()
            .map(|(n, _)| trace.draw(n, k))
            .collect::<Result<_>>()?;
        f.call(&args)
    })
}

impl Trace {
    /// `expr` at `draws` of the trace's draws (evenly spaced over all
    /// chains; every draw with `None`): each free variable of `model` is
    /// replaced by its draws, giving one vectorized expression with a
    /// leading axis of draws (batched products, no per-draw loop). The
    /// MCMC twin of `Approximation::sample_node`: combine it with
    /// `Var::replace` to predict on new inputs, and compile it once.
    pub fn sample_node(&self, model: &Model, expr: &Var, draws: Option<usize>) -> Result<Var> {
        let n = draws.unwrap_or(self.draws);
        if n == 0 || n > self.draws {
            return Err(Error::value(format!(
                "sample_node: {n} draws from a trace of {}",
                self.draws
            )));
        }
        // Evenly spaced: draw k * total / n, the first of each stretch.
        let picks: Vec<usize> = (0..n)
            .map(|k| (k as u128 * self.draws as u128 / n as u128) as usize)
            .collect();
        let repl: Vec<(Var, Var)> = model
            .free_vars()
            .into_iter()
            .map(|(name, v)| {
                let rows: Vec<Tensor> = picks
                    .iter()
                    .map(|&k| self.draw(&name, k))
                    .collect::<Result<_>>()?;
                let t = Tensor::stack(&rows)?.cast(v.dtype());
                let fits = t.shape()[1..].len() == v.rank()
                    && v.static_shape()
                        .iter()
                        .zip(&t.shape()[1..])
                        .all(|(s, d)| s.is_none_or(|s| s == *d));
                if !fits {
                    return Err(Error::shape(format!(
                        "sample_node: the trace's draws of '{name}' have shape {:?}, the model's variable is {}",
                        &t.shape()[1..],
                        v.ty()
                    )));
                }
                Ok((v, constant(t)))
            })
            .collect::<Result<_>>()?;
        let size = constant(Tensor::scalar(n as i64));
        Ok(vectorize(std::slice::from_ref(expr), &repl, &size)?.remove(0))
    }
}
