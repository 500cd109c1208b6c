//! A plan: everything that depends on the concrete shapes of one call —
//! the shape of every value, the dims table the generated code reads, the
//! arena and its buffer offsets, and the prepared run-time steps. Plans
//! are cached by shape signature; a call with the same signature reuses
//! its plan and allocates nothing.

use super::exec::NodeExec;
use super::layout::{BufKind, Layout, QExpr, ShapeOf};
use super::region::{PartTables, RegionPlan};
use crate::graph::{Graph, Value};
use crate::interp;
use crate::op::{Op, check_runtime};
use crate::types::TensorType;
use theon_runtime::{Data, Error, Result, Tensor};

/// Alignment of arena buffers (a cache line).
const ALIGN: usize = 64;

pub struct Plan {
    pub signature: Vec<i64>,
    pub shapes: Vec<Vec<usize>>,
    pub dims: Vec<i64>,
    /// Arena storage (8-byte words; buffers start at 64-byte aligned
    /// offsets). Only kept: `ptrs` point into it.
    #[allow(dead_code)]
    pub arena: Vec<u64>,
    /// Address of every buffer; argument, shared and output buffers are
    /// filled per call.
    pub ptrs: Vec<usize>,
    /// Bytes each buffer needs.
    pub bytes: Vec<usize>,
    /// Prepared run-time steps by schedule position.
    pub execs: Vec<Option<NodeExec>>,
    /// How each batch region runs for these shapes.
    pub regions: Vec<RegionPlan>,
    /// Tables of the extra threads chunked regions run on.
    pub parts: Vec<PartTables>,
}

/// The shape signature of a call: argument shapes, shared-variable shapes,
/// and the values of whatever feeds shapes. Writes into `out` (reused).
pub fn signature<'t>(
    layout: &Layout,
    g: &Graph,
    n_args: usize,
    arg: &dyn Fn(usize) -> &'t Tensor,
    n_shared: usize,
    shared: &dyn Fn(usize) -> &'t Tensor,
    out: &mut Vec<i64>,
) {
    out.clear();
    for k in 0..n_args {
        out.extend(arg(k).shape().iter().map(|&d| d as i64));
    }
    for k in 0..n_shared {
        out.extend(shared(k).shape().iter().map(|&d| d as i64));
    }
    for (i, v) in layout.vals.iter().enumerate() {
        if !layout.closure[i] || !matches!(g.op(v.node), Op::Input { .. } | Op::Shared(_)) {
            continue;
        }
        match &layout.bufs[layout.buf_of[i]].kind {
            BufKind::Arg(k) => push_values(arg(*k), out),
            BufKind::Shared(k) => push_values(shared(*k), out),
            _ => {}
        }
    }
}

fn push_values(t: &Tensor, out: &mut Vec<i64>) {
    match t.data() {
        Data::Bool(v) => out.extend(v.iter().map(|&b| b as i64)),
        Data::I64(v) => out.extend_from_slice(v),
        Data::F32(v) => out.extend(v.iter().map(|x| x.to_bits() as i64)),
        Data::F64(v) => out.extend(v.iter().map(|x| x.to_bits() as i64)),
    }
}

/// Concrete broadcast of shapes already known to be compatible.
pub fn broadcast_concrete(shapes: &[&[usize]]) -> Vec<usize> {
    let r = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    (0..r)
        .map(|a| {
            shapes
                .iter()
                .filter_map(|s| (a + s.len()).checked_sub(r).map(|i| s[i]))
                .find(|&d| d != 1)
                .unwrap_or(1)
        })
        .collect()
}

impl Plan {
    /// Build the plan for a call's arguments and shared values.
    /// `runs_exec[pos]` says which steps are run-time steps; `cpu` and
    /// `threads` are the code's level and thread count.
    pub fn build(
        layout: &Layout,
        g: &Graph,
        args: &[&Tensor],
        shared: &[&Tensor],
        runs_exec: &[bool],
        (cpu, threads): (super::cpu::CpuLevel, usize),
        signature: Vec<i64>,
    ) -> Result<Plan> {
        let nv = layout.vals.len();
        let mut shapes: Vec<Vec<usize>> = vec![vec![]; nv];
        let mut values: Vec<Option<Tensor>> = vec![None; nv];
        let mut loops: Vec<Vec<usize>> = vec![vec![]; layout.order.len()];
        for (pos, &n) in layout.order.iter().enumerate() {
            let v0 = layout.vid[&Value::of(n)];
            let node = g.node(n);
            let leaf: Option<&Tensor> = match &node.op {
                Op::Input { .. } | Op::Shared(_) => match &layout.bufs[layout.buf_of[v0]].kind {
                    BufKind::Arg(k) => Some(args[*k]),
                    BufKind::Shared(k) => Some(shared[*k]),
                    _ => None,
                },
                Op::Constant(c) => Some(c.tensor()),
                _ => None,
            };
            if let Some(t) = leaf {
                shapes[v0] = t.shape().to_vec();
                if layout.closure[v0] {
                    values[v0] = Some(t.clone());
                }
                continue;
            }
            let ins = g.inputs(n);
            let in_ids: Vec<usize> = ins.iter().map(|v| layout.vid[v]).collect();
            let in_shapes: Vec<&[usize]> = in_ids.iter().map(|&i| shapes[i].as_slice()).collect();
            let in_vals: Vec<Option<&Tensor>> =
                in_ids.iter().map(|&i| values[i].as_ref()).collect();
            let statics: Vec<&TensorType> = in_ids.iter().map(|&i| &layout.ty[i]).collect();
            let label = interp::node_label(g, n);
            let outs = check_runtime(&node.op, &label, &statics, &in_shapes, &in_vals)?;
            if node.op.is_elementwise() || matches!(node.op, Op::Fused(_)) {
                loops[pos] = broadcast_concrete(&in_shapes);
            } else if let Op::Reduce { .. } = node.op {
                loops[pos] = in_shapes[0].to_vec();
            }
            let in_closure = (0..outs.len()).any(|p| {
                layout.closure[layout.vid[&Value {
                    node: n,
                    port: p as u16,
                }]]
            });
            if in_closure && matches!(node.op, Op::Shape) {
                // A shape needs only its input's shape, not its value.
                let dims: Vec<i64> = in_shapes[0].iter().map(|&d| d as i64).collect();
                values[v0] = Some(Tensor::vector(dims));
            } else if in_closure {
                let tensors: Vec<&Tensor> = in_vals
                    .iter()
                    .map(|t| {
                        t.ok_or_else(|| {
                            Error::shape(format!(
                                "{label}: a shape depends on a value the planner cannot see"
                            ))
                        })
                    })
                    .collect::<Result<_>>()?;
                let r = interp::eval(&node.op, &label, &statics, &node.outs, &tensors)?;
                for (p, t) in r.into_iter().enumerate() {
                    values[layout.vid[&Value {
                        node: n,
                        port: p as u16,
                    }]] = Some(t);
                }
            }
            for (p, s) in outs.into_iter().enumerate() {
                shapes[layout.vid[&Value {
                    node: n,
                    port: p as u16,
                }]] = s;
            }
        }
        let dims: Vec<i64> = layout
            .quantities
            .iter()
            .map(|q: &QExpr| {
                let shape = match q.of {
                    ShapeOf::Value(v) => &shapes[v],
                    ShapeOf::Loop(pos) => &loops[pos],
                };
                shape
                    .iter()
                    .enumerate()
                    .filter(|(a, _)| q.mask & (1 << a) != 0)
                    .map(|(_, d)| *d)
                    .product::<usize>() as i64
            })
            .collect();
        // Buffer sizes and the arena: first fit over the schedule, reusing
        // a slot once its last reader has run.
        let mut bytes: Vec<usize> = layout
            .bufs
            .iter()
            .map(|b| {
                let n = theon_runtime::alloc::try_numel(&shapes[b.root])?;
                theon_runtime::alloc::try_bytes(n, b.dtype)
            })
            .collect::<Result<_>>()?;
        let regions: Vec<RegionPlan> = layout
            .regions
            .iter()
            .map(|r| RegionPlan::build(r, threads, layout, &shapes, &loops, &dims, &mut bytes))
            .collect();
        // Chunked regions may run on `threads` threads: each extra one
        // gets its own tables and internal buffers.
        let chunked = regions.iter().filter(|r| r.chunked);
        let extra = chunked
            .clone()
            .map(|r| r.chunks().min(threads))
            .max()
            .unwrap_or(1)
            .saturating_sub(1);
        let scratch = chunked.map(|r| r.scratch_bytes).max().unwrap_or(0);
        let parts = (0..extra)
            .map(|_| PartTables::new(layout.bufs.len(), dims.len(), scratch))
            .collect::<Result<_>>()?;
        // A batch region runs its steps once per chunk: every buffer it
        // touches lives from the region's first step to its last.
        let mut live: Vec<(usize, usize)> = layout.bufs.iter().map(|b| (b.first, b.last)).collect();
        for r in &layout.regions {
            for &b in &r.touched {
                live[b].0 = live[b].0.min(r.steps.start);
                live[b].1 = live[b].1.max(r.steps.end - 1);
            }
        }
        let mut arena_bufs: Vec<usize> = (0..layout.bufs.len())
            .filter(|&b| matches!(layout.bufs[b].kind, BufKind::Arena))
            .collect();
        arena_bufs.sort_by_key(|&b| (live[b].0, b));
        let mut slots: Vec<(usize, usize, usize)> = vec![]; // (offset, size, free after position)
        let mut offset = vec![0usize; layout.bufs.len()];
        let mut top = 0usize;
        let too_big = || Error::memory("the buffers of this call exceed the address space");
        for b in arena_bufs {
            let need = bytes[b].div_ceil(ALIGN) * ALIGN;
            let (first, last) = live[b];
            let reuse = slots
                .iter_mut()
                .filter(|(_, size, free)| *free < first && *size >= need)
                .min_by_key(|(_, size, _)| *size);
            match reuse {
                Some(slot) => {
                    offset[b] = slot.0;
                    slot.2 = last;
                }
                None => {
                    offset[b] = top;
                    slots.push((top, need, last));
                    top = top.checked_add(need).ok_or_else(too_big)?;
                }
            }
        }
        let mut arena = theon_runtime::alloc::try_vec(top.div_ceil(8) + ALIGN / 8, 0u64)?;
        let base = arena.as_mut_ptr() as usize;
        let base = base.div_ceil(ALIGN) * ALIGN;
        let ptrs: Vec<usize> = layout
            .bufs
            .iter()
            .enumerate()
            .map(|(b, spec)| match &spec.kind {
                BufKind::Arena => base + offset[b],
                BufKind::Const(t) => t.as_ptr() as usize,
                _ => 0,
            })
            .collect();
        let execs = layout
            .order
            .iter()
            .enumerate()
            .map(|(pos, &n)| {
                if runs_exec[pos] {
                    NodeExec::prepare(g, layout, n, &shapes, cpu, threads).map(Some)
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<_>>()?;
        Ok(Plan {
            signature,
            shapes,
            dims,
            arena,
            ptrs,
            bytes,
            execs,
            regions,
            parts,
        })
    }
}
