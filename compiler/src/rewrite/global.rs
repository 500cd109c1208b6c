//! Global passes: merge (common subexpressions, equal constants) and
//! constant folding. Dead-code elimination is `Graph::remove_dead`.

use super::Ctx;
use super::trace::Trace;
use super::util::describe;
use crate::graph::{Graph, Value};
use crate::op::{ConstValue, Op};
use crate::types::TensorType;
use rustc_hash::FxHashMap;
use theon_runtime::{DType, Tensor};

/// Merge nodes with equal ops and equal inputs (including equal constants).
pub fn merge(g: &mut Graph, _: &Ctx, trace: &mut Trace, phase: &'static str) -> bool {
    // Ops hash by value and shared variables by id, which never changes.
    #[allow(clippy::mutable_key_type)]
    let mut seen: FxHashMap<(Op, Vec<Value>), crate::graph::NodeId> = FxHashMap::default();
    let mut changed = false;
    for n in g.toposort() {
        let op = g.op(n).clone();
        if matches!(op, Op::Input { .. }) {
            continue;
        }
        let key = (op, g.inputs(n));
        match seen.get(&key) {
            Some(&m) if m != n => {
                trace.record(phase, "merge", describe(g, n));
                for port in 0..g.n_outputs(n) as u16 {
                    g.replace(Value { node: n, port }, Value { node: m, port });
                }
                changed = true;
            }
            _ => {
                seen.insert(key, n);
            }
        }
    }
    changed
}

/// Largest result a fold may materialize (folding must not blow up memory).
const FOLD_LIMIT: usize = 1 << 14;

/// Evaluate nodes whose inputs are all constants; replace integer values
/// that type inference knows completely (shapes of static tensors).
pub fn fold(g: &mut Graph, _: &Ctx, trace: &mut Trace, phase: &'static str) -> bool {
    let mut changed = false;
    for n in g.toposort() {
        let node = g.node(n);
        if node.op.is_leaf()
            || matches!(node.op, Op::Random { .. } | Op::Custom(_))
            || node.outs.len() != 1
        {
            continue;
        }
        let out = &node.outs[0];
        // Fully known integer values (e.g. the shape of a static tensor).
        if let Some(k) = &out.known
            && let Some(vals) = k.iter().copied().collect::<Option<Vec<i64>>>()
        {
            let shape = out
                .ty
                .static_shape()
                .expect("known values have a static shape");
            let t = Tensor::new(vals, &shape).expect("known length matches");
            replace_with_const(g, n, t, trace, phase, "fold_known");
            changed = true;
            continue;
        }
        let ins = g.inputs(n);
        if ins.is_empty() || !ins.iter().all(|v| matches!(g.op(v.node), Op::Constant(_))) {
            continue;
        }
        if out.ty.static_len().is_none_or(|len| len > FOLD_LIMIT) {
            continue;
        }
        // Broadcasts stay symbolic: folded, they would become big constants
        // that loops must read, where a scalar broadcast costs nothing.
        if matches!(node.op, Op::Alloc | Op::BroadcastTo) && out.ty.static_len() != Some(1) {
            continue;
        }
        let tensors: Vec<Tensor> = ins
            .iter()
            .map(|v| match g.op(v.node) {
                Op::Constant(c) => c.tensor().clone(),
                _ => unreachable!("checked constant"),
            })
            .collect();
        let refs: Vec<&Tensor> = tensors.iter().collect();
        let statics: Vec<&TensorType> = ins.iter().map(|v| g.ty(*v)).collect();
        // A fold that fails (e.g. an index error) is left for run time to report.
        if let Ok(mut r) = crate::interp::eval(&node.op, "fold", &statics, &node.outs, &refs) {
            let t = r.remove(0);
            replace_with_const(g, n, t, trace, phase, "constant_fold");
            changed = true;
        }
    }
    changed
}

fn replace_with_const(
    g: &mut Graph,
    n: crate::graph::NodeId,
    t: Tensor,
    trace: &mut Trace,
    phase: &'static str,
    name: &'static str,
) {
    trace.record(phase, name, describe(g, n));
    let op = Op::Constant(ConstValue::new(t));
    let outs = crate::op::infer(&op, &[]).expect("constants type");
    let c = g.add_typed(op, &[], outs, None);
    g.replace(Value::of(n), Value::of(c));
}

/// Is this dtype exact under `x * 0 = 0`, `x - x = 0` (no NaN or inf)?
pub fn exact_dtype(d: DType) -> bool {
    !d.is_float()
}
