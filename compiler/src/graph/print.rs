//! debugprint: the graph as a deterministic indented tree.
//!
//! ```text
//! Sigmoid [id A] 'p'
//!  └─ MatMul [id B]
//!     ├─ x [id C]
//!     └─ w [id D] (shared)
//! ```
//! Ids are letters given in the order nodes are first printed, so the text
//! depends only on the graph's structure: insta snapshots hold. A node seen
//! before is printed again with `···` and not expanded.

use super::{Graph, NodeId, Value};
use crate::op::Op;
use rustc_hash::FxHashMap;
use std::fmt::Write;

#[derive(Clone, Copy, Debug, Default)]
pub struct PrintOptions {
    /// Show each value's static type (`<f64[500, 2]>`).
    pub types: bool,
}

/// PyTensor-style ids: A..Z, BA, BB, ...
fn id_text(mut k: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (k % 26) as u8);
        k /= 26;
        if k == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

struct Printer<'a> {
    g: &'a Graph,
    notes: &'a dyn Fn(Value) -> Option<String>,
    opts: PrintOptions,
    ids: FxHashMap<NodeId, String>,
    expanded: FxHashMap<NodeId, ()>,
    out: String,
}

impl Printer<'_> {
    fn id(&mut self, n: NodeId) -> String {
        let next = self.ids.len();
        self.ids.entry(n).or_insert_with(|| id_text(next)).clone()
    }

    fn head(&mut self, v: Value) -> String {
        let node = self.g.node(v.node);
        let mut s = match &node.op {
            Op::Input { .. } => node.name.clone().unwrap_or_else(|| "Input".into()),
            Op::Shared(sv) => sv.name().to_string(),
            op => op.to_string(),
        };
        if node.outs.len() > 1 {
            write!(s, ".{}", v.port).unwrap();
        }
        let id = self.id(v.node);
        write!(s, " [id {id}]").unwrap();
        if self.opts.types {
            write!(s, " <{}>", self.g.ty(v)).unwrap();
        }
        if let Some(note) = (self.notes)(v) {
            write!(s, " ({note})").unwrap();
        }
        match &node.op {
            Op::Shared(sv) if sv.is_random_state() => s.push_str(" (random state)"),
            Op::Shared(_) => s.push_str(" (shared)"),
            Op::Input { .. } => {}
            _ => {
                if let Some(name) = &node.name {
                    write!(s, " '{name}'").unwrap();
                }
            }
        }
        s
    }

    fn tree(&mut self, v: Value, prefix: &str, first: &str) {
        let seen = self.expanded.contains_key(&v.node);
        let head = self.head(v);
        let inputs = self.g.inputs(v.node);
        let repeat = seen && !inputs.is_empty();
        writeln!(
            self.out,
            "{first}{head}{}",
            if repeat { " ···" } else { "" }
        )
        .unwrap();
        if seen {
            return;
        }
        self.expanded.insert(v.node, ());
        for (i, input) in inputs.iter().enumerate() {
            let last = i + 1 == inputs.len();
            let (branch, cont) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            self.tree(
                *input,
                &format!("{prefix}{cont}"),
                &format!("{prefix}{branch}"),
            );
        }
    }
}

/// Print the trees under `roots`; a root with a label prints as `label: tree`
/// (the label goes on its own line above the tree).
pub fn debugprint(g: &Graph, roots: &[(Option<String>, Value)], opts: PrintOptions) -> String {
    debugprint_with(g, roots, opts, &|_| None)
}

/// `debugprint` with a note after chosen values (e.g. `(inplace i0)`).
pub fn debugprint_with(
    g: &Graph,
    roots: &[(Option<String>, Value)],
    opts: PrintOptions,
    notes: &dyn Fn(Value) -> Option<String>,
) -> String {
    let mut p = Printer {
        g,
        notes,
        opts,
        ids: FxHashMap::default(),
        expanded: FxHashMap::default(),
        out: String::new(),
    };
    for (label, v) in roots {
        if let Some(l) = label {
            writeln!(p.out, "{l}").unwrap();
        }
        p.tree(*v, " ", "");
    }
    p.out
}

impl Graph {
    /// debugprint of every output of the graph.
    pub fn print(&self, opts: PrintOptions) -> String {
        let roots: Vec<(Option<String>, Value)> =
            self.outputs().iter().map(|v| (None, *v)).collect();
        debugprint(self, &roots, opts)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids() {
        assert_eq!(super::id_text(0), "A");
        assert_eq!(super::id_text(25), "Z");
        assert_eq!(super::id_text(26), "BA");
        assert_eq!(super::id_text(27), "BB");
    }
}
