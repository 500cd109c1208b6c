//! A compiled function's native side: the code, its layout, and the plan
//! cache (the `PLANS` most recent shape signatures, so alternating shapes
//! do not re-plan). A call checks the shape signature (reusing a plan when it
//! matches), points the buffer table at the arguments, the shared
//! variables and the caller's output tensors, runs the code, then copies
//! out what was not written in place.

use super::layout::{BufKind, Layout};
use super::lower::{self, Compiled, JitOptions, StepKind};
use super::plan::{self, Plan};
use super::rt::{CallCtx, Frame};
use crate::call::{Backend, Call, Protocol, Update, copy_raw};
use crate::graph::Graph;
use crate::lock::CallLock;
use crate::schedule::MemoryPlan;
use std::cell::RefCell;
use std::sync::Arc;
use theon_runtime::{Error, Result, Tensor};

pub struct JitFunction {
    graph: Arc<Graph>,
    layout: Layout,
    code: Compiled,
    /// Buffers filled per call: (buffer, what fills it).
    external: Vec<(usize, BufKind)>,
    /// Some update reads a variable another update writes (a swap):
    /// stage update sources before writing any.
    stage_updates: bool,
    state: CallLock<State>,
}

/// Plans kept per function (least recently used dropped first).
const PLANS: usize = 4;

#[derive(Default)]
struct State {
    /// Most recently used first.
    plans: Vec<Plan>,
    signature: Vec<i64>,
}

impl JitFunction {
    /// Native code for `graph` called through `protocol` (its inputs,
    /// shared variables in lock order, updates in root order).
    pub(crate) fn new(
        graph: Arc<Graph>,
        mem: &MemoryPlan,
        protocol: &Protocol,
        opts: &JitOptions,
    ) -> Result<JitFunction> {
        let g = &*graph;
        let n_outputs = protocol.n_outputs;
        let mut layout = Layout::new(g, mem, protocol);
        let code = lower::compile(g, &mut layout, opts)?;
        let external = layout
            .bufs
            .iter()
            .enumerate()
            .filter(|(_, b)| {
                matches!(
                    b.kind,
                    BufKind::Arg(_) | BufKind::Shared(_) | BufKind::Output(_)
                )
            })
            .map(|(i, b)| (i, b.kind.clone()))
            .collect();
        let stage_updates = layout.root_copy[n_outputs..].iter().flatten().any(|&v| {
            matches!(layout.bufs[layout.buf_of[v]].kind,
                BufKind::Shared(s) if protocol.update_slot.contains(&s))
        });
        Ok(JitFunction {
            graph,
            layout,
            code,
            external,
            stage_updates,
            state: CallLock::new(State::default()),
        })
    }

    pub fn ir(&self) -> Option<&str> {
        self.code.ir.as_deref()
    }
    pub fn disassembly(&self) -> Option<&str> {
        self.code.disasm.as_deref()
    }
    pub fn steps(&self) -> &[StepKind] {
        &self.code.steps
    }
    /// Calls made and nanoseconds per step, when compiled to profile.
    pub fn profile(&self) -> Option<(u64, Vec<u64>)> {
        let p = self.code.profile.as_ref()?;
        let ns =
            p.ns.iter()
                .map(|a| a.load(std::sync::atomic::Ordering::Relaxed))
                .collect();
        Some((p.calls.load(std::sync::atomic::Ordering::Relaxed), ns))
    }
    /// (leading extent, chunk length) of each batch region and split loop
    /// in the plan of the last call (empty before the first call).
    pub fn region_chunks(&self) -> Vec<(usize, usize)> {
        let Ok(st) = self.state.lock(true, &|| "the plan cache".into()) else {
            return vec![];
        };
        st.plans
            .first()
            .map(|p| p.regions.iter().map(|r| (r.total, r.chunk)).collect())
            .unwrap_or_default()
    }
    /// The node at each schedule position.
    pub fn order(&self) -> &[crate::graph::NodeId] {
        &self.layout.order
    }
}

impl JitFunction {
    /// The plan of a new shape signature (kept out of the call's hot path).
    #[cold]
    #[inline(never)]
    fn new_plan(&self, call: &Call<'_>, signature: Vec<i64>) -> Result<Plan> {
        let args = &call.args;
        let a: Vec<&Tensor> = (0..args.count()).map(|k| args.arg(k)).collect();
        let s: Vec<&Tensor> = (0..call.shared.len()).map(|k| call.shared.get(k)).collect();
        let runs: Vec<bool> = self
            .code
            .steps
            .iter()
            .map(|k| *k == StepKind::Exec)
            .collect();
        Plan::build(
            &self.layout,
            &self.graph,
            &a,
            &s,
            &runs,
            (self.code.cpu, self.code.threads),
            signature,
        )
    }
}

impl Backend for JitFunction {
    /// Run one call: arguments and shared values were checked against
    /// their types by the protocol.
    fn run(&self, call: &mut Call<'_>) -> Result<()> {
        let name = call.protocol.name.as_str();
        let mut st = self.state.lock(!call.nested, &|| {
            format!("the plan cache of function '{name}'")
        })?;
        let State { plans, signature } = &mut *st;
        let lay = &self.layout;
        let g = &*self.graph;
        let args = &call.args;
        let n_shared = call.shared.len();
        {
            let sh = &call.shared;
            plan::signature(
                lay,
                g,
                args.count(),
                &|k| args.arg(k),
                n_shared,
                &|k| sh.get(k),
                signature,
            );
        }
        if let Some(k) = plans.iter().position(|p| same(&p.signature, signature)) {
            // Most recent first (a rotation moves the plans, no allocation).
            plans[..=k].rotate_right(1);
        } else {
            let built = self
                .new_plan(call, signature.clone())
                .map_err(|e| e.context(format!("function '{name}'")))?;
            plans.truncate(PLANS - 1);
            plans.insert(0, built);
        }
        let plan = &mut plans[0];
        let outs = &mut *call.outs;
        if outs.len() != lay.n_outputs {
            outs.resize_with(lay.n_outputs, || {
                Tensor::zeros(theon_runtime::DType::F64, &[0])
            });
        }
        for (b, kind) in &self.external {
            let (ptr, have, dtype) = match kind {
                BufKind::Arg(k) => {
                    let t = args.arg(*k);
                    (t.as_ptr() as usize, t.byte_len(), t.dtype())
                }
                BufKind::Shared(k) => {
                    let t = call.shared.get_mut(*k);
                    (t.as_mut_ptr() as usize, t.byte_len(), t.dtype())
                }
                BufKind::Output(k) => {
                    let v = lay.roots[*k];
                    fit(&mut outs[*k], lay.ty[v].dtype, &plan.shapes[v])?;
                    let t = &mut outs[*k];
                    (t.as_mut_ptr() as usize, t.byte_len(), t.dtype())
                }
                _ => unreachable!("only external buffers are listed"),
            };
            // Every buffer must be of the dtype and at least the size the
            // plan needs before native code runs (the protocol's type checks
            // make this hold; it is checked again because the code's safety
            // rests on it).
            if have < plan.bytes[*b] || dtype != lay.bufs[*b].dtype {
                return Err(Error::shape(format!(
                    "function '{name}': buffer {b} holds {have} bytes of {dtype}, the plan needs {} of {}",
                    plan.bytes[*b], lay.bufs[*b].dtype
                )));
            }
            plan.ptrs[*b] = ptr;
        }
        let ctx = CallCtx {
            execs: &plan.execs,
            bufs: plan.ptrs.as_mut_ptr(),
            n_bufs: plan.ptrs.len(),
            dims: plan.dims.as_mut_ptr(),
            n_dims: plan.dims.len(),
            regions: plan.regions.as_mut_ptr(),
            n_regions: plan.regions.len(),
            // Profiled calls keep regions on one thread: the profile times
            // steps by the clock between them.
            threads: if self.code.profile.is_some() {
                1
            } else {
                self.code.threads
            },
            parts: plan.parts.as_mut_ptr(),
            n_parts: plan.parts.len(),
            error: RefCell::new(None),
        };
        let frame = Frame {
            bufs: ctx.bufs,
            dims: ctx.dims,
            ctx: (&ctx as *const CallCtx).cast(),
        };
        // SAFETY: the code was generated for this layout; the plan sized
        // every arena buffer for the concrete shapes of this call's
        // signature, and the external buffers were checked above (the
        // arguments and shared values are locked or borrowed for the whole
        // call); the frame and context outlive the call.
        let rc = unsafe { (self.code.entry)(&frame) };
        if rc != 0 {
            let e = ctx
                .error
                .take()
                .unwrap_or_else(|| Error::compile(format!("native code returned {rc}")));
            // The call stopped part way (perhaps inside a batch region
            // whose tables were rewritten): build a fresh plan next time.
            plans.remove(0);
            return Err(e.context(format!("function '{name}'")));
        }
        // Outputs that were not written in place.
        for (out, copy) in outs.iter_mut().zip(&lay.root_copy[..lay.n_outputs]) {
            if let Some(v) = *copy {
                fit(out, lay.ty[v].dtype, &plan.shapes[v])?;
                let b = lay.buf_of[v];
                copy_raw(plan.ptrs[b] as *const u8, plan.bytes[b], out)?;
            }
        }
        let updates = &lay.root_copy[lay.n_outputs..];
        let update_roots = &lay.roots[lay.n_outputs..];
        call.commit(self.stage_updates, &|j| match updates[j] {
            None => Update::InPlace {
                shape: &plan.shapes[update_roots[j]],
            },
            Some(v) => {
                let b = lay.buf_of[v];
                Update::Raw {
                    ptr: plan.ptrs[b] as *const u8,
                    bytes: plan.bytes[b],
                    dtype: lay.ty[v].dtype,
                    shape: &plan.shapes[v],
                }
            }
        })
    }
}

/// Element-wise equality without `memcmp`: these slices are a few words,
/// and glibc's AVX-512 memcmp on an empty Vec (a dangling pointer) takes a
/// masked-load fault-suppression assist here (~130 ns per call, measured).
fn same<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Make `t` a tensor of this dtype and shape, reusing it when it already is.
fn fit(t: &mut Tensor, dtype: theon_runtime::DType, shape: &[usize]) -> Result<()> {
    if t.dtype() != dtype || !same(t.shape(), shape) {
        *t = Tensor::try_zeros(dtype, shape)?;
    }
    Ok(())
}
