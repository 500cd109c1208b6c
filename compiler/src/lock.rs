//! A mutex that reports re-entrance instead of deadlocking.
//!
//! A compiled call holds the locks of the shared variables it touches (and
//! of its plan cache) while native code and custom ops run. A custom op, or
//! any code those locks are held around, that calls back into the same
//! function or reads the same variable would wait on itself forever; with
//! `CallLock` that is an error naming the thing. Waiting for another
//! thread's call is still ordinary blocking.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use theon_runtime::{Error, Result};

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static THREAD: Cell<u64> = const { Cell::new(0) };
    /// Calls running on this thread (a custom op may call a function).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Some call is running on this thread: locks taken now are nested inside
/// it and must not wait for other threads (see `CallLock::lock`).
pub(crate) fn inside_call() -> bool {
    DEPTH.try_with(|d| d.get() > 0).unwrap_or(false)
}

/// Counts a running call for `inside_call` until dropped.
pub(crate) struct CallDepth(());

impl CallDepth {
    pub(crate) fn enter() -> CallDepth {
        let _ = DEPTH.try_with(|d| d.set(d.get() + 1));
        CallDepth(())
    }
}

impl Drop for CallDepth {
    fn drop(&mut self) {
        let _ = DEPTH.try_with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// A non-zero number for the current thread (threads never share one;
/// during thread teardown, a fresh one: re-entrance goes undetected there).
fn this_thread() -> u64 {
    THREAD
        .try_with(|t| {
            if t.get() == 0 {
                t.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
            }
            t.get()
        })
        .unwrap_or_else(|_| NEXT_THREAD.fetch_add(1, Ordering::Relaxed))
}

pub struct CallLock<T> {
    value: Mutex<T>,
    /// The thread holding the lock, or 0. Only the holder writes its own
    /// number and clears it before unlocking, so a thread that reads its own
    /// number here is certainly the holder.
    holder: AtomicU64,
}

pub struct CallGuard<'a, T> {
    guard: MutexGuard<'a, T>,
    holder: &'a AtomicU64,
}

impl<T> CallLock<T> {
    pub fn new(value: T) -> CallLock<T> {
        CallLock {
            value: Mutex::new(value),
            holder: AtomicU64::new(0),
        }
    }

    /// Lock; an error if this thread holds it. `wait` false: also an error
    /// (not a wait) if another thread holds it: for calls nested inside a
    /// call, where waiting could deadlock with a thread nesting the other
    /// way round. `what` names the thing for the message.
    pub fn lock(&self, wait: bool, what: &dyn Fn() -> String) -> Result<CallGuard<'_, T>> {
        let me = this_thread();
        if self.holder.load(Ordering::Relaxed) == me {
            return Err(Error::value(format!(
                "{} is in use by a call on this thread (a function called from inside its own call, \
                 or a shared variable read while a function using it runs)",
                what()
            )));
        }
        // A panic while holding the lock cannot leave a tensor or a plan in a
        // state that breaks memory safety (both are checked before native code
        // uses them); recover the value.
        let guard = if wait {
            self.value.lock().unwrap_or_else(|p| p.into_inner())
        } else {
            match self.value.try_lock() {
                Ok(g) => g,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {
                    return Err(Error::value(format!(
                        "{} is in use by another thread's call, and a call nested inside a call \
                         (from a custom op) does not wait for it (that could deadlock)",
                        what()
                    )));
                }
            }
        };
        self.holder.store(me, Ordering::Relaxed);
        Ok(CallGuard {
            guard,
            holder: &self.holder,
        })
    }
}

impl<T> Drop for CallGuard<'_, T> {
    fn drop(&mut self) {
        // Runs before the MutexGuard field unlocks.
        self.holder.store(0, Ordering::Relaxed);
    }
}

impl<T> Deref for CallGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for CallGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_thread_reentrance_is_an_error_other_threads_wait() {
        let l = std::sync::Arc::new(CallLock::new(5));
        let g = l.lock(true, &|| "x".into()).unwrap();
        let e = l.lock(true, &|| "the value x".into()).err().unwrap();
        assert!(e.message().contains("the value x"), "{e}");
        let l2 = l.clone();
        let busy = std::thread::spawn(move || l2.lock(false, &|| "x".into()).is_err());
        assert!(busy.join().unwrap(), "a nested lock does not wait");
        let l2 = l.clone();
        let t = std::thread::spawn(move || *l2.lock(true, &|| "x".into()).unwrap() + 1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(g);
        assert_eq!(t.join().unwrap(), 6);
        assert_eq!(*l.lock(true, &|| "x".into()).unwrap(), 5);
    }
}
