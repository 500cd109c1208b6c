//! The shared values of one call, locked for its duration.

use crate::shared::SharedVar;
use std::marker::PhantomData;
use theon_runtime::{Result, Tensor};

/// The locked values of a call's shared variables, in the call's order.
/// Borrowing rules apply as to a `&mut [Tensor]`: `get` while no `get_mut`.
pub struct Locked<'a> {
    ptrs: &'a [usize],
    _values: PhantomData<&'a mut Tensor>,
}

impl Locked<'_> {
    pub fn len(&self) -> usize {
        self.ptrs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ptrs.is_empty()
    }
    pub fn get(&self, k: usize) -> &Tensor {
        // SAFETY: `ptrs[k]` points to the value of a shared variable whose
        // lock `with_locked` holds for as long as this `Locked` lives; the
        // only way to it is through `self`, whose borrow this one shares.
        unsafe { &*(self.ptrs[k] as *const Tensor) }
    }
    pub fn get_mut(&mut self, k: usize) -> &mut Tensor {
        // SAFETY: as in `get`; `&mut self` makes this the only live reference.
        unsafe { &mut *(self.ptrs[k] as *mut Tensor) }
    }
}

/// Lock every variable (in the given order, waiting for other threads, an
/// error on re-entrance), and run `f` on their values while all are held.
/// `scratch` holds the values' addresses (reused across calls: no allocation).
pub(crate) fn with_locked<R>(
    vars: &[SharedVar],
    scratch: &mut Vec<usize>,
    f: impl FnOnce(Locked<'_>) -> Result<R>,
) -> Result<R> {
    match vars.split_first() {
        None => f(Locked {
            ptrs: scratch,
            _values: PhantomData,
        }),
        Some((v, rest)) => {
            let mut guard = v.lock()?;
            scratch.push(&mut *guard as *mut Tensor as usize);
            with_locked(rest, scratch, f)
        }
    }
}
