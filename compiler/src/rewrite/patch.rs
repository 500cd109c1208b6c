//! A rewrite's result: new nodes and replacements, applied as a whole.
//!
//! Rewrites never mutate the graph themselves. They describe a `Patch`;
//! the engine type-checks it (every replacement must keep the dtype and
//! rank and not lose a static size) and applies it, or rejects it and
//! leaves the graph untouched.

use crate::graph::{Graph, Value};
use crate::op::{Op, infer};
use crate::types::{OutType, TensorType};
use theon_runtime::{Error, Result};

/// A value in a patch: already in the graph, or made by the patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ref {
    Old(Value),
    New(usize, u16),
}

impl From<Value> for Ref {
    fn from(v: Value) -> Ref {
        Ref::Old(v)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Patch {
    nodes: Vec<(Op, Vec<Ref>, Option<String>)>,
    replace: Vec<(Value, Ref)>,
}

impl Patch {
    pub fn new() -> Patch {
        Patch::default()
    }
    /// Add a node (output 0 returned).
    pub fn add(&mut self, op: Op, inputs: &[Ref]) -> Ref {
        self.nodes.push((op, inputs.to_vec(), None));
        Ref::New(self.nodes.len() - 1, 0)
    }
    /// Output `port` of a node the patch added.
    pub fn port(r: Ref, port: u16) -> Ref {
        match r {
            Ref::New(i, _) => Ref::New(i, port),
            old => old,
        }
    }
    /// Replace every use of `old` by `new`.
    pub fn replace(&mut self, old: Value, new: impl Into<Ref>) {
        self.replace.push((old, new.into()));
    }
    /// One replacement of `old` by `new` (convenience).
    pub fn single(old: Value, new: impl Into<Ref>) -> Patch {
        let mut p = Patch::new();
        p.replace(old, new);
        p
    }
    /// Convenience: replace `old` by the node `op(inputs)`.
    pub fn with(old: Value, op: Op, inputs: &[Ref]) -> Patch {
        let mut p = Patch::new();
        let r = p.add(op, inputs);
        p.replace(old, r);
        p
    }
    pub fn is_empty(&self) -> bool {
        self.replace.is_empty()
    }
}

/// Does a replacement of type `new` keep everything known about `old`?
pub fn keeps_type(old: &TensorType, new: &TensorType) -> bool {
    old.dtype == new.dtype
        && old.rank() == new.rank()
        && old
            .shape
            .iter()
            .zip(&new.shape)
            .all(|(a, b)| a.is_none() || a == b)
}

/// Type-check and apply a patch. Returns an error (graph unchanged) if a
/// new node does not type or a replacement changes a type.
pub fn apply(g: &mut Graph, p: Patch) -> Result<()> {
    // Infer every new node's outputs before touching the graph.
    let mut types: Vec<Vec<OutType>> = Vec::with_capacity(p.nodes.len());
    for (op, ins, _) in &p.nodes {
        let tys: Vec<OutType> = ins
            .iter()
            .map(|r| match r {
                Ref::Old(v) => Ok(g.out_type(*v).clone()),
                Ref::New(i, port) => types
                    .get(*i)
                    .and_then(|t| t.get(*port as usize))
                    .cloned()
                    .ok_or_else(|| Error::graph("patch refers to a later node")),
            })
            .collect::<Result<_>>()?;
        let refs: Vec<&OutType> = tys.iter().collect();
        types.push(infer(op, &refs).map_err(|e| e.context(format!("patch node {}", op.name())))?);
    }
    for (old, new) in &p.replace {
        let nt = match new {
            Ref::Old(v) => &g.out_type(*v).ty,
            Ref::New(i, port) => &types[*i][*port as usize].ty,
        };
        let ot = g.ty(*old);
        if !keeps_type(ot, nt) {
            return Err(Error::graph(format!(
                "rewrite would change type {ot} to {nt}"
            )));
        }
    }
    // A new node reading a value that depends on a replaced one would close a cycle.
    for (old, _) in &p.replace {
        for (_, ins, _) in &p.nodes {
            for r in ins {
                if let Ref::Old(v) = r
                    && g.depends_on(*v, old.node)
                {
                    return Err(Error::graph("rewrite would create a cycle"));
                }
            }
        }
    }
    let mut ids = Vec::with_capacity(p.nodes.len());
    for ((op, ins, name), outs) in p.nodes.into_iter().zip(types) {
        let inputs: Vec<Value> = ins
            .iter()
            .map(|r| match r {
                Ref::Old(v) => *v,
                Ref::New(i, port) => Value {
                    node: ids[*i],
                    port: *port,
                },
            })
            .collect();
        ids.push(g.add_typed(op, &inputs, outs, name));
    }
    for (old, new) in p.replace {
        let new = match new {
            Ref::Old(v) => v,
            Ref::New(i, port) => Value { node: ids[i], port },
        };
        // Keep the user's name on the value that now stands for it.
        if g.node(new.node).name.is_none()
            && let Some(name) = g.node(old.node).name.clone()
        {
            g.node_mut(new.node).name = Some(name);
        }
        g.replace(old, new);
    }
    Ok(())
}
