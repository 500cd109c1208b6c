//! `clone_replace`: rebuild expressions with some sub-expressions swapped.

use crate::expr::{Var, VarId};
use crate::types::{TensorType, fmt_dims};
use rustc_hash::FxHashMap;
use theon_runtime::{Error, Result};

/// Can a value of type `new` stand in for one of type `old`? Same dtype and
/// rank. Static sizes may differ (a 50-row minibatch replaced by the full
/// data): the rebuilt expressions are re-typed, and an expression that
/// cannot take the new sizes fails to rebuild with an error.
pub fn check_replacement(old: &Var, new: &Var) -> Result<()> {
    let (a, b): (&TensorType, &TensorType) = (old.ty(), new.ty());
    let name = |v: &Var| v.name().map(|n| format!("'{n}' ")).unwrap_or_default();
    if a.rank() != b.rank() || a.dtype != b.dtype {
        return Err(Error::graph(format!(
            "cannot replace {}of type {} ({} {}) with {}of type {} ({} {})",
            name(old),
            a,
            a.dtype,
            fmt_dims(&a.shape),
            name(new),
            b,
            b.dtype,
            fmt_dims(&b.shape),
        )));
    }
    Ok(())
}

/// `new`, checked at run time to have the sizes `old` had that `new`
/// leaves open, on every axis but the first (the rows of data may change:
/// a minibatch replaced by the full set). A wrong width is then reported
/// as the user's input with its expected shape, not as a shape clash deep
/// inside the rebuilt (maybe vectorized) expression.
fn pinned(old: &Var, new: &Var) -> Result<Var> {
    let (a, b) = (old.static_shape(), new.static_shape());
    let mut dims: theon_runtime::Dims<Option<usize>> = b.iter().copied().collect();
    let mut any = false;
    for k in 1..dims.len() {
        if dims[k].is_none() && a[k].is_some() {
            dims[k] = a[k];
            any = true;
        }
    }
    if !any {
        return Ok(new.clone());
    }
    let label = |v: &Var| {
        v.name()
            .map_or_else(|| format!("{v:?}"), |n| format!("'{n}'"))
    };
    let what = format!(
        "{} (replacing {} of type {})",
        label(new),
        label(old),
        old.ty()
    );
    Var::apply(
        crate::op::Op::SpecifyShape {
            dims,
            what: what.into(),
        },
        &[new],
    )
}

/// New versions of `outputs` in which every `old` is replaced by its `new`.
/// Sub-expressions that do not depend on a replaced one are shared, not copied.
pub fn clone_replace(outputs: &[Var], replace: &[(Var, Var)]) -> Result<Vec<Var>> {
    clone_replace_with(outputs, replace, Unused::Error)
}

/// What a replacement of a variable the outputs do not depend on means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unused {
    /// An error naming it (the default, as PyTensor's strict
    /// `graph_replace`): usually a typo or the wrong variable.
    Error,
    /// Nothing (substituting a whole set, only some of which appear).
    Ignore,
}

/// `clone_replace` with a choice for unused replacements.
pub fn clone_replace_with(
    outputs: &[Var],
    replace: &[(Var, Var)],
    unused: Unused,
) -> Result<Vec<Var>> {
    let mut memo: FxHashMap<VarId, Var> = FxHashMap::default();
    for (old, new) in replace {
        check_replacement(old, new)?;
        if memo.insert(old.id(), pinned(old, new)?).is_some() {
            return Err(Error::graph(format!("{old:?} is replaced twice")));
        }
    }
    let order = Var::toposort(outputs);
    if unused == Unused::Error {
        let used: rustc_hash::FxHashSet<VarId> = order.iter().map(|v| v.id()).collect();
        if let Some((old, _)) = replace.iter().find(|(old, _)| !used.contains(&old.id())) {
            return Err(Error::graph(format!(
                "replacement of {old:?}: the expression does not depend on it (use Unused::Ignore to allow this)"
            )));
        }
    }
    for v in order {
        if memo.contains_key(&v.id()) {
            continue;
        }
        let new_inputs: Vec<Var> = v.inputs().iter().map(|i| memo[&i.id()].clone()).collect();
        let changed = new_inputs.iter().zip(v.inputs()).any(|(a, b)| !a.same(b));
        let nv = if changed {
            let refs: Vec<&Var> = new_inputs.iter().collect();
            let nv = Var::apply(v.op().clone(), &refs)?;
            if let Some(n) = v.name() {
                nv.set_name(&n);
            }
            nv
        } else {
            v.clone()
        };
        memo.insert(v.id(), nv);
    }
    Ok(outputs.iter().map(|o| memo[&o.id()].clone()).collect())
}

impl Var {
    /// This expression with `old` replaced by `new` (PyMC's
    /// `more_replacements`, one pair at a time).
    pub fn replace(&self, old: &Var, new: &Var) -> Result<Var> {
        Ok(clone_replace(std::slice::from_ref(self), &[(old.clone(), new.clone())])?.remove(0))
    }

    /// This expression with every `(old, new)` pair substituted at once.
    pub fn replace_all(&self, pairs: &[(&Var, &Var)]) -> Result<Var> {
        let pairs: Vec<(Var, Var)> = pairs
            .iter()
            .map(|(a, b)| ((*a).clone(), (*b).clone()))
            .collect();
        Ok(clone_replace(std::slice::from_ref(self), &pairs)?.remove(0))
    }
}
