//! `clone_replace`: rebuild expressions with some sub-expressions swapped.

use crate::expr::{Var, VarId};
use crate::types::{TensorType, fmt_dims};
use std::collections::HashMap;
use theon_runtime::{Error, Result};

/// Can a value of type `new` stand in for one of type `old`? Same dtype and
/// rank, and no static size of one contradicting the other (a known size
/// may become unknown: the rebuilt expressions are re-typed).
pub fn check_replacement(old: &Var, new: &Var) -> Result<()> {
    let (a, b): (&TensorType, &TensorType) = (old.ty(), new.ty());
    let name = |v: &Var| v.name().map(|n| format!("'{n}' ")).unwrap_or_default();
    let conflict = a.rank() != b.rank()
        || a.dtype != b.dtype
        || a.shape.iter().zip(&b.shape).any(|(x, y)| x.is_some() && y.is_some() && x != y);
    if conflict {
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

/// New versions of `outputs` in which every `old` is replaced by its `new`.
/// Sub-expressions that do not depend on a replaced one are shared, not copied.
pub fn clone_replace(outputs: &[Var], replace: &[(Var, Var)]) -> Result<Vec<Var>> {
    let mut memo: HashMap<VarId, Var> = HashMap::new();
    for (old, new) in replace {
        check_replacement(old, new)?;
        if memo.insert(old.id(), new.clone()).is_some() {
            return Err(Error::graph(format!("{old:?} is replaced twice")));
        }
    }
    for v in Var::toposort(outputs) {
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
