//! `Protocol::call`: the checks and bookkeeping around a backend's run.

use super::locked::{Locked, with_locked};
use super::{Args, Backend, InputSpec};
use crate::shared::SharedVar;
use crate::types::{TensorType, fmt_shape};
use std::cell::RefCell;
use theon_runtime::random::RngState;
use theon_runtime::{DType, Error, Result, Tensor};

/// A compiled function's calling convention.
pub struct Protocol {
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
pub enum Update<'a> {
    /// Written into the variable's own storage already.
    InPlace,
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
pub struct Call<'a> {
    pub protocol: &'a Protocol,
    pub args: &'a dyn Args,
    pub shared: Locked<'a>,
    pub outs: &'a mut Vec<Tensor>,
    committed: bool,
}

thread_local! {
    /// Address lists for `with_locked`, one per nesting level of calls on
    /// this thread (a custom op may call another function): steady-state
    /// calls allocate nothing.
    static SCRATCH: RefCell<Vec<Vec<usize>>> = const { RefCell::new(Vec::new()) };
}

impl Protocol {
    pub fn new(
        name: String,
        inputs: Vec<InputSpec>,
        n_outputs: usize,
        shared: Vec<SharedVar>,
        updates: Vec<SharedVar>,
        rngs: &[SharedVar],
    ) -> Protocol {
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
    pub fn call(
        &self,
        backend: &dyn Backend,
        args: &dyn Args,
        outs: &mut Vec<Tensor>,
    ) -> Result<()> {
        self.check_args(args)?;
        let mut scratch = SCRATCH.with(|s| s.borrow_mut().pop()).unwrap_or_default();
        scratch.clear();
        let result = with_locked(&self.shared, &mut scratch, |shared| {
            self.check_shared(&shared)?;
            let mut call = Call {
                protocol: self,
                args,
                shared,
                outs,
                committed: false,
            };
            backend.run(&mut call)?;
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
        });
        scratch.clear();
        SCRATCH.with(|s| s.borrow_mut().push(scratch));
        result
    }

    /// Arguments: count, dtype and shape against the inputs' types.
    fn check_args(&self, args: &dyn Args) -> Result<()> {
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
            let t = args.arg(k);
            check_value(t, &spec.ty).map_err(|e| {
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
    if t.dtype() != ty.dtype {
        return Err(Error::dtype(format!(
            "expects {ty}, got a {} tensor of shape {}",
            t.dtype(),
            fmt_shape(t.shape())
        )));
    }
    if !ty.fits(t.shape()) {
        return Err(Error::shape(format!(
            "expects {ty}, got a {} tensor of shape {}",
            t.dtype(),
            fmt_shape(t.shape())
        )));
    }
    Ok(())
}

impl Call<'_> {
    /// Write the update values: every one is checked against its
    /// variable's type before any is written, so a failing call changes
    /// nothing. `stage` copies every source out first (a source may be the
    /// storage of another updated variable: a swap).
    pub fn commit<'s>(
        &mut self,
        stage: bool,
        source: &'s dyn Fn(usize) -> Update<'s>,
    ) -> Result<()> {
        let p = self.protocol;
        for (j, sv) in p.updates.iter().enumerate() {
            let (dtype, shape) = match source(j) {
                Update::InPlace => continue,
                Update::Tensor(t) => (t.dtype(), t.shape()),
                Update::Raw { dtype, shape, .. } => (dtype, shape),
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
        let staged: Vec<Option<Tensor>> = if stage {
            (0..p.updates.len())
                .map(|j| match source(j) {
                    Update::InPlace => Ok(None),
                    Update::Tensor(t) => Ok(Some(t.clone())),
                    Update::Raw {
                        ptr,
                        bytes,
                        dtype,
                        shape,
                    } => {
                        let mut t = Tensor::try_zeros(dtype, shape)?;
                        copy_raw(ptr, bytes, &mut t)?;
                        Ok(Some(t))
                    }
                })
                .collect::<Result<_>>()?
        } else {
            vec![]
        };
        for j in 0..p.updates.len() {
            let target = self.shared.get_mut(p.update_slot[j]);
            match (staged.get(j), source(j)) {
                (Some(Some(t)), _) | (None, Update::Tensor(t)) => {
                    if target.shape() == t.shape() && target.dtype() == t.dtype() {
                        target.assign(t)?;
                    } else {
                        *target = t.clone();
                    }
                }
                (
                    None,
                    Update::Raw {
                        ptr,
                        bytes,
                        dtype,
                        shape,
                    },
                ) => {
                    if target.dtype() != dtype || target.shape() != shape {
                        *target = Tensor::try_zeros(dtype, shape)?;
                    }
                    copy_raw(ptr, bytes, target)?;
                }
                _ => {}
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
        // SAFETY: `src` is valid for `bytes >= n` bytes (the backend's
        // promise in `Update::Raw` / its plan's sizes); `dst` owns `n` bytes
        // (the tensor invariant) and is a distinct allocation from any
        // buffer of the backend.
        unsafe { std::ptr::copy(src, dst.as_mut_ptr(), n) };
    }
    Ok(())
}
