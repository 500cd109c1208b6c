//! `Graph`: the mutable program the compiler rewrites (PyTensor's
//! FunctionGraph), stored in a petgraph `StableGraph`.
//!
//! Nodes hold an op and the types of their outputs; an edge from a producer
//! to a consumer records which output (`port`) feeds which input (`slot`).
//! Values are `(node, port)`. The graph's `outputs` are its roots: the
//! function's results and the new values of updated shared variables.

mod dot;
mod print;

pub use print::{PrintOptions, debugprint, debugprint_with};

use crate::expr::{Var, VarId};
use crate::op::Op;
use crate::types::{Known, OutType, TensorType};
use petgraph::Direction;
use petgraph::stable_graph::{NodeIndex, StableGraph};
use petgraph::visit::EdgeRef;
use rustc_hash::{FxHashMap, FxHashSet};
use theon_runtime::{Error, Result};

pub type NodeId = NodeIndex<u32>;

/// One output of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value {
    pub node: NodeId,
    pub port: u16,
}

impl Value {
    pub fn of(node: NodeId) -> Value {
        Value { node, port: 0 }
    }
}

#[derive(Clone, Debug)]
pub struct Node {
    pub op: Op,
    pub outs: Vec<OutType>,
    pub name: Option<String>,
}

#[derive(Clone, Copy, Debug)]
pub struct Edge {
    /// Output of the producer.
    pub port: u16,
    /// Input slot of the consumer.
    pub slot: u16,
}

#[derive(Clone, Debug, Default)]
pub struct Graph {
    g: StableGraph<Node, Edge, petgraph::Directed, u32>,
    outputs: Vec<Value>,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Copy expressions into a graph whose roots are `outputs`. Returns the
    /// graph and where each expression landed.
    pub fn from_vars(outputs: &[Var]) -> Result<(Graph, FxHashMap<VarId, Value>)> {
        let mut g = Graph::new();
        let mut map: FxHashMap<VarId, Value> = FxHashMap::default();
        for v in Var::toposort(outputs) {
            let inputs: Vec<Value> = v.inputs().iter().map(|i| map[&i.id()]).collect();
            let n = g.add_typed(
                v.op().clone(),
                &inputs,
                vec![v.out_type().clone()],
                v.name(),
            );
            map.insert(v.id(), Value::of(n));
        }
        g.outputs = outputs.iter().map(|o| map[&o.id()]).collect();
        Ok((g, map))
    }

    /// Expressions for the graph's outputs. Nodes that came from `originals`
    /// (as `from_vars` recorded them) with unchanged inputs give back the
    /// original `Var`, so inputs and untouched subexpressions keep their
    /// identity. Single-output nodes only (compiled graphs with fused nodes
    /// are not turned back into expressions).
    pub fn to_vars(&self, originals: &FxHashMap<VarId, Value>, vars: &[Var]) -> Result<Vec<Var>> {
        let mut by_value: FxHashMap<Value, Var> = FxHashMap::default();
        for v in Var::toposort(vars) {
            if let Some(val) = originals.get(&v.id()) {
                by_value.entry(*val).or_insert(v);
            }
        }
        let mut built: FxHashMap<NodeId, Var> = FxHashMap::default();
        for n in self.toposort() {
            let node = self.node(n);
            if node.outs.len() != 1 {
                return Err(Error::graph(format!(
                    "{} has several outputs; it has no expression form",
                    node.op.name()
                )));
            }
            let ins: Vec<Var> = self
                .inputs(n)
                .iter()
                .map(|v| built[&v.node].clone())
                .collect();
            let original = by_value.get(&Value::of(n)).filter(|o| {
                o.inputs().len() == ins.len() && o.inputs().iter().zip(&ins).all(|(a, b)| a.same(b))
            });
            let v = match original {
                Some(o) => o.clone(),
                None => {
                    let refs: Vec<&Var> = ins.iter().collect();
                    let v = Var::apply(node.op.clone(), &refs)?;
                    if let Some(name) = &node.name {
                        v.set_name(name);
                    }
                    v
                }
            };
            built.insert(n, v);
        }
        Ok(self
            .outputs
            .iter()
            .map(|o| built[&o.node].clone())
            .collect())
    }

    /// Add a node, inferring its output types.
    pub fn add(&mut self, op: Op, inputs: &[Value]) -> Result<NodeId> {
        let types: Vec<&OutType> = inputs.iter().map(|v| self.out_type(*v)).collect();
        let outs =
            crate::op::infer(&op, &types).map_err(|e| e.context(crate::expr::op_label(&op)))?;
        Ok(self.add_typed(op, inputs, outs, None))
    }

    /// Add a node with given output types (no inference).
    pub fn add_typed(
        &mut self,
        op: Op,
        inputs: &[Value],
        outs: Vec<OutType>,
        name: Option<String>,
    ) -> NodeId {
        let n = self.g.add_node(Node { op, outs, name });
        for (slot, v) in inputs.iter().enumerate() {
            self.g.add_edge(
                v.node,
                n,
                Edge {
                    port: v.port,
                    slot: slot as u16,
                },
            );
        }
        n
    }

    pub fn node(&self, n: NodeId) -> &Node {
        &self.g[n]
    }
    pub fn node_mut(&mut self, n: NodeId) -> &mut Node {
        &mut self.g[n]
    }
    pub fn op(&self, n: NodeId) -> &Op {
        &self.g[n].op
    }
    /// The node's output is a view of its input's buffer (no copy):
    /// reshapes, and dimshuffles that only add or drop size-1 axes.
    pub fn is_view(&self, n: NodeId) -> bool {
        match self.op(n) {
            Op::Reshape | Op::StopGradient => true,
            // Adding or dropping size-1 axes without reordering keeps memory order.
            Op::DimShuffle(order) => order
                .iter()
                .flatten()
                .collect::<Vec<_>>()
                .windows(2)
                .all(|w| w[0] < w[1]),
            _ => false,
        }
    }
    pub fn contains(&self, n: NodeId) -> bool {
        self.g.contains_node(n)
    }
    pub fn out_type(&self, v: Value) -> &OutType {
        &self.g[v.node].outs[v.port as usize]
    }
    pub fn ty(&self, v: Value) -> &TensorType {
        &self.out_type(v).ty
    }
    pub fn known(&self, v: Value) -> &Known {
        &self.out_type(v).known
    }
    pub fn n_outputs(&self, n: NodeId) -> usize {
        self.g[n].outs.len()
    }
    pub fn len(&self) -> usize {
        self.g.node_count()
    }
    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.g.node_indices()
    }

    /// Inputs of a node, in slot order.
    pub fn inputs(&self, n: NodeId) -> Vec<Value> {
        // Slots are unique: an unstable sort on the stack, one allocation.
        let mut e: smallvec::SmallVec<[(u16, Value); 8]> = self
            .g
            .edges_directed(n, Direction::Incoming)
            .map(|e| {
                (
                    e.weight().slot,
                    Value {
                        node: e.source(),
                        port: e.weight().port,
                    },
                )
            })
            .collect();
        e.sort_unstable_by_key(|(s, _)| *s);
        e.into_iter().map(|(_, v)| v).collect()
    }

    pub fn input(&self, n: NodeId, slot: usize) -> Value {
        self.inputs(n)[slot]
    }

    /// Consumers of a value as (node, slot), deterministic order.
    pub fn clients(&self, v: Value) -> Vec<(NodeId, u16)> {
        let mut c: Vec<(NodeId, u16)> = self
            .g
            .edges_directed(v.node, Direction::Outgoing)
            .filter(|e| e.weight().port == v.port)
            .map(|e| (e.target(), e.weight().slot))
            .collect();
        c.sort();
        c
    }

    /// Number of uses of a value, counting uses as a graph output.
    pub fn n_uses(&self, v: Value) -> usize {
        self.clients(v).len() + self.outputs.iter().filter(|o| **o == v).count()
    }

    pub fn is_output(&self, v: Value) -> bool {
        self.outputs.contains(&v)
    }

    pub fn outputs(&self) -> &[Value] {
        &self.outputs
    }
    pub fn set_outputs(&mut self, outputs: Vec<Value>) {
        self.outputs = outputs;
    }

    /// Redirect every use of `old` (as an input or a graph output) to `new`.
    pub fn replace(&mut self, old: Value, new: Value) {
        if old == new {
            return;
        }
        let uses: Vec<_> = self
            .g
            .edges_directed(old.node, Direction::Outgoing)
            .filter(|e| e.weight().port == old.port)
            .map(|e| (e.id(), e.target(), e.weight().slot))
            .collect();
        for (id, target, slot) in uses {
            self.g.remove_edge(id);
            self.g.add_edge(
                new.node,
                target,
                Edge {
                    port: new.port,
                    slot,
                },
            );
        }
        for o in &mut self.outputs {
            if *o == old {
                *o = new;
            }
        }
    }

    /// Point input `slot` of `n` at `new`.
    pub fn set_input(&mut self, n: NodeId, slot: usize, new: Value) {
        let old: Vec<_> = self
            .g
            .edges_directed(n, Direction::Incoming)
            .filter(|e| e.weight().slot as usize == slot)
            .map(|e| e.id())
            .collect();
        for id in old {
            self.g.remove_edge(id);
        }
        self.g.add_edge(
            new.node,
            n,
            Edge {
                port: new.port,
                slot: slot as u16,
            },
        );
    }

    /// Nodes reachable from the outputs, every node after its inputs;
    /// deterministic (depends only on structure, not on node indices).
    pub fn toposort(&self) -> Vec<NodeId> {
        // Node indices are dense (below node_bound): a flag per index.
        let mut seen = vec![false; petgraph::visit::NodeIndexable::node_bound(&self.g)];
        let mut first_visit = |n: NodeId| !std::mem::replace(&mut seen[n.index()], true);
        let mut order = Vec::new();
        let mut stack: Vec<(NodeId, usize, Vec<Value>)> = Vec::new();
        for o in &self.outputs {
            if !first_visit(o.node) {
                continue;
            }
            stack.push((o.node, 0, self.inputs(o.node)));
            while let Some((n, i, ins)) = stack.pop() {
                if i < ins.len() {
                    let child = ins[i].node;
                    stack.push((n, i + 1, ins));
                    if first_visit(child) {
                        let cins = self.inputs(child);
                        stack.push((child, 0, cins));
                    }
                } else {
                    order.push(n);
                }
            }
        }
        order
    }

    /// Remove nodes the outputs do not reach. Returns how many went.
    pub fn remove_dead(&mut self) -> usize {
        let live: FxHashSet<NodeId> = self.toposort().into_iter().collect();
        let dead: Vec<NodeId> = self
            .g
            .node_indices()
            .filter(|n| !live.contains(n))
            .collect();
        for n in &dead {
            self.g.remove_node(*n);
        }
        dead.len()
    }

    /// Does `v` depend on node `n` (is `n` among its ancestors, or itself)?
    pub fn depends_on(&self, v: Value, n: NodeId) -> bool {
        let mut stack = vec![v.node];
        let mut seen = FxHashSet::default();
        while let Some(m) = stack.pop() {
            if m == n {
                return true;
            }
            if seen.insert(m) {
                stack.extend(self.inputs(m).iter().map(|i| i.node));
            }
        }
        false
    }

    /// Check structural invariants (used by tests and debug builds).
    pub fn validate(&self) -> Result<()> {
        for n in self.g.node_indices() {
            let ins = self.inputs(n);
            for (i, v) in ins.iter().enumerate() {
                if v.port as usize >= self.n_outputs(v.node) {
                    return Err(Error::graph(format!(
                        "node {n:?} slot {i} reads a missing output"
                    )));
                }
            }
            let types: Vec<&OutType> = ins.iter().map(|v| self.out_type(*v)).collect();
            if !self.g[n].op.is_leaf() {
                let inferred = crate::op::infer(&self.g[n].op, &types)
                    .map_err(|e| e.context(format!("validating {}", self.g[n].op.name())))?;
                for (a, b) in inferred.iter().zip(&self.g[n].outs) {
                    if a.ty.dtype != b.ty.dtype || a.ty.rank() != b.ty.rank() {
                        return Err(Error::graph(format!(
                            "node {} has type {} but its inputs give {}",
                            self.g[n].op.name(),
                            b.ty,
                            a.ty
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}
