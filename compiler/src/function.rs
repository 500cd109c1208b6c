//! `Function`: a compiled, callable graph.
//!
//! Compiling copies the expressions (after `givens` substitutions) into a
//! `Graph` whose roots are the outputs followed by the new values of updated
//! shared variables, rewrites it, and hands it to a backend. Calls go
//! through the one call protocol (`call::Protocol`): argument and shared
//! checks, locking, update writes and stream advances are written there
//! once for both backends.

use crate::call::{Backend, InputSpec, Protocol};
use crate::codegen::{JitFunction, JitOptions, StepKind};
use crate::expr::Var;
use crate::graph::{Graph, PrintOptions, Value, debugprint_with};
use crate::interp::Interpreter;
use crate::op::{InputId, Op};
use crate::replace::clone_replace;
use crate::rewrite::{self, Ctx, Rewrites, Trace};
use crate::schedule::{self, MemoryPlan};
use crate::shared::SharedVar;
use rustc_hash::FxHashSet;
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::Arc;
use theon_runtime::{Error, Result, Tensor};

/// Which backend runs the function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Native code from Cranelift.
    #[default]
    Jit,
    /// The reference interpreter.
    Interpret,
}

/// How to compile.
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    pub mode: Mode,
    /// A name used in error messages and printing.
    pub name: Option<String>,
    /// Which rewrites run (all by default).
    pub rewrites: Rewrites,
    /// Allow float rewrites that are wrong for inf/NaN (`x * 0 -> 0`).
    pub fast_math: bool,
    /// Code generation options (optimization level, keeping IR text).
    pub jit: JitOptions,
}

pub struct Function {
    /// Inputs, outputs, the shared variables touched and updated (the
    /// graph's roots after the outputs are the updates' new values).
    protocol: Protocol,
    graph: Arc<Graph>,
    mode: Mode,
    trace: Trace,
    memory: MemoryPlan,
    engine: Engine,
}

/// The backend a function runs on (one per function: the size difference
/// of the variants does not matter).
#[allow(clippy::large_enum_variant)]
enum Engine {
    Jit(JitFunction),
    Interpret(Interpreter),
}

/// What `function` is asked to build.
pub struct FunctionSpec<'a> {
    pub inputs: &'a [Var],
    pub outputs: &'a [Var],
    pub updates: &'a [(Var, Var)],
    pub givens: &'a [(Var, Var)],
    pub options: CompileOptions,
}

impl Function {
    /// Compile a function.
    pub fn compile(spec: FunctionSpec<'_>) -> Result<Function> {
        let name = spec
            .options
            .name
            .clone()
            .unwrap_or_else(|| "function".into());
        let ctx = |e: Error| e.context(format!("function '{name}'"));

        // Inputs: distinct symbolic inputs.
        let mut inputs = Vec::new();
        let mut seen = FxHashSet::default();
        for (k, v) in spec.inputs.iter().enumerate() {
            let Op::Input { id, ty } = v.op() else {
                return Err(ctx(Error::graph(format!(
                    "argument {k} ({v:?}) is not a symbolic input; use givens to substitute expressions"
                ))));
            };
            if !seen.insert(*id) {
                return Err(ctx(Error::graph(format!(
                    "input '{}' is listed twice",
                    v.name().unwrap_or_default()
                ))));
            }
            inputs.push(InputSpec {
                id: *id,
                name: v.name().unwrap_or_else(|| format!("arg{k}")),
                ty: ty.clone(),
            });
        }

        // Updates: shared target, value of a fitting type.
        let mut update_targets = Vec::new();
        let mut update_values = Vec::new();
        for (target, value) in spec.updates {
            let sv = target.as_shared().ok_or_else(|| {
                ctx(Error::graph(format!(
                    "update target {target:?} is not a shared variable"
                )))
            })?;
            if sv.is_random_state() {
                return Err(ctx(Error::graph(format!(
                    "'{}' is a random stream; it advances by itself on every call",
                    sv.name()
                ))));
            }
            if update_targets.contains(sv) {
                return Err(ctx(Error::graph(format!(
                    "shared variable '{}' is updated twice",
                    sv.name()
                ))));
            }
            let (t, v) = (sv.ty(), value.ty());
            let fits = t.dtype == v.dtype
                && t.rank() == v.rank()
                && t.shape
                    .iter()
                    .zip(&v.shape)
                    .all(|(a, b)| a.is_none() || b.is_none() || a == b);
            if !fits {
                return Err(ctx(Error::graph(format!(
                    "update of shared variable '{}' of type {t} has type {v}",
                    sv.name()
                ))));
            }
            update_targets.push(sv.clone());
            update_values.push(value.clone());
        }

        // Givens substitute into outputs and update values together.
        let mut roots: Vec<Var> = spec.outputs.to_vec();
        roots.extend(update_values);
        let roots = if spec.givens.is_empty() {
            roots
        } else {
            clone_replace(&roots, spec.givens).map_err(ctx)?
        };

        // Every symbolic input the roots need must be an argument.
        let declared: FxHashSet<InputId> = inputs.iter().map(|i| i.id).collect();
        for v in Var::toposort(&roots) {
            if let Op::Input { id, .. } = v.op()
                && !declared.contains(id)
            {
                return Err(ctx(Error::graph(format!(
                    "input '{}' is needed to compute the outputs but is not an argument (add it to the inputs or give it with givens)",
                    v.name().unwrap_or_default()
                ))));
            }
        }

        let (mut graph, _) = Graph::from_vars(&roots).map_err(ctx)?;
        let fast_math = spec.options.fast_math;
        let trace = rewrite::optimize(
            &mut graph,
            &spec.options.rewrites,
            &Ctx {
                fast_math,
                backend: crate::codegen::capabilities(),
            },
        )
        .map_err(ctx)?;
        let n_outputs = spec.outputs.len();
        let memory = schedule::plan(&graph, n_outputs, &update_targets);
        let mode = spec.options.mode;
        let jit_opts = spec.options.jit;
        Function::from_graph(
            name,
            inputs,
            n_outputs,
            update_targets,
            graph,
            mode,
            trace,
            memory,
            jit_opts,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn from_graph(
        name: String,
        inputs: Vec<InputSpec>,
        n_outputs: usize,
        updates: Vec<SharedVar>,
        graph: Graph,
        mode: Mode,
        trace: Trace,
        memory: MemoryPlan,
        jit_opts: JitOptions,
    ) -> Result<Function> {
        let order = memory.order.clone();
        let mut shared: BTreeMap<u64, SharedVar> =
            updates.iter().map(|s| (s.id(), s.clone())).collect();
        let mut rngs = BTreeMap::new();
        for &n in &order {
            match graph.op(n) {
                Op::Shared(s) => {
                    shared.insert(s.id(), s.clone());
                }
                Op::Random { .. } => {
                    let state = graph.input(n, 0);
                    if let Op::Shared(s) = graph.op(state.node) {
                        rngs.insert(s.id(), s.clone());
                    }
                }
                _ => {}
            }
        }
        let shared: Vec<SharedVar> = shared.into_values().collect();
        let rngs: Vec<SharedVar> = rngs.into_values().collect();
        let graph = Arc::new(graph);
        let protocol = Protocol::new(name, inputs, n_outputs, shared, updates, &rngs);
        let engine = match mode {
            Mode::Jit => Engine::Jit(
                JitFunction::new(graph.clone(), &memory, &protocol, &jit_opts)
                    .map_err(|e| e.context(format!("function '{}'", protocol.name)))?,
            ),
            Mode::Interpret => Engine::Interpret(Interpreter::new(graph.clone(), order)),
        };
        Ok(Function {
            protocol,
            graph,
            mode,
            trace,
            memory,
            engine,
        })
    }

    fn jit(&self) -> Option<&JitFunction> {
        match &self.engine {
            Engine::Jit(j) => Some(j),
            Engine::Interpret(_) => None,
        }
    }

    pub fn name(&self) -> &str {
        &self.protocol.name
    }
    pub fn inputs(&self) -> &[InputSpec] {
        &self.protocol.inputs
    }
    pub fn n_outputs(&self) -> usize {
        self.protocol.n_outputs
    }
    pub fn mode(&self) -> Mode {
        self.mode
    }
    /// The compiled graph (outputs, then update values).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
    pub fn updated_shared(&self) -> &[SharedVar] {
        &self.protocol.updates
    }
    /// Which rewrites fired while compiling, and where.
    pub fn rewrite_trace(&self) -> &Trace {
        &self.trace
    }
    /// The schedule and in-place decisions of the memory phase.
    pub fn memory_plan(&self) -> &MemoryPlan {
        &self.memory
    }

    /// The Cranelift IR of the native code (with `JitOptions::keep_ir`).
    pub fn ir(&self) -> Option<&str> {
        self.jit().and_then(|j| j.ir())
    }
    /// The machine code's disassembly (with `JitOptions::keep_disasm`).
    pub fn disassembly(&self) -> Option<&str> {
        self.jit().and_then(|j| j.disassembly())
    }
    /// What each scheduled node compiled to (JIT mode).
    pub fn steps(&self) -> Option<&[StepKind]> {
        self.jit().map(|j| j.steps())
    }

    /// For each batch region (see `MemoryPlan::regions`), then each large
    /// elementwise loop compiled to split across threads: the leading
    /// extent and the chunk length of the last call's plan (JIT mode). A
    /// split loop that ran on one thread has one chunk.
    pub fn region_chunks(&self) -> Vec<(usize, usize)> {
        self.jit().map(|j| j.region_chunks()).unwrap_or_default()
    }

    /// Time per step over all calls so far (JIT mode compiled with
    /// `JitOptions::profile`), like PyTensor's profiler.
    pub fn profile(&self) -> Option<ProfileReport> {
        let jit = self.jit()?;
        let (calls, ns) = jit.profile()?;
        let steps = jit
            .order()
            .iter()
            .zip(jit.steps())
            .zip(ns)
            .enumerate()
            .filter(|(_, ((_, kind), _))| **kind != StepKind::Nothing)
            .map(|(position, ((&n, &kind), ns))| {
                let mut node = rewrite::describe(&self.graph, n);
                if node.len() > 110 {
                    let cut = (0..=107)
                        .rev()
                        .find(|&i| node.is_char_boundary(i))
                        .unwrap_or(0);
                    node = format!("{}...", &node[..cut]);
                }
                let ty = self.graph.ty(Value::of(n));
                StepProfile {
                    position,
                    kind,
                    node: format!("{node} -> {ty}"),
                    seconds: ns as f64 * 1e-9,
                }
            })
            .collect();
        Some(ProfileReport { calls, steps })
    }

    /// Call with arguments in input order; returns the outputs.
    pub fn call<T: Borrow<Tensor>>(&self, args: &[T]) -> Result<Vec<Tensor>> {
        let mut outs = Vec::new();
        self.call_into(args, &mut outs)?;
        Ok(outs)
    }

    /// Call, writing the outputs into `outs` (reusing its tensors' storage
    /// where dtype and shape match).
    pub fn call_into<T: Borrow<Tensor>>(&self, args: &[T], outs: &mut Vec<Tensor>) -> Result<()> {
        let backend: &dyn Backend = match &self.engine {
            Engine::Jit(j) => j,
            Engine::Interpret(i) => i,
        };
        self.protocol.call(backend, args, outs)
    }

    /// The compiled graph as text: outputs, then updates.
    pub fn debugprint(&self, opts: PrintOptions) -> String {
        let mut roots: Vec<(Option<String>, Value)> = Vec::new();
        for (k, v) in self.graph.outputs().iter().enumerate() {
            let n_outputs = self.protocol.n_outputs;
            let label = if k < n_outputs {
                format!("output {k}:")
            } else {
                format!("update {}:", self.protocol.updates[k - n_outputs].name())
            };
            roots.push((Some(label), *v));
        }
        let notes = |v: Value| {
            self.memory
                .inplace
                .get(&v)
                .map(|slot| format!("inplace i{slot}"))
        };
        debugprint_with(&self.graph, &roots, opts, &notes)
    }
}

/// Time spent in one step of a profiled function.
#[derive(Clone, Debug)]
pub struct StepProfile {
    /// Position in the schedule.
    pub position: usize,
    pub kind: StepKind,
    /// The node, as the rewrite trace describes it, and its type.
    pub node: String,
    /// Total over all calls.
    pub seconds: f64,
}

/// Per-step times of a profiled function; prints as a table, slowest first.
#[derive(Clone, Debug)]
pub struct ProfileReport {
    pub calls: u64,
    pub steps: Vec<StepProfile>,
}

impl std::fmt::Display for ProfileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let total: f64 = self.steps.iter().map(|s| s.seconds).sum();
        let calls = self.calls.max(1) as f64;
        writeln!(
            f,
            "{} calls, {:.3} us per call in steps",
            self.calls,
            total / calls * 1e6
        )?;
        let mut steps: Vec<&StepProfile> = self.steps.iter().collect();
        steps.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
        for s in steps {
            let kind = match s.kind {
                StepKind::Loop => "loop".to_string(),
                StepKind::Gemm(k) => format!("gemm/{k:?}").to_lowercase(),
                StepKind::WideMath => "wide math".to_string(),
                StepKind::Exec => "rust".to_string(),
                StepKind::Nothing => "-".to_string(),
            };
            writeln!(
                f,
                "{:5.1}% {:9.3} us  #{:<3} {:<11} {}",
                100.0 * s.seconds / total.max(1e-300),
                s.seconds / calls * 1e6,
                s.position,
                kind,
                s.node
            )?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Function({}, {} inputs, {} outputs, {} updates)",
            self.protocol.name,
            self.protocol.inputs.len(),
            self.protocol.n_outputs,
            self.protocol.updates.len()
        )
    }
}
