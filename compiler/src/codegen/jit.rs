//! A compiled function's native side: the code, its layout, and the plan
//! cache. A call checks the shape signature (reusing the plan when it
//! matches), points the buffer table at the arguments, the shared
//! variables and the caller's output tensors, runs the code, then copies
//! out what was not written in place.

use super::layout::{BufKind, Layout};
use super::lower::{self, Compiled, JitOptions, StepKind};
use super::plan::{self, Plan};
use super::rt::{CallCtx, Frame};
use crate::function::InputSpec;
use crate::graph::Graph;
use crate::rewrite::MemoryPlan;
use crate::shared::SharedVar;
use crate::types::fmt_shape;
use std::borrow::Borrow;
use std::cell::RefCell;
use std::sync::Mutex;
use theon_runtime::{Error, Result, Tensor};

pub struct JitFunction {
    layout: Layout,
    code: Compiled,
    /// Buffers filled per call: (buffer, what fills it).
    external: Vec<(usize, BufKind)>,
    /// For update `j`: the index of its variable in the shared list.
    update_slot: Vec<usize>,
    /// Indices (in the shared list) of random states to advance.
    rng_slots: Vec<usize>,
    /// Some update reads a variable another update writes (a swap):
    /// stage update sources before writing any.
    stage_updates: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    plan: Option<Plan>,
    signature: Vec<i64>,
    locked: Vec<usize>,
}

/// Lock every shared variable (in the given order), collecting pointers to
/// the locked tensors, and run `f` while all locks are held.
fn with_locked<R>(vars: &[SharedVar], ptrs: &mut Vec<usize>, f: impl FnOnce(&[usize]) -> R) -> R {
    match vars.split_first() {
        None => f(ptrs),
        Some((v, rest)) => {
            let mut guard = v.lock();
            ptrs.push(&mut *guard as *mut Tensor as usize);
            with_locked(rest, ptrs, f)
        }
    }
}

impl JitFunction {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        g: &Graph,
        mem: &MemoryPlan,
        inputs: &[InputSpec],
        shared: &[SharedVar],
        updates: &[SharedVar],
        rngs: &[SharedVar],
        n_outputs: usize,
        opts: &JitOptions,
    ) -> Result<JitFunction> {
        let mut layout = Layout::new(g, mem, inputs, shared, updates, n_outputs);
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
        let slot_of = |s: &SharedVar| {
            shared
                .iter()
                .position(|x| x == s)
                .expect("every touched variable is in the shared list")
        };
        let update_slot: Vec<usize> = updates.iter().map(slot_of).collect();
        let rng_slots = rngs.iter().map(slot_of).collect();
        let stage_updates = layout.root_copy[n_outputs..].iter().flatten().any(|&v| {
            matches!(layout.bufs[layout.buf_of[v]].kind, BufKind::Shared(s) if update_slot.contains(&s))
        });
        Ok(JitFunction {
            layout,
            code,
            external,
            update_slot,
            rng_slots,
            stage_updates,
            state: Mutex::new(State::default()),
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
    /// (leading extent, chunk length) of each batch region in the plan of
    /// the last call (empty before the first call).
    pub fn region_chunks(&self) -> Vec<(usize, usize)> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.plan
            .as_ref()
            .map(|p| p.regions.iter().map(|r| (r.total, r.chunk)).collect())
            .unwrap_or_default()
    }
    /// The node at each schedule position.
    pub fn order(&self) -> &[crate::graph::NodeId] {
        &self.layout.order
    }

    /// Run one call. Arguments were checked against the inputs' types.
    pub fn call<T: Borrow<Tensor>>(
        &self,
        g: &Graph,
        name: &str,
        args: &[T],
        shared: &[SharedVar],
        outs: &mut Vec<Tensor>,
    ) -> Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let State {
            plan,
            signature,
            locked,
        } = &mut *st;
        locked.clear();
        let lay = &self.layout;
        with_locked(shared, locked, |ptrs| -> Result<()> {
            // SAFETY: every pointer is to a tensor whose lock is held for the
            // whole closure; no other reference to them exists meanwhile.
            let sh = |k: usize| -> &mut Tensor { unsafe { &mut *(ptrs[k] as *mut Tensor) } };
            let arg_refs = |k: usize| args[k].borrow();
            plan::signature(
                lay,
                g,
                args.len(),
                &arg_refs,
                shared.len(),
                &|k| &*sh(k),
                signature,
            );
            if plan.as_ref().is_none_or(|p| !same(&p.signature, signature)) {
                let a: Vec<&Tensor> = (0..args.len()).map(arg_refs).collect();
                let s: Vec<&Tensor> = (0..shared.len()).map(|k| &*sh(k)).collect();
                let runs: Vec<bool> = self
                    .code
                    .steps
                    .iter()
                    .map(|k| *k == StepKind::Exec)
                    .collect();
                *plan = None;
                *plan = Some(
                    Plan::build(lay, g, &a, &s, &runs, signature.clone())
                        .map_err(|e| e.context(format!("function '{name}'")))?,
                );
            }
            let plan_slot = plan;
            let plan = plan_slot.as_mut().expect("just built");
            if outs.len() != lay.n_outputs {
                outs.resize_with(lay.n_outputs, || {
                    Tensor::zeros(theon_runtime::DType::F64, &[0])
                });
            }
            for (b, kind) in &self.external {
                plan.ptrs[*b] = match kind {
                    BufKind::Arg(k) => arg_refs(*k).as_ptr() as usize,
                    BufKind::Shared(k) => sh(*k).as_mut_ptr() as usize,
                    BufKind::Output(k) => {
                        let v = lay.roots[*k];
                        fit(&mut outs[*k], lay.ty[v].dtype, &plan.shapes[v]);
                        outs[*k].as_mut_ptr() as usize
                    }
                    _ => unreachable!("only external buffers are listed"),
                };
            }
            // Every buffer must be as large as the plan needs before native code runs.
            for (b, kind) in &self.external {
                let have = match kind {
                    BufKind::Arg(k) => arg_refs(*k).byte_len(),
                    BufKind::Shared(k) => sh(*k).byte_len(),
                    BufKind::Output(k) => outs[*k].byte_len(),
                    _ => 0,
                };
                if have < plan.bytes[*b] {
                    return Err(Error::shape(format!(
                        "function '{name}': buffer {b} holds {have} bytes, the plan needs {}",
                        plan.bytes[*b]
                    )));
                }
            }
            let ctx = CallCtx {
                execs: &plan.execs,
                bufs: plan.ptrs.as_mut_ptr(),
                n_bufs: plan.ptrs.len(),
                dims: plan.dims.as_mut_ptr(),
                regions: plan.regions.as_mut_ptr(),
                n_regions: plan.regions.len(),
                error: RefCell::new(None),
            };
            let frame = Frame {
                bufs: ctx.bufs,
                dims: ctx.dims,
                ctx: (&ctx as *const CallCtx).cast(),
            };
            // SAFETY: the code was generated for this layout; the plan sized
            // every arena buffer for the concrete shapes of this call's
            // signature, and the external buffers were checked above; the
            // frame and context outlive the call.
            let rc = unsafe { (self.code.entry)(&frame) };
            if rc != 0 {
                let e = ctx
                    .error
                    .take()
                    .unwrap_or_else(|| Error::compile(format!("native code returned {rc}")));
                // The call stopped part way (perhaps inside a batch region
                // whose tables were rewritten): build a fresh plan next time.
                *plan_slot = None;
                return Err(e.context(format!("function '{name}'")));
            }
            // Outputs that were not written in place.
            for (out, copy) in outs.iter_mut().zip(&lay.root_copy[..lay.n_outputs]) {
                if let Some(v) = *copy {
                    fit(out, lay.ty[v].dtype, &plan.shapes[v]);
                    copy_bytes(plan.ptrs[lay.buf_of[v]], out);
                }
            }
            // Updates: checked first, then written (staged if they read each other).
            let updates = &lay.root_copy[lay.n_outputs..];
            for (j, v) in updates.iter().enumerate() {
                if let Some(v) = v {
                    let ty = &shared[self.update_slot[j]];
                    if !ty.ty().fits(&plan.shapes[*v]) {
                        return Err(Error::shape(format!(
                            "function '{name}': the update of '{}' has shape {}, the variable has type {}",
                            ty.name(),
                            fmt_shape(&plan.shapes[*v]),
                            ty.ty()
                        )));
                    }
                }
            }
            let staged: Vec<Option<Tensor>> = if self.stage_updates {
                updates
                    .iter()
                    .map(|v| {
                        v.map(|v| {
                            let mut t = Tensor::zeros(lay.ty[v].dtype, &plan.shapes[v]);
                            copy_bytes(plan.ptrs[lay.buf_of[v]], &mut t);
                            t
                        })
                    })
                    .collect()
            } else {
                vec![]
            };
            for (j, v) in updates.iter().enumerate() {
                if let Some(v) = v {
                    let target = sh(self.update_slot[j]);
                    fit(target, lay.ty[*v].dtype, &plan.shapes[*v]);
                    match staged.get(j).and_then(|s| s.as_ref()) {
                        Some(t) => target.assign(t)?,
                        None => copy_bytes(plan.ptrs[lay.buf_of[*v]], target),
                    }
                }
            }
            for &r in &self.rng_slots {
                let s = sh(r).as_slice_mut::<i64>()?;
                s[1] = s[1].wrapping_add(1);
            }
            Ok(())
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
fn fit(t: &mut Tensor, dtype: theon_runtime::DType, shape: &[usize]) {
    if t.dtype() != dtype || !same(t.shape(), shape) {
        *t = Tensor::zeros(dtype, shape);
    }
}

/// Copy `dst.byte_len()` bytes from `src` into `dst`.
fn copy_bytes(src: usize, dst: &mut Tensor) {
    let n = dst.byte_len();
    if n == 0 {
        return;
    }
    // SAFETY: `src` is a buffer the plan sized for a value of dst's dtype
    // and shape (callers `fit` dst to that value first); dst is a distinct
    // allocation.
    unsafe { std::ptr::copy(src as *const u8, dst.as_mut_ptr(), n) };
}
