//! Compile-time layout of a function: values, buffers and the quantities
//! generated code reads at run time.
//!
//! Every value lives in a buffer. Views (reshape, size-1 dimshuffles)
//! share their input's buffer; an output the memory plan marks in place
//! shares the buffer of the input it overwrites. Buffers are function
//! arguments, shared-variable storage, constants, the caller's output
//! tensors, or slots of an arena the plan lays out per shape signature.
//! Sizes that are not known when compiling are entries of a `dims` table
//! the plan fills; generated code loads them.

use crate::call::Protocol;
use crate::graph::{Graph, NodeId, Value};
use crate::op::Op;
use crate::schedule::MemoryPlan;
use crate::types::TensorType;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use theon_runtime::{DType, Tensor};

/// Where a buffer's memory comes from.
#[derive(Clone, Debug)]
pub enum BufKind {
    /// Function argument `k` (read only).
    Arg(usize),
    /// Storage of shared variable `k` of the function's shared list.
    Shared(usize),
    /// A constant owned by the compiled function.
    Const(Arc<Tensor>),
    /// Laid out in the arena by the plan.
    Arena,
    /// The caller's tensor for output `k`.
    Output(usize),
}

#[derive(Clone, Debug)]
pub struct BufSpec {
    pub kind: BufKind,
    pub dtype: DType,
    /// The value whose element count is the buffer's size.
    pub root: usize,
    /// Schedule positions of the first write and last read (arena reuse).
    pub first: usize,
    pub last: usize,
}

/// Whose concrete shape a quantity reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShapeOf {
    Value(usize),
    /// The loop shape of the step at this schedule position.
    Loop(usize),
}

/// A run-time integer the generated code needs: the product of the dims
/// of a shape at the axes in `mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QExpr {
    pub of: ShapeOf,
    pub mask: u64,
}

/// A quantity: known when compiling, or entry `k` of the dims table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Q {
    K(i64),
    D(u32),
}

pub struct Layout {
    pub order: Vec<NodeId>,
    pub vals: Vec<Value>,
    pub vid: FxHashMap<Value, usize>,
    /// Schedule position of each value's node.
    pub pos_of: Vec<usize>,
    pub ty: Vec<TensorType>,
    pub buf_of: Vec<usize>,
    pub bufs: Vec<BufSpec>,
    /// Values the planner evaluates itself (they feed shapes).
    pub closure: Vec<bool>,
    pub quantities: Vec<QExpr>,
    q_index: FxHashMap<QExpr, u32>,
    /// Per graph root: the value whose buffer must be copied out after the
    /// call (outputs not written in place, updates not computed in place).
    pub root_copy: Vec<Option<usize>>,
    /// Value of each graph root (outputs, then update values).
    pub roots: Vec<usize>,
    pub n_outputs: usize,
    /// Batch regions of the schedule (run chunk by chunk).
    pub regions: Vec<super::region::RegionLayout>,
}

impl Layout {
    /// The layout of `g` called through `protocol` (its shared variables
    /// in lock order, its updates in root order).
    pub fn new(g: &Graph, mem: &MemoryPlan, protocol: &Protocol) -> Layout {
        let (inputs, shared, updates, n_outputs) = (
            &protocol.inputs,
            &protocol.shared,
            &protocol.updates,
            protocol.n_outputs,
        );
        let order = mem.order.clone();
        let mut vals = Vec::new();
        let mut vid = FxHashMap::default();
        let mut pos_of = Vec::new();
        let mut ty = Vec::new();
        for (pos, &n) in order.iter().enumerate() {
            for port in 0..g.n_outputs(n) as u16 {
                let v = Value { node: n, port };
                vid.insert(v, vals.len());
                vals.push(v);
                pos_of.push(pos);
                ty.push(g.ty(v).clone());
            }
        }
        let arg_of: FxHashMap<_, usize> =
            inputs.iter().enumerate().map(|(k, i)| (i.id, k)).collect();
        let shared_of: FxHashMap<u64, usize> = shared
            .iter()
            .enumerate()
            .map(|(k, s)| (s.id(), k))
            .collect();
        let mut buf_of = vec![usize::MAX; vals.len()];
        let mut bufs: Vec<BufSpec> = Vec::new();
        for (i, &v) in vals.iter().enumerate() {
            let n = v.node;
            let alias = if g.is_view(n) {
                Some(g.input(n, 0))
            } else {
                mem.inplace.get(&v).map(|slot| g.input(n, *slot as usize))
            };
            if let Some(src) = alias {
                buf_of[i] = buf_of[vid[&src]];
                continue;
            }
            let kind = match g.op(n) {
                Op::Input { id, .. } => BufKind::Arg(arg_of[id]),
                Op::Shared(s) => BufKind::Shared(shared_of[&s.id()]),
                Op::Constant(c) => BufKind::Const(c.0.clone()),
                _ => BufKind::Arena,
            };
            buf_of[i] = bufs.len();
            bufs.push(BufSpec {
                kind,
                dtype: ty[i].dtype,
                root: i,
                first: pos_of[i],
                last: pos_of[i],
            });
        }
        // Liveness: a buffer lives until the last reader of any value in it.
        for (pos, &n) in order.iter().enumerate() {
            for input in g.inputs(n) {
                let b = buf_of[vid[&input]];
                bufs[b].last = bufs[b].last.max(pos);
            }
        }
        let end = order.len();
        // Outputs write into the caller's tensors when they own their buffer alone.
        let roots: Vec<usize> = g.outputs().iter().map(|v| vid[v]).collect();
        let mut root_copy = vec![None; roots.len()];
        for (k, &r) in roots.iter().enumerate() {
            let b = buf_of[r];
            bufs[b].last = end;
            if k < n_outputs {
                let alone = roots.iter().filter(|&&o| buf_of[o] == b).count() == 1;
                if matches!(bufs[b].kind, BufKind::Arena) && alone {
                    bufs[b].kind = BufKind::Output(k);
                } else {
                    root_copy[k] = Some(r);
                }
            } else {
                let target = &updates[k - n_outputs];
                let in_place =
                    matches!(bufs[b].kind, BufKind::Shared(s) if shared[s].id() == target.id());
                if !in_place {
                    root_copy[k] = Some(r);
                }
            }
        }
        // The planner evaluates everything that feeds a shape input.
        let mut closure = vec![false; vals.len()];
        for &n in order.iter().rev() {
            let wanted_slots: Vec<usize> = match g.op(n) {
                Op::Reshape | Op::BroadcastTo | Op::Alloc => vec![1],
                Op::Random { .. } => vec![1],
                _ => vec![],
            };
            let node_in_closure = (0..g.n_outputs(n)).any(|p| {
                closure[vid[&Value {
                    node: n,
                    port: p as u16,
                }]]
            });
            let slots: Vec<usize> = if node_in_closure && !matches!(g.op(n), Op::Shape) {
                (0..g.inputs(n).len()).collect()
            } else {
                wanted_slots
            };
            for s in slots {
                closure[vid[&g.input(n, s)]] = true;
            }
        }
        let mut layout = Layout {
            order,
            vals,
            vid,
            pos_of,
            ty,
            buf_of,
            bufs,
            closure,
            quantities: vec![],
            q_index: FxHashMap::default(),
            root_copy,
            roots,
            n_outputs,
            regions: vec![],
        };
        layout.regions = mem
            .regions
            .iter()
            .map(|r| super::region::RegionLayout::new(g, &layout, r.clone(), false))
            .collect();
        layout
    }

    /// A quantity: constant if `known`, else a dims-table entry.
    pub fn q(&mut self, known: Option<i64>, expr: QExpr) -> Q {
        // A size counting a batch region's leading axis changes per chunk:
        // it must be read from the table even when known. (A split loop
        // reads only its own loop's sizes.)
        let per_chunk = expr.mask & 1 != 0
            && self.regions.iter().any(|r| match expr.of {
                ShapeOf::Value(v) => !r.split && r.carries(v),
                ShapeOf::Loop(pos) => r.steps.contains(&pos),
            });
        if let (Some(k), false) = (known, per_chunk) {
            return Q::K(k);
        }
        let next = self.quantities.len() as u32;
        let idx = *self.q_index.entry(expr).or_insert(next);
        if idx == next {
            self.quantities.push(expr);
        }
        Q::D(idx)
    }

    /// Product of the dims at `axes` of a shape whose static dims are `dims`.
    pub fn dims_product(
        &mut self,
        of: ShapeOf,
        dims: &[Option<usize>],
        axes: impl IntoIterator<Item = usize>,
    ) -> Q {
        let mut mask = 0u64;
        let mut known = Some(1i64);
        for a in axes {
            mask |= 1 << a;
            known = known.zip(dims[a]).map(|(k, d)| k * d as i64);
        }
        self.q(known, QExpr { of, mask })
    }

    /// Product of dims `from..to` of value `v`.
    pub fn value_dims(&mut self, v: usize, from: usize, to: usize) -> Q {
        let dims = self.ty[v].shape.clone();
        self.dims_product(ShapeOf::Value(v), &dims, from..to)
    }
}
