//! Reverse-mode differentiation: `grad` builds the gradient as expressions.
//!
//! The gradient of a scalar cost is accumulated from the cost back to the
//! inputs, one pullback (vector-Jacobian product) per op (`rules.rs`, one
//! `match` over every op). The result is ordinary `Var`s: it goes through
//! the same rewrites and code generation as anything else, and can be
//! differentiated again.

mod check;
mod rules;

pub use check::{GradCheck, VerifyGrad, hessian, jacobian, verify_grad};

use crate::expr::{Var, VarId};
use crate::types::TensorType;
use rustc_hash::{FxHashMap, FxHashSet};
use theon_runtime::{Error, Result};

/// What to do with a `wrt` the cost does not depend on (PyTensor's
/// `disconnected_inputs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Disconnected {
    /// An error naming the input.
    #[default]
    Raise,
    /// A zero gradient of the input's shape.
    Zero,
    /// `None` for that input.
    Ignore,
}

/// Gradients of scalar `cost` with respect to each of `wrt`.
/// With `Disconnected::Ignore`, disconnected inputs give `None`; otherwise
/// every entry is `Some`.
pub fn grad(cost: &Var, wrt: &[Var], disconnected: Disconnected) -> Result<Vec<Option<Var>>> {
    if cost.rank() != 0 {
        return Err(Error::grad(format!(
            "the cost must be a scalar, got {} (sum or mean it first)",
            cost.ty()
        )));
    }
    if !cost.dtype().is_float() {
        return Err(Error::grad(format!(
            "the cost must be a float, got {}",
            cost.ty()
        )));
    }
    for w in wrt {
        if !w.dtype().is_float() {
            return Err(Error::grad(format!(
                "cannot differentiate with respect to {w:?}: not a float tensor"
            )));
        }
    }
    // Differentiate the stable form of the cost (log_sigmoid rather than
    // log(sigmoid), ...): the derivative of a stable form is stable, while
    // rewriting the gradient of an unstable one afterwards is not always
    // possible. Fall back to the cost as written if a `wrt` was rewritten away.
    let reach = |c: &Var| -> FxHashSet<VarId> {
        Var::toposort(std::slice::from_ref(c))
            .iter()
            .map(Var::id)
            .collect()
    };
    let stable = stabilized(cost)?;
    let (in_stable, in_cost) = (reach(&stable), reach(cost));
    let cost = if wrt
        .iter()
        .all(|w| in_stable.contains(&w.id()) || !in_cost.contains(&w.id()))
    {
        &stable
    } else {
        cost
    };
    let order = Var::toposort(std::slice::from_ref(cost));
    // Which expressions depend on some `wrt` (only they need gradients).
    let targets: FxHashSet<VarId> = wrt.iter().map(Var::id).collect();
    let mut depends: FxHashSet<VarId> = FxHashSet::default();
    for v in &order {
        if targets.contains(&v.id()) || v.inputs().iter().any(|i| depends.contains(&i.id())) {
            depends.insert(v.id());
        }
    }
    // Contributions to each expression's gradient, summed when visited.
    let mut contrib: FxHashMap<VarId, Vec<Var>> = FxHashMap::default();
    contrib.insert(cost.id(), vec![cost.ones_like()]);
    let mut total: FxHashMap<VarId, Var> = FxHashMap::default();
    for v in order.iter().rev() {
        let Some(parts) = contrib.remove(&v.id()) else {
            continue;
        };
        let g = sum_all(parts)?;
        if targets.contains(&v.id()) {
            total.insert(v.id(), g.clone());
        }
        if v.inputs().is_empty() || !v.inputs().iter().any(|i| depends.contains(&i.id())) {
            continue;
        }
        let gins = rules::pullback(v, &g)
            .map_err(|e| e.context(format!("grad of {}", crate::expr::op_label(v.op()))))?;
        for (input, gi) in v.inputs().iter().zip(gins) {
            let Some(gi) = gi else { continue };
            if !depends.contains(&input.id()) || !input.dtype().is_float() {
                continue;
            }
            let gi = fit_to(&gi, input.ty())?;
            contrib.entry(input.id()).or_default().push(gi);
        }
    }
    wrt.iter()
        .map(|w| match total.remove(&w.id()) {
            Some(g) => Ok(Some(g)),
            None => match disconnected {
                Disconnected::Raise => Err(Error::grad(format!(
                    "the cost does not depend on {} (pass Disconnected::Zero or Ignore to allow this)",
                    w.name().map(|n| format!("'{n}'")).unwrap_or_else(|| format!("{w:?}"))
                ))),
                Disconnected::Zero => Ok(Some(w.zeros_like())),
                Disconnected::Ignore => Ok(None),
            },
        })
        .collect()
}

/// The cost after the canonicalize and stabilize phases, as expressions
/// that share every untouched node with the original.
fn stabilized(cost: &Var) -> Result<Var> {
    let (mut g, map) = crate::graph::Graph::from_vars(std::slice::from_ref(cost))?;
    // stop_gradient must survive until the gradient is built.
    let which = crate::rewrite::Rewrites::Except(vec![
        "specialize".into(),
        "fuse".into(),
        "drop_stop_gradient".into(),
    ]);
    let ctx = crate::rewrite::Ctx::default();
    let mut trace = crate::rewrite::Trace::default();
    for phase in crate::rewrite::phases()
        .iter()
        .filter(|p| which.enabled(p.name, ""))
    {
        crate::rewrite::run_phase(&mut g, phase, &which, &ctx, &mut trace);
    }
    if trace.events.is_empty() {
        return Ok(cost.clone());
    }
    Ok(g.to_vars(&map, std::slice::from_ref(cost))?.remove(0))
}

fn sum_all(mut parts: Vec<Var>) -> Result<Var> {
    let mut acc = parts.remove(0);
    for p in parts {
        acc = (acc + p)?;
    }
    Ok(acc)
}

/// Sum a gradient over the axes its input was broadcast along, and cast it
/// to the input's dtype.
pub(crate) fn fit_to(g: &Var, target: &TensorType) -> Result<Var> {
    let mut g = g.clone();
    if g.rank() > target.rank() {
        let lead: Vec<i64> = (0..(g.rank() - target.rank()) as i64).collect();
        g = g.sum_axes(&lead, false)?;
    }
    let axes: Vec<i64> = (0..target.rank())
        .filter(|&a| target.shape[a] == Some(1) && g.static_shape()[a] != Some(1))
        .map(|a| a as i64)
        .collect();
    if !axes.is_empty() {
        g = g.sum_axes(&axes, true)?;
    }
    if g.rank() != target.rank() {
        return Err(Error::grad(format!(
            "gradient of type {} does not fit its input of type {target}",
            g.ty()
        )));
    }
    Ok(g.cast(target.dtype))
}
