//! The interpreter as a backend of the call protocol (`Mode::Interpret`).

use crate::call::{Backend, Call, Update};
use crate::graph::{Graph, NodeId};
use std::sync::Arc;
use theon_runtime::Result;

pub struct Interpreter {
    graph: Arc<Graph>,
    order: Vec<NodeId>,
}

impl Interpreter {
    /// `order` is a topological order of the nodes the graph's roots need.
    pub fn new(graph: Arc<Graph>, order: Vec<NodeId>) -> Interpreter {
        Interpreter { graph, order }
    }
}

impl Backend for Interpreter {
    fn run(&self, call: &mut Call<'_>) -> Result<()> {
        let p = call.protocol;
        let mut results = {
            let mut b = super::Bindings::default();
            for (k, spec) in p.inputs.iter().enumerate() {
                b.inputs.insert(spec.id, call.args.arg(k));
            }
            for (k, s) in p.shared.iter().enumerate() {
                b.shared.insert(s.id(), call.shared.get(k));
            }
            super::run(&self.graph, &self.order, &b)
                .map_err(|e| e.context(format!("function '{}'", p.name)))?
        };
        let new_values = results.split_off(p.n_outputs);
        call.commit(false, &|j| Update::Tensor(&new_values[j]))?;
        *call.outs = results;
        Ok(())
    }
}
