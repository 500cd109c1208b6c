//! Graph rewriting: named rewrites in phases, each run to a fixpoint.
//!
//! | phase        | what it does                                                  |
//! |--------------|---------------------------------------------------------------|
//! | canonicalize | merge, constant folding, algebraic identities, one normal form |
//! | stabilize    | unstable log/exp forms become log1p, softplus, log_sigmoid ... |
//! | specialize   | matrix products become GEMM calls with folded transposes/scales|
//! |              | convolutions take their bias and activation (`conv_epilogue`)  |
//! |              | large products take their activation (`gemm_epilogue`)        |
//! | fuse         | elementwise chains (and their reductions) become one loop      |
//! | memory       | in-place outputs and in-place shared-variable updates          |
//!
//! A local rewrite looks at one node of the ops it tracks and returns a
//! `Patch`, which the engine type-checks and applies as a whole. Every
//! application is recorded in a `Trace` (set `THEON_TRACE_REWRITES=1` to log
//! them as they happen).

pub mod canonicalize;
pub mod conv_epilogue;
pub mod fuse;
pub mod gemm_epilogue;
pub mod global;
pub mod patch;
pub mod pattern;
pub mod specialize;
pub mod stabilize;
pub mod trace;
mod util;

pub use patch::{Patch, Ref};
pub use trace::{Event, Trace};
pub use util::describe;

use crate::graph::{Graph, NodeId};
use crate::op::Op;
use pattern::Rule;
use theon_runtime::Result;

/// Which rewrites run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Rewrites {
    /// Every phase and rewrite.
    #[default]
    All,
    /// None: the graph runs as written.
    None,
    /// Only these phases or rewrites (by name).
    Only(Vec<String>),
    /// Everything except these phases or rewrites.
    Except(Vec<String>),
}

impl Rewrites {
    pub fn enabled(&self, phase: &str, name: &str) -> bool {
        match self {
            Rewrites::All => true,
            Rewrites::None => false,
            Rewrites::Only(v) => v.iter().any(|s| s == phase || s == name),
            Rewrites::Except(v) => !v.iter().any(|s| s == phase || s == name),
        }
    }
}

/// Options the rewrites see.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    /// Allow `x * 0 -> 0` and `x - x -> 0` for floats (wrong for inf/NaN).
    pub fast_math: bool,
    /// What the backend can do, for rewrites whose choices depend on it.
    pub backend: Capabilities,
}

/// What the backend offers the rewrites (passed in, so rewriting never
/// asks the code generator, which sits above it).
#[derive(Clone, Debug, Default)]
pub struct Capabilities {
    /// Unary ops the backend runs over whole buffers as wide-math kernels
    /// (fusion leaves large ones standalone to get them).
    pub wide_math: Vec<crate::op::UnaryOp>,
    /// Whether a product of these (m, k, n) goes to the backend's GEMM
    /// call, where an activation can run in its epilogue (None: never).
    pub gemm_call: Option<fn(crate::types::Dim, crate::types::Dim, crate::types::Dim) -> bool>,
}

type CodeFn = fn(&Graph, NodeId, &Ctx) -> Option<crate::rewrite::Patch>;

enum Body {
    Code(CodeFn),
    Rule(Rule),
}

/// A named rewrite of single nodes.
pub struct LocalRewrite {
    pub name: &'static str,
    tracks: Box<dyn Fn(&Op) -> bool + Send + Sync>,
    body: Body,
}

impl LocalRewrite {
    pub fn code(name: &'static str, tracks: fn(&Op) -> bool, f: CodeFn) -> LocalRewrite {
        LocalRewrite {
            name,
            tracks: Box::new(tracks),
            body: Body::Code(f),
        }
    }
    pub fn rule(rule: Rule) -> LocalRewrite {
        let root = rule.root_op();
        LocalRewrite {
            name: rule.name,
            tracks: Box::new(move |op| Some(op) == root.as_ref()),
            body: Body::Rule(rule),
        }
    }
    pub fn tracks(&self, op: &Op) -> bool {
        (self.tracks)(op)
    }
    pub fn try_at(&self, g: &Graph, n: NodeId, ctx: &Ctx) -> Option<Patch> {
        match &self.body {
            Body::Code(f) => f(g, n, ctx),
            Body::Rule(r) => r.apply(g, n),
        }
    }
}

type GlobalFn = fn(&mut Graph, &Ctx, &mut Trace, &'static str) -> bool;

/// A named whole-graph pass.
pub struct GlobalPass {
    pub name: &'static str,
    pub run: GlobalFn,
}

pub struct Phase {
    pub name: &'static str,
    pub globals: Vec<GlobalPass>,
    pub locals: Vec<LocalRewrite>,
}

/// The phases in order (planning is the next stage, `crate::schedule`).
pub fn phases() -> Vec<Phase> {
    let merge = || GlobalPass {
        name: "merge",
        run: global::merge,
    };
    let fold = || GlobalPass {
        name: "constant_fold",
        run: global::fold,
    };
    vec![
        Phase {
            name: "canonicalize",
            globals: vec![merge(), fold()],
            locals: canonicalize::rewrites(),
        },
        Phase {
            name: "stabilize",
            globals: vec![merge(), fold()],
            locals: stabilize::rewrites(),
        },
        Phase {
            name: "specialize",
            globals: vec![merge()],
            locals: specialize::rewrites(),
        },
        Phase {
            name: "fuse",
            globals: vec![GlobalPass {
                name: "fuse_elementwise",
                run: fuse::fuse,
            }],
            locals: vec![],
        },
    ]
}

/// Upper bound on sweeps per phase (a safety net against rules that undo each other).
const MAX_SWEEPS: usize = 64;

/// Rewrite `g` in place through every enabled phase.
pub fn optimize(g: &mut Graph, which: &Rewrites, ctx: &Ctx) -> Result<Trace> {
    let mut trace = Trace::default();
    if *which == Rewrites::None {
        return Ok(trace);
    }
    for phase in phases() {
        run_phase(g, &phase, which, ctx, &mut trace);
    }
    g.remove_dead();
    Ok(trace)
}

/// Run one phase to a fixpoint.
pub fn run_phase(g: &mut Graph, phase: &Phase, which: &Rewrites, ctx: &Ctx, trace: &mut Trace) {
    let locals: Vec<&LocalRewrite> = phase
        .locals
        .iter()
        .filter(|r| which.enabled(phase.name, r.name))
        .collect();
    for _ in 0..MAX_SWEEPS {
        let mut changed = false;
        for gp in &phase.globals {
            if which.enabled(phase.name, gp.name) && (gp.run)(g, ctx, trace, phase.name) {
                changed = true;
            }
        }
        for n in g.toposort() {
            if !g.contains(n) {
                continue;
            }
            for r in &locals {
                if !r.tracks(g.op(n)) {
                    continue;
                }
                if let Some(p) = r.try_at(g, n, ctx) {
                    let at = util::describe(g, n);
                    // A patch that does not type-check is dropped: the graph stays valid.
                    if patch::apply(g, p).is_ok() {
                        trace.record(phase.name, r.name, at);
                        changed = true;
                        break;
                    }
                }
            }
        }
        g.remove_dead();
        if !changed {
            return;
        }
    }
}
