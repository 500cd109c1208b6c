//! Graphviz DOT export for drawing graphs (`dot -Tpng`).

use super::{Graph, NodeId};
use crate::op::Op;
use rustc_hash::FxHashMap;
use std::fmt::Write;

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Graph {
    /// The graph in DOT: one box per node (op, name, output types), edges
    /// labelled with the input slot, outputs marked.
    pub fn to_dot(&self) -> String {
        let order = self.toposort();
        let index: FxHashMap<NodeId, usize> =
            order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut s = String::from(
            "digraph theon {\n  rankdir=BT;\n  node [shape=box, fontname=\"Helvetica\"];\n",
        );
        for (i, &n) in order.iter().enumerate() {
            let node = self.node(n);
            let title = match &node.op {
                Op::Input { .. } => format!("input {}", node.name.clone().unwrap_or_default()),
                Op::Shared(sv) => format!("shared {}", sv.name()),
                op => op.to_string(),
            };
            let mut label = escape(&title);
            if let (Some(name), false) = (&node.name, node.op.is_leaf()) {
                write!(label, "\\n'{}'", escape(name)).unwrap();
            }
            for o in &node.outs {
                write!(label, "\\n{}", escape(&o.ty.to_string())).unwrap();
            }
            let style = match node.op {
                Op::Input { .. } => ", style=filled, fillcolor=\"#d0e4ff\"",
                Op::Shared(_) => ", style=filled, fillcolor=\"#ffe9c7\"",
                Op::Constant(_) => ", style=filled, fillcolor=\"#eeeeee\"",
                Op::Fused(_) => ", style=filled, fillcolor=\"#d9f2d9\"",
                _ => "",
            };
            writeln!(s, "  n{i} [label=\"{label}\"{style}];").unwrap();
        }
        for &n in &order {
            for (slot, v) in self.inputs(n).iter().enumerate() {
                let port = if self.n_outputs(v.node) > 1 {
                    format!(".{}", v.port)
                } else {
                    String::new()
                };
                writeln!(
                    s,
                    "  n{} -> n{} [label=\"{slot}{port}\"];",
                    index[&v.node], index[&n]
                )
                .unwrap();
            }
        }
        for (k, o) in self.outputs().iter().enumerate() {
            writeln!(
                s,
                "  out{k} [label=\"output {k}\", shape=plaintext];\n  n{} -> out{k};",
                index[&o.node]
            )
            .unwrap();
        }
        s.push_str("}\n");
        s
    }
}
