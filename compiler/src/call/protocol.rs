//! `Protocol::call`: the checks and bookkeeping around a backend's run.

use super::Backend;
use super::InputSpec;
use super::locked::{Args, Locked, with_locked};
use crate::lock::{CallDepth, inside_call};
use crate::shared::SharedVar;
use crate::types::{TensorType, fmt_shape};
use std::borrow::Borrow;
use std::cell::RefCell;
use theon_runtime::random::RngState;
use theon_runtime::{DType, Error, Result, Tensor};

/// A compiled function's calling convention.
pub(crate) struct Protocol {
    pub name: String,
    pub inputs: Vec<InputSpec>,
    pub n_outputs: usize,
    /// Every shared variable read or written, sorted by id (the lock order).
    pub shared: Vec<SharedVar>,
    /// Shared variables updated by each call, in update order.
    pub updates: Vec<SharedVar>,
    /// For update `j`: its variable's index in `shared`.
    pub update_slot: Vec<usize>,
    /// Indices in `shared` of random streams to advance after each call.
    pub rng_slots: Vec<usize>,
}

/// Where a backend holds the new value of an updated variable.
pub(crate) enum Update<'a> {
    /// Written into the variable's own storage already, as a value of
    /// `shape` (a view of the variable may have another shape).
    InPlace { shape: &'a [usize] },
    /// A tensor.
    Tensor(&'a Tensor),
    /// `shape` elements of `dtype` at `ptr`, in a backend buffer of `bytes`
    /// bytes that stays valid until `commit` returns.
    Raw {
        ptr: *const u8,
        bytes: usize,
        dtype: DType,
        shape: &'a [usize],
    },
}

/// One call in progress, as a backend sees it.
pub(crate) struct Call<'a> {
    pub protocol: &'a Protocol,
    pub args: Args<'a>,
    pub shared: Locked<'a>,
    pub outs: &'a mut Vec<Tensor>,
    /// This call runs inside another call on the same thread (a custom op
    /// calling a function): its locks must not wait (see `with_locked`).
    pub nested: bool,
    committed: bool,
}

thread_local! {
    /// Address lists (arguments, shared values), one pair per nesting level
    /// of calls on this thread: steady-state calls allocate nothing.
    static SCRATCH: RefCell<Vec<(Vec<usize>, Vec<usize>)>> = const { RefCell::new(Vec::new()) };
}

impl Protocol {
    pub fn new(
        name: String,
        inputs: Vec<InputSpec>,
        n_outputs: usize,
        mut shared: Vec<SharedVar>,
        updates: Vec<SharedVar>,
        rngs: &[SharedVar],
    ) -> Protocol {
        shared.sort();
        shared.dedup();
        let slot_of = |s: &SharedVar| {
            shared
                .iter()
                .position(|x| x == s)
                .expect("every touched variable is in the shared list")
        };
        let update_slot = updates.iter().map(slot_of).collect();
        let rng_slots = rngs.iter().map(slot_of).collect();
        Protocol {
            name,
            inputs,
            n_outputs,
            shared,
            updates,
            update_slot,
            rng_slots,
        }
    }

    /// Run one call of `backend`.
    pub fn call<T: Borrow<Tensor>>(
        &self,
        backend: &dyn Backend,
        args: &[T],
        outs: &mut Vec<Tensor>,
    ) -> Result<()> {
        let (mut arg_scratch, mut shared_scratch) = SCRATCH
            .try_with(|s| s.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_default();
        let result = self.call_with(
            backend,
            Args::resolve(args, &mut arg_scratch),
            inside_call(),
            &mut shared_scratch,
            outs,
        );
        arg_scratch.clear();
        shared_scratch.clear();
        let _ = SCRATCH.try_with(|s| s.borrow_mut().push((arg_scratch, shared_scratch)));
        result
    }

    fn call_with(
        &self,
        backend: &dyn Backend,
        args: Args<'_>,
        nested: bool,
        shared_scratch: &mut Vec<usize>,
        outs: &mut Vec<Tensor>,
    ) -> Result<()> {
        self.check_args(&args)?;
        shared_scratch.clear();
        with_locked(&self.shared, !nested, shared_scratch, |shared| {
            self.check_shared(&shared)?;
            let mut call = Call {
                protocol: self,
                args,
                shared,
                outs,
                nested,
                committed: false,
            };
            let depth = CallDepth::enter();
            let ran = backend.run(&mut call);
            drop(depth);
            ran?;
            if !call.committed {
                return Err(Error::compile(format!(
                    "function '{}': the backend returned without writing the updates",
                    self.name
                )));
            }
            for &r in &self.rng_slots {
                RngState::advance_stored(call.shared.get_mut(r))?;
            }
            Ok(())
        })
    }

    /// Arguments: count, dtype and shape against the inputs' types.
    fn check_args(&self, args: &Args<'_>) -> Result<()> {
        if args.count() != self.inputs.len() {
            let names: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(Error::value(format!(
                "function '{}' takes {} arguments ({}), got {}",
                self.name,
                self.inputs.len(),
                names.join(", "),
                args.count()
            )));
        }
        for (k, spec) in self.inputs.iter().enumerate() {
            check_value(args.arg(k), &spec.ty).map_err(|e| {
                Error::new(
                    e.kind(),
                    format!(
                        "function '{}': input '{}' (argument {k}) {}",
                        self.name,
                        spec.name,
                        e.message()
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// Shared values against their variables' types. `set_value` keeps
    /// them so; checking costs a few compares and keeps native code from
    /// ever trusting a value that does not fit what it was compiled for.
    fn check_shared(&self, shared: &Locked<'_>) -> Result<()> {
        for (k, sv) in self.shared.iter().enumerate() {
            check_value(shared.get(k), sv.ty()).map_err(|e| {
                Error::new(
                    e.kind(),
                    format!(
                        "function '{}': shared variable '{}' {}",
                        self.name,
                        sv.name(),
                        e.message()
                    ),
                )
            })?;
        }
        Ok(())
    }
}

/// A value against a type: same dtype, same rank, static dims equal.
fn check_value(t: &Tensor, ty: &TensorType) -> Result<()> {
    if t.dtype() != ty.dtype || !ty.fits(t.shape()) {
        let kind = if t.dtype() != ty.dtype {
            Error::dtype
        } else {
            Error::shape
        };
        return Err(kind(format!(
            "expects {ty}, got a {} tensor of shape {}",
            t.dtype(),
            fmt_shape(t.shape())
        )));
    }
    Ok(())
}

impl Call<'_> {
    /// Write the update values. Every one is checked against its
    /// variable's type, and every allocation made, before any is written,
    /// so a failing call changes nothing through here (values a backend
    /// computed in place are the backend's). `stage` copies every source
    /// out first (a source may be the storage of another updated
    /// variable: a swap).
    pub fn commit<'s>(
        &mut self,
        stage: bool,
        source: &'s dyn Fn(usize) -> Update<'s>,
    ) -> Result<()> {
        let p = self.protocol;
        for (j, sv) in p.updates.iter().enumerate() {
            let target = self.shared.get(p.update_slot[j]);
            let (dtype, shape) = match source(j) {
                Update::InPlace { shape } => {
                    if shape.iter().product::<usize>() != target.len() {
                        return Err(Error::compile(format!(
                            "function '{}': the in-place update of '{}' has shape {}, its storage {} elements",
                            p.name,
                            sv.name(),
                            fmt_shape(shape),
                            target.len()
                        )));
                    }
                    (target.dtype(), shape)
                }
                Update::Tensor(t) => (t.dtype(), t.shape()),
                Update::Raw {
                    dtype,
                    shape,
                    bytes,
                    ..
                } => {
                    let need = theon_runtime::alloc::try_numel(shape)?
                        .checked_mul(dtype.size_of())
                        .filter(|&n| n <= bytes);
                    if need.is_none() {
                        return Err(Error::compile(format!(
                            "function '{}': the update of '{}' ({} of {dtype}) is larger than its buffer of {bytes} bytes",
                            p.name,
                            sv.name(),
                            fmt_shape(shape)
                        )));
                    }
                    (dtype, shape)
                }
            };
            if dtype != sv.ty().dtype || !sv.ty().fits(shape) {
                let kind = if dtype != sv.ty().dtype {
                    Error::dtype
                } else {
                    Error::shape
                };
                return Err(kind(format!(
                    "function '{}': the update of '{}' has shape {} ({dtype}), the variable has type {}",
                    p.name,
                    sv.name(),
                    fmt_shape(shape),
                    sv.ty()
                )));
            }
        }
        // Everything that allocates: staged copies, and new storage for
        // targets whose shape changes. (Empty Vecs allocate nothing.)
        let mut staged: Vec<Option<Tensor>> = Vec::new();
        let mut fresh: Vec<(usize, Tensor)> = Vec::new();
        for j in 0..p.updates.len() {
            let target = self.shared.get(p.update_slot[j]);
            let copy = match source(j) {
                Update::InPlace { .. } => None,
                Update::Tensor(t) => stage.then(|| t.clone()),
                Update::Raw {
                    ptr,
                    bytes,
                    dtype,
                    shape,
                } => {
                    if target.dtype() != dtype || target.shape() != shape {
                        fresh.push((j, Tensor::try_zeros(dtype, shape)?));
                    }
                    if stage {
                        let mut t = Tensor::try_zeros(dtype, shape)?;
                        copy_raw(ptr, bytes, &mut t)?;
                        Some(t)
                    } else {
                        None
                    }
                }
            };
            if stage {
                staged.push(copy);
            }
        }
        // Writes: nothing below can fail.
        let mut fresh = fresh.into_iter().peekable();
        for j in 0..p.updates.len() {
            let target = self.shared.get_mut(p.update_slot[j]);
            if fresh.peek().is_some_and(|(k, _)| *k == j) {
                *target = fresh.next().expect("peeked").1;
            }
            match (staged.get(j), source(j)) {
                (_, Update::InPlace { shape }) => {
                    if target.shape() != shape {
                        target.set_shape(shape)?;
                    }
                }
                (Some(Some(t)), _) | (None, Update::Tensor(t)) => {
                    if target.shape() == t.shape() && target.dtype() == t.dtype() {
                        target.assign(t)?;
                    } else {
                        *target = t.clone();
                    }
                }
                (None, Update::Raw { ptr, bytes, .. }) => copy_raw(ptr, bytes, target)?,
                (Some(None), _) => {}
            }
        }
        self.committed = true;
        Ok(())
    }
}

/// Copy `dst.byte_len()` bytes from a backend buffer of `bytes` bytes.
pub(crate) fn copy_raw(src: *const u8, bytes: usize, dst: &mut Tensor) -> Result<()> {
    let n = dst.byte_len();
    if n > bytes {
        return Err(Error::compile(format!(
            "a buffer of {bytes} bytes cannot fill a tensor of {n} bytes"
        )));
    }
    if n > 0 {
        // SAFETY: `src` is valid for `bytes >= n` bytes (the crate-private
        // backend's promise in `Update::Raw`, from its plan's sizes); `dst`
        // owns `n` bytes (the tensor invariant); `copy` allows overlap.
        unsafe { std::ptr::copy(src, dst.as_mut_ptr(), n) };
    }
    Ok(())
}
