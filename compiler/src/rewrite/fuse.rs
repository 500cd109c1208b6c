//! fuse: maximal convex groups of elementwise ops become one `Fused` node
//! whose scalar program runs in a single loop; reductions of a group's
//! values join it as extra outputs, and any member used outside the group
//! is an output too.
//!
//! A node joins its producers' groups when its output has the same static
//! shape as theirs (so every value inside the loop is full-size; only
//! inputs broadcast) and the union stays convex: no path leaves the group
//! and comes back, which would make the fused node depend on itself.

use super::Ctx;
use super::trace::Trace;
use super::util::describe;
use crate::graph::{Graph, NodeId, Value};
use crate::op::{FusedOutput, FusedProgram, Instr, Op, ReduceOp, Reg, ScalarBits, UnaryOp};
use crate::types::{Dim, broadcast_shapes};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;
use theon_runtime::DType;
use theon_runtime::Dims;

fn fusible(g: &Graph, ctx: &Ctx, n: NodeId) -> bool {
    g.op(n).is_elementwise() && g.n_outputs(n) == 1 && !stands_alone(g, ctx, n)
}

/// Tensors at least this large (or of unknown size) run transcendentals on
/// their own, where wide vector kernels apply.
pub const STANDALONE_MIN: usize = 64;

/// A float transcendental (tanh, exp, log, ...) on a large or dynamic
/// tensor stays out of fused loops: on its own it runs over the whole
/// buffer with the CPU's widest vectors (AVX-512/AVX2 slice kernels), about
/// 4x faster than inside a 128-bit Cranelift loop, for the price of one
/// extra pass over memory. The decision is the same on every machine, so
/// compiled graphs do not depend on the CPU.
pub(super) fn stands_alone(g: &Graph, ctx: &Ctx, n: NodeId) -> bool {
    let Op::Unary(u) = g.op(n) else { return false };
    let ty = g.ty(Value::of(n));
    let same_dtype = g.ty(g.input(n, 0)).dtype == ty.dtype;
    let big = ty
        .shape
        .iter()
        .try_fold(1usize, |acc, d| d.map(|d| acc * d))
        .is_none_or(|k| k >= STANDALONE_MIN);
    ty.dtype.is_float() && same_dtype && big && ctx.backend.wide_math.contains(u)
}

fn fusible_reduce(op: &Op) -> bool {
    matches!(
        op,
        Op::Reduce {
            op: ReduceOp::Sum | ReduceOp::Mean | ReduceOp::Max | ReduceOp::Min | ReduceOp::Prod,
            ..
        }
    )
}

/// The common loop shape of two values that are full-size in one loop, if
/// they can be: equal dims, or an unknown dim against a known one other
/// than 1 (an unknown dim never broadcasts, so at run time they are equal).
fn unify_shape(a: &[Dim], b: &[Dim]) -> Option<Dims<Dim>> {
    if a.len() != b.len() {
        return None;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| match (x, y) {
            (x, y) if x == y => Some(*x),
            (None, Some(n)) | (Some(n), None) if *n != 1 => Some(Some(*n)),
            _ => None,
        })
        .collect()
}

struct Groups<'g> {
    g: &'g Graph,
    pos: FxHashMap<NodeId, usize>,
    /// The inputs of the node at each position, as positions (the graph
    /// does not change while groups form).
    preds: Vec<Vec<usize>>,
    /// The group of the node at each position (`NONE`: none).
    group_at: Vec<usize>,
    members: Vec<Vec<NodeId>>,
    /// Reductions that join a group as extra outputs (step 2).
    reductions: Vec<Vec<NodeId>>,
    shape: Vec<Dims<Dim>>,
    /// `convex`'s scratch: marks stamped per call, so nothing is cleared.
    marks: Marks,
}

const NONE: usize = usize::MAX;

#[derive(Default)]
struct Marks {
    stamp: u32,
    in_set: Vec<u32>,
    seen: Vec<u32>,
    seen_group: Vec<u32>,
    stack: Vec<usize>,
}

impl Groups<'_> {
    fn assign(&mut self, n: NodeId, k: usize) {
        self.group_at[self.pos[&n]] = k;
    }

    fn group_of(&self, n: NodeId) -> Option<usize> {
        Some(self.group_at[self.pos[&n]]).filter(|&k| k != NONE)
    }

    /// Would groups `ks` with `extra` added stay convex once every group is
    /// one node? Walking back from the inputs the set takes from outside,
    /// no path may come back into the set; a node of another group stands
    /// for the whole group (its fused node will need all its members'
    /// inputs), so two groups that each look convex cannot end up
    /// depending on each other. (Positions and stamped marks: this runs
    /// for every candidate, so it allocates and hashes nothing per node.)
    fn convex(&mut self, ks: &[usize], extra: NodeId) -> bool {
        let m = &mut self.marks;
        if m.stamp == u32::MAX {
            *m = Marks::default();
        }
        m.stamp += 1;
        let s = m.stamp;
        let n = self.preds.len();
        m.in_set.resize(n, 0);
        m.seen.resize(n, 0);
        m.seen_group.resize(self.members.len(), 0);
        let set = ks
            .iter()
            .flat_map(|&k| self.members[k].iter().chain(&self.reductions[k]))
            .chain(std::iter::once(&extra))
            .map(|x| self.pos[x]);
        let mut first = usize::MAX;
        for p in set.clone() {
            m.in_set[p] = s;
            first = first.min(p);
        }
        m.stack.clear();
        for p in set {
            m.stack
                .extend(self.preds[p].iter().filter(|&&i| m.in_set[i] != s));
        }
        while let Some(x) = m.stack.pop() {
            if m.in_set[x] == s {
                return false;
            }
            if m.seen[x] == s {
                continue;
            }
            m.seen[x] = s;
            let k = self.group_at[x];
            if k != NONE {
                if m.seen_group[k] != s {
                    m.seen_group[k] = s;
                    for y in self.members[k].iter().chain(&self.reductions[k]) {
                        m.stack.extend(&self.preds[self.pos[y]]);
                    }
                }
                continue;
            }
            if x < first {
                continue;
            }
            m.stack.extend(&self.preds[x]);
        }
        true
    }
}

/// Run the pass; returns whether anything was fused.
pub fn fuse(g: &mut Graph, ctx: &Ctx, trace: &mut Trace, phase: &'static str) -> bool {
    let order = g.toposort();
    let pos: FxHashMap<NodeId, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let preds = order
        .iter()
        .map(|&n| g.inputs(n).iter().map(|v| pos[&v.node]).collect())
        .collect();
    let mut gr = Groups {
        g,
        pos,
        preds,
        group_at: vec![NONE; order.len()],
        members: vec![],
        reductions: vec![],
        shape: vec![],
        marks: Marks::default(),
    };
    // 1. Elementwise groups, growing forward.
    for &n in &order {
        if !fusible(gr.g, ctx, n) {
            continue;
        }
        let shape = gr.g.ty(Value::of(n)).shape.clone();
        let mut cands: Vec<usize> =
            gr.g.inputs(n)
                .iter()
                .filter_map(|v| gr.group_of(v.node))
                .filter(|&k| unify_shape(&gr.shape[k], &shape).is_some())
                .collect();
        cands.sort_unstable();
        cands.dedup();
        // Try the union of all candidate groups, then each one alone.
        let mut joined = None;
        let mut options: Vec<Vec<usize>> = vec![cands.clone()];
        options.extend(cands.iter().map(|&k| vec![k]));
        for opt in options.into_iter().filter(|o| !o.is_empty()) {
            if gr.convex(&opt, n) {
                joined = Some(opt);
                break;
            }
        }
        match joined {
            Some(ks) => {
                let target = ks[0];
                let mut unified = shape.clone();
                for &k in &ks {
                    unified = unify_shape(&unified, &gr.shape[k]).unwrap_or(unified);
                }
                gr.shape[target] = unified;
                for &k in &ks[1..] {
                    let moved = std::mem::take(&mut gr.members[k]);
                    for m in &moved {
                        gr.assign(*m, target);
                    }
                    gr.members[target].extend(moved);
                }
                gr.members[target].push(n);
                gr.assign(n, target);
            }
            None => {
                gr.assign(n, gr.members.len());
                gr.members.push(vec![n]);
                gr.reductions.push(vec![]);
                gr.shape.push(shape);
            }
        }
    }
    // 2. Reductions of a group's full-size values join as consumers.
    for &n in &order {
        if !fusible_reduce(gr.g.op(n)) {
            continue;
        }
        let v = gr.g.input(n, 0);
        // The reduced value must be a member (not another reduction).
        let Some(k) = gr.group_of(v.node).filter(|_| fusible(gr.g, ctx, v.node)) else {
            continue;
        };
        if unify_shape(&gr.g.ty(v).shape, &gr.shape[k]).as_ref() != Some(&gr.shape[k]) {
            continue;
        }
        // No member (nor another group the group needs) may need the result.
        if !gr.convex(&[k], n) {
            continue;
        }
        gr.reductions[k].push(n);
        gr.assign(n, k);
    }
    drop(gr.pos);
    let (members, reductions, shapes) = (gr.members, gr.reductions, gr.shape);
    // 3. Build the fused nodes.
    let mut changed = false;
    for (k, mut ms) in members.into_iter().enumerate() {
        let reds = &reductions[k];
        if ms.len() + reds.len() < 2 {
            continue;
        }
        let pos: FxHashMap<NodeId, usize> =
            order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        ms.sort_by_key(|m| pos[m]);
        if build(g, &ms, reds, &shapes[k], trace, phase) {
            changed = true;
        }
    }
    changed
}

/// Registers of a fused program under construction.
#[derive(Default)]
struct ProgramBuilder {
    instrs: Vec<(Instr, DType)>,
    inputs: Vec<Value>,
    reg_of: FxHashMap<Value, Reg>,
    consts: FxHashMap<(u64, DType), Reg>,
}

impl ProgramBuilder {
    /// Append the instructions of elementwise node `m` (its inputs become
    /// operands converted to the dtypes the op computes in).
    fn add_member(&mut self, g: &Graph, m: NodeId) {
        let ins = g.inputs(m);
        let out_dt = g.ty(Value::of(m)).dtype;
        let instr = match g.op(m).clone() {
            Op::Unary(u) => {
                let want = match u {
                    UnaryOp::Not => DType::Bool,
                    _ => u.out_dtype(g.ty(ins[0]).dtype),
                };
                Instr::Unary(u, self.operand(g, ins[0], want))
            }
            Op::Binary(b) => {
                let cd = b.compute_dtype(g.ty(ins[0]).dtype, g.ty(ins[1]).dtype);
                let x = self.operand(g, ins[0], cd);
                let y = self.operand(g, ins[1], cd);
                Instr::Binary(b, x, y)
            }
            Op::Where => {
                let c = self.operand(g, ins[0], DType::Bool);
                let a = self.operand(g, ins[1], out_dt);
                let b = self.operand(g, ins[2], out_dt);
                Instr::Where(c, a, b)
            }
            Op::Cast(d) => {
                let src = g.ty(ins[0]).dtype;
                Instr::Cast(d, self.operand(g, ins[0], src))
            }
            _ => unreachable!("only elementwise ops are members"),
        };
        let r = self.push(instr, out_dt);
        self.reg_of.insert(Value::of(m), r);
    }

    fn push(&mut self, i: Instr, d: DType) -> Reg {
        self.instrs.push((i, d));
        (self.instrs.len() - 1) as Reg
    }

    /// A register holding `v` (an input, an inlined scalar constant or a
    /// member's result) converted to `want`.
    fn operand(&mut self, g: &Graph, v: Value, want: DType) -> Reg {
        let r = match self.reg_of.get(&v) {
            Some(r) => *r,
            None => {
                let dt = g.ty(v).dtype;
                // A splat constant whose dims are all 1 broadcasts like a scalar.
                let inline: Option<ScalarBits> = match g.op(v.node) {
                    Op::Constant(c) if g.ty(v).shape.iter().all(|d| *d == Some(1)) => {
                        c.splat_bits()
                    }
                    _ => None,
                };
                let r = match inline {
                    Some(c) => match self.consts.get(&(c.0, dt)) {
                        Some(r) => *r,
                        None => {
                            let r = self.push(Instr::Const(c), dt);
                            self.consts.insert((c.0, dt), r);
                            r
                        }
                    },
                    None => {
                        self.inputs.push(v);
                        self.push(Instr::Input(self.inputs.len() - 1), dt)
                    }
                };
                self.reg_of.insert(v, r);
                r
            }
        };
        if self.instrs[r as usize].1 == want {
            r
        } else {
            self.push(Instr::Cast(want, r), want)
        }
    }
}

/// The scalar program of one elementwise op, reduction or fused node, and
/// the values its `Input(k)` instructions read (what code generation loops
/// over). `None` for other ops and for logsumexp.
pub fn program_of(g: &Graph, n: NodeId) -> Option<(FusedProgram, Vec<Value>)> {
    match g.op(n) {
        Op::Fused(p) => Some(((**p).clone(), g.inputs(n))),
        op if op.is_elementwise() => {
            let mut p = ProgramBuilder::default();
            p.add_member(g, n);
            let r = p.reg_of[&Value::of(n)];
            Some((
                FusedProgram {
                    n_inputs: p.inputs.len(),
                    instrs: p.instrs,
                    outputs: vec![FusedOutput::Elementwise(r)],
                },
                p.inputs,
            ))
        }
        Op::Reduce { op, axes, keepdims } if fusible_reduce(g.op(n)) => {
            let x = g.input(n, 0);
            let program = FusedProgram {
                n_inputs: 1,
                instrs: vec![(Instr::Input(0), g.ty(x).dtype)],
                outputs: vec![FusedOutput::Reduce {
                    reg: 0,
                    op: *op,
                    axes: axes.clone(),
                    keepdims: *keepdims,
                }],
            };
            Some((program, vec![x]))
        }
        _ => None,
    }
}

/// Make one fused node for `members` (in topological order) and `reds`.
fn build(
    g: &mut Graph,
    members: &[NodeId],
    reds: &[NodeId],
    shape: &[Dim],
    trace: &mut Trace,
    phase: &'static str,
) -> bool {
    let set: FxHashSet<NodeId> = members.iter().copied().collect();
    let mut p = ProgramBuilder::default();
    for &m in members {
        p.add_member(g, m);
    }
    // The inputs must broadcast to the loop shape (else an input-free
    // constant group would have a smaller loop).
    let in_shapes: Vec<&[Dim]> = p.inputs.iter().map(|v| g.ty(*v).shape.as_slice()).collect();
    if broadcast_shapes("", &in_shapes).ok().as_deref() != Some(shape) {
        return false;
    }
    // Outputs: members used outside, then reductions.
    let mut outputs = vec![];
    let mut replaced: Vec<Value> = vec![];
    for &m in members {
        let v = Value::of(m);
        let outside = g.is_output(v)
            || g.clients(v)
                .iter()
                .any(|(c, _)| !set.contains(c) && !reds.contains(c));
        if outside {
            outputs.push(FusedOutput::Elementwise(p.reg_of[&v]));
            replaced.push(v);
        }
    }
    for &r in reds {
        let Op::Reduce { op, axes, keepdims } = g.op(r).clone() else {
            unreachable!("reductions")
        };
        outputs.push(FusedOutput::Reduce {
            reg: p.reg_of[&g.input(r, 0)],
            op,
            axes,
            keepdims,
        });
        replaced.push(Value::of(r));
    }
    if outputs.is_empty() {
        return false;
    }
    let program = FusedProgram {
        n_inputs: p.inputs.len(),
        instrs: p.instrs,
        outputs,
    };
    let at = describe(g, *members.last().expect("non-empty"));
    let Ok(f) = g.add(Op::Fused(Arc::new(program)), &p.inputs) else {
        return false;
    };
    trace.record(phase, "fuse_elementwise", at);
    for (port, v) in replaced.into_iter().enumerate() {
        g.replace(
            v,
            Value {
                node: f,
                port: port as u16,
            },
        );
    }
    true
}
