//! Posterior predictive sampling, PyMC's `sample_posterior_predictive`:
//! for each posterior draw in a trace, draw the observed variables from
//! their distributions given the draw — one compiled call per draw (the
//! notebook's slow path; `Approximation::sample_node` is the fast one).

use crate::model::{Model, RvKind};
use crate::trace::Trace;
use theon_tensor::{Error, RandomStream, Result, Tensor, Var, function};

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
    let mut collected: Vec<Vec<Tensor>> = vec![Vec::with_capacity(draws); outs.len()];
    for k in 0..draws {
        let args: Vec<Tensor> = free
            .iter()
            .map(|(n, _)| trace.draw(n, k))
            .collect::<Result<_>>()?;
        for (c, t) in collected.iter_mut().zip(f.call(&args)?) {
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
