//! memory: decide which outputs may be written in place.
//!
//! With the schedule fixed (the graph's topological order), an elementwise
//! output may overwrite the buffer of an input of the same dtype and shape
//! that dies at that node: no later reader, not a function input, constant
//! or graph output, and not shared with a view. An update of a shared
//! variable may be computed straight into the variable's storage when its
//! node reads the old value and every other reader runs before it.

use crate::graph::{Graph, NodeId, Value};
use crate::op::{FusedOutput, Op};
use crate::shared::SharedVar;
use rustc_hash::{FxHashMap, FxHashSet};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryPlan {
    /// The schedule.
    pub order: Vec<NodeId>,
    /// Output value -> the input slot whose buffer it reuses.
    pub inplace: FxHashMap<Value, u16>,
    /// Batch regions: runs of the schedule the code generator executes a
    /// chunk of leading indices at a time (see `regions.rs`).
    pub regions: Vec<std::ops::Range<usize>>,
}

/// The value whose buffer `v` lives in (following views back).
pub fn buffer_root(g: &Graph, mut v: Value) -> Value {
    while g.is_view(v.node) {
        v = g.input(v.node, 0);
    }
    v
}

/// Plan in-place writes. `updates[k]` is the shared variable whose new
/// value is the graph root `n_outputs + k`.
pub fn plan(g: &Graph, n_outputs: usize, updates: &[SharedVar]) -> MemoryPlan {
    let (order, regions) = super::regions::with_batch_regions(g, g.toposort());
    let pos: FxHashMap<NodeId, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let update_of: FxHashMap<Value, &SharedVar> = g.outputs()[n_outputs..]
        .iter()
        .copied()
        .zip(updates)
        .collect();
    // Values sharing a buffer, by the value that owns it.
    let mut aliases: FxHashMap<Value, Vec<Value>> = FxHashMap::default();
    for &n in &order {
        for port in 0..g.n_outputs(n) as u16 {
            let v = Value { node: n, port };
            aliases.entry(buffer_root(g, v)).or_default().push(v);
        }
    }
    let mut inplace = FxHashMap::default();
    let mut destroyed: FxHashSet<Value> = FxHashSet::default();
    for &n in &order {
        let outs: Vec<u16> = match g.op(n) {
            Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_) => vec![0],
            Op::Fused(p) => p
                .outputs
                .iter()
                .enumerate()
                .filter(|(_, o)| matches!(o, FusedOutput::Elementwise(_)))
                .map(|(k, _)| k as u16)
                .collect(),
            _ => continue,
        };
        let ins = g.inputs(n);
        for port in outs {
            let out = Value { node: n, port };
            let ot = g.ty(out);
            for (slot, &v) in ins.iter().enumerate() {
                let root = buffer_root(g, v);
                if destroyed.contains(&root)
                    || g.ty(v).dtype != ot.dtype
                    || g.ty(v).shape != ot.shape
                {
                    continue;
                }
                // Every reader of the buffer, through any alias, must be this
                // node at this slot or run earlier; no alias may be an output.
                let group = &aliases[&root];
                let dies_here = group.iter().all(|a| {
                    !g.is_output(*a)
                        && g.clients(*a).iter().all(|(c, s)| {
                            (*c == n && *a == v && *s as usize == slot)
                                || (*c != n && pos[c] < pos[&n])
                        })
                });
                if !dies_here {
                    continue;
                }
                let ok = match g.op(root.node) {
                    Op::Input { .. } | Op::Constant(_) => false,
                    // The old value of a shared variable may be overwritten
                    // only by its own new value.
                    Op::Shared(s) => {
                        update_of.get(&out).is_some_and(|u| *u == s) && g.n_uses(out) == 1
                    }
                    _ => true,
                };
                if ok {
                    inplace.insert(out, slot as u16);
                    destroyed.insert(root);
                    break;
                }
            }
        }
    }
    MemoryPlan {
        order,
        inplace,
        regions,
    }
}
