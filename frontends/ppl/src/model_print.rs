//! A model as text and as a picture: `Display` prints it as PyMC's
//! `str(model)` does (`w ~ Normal(0, 1)`, `y ~ Bernoulli(f(w, x))`, with
//! shapes), and `Model::to_graphviz` writes a Graphviz DOT graph of its
//! variables and their dependencies (PyMC's `model_to_graphviz`).

use crate::model::{Model, RvKind};
use std::collections::HashMap;
use std::fmt;
use theon_compiler::VarId;
use theon_tensor::Var;

/// What a named node of the model is.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Free,
    Observed,
    Deterministic,
    Potential,
    Data,
}

struct Node {
    name: String,
    kind: Kind,
    /// `Normal(0, 1)`, `Deterministic(f(a, b))`, `Data`.
    what: String,
    shape: String,
    /// Names of the named nodes it depends on.
    parents: Vec<String>,
}

fn fmt_shape(s: &[Option<usize>]) -> String {
    let dims: Vec<String> = s
        .iter()
        .map(|d| d.map_or("?".into(), |d| d.to_string()))
        .collect();
    match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    }
}

impl Model {
    fn nodes(&self) -> Vec<Node> {
        let entries = self.entries();
        let data = self.data_vars();
        let dets = self.deterministics();
        // Every named expression, by id.
        let mut names: HashMap<VarId, String> = HashMap::new();
        for (n, v) in &data {
            names.insert(v.id(), n.clone());
        }
        for e in &entries {
            if matches!(e.kind, RvKind::Free { .. }) {
                names.insert(e.var.id(), e.name.clone());
            }
        }
        for (n, v) in &dets {
            names.insert(v.id(), n.clone());
        }
        // The named nodes an expression reads (not itself).
        let parents = |v: &Var, own: Option<VarId>| -> Vec<String> {
            let mut out: Vec<String> = Var::toposort(std::slice::from_ref(v))
                .iter()
                .filter(|u| Some(u.id()) != own)
                .filter_map(|u| names.get(&u.id()).cloned())
                .collect();
            out.dedup();
            out
        };
        let param = |v: &Var| -> String {
            if let Some(n) = names.get(&v.id()) {
                return n.clone();
            }
            if let Some(t) = v.as_constant() {
                return match t.item::<f64>() {
                    Ok(x) => format!("{x}"),
                    Err(_) => format!("<constant {}>", fmt_shape(v.static_shape())),
                };
            }
            format!("f({})", parents(v, None).join(", "))
        };
        let mut nodes = vec![];
        for (n, v) in &data {
            // The current value's shape (rows may change with `set_data`).
            let shape = match v.get_value() {
                Ok(t) => fmt_shape(&t.shape().iter().map(|&d| Some(d)).collect::<Vec<_>>()),
                Err(_) => fmt_shape(v.static_shape()),
            };
            nodes.push(Node {
                name: n.clone(),
                kind: Kind::Data,
                what: "Data".into(),
                shape,
                parents: vec![],
            });
        }
        for e in &entries {
            // Positional, as PyMC prints them; a logit is named.
            let params: Vec<String> = e
                .dist
                .named_params()
                .into_iter()
                .map(|(n, v)| match n {
                    "logit_p" => format!("logit_p={}", param(v)),
                    _ => param(v),
                })
                .collect();
            let (kind, shape) = match &e.kind {
                RvKind::Free { shape, .. } => (
                    Kind::Free,
                    fmt_shape(&shape.iter().map(|&d| Some(d)).collect::<Vec<_>>()),
                ),
                RvKind::Observed { data, .. } => {
                    // Data containers: the current value's shape.
                    let shape = match data.get_value() {
                        Ok(t) => t.shape().iter().map(|&d| Some(d)).collect::<Vec<_>>(),
                        Err(_) => data.static_shape().to_vec(),
                    };
                    (Kind::Observed, fmt_shape(&shape))
                }
            };
            let mut ps: Vec<String> = vec![];
            for p in e.dist.params() {
                for n in parents(p, None)
                    .into_iter()
                    .chain(names.get(&p.id()).cloned())
                {
                    if !ps.contains(&n) {
                        ps.push(n);
                    }
                }
            }
            if let RvKind::Observed { data, .. } = &e.kind
                && let Some(n) = names.get(&data.id())
                && !ps.contains(n)
            {
                ps.push(n.clone());
            }
            nodes.push(Node {
                name: e.name.clone(),
                kind,
                what: format!("{}({})", e.dist.name(), params.join(", ")),
                shape,
                parents: ps,
            });
        }
        for (n, v) in &dets {
            let ps = parents(v, Some(v.id()));
            nodes.push(Node {
                name: n.clone(),
                kind: Kind::Deterministic,
                what: format!("Deterministic(f({}))", ps.join(", ")),
                shape: fmt_shape(v.static_shape()),
                parents: ps,
            });
        }
        for (n, v) in self.potentials() {
            let ps = parents(&v, Some(v.id()));
            nodes.push(Node {
                name: n,
                kind: Kind::Potential,
                what: format!("Potential(f({}))", ps.join(", ")),
                shape: fmt_shape(v.static_shape()),
                parents: ps,
            });
        }
        nodes
    }

    /// The model as a Graphviz DOT graph (render with `dot -Tpng`): free
    /// variables as ellipses, observed ones filled, deterministics as
    /// boxes, potentials as octagons, data as rounded boxes; an edge for
    /// each dependency.
    pub fn to_graphviz(&self) -> String {
        let q = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = String::from("digraph model {\n");
        for n in self.nodes() {
            let style = match n.kind {
                Kind::Free => "shape=ellipse",
                Kind::Observed => "shape=ellipse, style=filled, fillcolor=lightgray",
                Kind::Deterministic => "shape=box",
                Kind::Potential => "shape=octagon",
                Kind::Data => "shape=box, style=rounded",
            };
            let label = format!("{}\n~\n{}\n{}", n.name, n.what, n.shape);
            out.push_str(&format!(
                "  {} [label={}, {style}];\n",
                q(&n.name),
                q(&label)
            ));
            for p in &n.parents {
                out.push_str(&format!("  {} -> {};\n", q(p), q(&n.name)));
            }
        }
        out.push_str("}\n");
        out
    }
}

/// One line per variable, as PyMC's `str(model)`: `name ~ Dist(params)`,
/// then the shape (and `observed` for likelihoods).
impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.nodes();
        let width = nodes.iter().map(|n| n.name.len()).max().unwrap_or(0);
        for n in nodes {
            let tail = match n.kind {
                Kind::Observed => format!("{} observed", n.shape),
                _ => n.shape.clone(),
            };
            writeln!(f, "{:>width$} ~ {}  {}", n.name, n.what, tail)?;
        }
        Ok(())
    }
}
