//! The tensors of one call: the caller's arguments, resolved once, and the
//! shared values, locked for the call's duration.

use crate::shared::SharedVar;
use std::borrow::Borrow;
use std::marker::PhantomData;
use theon_runtime::{Result, Tensor};

/// The arguments of a call. The caller's `Borrow` runs once per argument
/// (when resolving): a `Borrow` that answered differently on each call
/// could otherwise pass the checks with one tensor and be run on another.
pub(crate) struct Args<'a> {
    ptrs: &'a [usize],
    _values: PhantomData<&'a Tensor>,
}

impl<'a> Args<'a> {
    /// Resolve `args` into `scratch` (reused: no allocation once warm).
    pub(crate) fn resolve<T: Borrow<Tensor>>(args: &'a [T], scratch: &'a mut Vec<usize>) -> Self {
        scratch.clear();
        scratch.extend(args.iter().map(|a| a.borrow() as *const Tensor as usize));
        Args {
            ptrs: scratch,
            _values: PhantomData,
        }
    }
    pub(crate) fn count(&self) -> usize {
        self.ptrs.len()
    }
    pub(crate) fn arg(&self, k: usize) -> &'a Tensor {
        // SAFETY: `ptrs[k]` came from `borrow()` of an element of a slice
        // borrowed for 'a (`resolve`), so the tensor lives and is not
        // mutated (it is behind a shared borrow) for 'a.
        unsafe { &*(self.ptrs[k] as *const Tensor) }
    }
}

/// The locked values of a call's shared variables, in the call's order.
/// Borrowing rules apply as to a `&mut [Tensor]`: `get` while no `get_mut`.
pub(crate) struct Locked<'a> {
    ptrs: &'a [usize],
    _values: PhantomData<&'a mut Tensor>,
}

impl Locked<'_> {
    pub(crate) fn len(&self) -> usize {
        self.ptrs.len()
    }
    pub(crate) fn get(&self, k: usize) -> &Tensor {
        // SAFETY: `ptrs[k]` points to the value of a shared variable whose
        // lock `with_locked` holds for as long as this `Locked` lives; the
        // only way to it is through `self`, whose borrow this one shares.
        unsafe { &*(self.ptrs[k] as *const Tensor) }
    }
    pub(crate) fn get_mut(&mut self, k: usize) -> &mut Tensor {
        // SAFETY: as in `get`; `&mut self` makes this the only live reference.
        unsafe { &mut *(self.ptrs[k] as *mut Tensor) }
    }
}

/// Past this many variables the guards go to a Vec instead of the stack
/// (one recursion frame per variable; a few thousand would overflow it).
const STACK_LOCKS: usize = 256;

/// Lock every variable (in the given order; `wait` false: an error where
/// another thread holds one, for calls nested inside a call, which could
/// deadlock by waiting), and run `f` on their values while all are held.
/// `scratch` holds the values' addresses (reused across calls).
pub(crate) fn with_locked<R>(
    vars: &[SharedVar],
    wait: bool,
    scratch: &mut Vec<usize>,
    f: impl FnOnce(Locked<'_>) -> Result<R>,
) -> Result<R> {
    if vars.len() > STACK_LOCKS {
        let mut guards = vars
            .iter()
            .map(|v| v.lock(wait))
            .collect::<Result<Vec<_>>>()?;
        scratch.extend(guards.iter_mut().map(|g| &mut **g as *mut Tensor as usize));
        return f(Locked {
            ptrs: scratch,
            _values: PhantomData,
        });
    }
    match vars.split_first() {
        None => f(Locked {
            ptrs: scratch,
            _values: PhantomData,
        }),
        Some((v, rest)) => {
            let mut guard = v.lock(wait)?;
            scratch.push(&mut *guard as *mut Tensor as usize);
            with_locked(rest, wait, scratch, f)
        }
    }
}
