//! The reference interpreter: evaluates a graph node by node with the
//! runtime's plain kernels. It stays forever as the baseline the JIT is
//! tested against, and as a debugging mode (`Mode::Interpret`).

mod backend;
mod conv;
mod eval;
pub mod scalar;

pub use backend::Interpreter;
pub use eval::{axis_slices, binary, check_alloc, eval, fill_float, reduce_tensor, unary};

use crate::graph::{Graph, NodeId, Value};
use crate::op::{InputId, Op};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use theon_runtime::{Error, Result, Tensor};

/// Values of a graph's leaves for one evaluation.
#[derive(Default)]
pub struct Bindings<'a> {
    pub inputs: FxHashMap<InputId, &'a Tensor>,
    /// Shared variables by id.
    pub shared: FxHashMap<u64, &'a Tensor>,
}

/// The label a node has in run-time errors: its op, and its name if any.
pub fn node_label(g: &Graph, n: NodeId) -> String {
    let node = g.node(n);
    let op = crate::expr::op_label(&node.op);
    match &node.name {
        Some(name) => format!("{op} '{name}'"),
        None => op,
    }
}

/// Evaluate the graph's outputs. `order` must be a topological order of the
/// nodes the outputs need (`Graph::toposort`).
pub fn run<'a>(g: &Graph, order: &[NodeId], b: &Bindings<'a>) -> Result<Vec<Tensor>> {
    let mut uses: FxHashMap<Value, usize> = FxHashMap::default();
    for &n in order {
        for v in g.inputs(n) {
            *uses.entry(v).or_default() += 1;
        }
    }
    let mut vals: FxHashMap<Value, Cow<'a, Tensor>> = FxHashMap::default();
    for &n in order {
        let node = g.node(n);
        match &node.op {
            Op::Input { id, .. } => {
                let t = b.inputs.get(id).ok_or_else(|| {
                    Error::graph(format!(
                        "input '{}' has no value",
                        node.name.clone().unwrap_or_default()
                    ))
                })?;
                vals.insert(Value::of(n), Cow::Borrowed(*t));
            }
            Op::Shared(s) => {
                let t = b.shared.get(&s.id()).ok_or_else(|| {
                    Error::graph(format!("shared variable '{}' has no value", s.name()))
                })?;
                vals.insert(Value::of(n), Cow::Borrowed(*t));
            }
            op => {
                let ins = g.inputs(n);
                let outs = {
                    let tensors: Vec<&Tensor> = ins.iter().map(|v| vals[v].as_ref()).collect();
                    let statics: Vec<_> = ins.iter().map(|v| g.ty(*v)).collect();
                    eval(op, &node_label(g, n), &statics, &node.outs, &tensors)?
                };
                for v in &ins {
                    let u = uses.get_mut(v).expect("counted");
                    *u -= 1;
                    if *u == 0 && !g.is_output(*v) {
                        vals.remove(v);
                    }
                }
                for (port, t) in outs.into_iter().enumerate() {
                    vals.insert(
                        Value {
                            node: n,
                            port: port as u16,
                        },
                        Cow::Owned(t),
                    );
                }
            }
        }
    }
    Ok(g.outputs()
        .iter()
        .map(|v| vals[v].clone().into_owned())
        .collect())
}
