//! Maximum a posteriori point estimates (PyMC's `find_MAP`), found by a
//! gradient optimizer: every free variable becomes one fixed value, the
//! point where the log posterior density is highest. With minibatches the
//! log-likelihood is the scaled estimate, so the optimizer is stochastic,
//! as when an ordinary network is trained by Adam.
//!
//! The density is the model's in the constrained space, without the
//! transforms' log-Jacobians (the mode of the posterior of the variables
//! the user wrote, not of their unconstrained images); the optimizer works
//! on the unconstrained values so bounds always hold.

use crate::advi::family::{free_vars, unconstrained, unconstrained_init};
use crate::advi::{Optimizer, finite_guard};
use crate::model::Model;
use theon_tensor::{
    Error, Function, Result, Tensor, Unused, Var, clone_replace_with, compile, constant, function,
    grad, shared,
};

/// A MAP estimate: each free variable's value, the loss history
/// (negative log posterior per step) and the model it belongs to.
pub struct MapEstimate {
    model: Model,
    values: Vec<(String, Tensor)>,
    hist: Vec<f64>,
}

impl Model {
    /// The posterior mode by `steps` steps of `optimizer` on the negative
    /// log posterior density, starting at the initial point: the Bayesian
    /// network's ordinary twin, trained as a point estimate. A step whose
    /// loss or new values are not finite stops with an error naming it
    /// (nothing is returned then).
    pub fn find_map(&self, steps: usize, optimizer: Optimizer) -> Result<MapEstimate> {
        self.check()?;
        self.check_continuous()?;
        let dt = self.dtype();
        let vars = free_vars(self);
        if vars.is_empty() {
            return Err(Error::model("the model has no free variables to optimize"));
        }
        let init = unconstrained_init(self, &vars)?;
        let un = unconstrained(&vars, dt)?;
        let params: Vec<Var> = vars
            .iter()
            .zip(&init)
            .map(|(v, t)| shared(&format!("{}_map", v.name), t.clone()))
            .collect();
        // Placeholders -> constrained values of the optimized parameters.
        let at_params: Vec<(Var, Var)> = un.u.iter().cloned().zip(params.iter().cloned()).collect();
        let xs = clone_replace_with(&un.x, &at_params, Unused::Ignore)?;
        let to_x: Vec<(Var, Var)> = vars
            .iter()
            .map(|v| v.placeholder.clone())
            .zip(xs.iter().cloned())
            .collect();
        let loss = clone_replace_with(&[self.logp()?], &to_x, Unused::Ignore)?.remove(0);
        let loss = (-loss).named("neg_logp");
        let grads = grad(&loss, &params)?;
        let updates = optimizer.updates(&params, &grads)?;
        let (ok, guarded) = finite_guard(&loss, &updates)?;
        let ups: Vec<(&Var, &Var)> = guarded.iter().map(|(a, b)| (a, b)).collect();
        let step = compile(theon_tensor::NO_INPUTS, &[&loss, &ok])
            .updates(&ups)
            .name("map_step")
            .build()?;
        let hist = run(&step, steps)?;
        let read = function(theon_tensor::NO_INPUTS, &xs)?;
        let values = vars
            .iter()
            .map(|v| v.name.clone())
            .zip(read.call::<Tensor>(&[])?)
            .collect();
        Ok(MapEstimate {
            model: self.clone(),
            values,
            hist,
        })
    }
}

/// `steps` calls of the compiled step; the losses.
fn run(step: &Function, steps: usize) -> Result<Vec<f64>> {
    let mut hist = Vec::with_capacity(steps);
    let mut outs = Vec::new();
    let no_args: [Tensor; 0] = [];
    for i in 0..steps {
        step.call_into(&no_args, &mut outs)?;
        let (loss, finite) = (outs[0].item::<f64>()?, outs[1].item::<bool>()?);
        if !finite {
            return Err(Error::non_finite(format!(
                "find_map step {i}: the loss is {loss} (not finite); lower the learning rate or check the model"
            )));
        }
        hist.push(loss);
    }
    Ok(hist)
}

impl MapEstimate {
    /// The estimate of a free variable (constrained space).
    pub fn value(&self, name: &str) -> Result<&Tensor> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| Error::model(format!("the MAP estimate has no variable '{name}'")))
    }
    /// Every free variable's estimate, in model order.
    pub fn values(&self) -> &[(String, Tensor)] {
        &self.values
    }
    /// The negative log posterior density at each step, evaluated before
    /// that step's update.
    pub fn hist(&self) -> &[f64] {
        &self.hist
    }
    /// `expr` with every free variable fixed at its estimate (compile it
    /// with `function`; replace inputs to predict on new data).
    pub fn node(&self, expr: &Var) -> Result<Var> {
        let repl: Vec<(Var, Var)> = self
            .model
            .free_vars()
            .into_iter()
            .zip(&self.values)
            .map(|((_, v), (_, t))| (v, constant(t.clone())))
            .collect();
        Ok(clone_replace_with(std::slice::from_ref(expr), &repl, Unused::Ignore)?.remove(0))
    }
}
