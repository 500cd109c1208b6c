//! Intra-op threads: large matrix products, wide-math passes, batched
//! convolutions, batch regions and large elementwise loops split across a
//! pool shared by every compiled function.
//!
//! The thread count is fixed when a function is compiled
//! (`JitOptions::threads`, else `THEON_NUM_THREADS`, else every core) and
//! baked into its code. Work below a threshold runs on the calling thread
//! at no added cost, so small networks' steps are unchanged. A split
//! gives every output element to one thread, which computes it with the
//! same operations in the same order as without threads, or (a long k
//! under a small output, `k_blocks`) splits k into blocks the shape alone
//! fixes, which one thread computes and sums the same way: results do not
//! depend on the thread count.
//!
//! The pool is this small one rather than rayon's because a call must not
//! allocate in steady state: rayon boxes spawned jobs, and jobs injected
//! from outside its pool go through crossbeam's injector, which allocates
//! a block every 63 jobs. Here a call takes the pool's run lock, publishes
//! one job (a borrowed closure and a part counter) under a mutex, runs
//! parts itself and waits until the workers have finished theirs. Workers
//! and the waiting caller spin briefly before they sleep (waking a thread
//! costs more than most parts). A pool busy with another call (another
//! user thread, or a nested call) is not waited for: the caller runs every
//! part itself.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use theon_runtime::{Error, Result};

/// The most threads a function may ask for.
pub const MAX_THREADS: usize = 64;

/// Products below this many flops (2·m·n·k) run on the calling thread.
pub const GEMM_MIN_FLOPS: usize = 1 << 21;
/// Each part of a split product does at least this many flops.
const GEMM_PART_FLOPS: usize = 1 << 20;
/// Elementwise passes (wide-math kernels, split loops) below this many
/// elements run on the calling thread. 8192 was tried (docs/compiler.md):
/// 2-4% faster two-thread steps in a quiet hour, slower and twice as
/// variable for the 2-32-32-3 step in a busy one.
pub const WIDE_MIN: usize = 1 << 15;
/// Parts of a wide-math pass start at multiples of this many elements.
const WIDE_ALIGN: usize = 64;

/// The thread count to compile for: `requested`, else `THEON_NUM_THREADS`,
/// else the machine's cores; an error outside 1..=MAX_THREADS.
pub fn resolve(requested: Option<usize>) -> Result<usize> {
    let n = match requested {
        Some(n) => n,
        None => match std::env::var("THEON_NUM_THREADS") {
            Ok(v) if !v.trim().is_empty() => v.trim().parse::<usize>().map_err(|_| {
                Error::value(format!(
                    "THEON_NUM_THREADS '{v}': expected a whole number of threads from 1 to {MAX_THREADS}"
                ))
            })?,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
    };
    if n == 0 || n > MAX_THREADS {
        return Err(Error::value(format!(
            "{n} threads asked for: expected 1 to {MAX_THREADS}"
        )));
    }
    Ok(n)
}

/// How many parts a product of `flops` split along a dimension of `len`
/// gets with `threads` threads (1: do not split).
pub fn gemm_parts(threads: usize, flops: usize, len: usize) -> usize {
    if threads <= 1 || flops < GEMM_MIN_FLOPS {
        return 1;
    }
    threads.min(flops / GEMM_PART_FLOPS).min(len).max(1)
}

/// Products with k at least this long and at most `K_SPLIT_MAX_OUT` rows
/// and columns in c are computed in blocks of k (`k_blocks`).
const K_SPLIT_MIN_K: usize = 1 << 13;
const K_SPLIT_MAX_OUT: usize = 64;
/// Each block of k is at least this long; at most this many blocks.
const K_BLOCK_MIN: usize = 1 << 10;
const K_BLOCKS_MAX: usize = 16;

/// The number of blocks of k a product of `m x k` by `k x n` is computed
/// in (summed in block order), when c is too small to split and k is long:
/// fixed by the shape alone, so the result does not depend on the thread
/// count (which only decides how many blocks run at once). None: one
/// product over the whole of k.
pub fn k_blocks(m: usize, k: usize, n: usize) -> Option<usize> {
    let flops = m.saturating_mul(n).saturating_mul(k).saturating_mul(2);
    (k >= K_SPLIT_MIN_K && m.max(n) <= K_SPLIT_MAX_OUT && flops >= GEMM_PART_FLOPS)
        .then(|| (k / K_BLOCK_MIN).min(K_BLOCKS_MAX))
}

/// Parts of a wide-math pass over `n` elements (1: do not split).
pub fn wide_parts(threads: usize, n: usize) -> usize {
    if threads <= 1 || n < WIDE_MIN {
        return 1;
    }
    threads.min(n / (WIDE_MIN / 2)).max(1)
}

/// Part `p` of `parts` of `0..len`, its bounds rounded to `align`.
pub fn part_range(len: usize, parts: usize, p: usize, align: usize) -> std::ops::Range<usize> {
    let bound = |i: usize| {
        if i >= parts {
            len
        } else {
            (len / parts * i).next_multiple_of(align.max(1)).min(len)
        }
    };
    bound(p)..bound(p + 1)
}

/// Part `p` of a wide-math pass of `n` elements split in `parts`.
pub fn wide_range(n: usize, parts: usize, p: usize) -> std::ops::Range<usize> {
    part_range(n, parts, p, WIDE_ALIGN)
}

/// The job the workers run: part numbers below `parts`, handed out in
/// order, on a borrowed closure.
struct Job {
    /// A `&(dyn Fn(usize) + Sync)` with its lifetime erased; valid until
    /// the caller has seen `Pool::running` back at 0 (it waits for that
    /// before returning).
    f: *const (dyn Fn(usize) + Sync + 'static),
    next: usize,
    parts: usize,
    panicked: bool,
}

// SAFETY: the closure behind `f` is Sync, and the pointer is only
// dereferenced while the caller that owns the closure waits for the job.
unsafe impl Send for Job {}

struct Pool {
    /// Held by the caller for a whole run (one job at a time).
    run: Mutex<()>,
    job: Mutex<Option<Job>>,
    /// Jobs published so far (changed under `job`'s lock; read while
    /// spinning).
    jobs: AtomicU64,
    /// Parts workers have taken and not finished (changed under `job`'s
    /// lock; read while spinning).
    running: AtomicUsize,
    /// Workers wait here for a new job.
    work: Condvar,
    /// The caller waits here for `running == 0`.
    done: Condvar,
}

/// How long a thread spins before it sleeps: a worker waiting for the
/// next job, the caller waiting for the workers. Waking a sleeping thread
/// takes tens of microseconds (more in a virtual machine); the products
/// of one step follow each other closer than this.
const SPIN: Duration = Duration::from_micros(200);

/// Spin while `busy()` holds, for at most `SPIN`.
fn spin_while(busy: impl Fn() -> bool) {
    let start = Instant::now();
    let mut i = 0u32;
    while busy() {
        std::hint::spin_loop();
        i = i.wrapping_add(1);
        if i.is_multiple_of(64) && start.elapsed() > SPIN {
            return;
        }
    }
}

/// Run `f(p)` for every `p < parts` on up to `threads` threads (the
/// calling thread included) and return when all have finished.
pub fn run_parts(threads: usize, parts: usize, f: &(dyn Fn(usize) + Sync)) {
    let serial = || (0..parts).for_each(f);
    if parts <= 1 || threads <= 1 {
        return serial();
    }
    let Some(pool) = pool(threads.min(MAX_THREADS)) else {
        return serial();
    };
    let Ok(_one_job) = pool.run.try_lock() else {
        return serial();
    };
    // SAFETY: only the lifetime is erased; this function returns after
    // every worker has finished with the closure (running == 0 with no
    // part left), and the job is removed before it returns.
    let erased: *const (dyn Fn(usize) + Sync + 'static) = unsafe {
        std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const (dyn Fn(usize) + Sync)>(
            f as *const _,
        )
    };
    {
        let mut job = lock(&pool.job);
        *job = Some(Job {
            f: erased,
            next: 0,
            parts,
            panicked: false,
        });
        pool.jobs.fetch_add(1, Ordering::Release);
    }
    pool.work.notify_all();
    // The caller takes parts too, then waits for the workers' ones (also
    // after a panic of its own: they still use the closure).
    let own = catch_unwind(AssertUnwindSafe(|| {
        loop {
            // (A statement of its own: the lock is released before f runs.)
            let part = take_part(pool, &mut lock(&pool.job), false);
            let Some(p) = part else { break };
            f(p);
        }
    }));
    let mut job = lock(&pool.job);
    if let Some(j) = job.as_mut() {
        j.next = j.parts; // after a panic: hand out nothing more
    }
    drop(job);
    spin_while(|| pool.running.load(Ordering::Acquire) > 0);
    let mut job = lock(&pool.job);
    while pool.running.load(Ordering::Acquire) > 0 {
        job = pool.done.wait(job).unwrap_or_else(|e| e.into_inner());
    }
    let panicked = job.take().is_some_and(|j| j.panicked);
    drop(job);
    if let Err(e) = own {
        std::panic::resume_unwind(e);
    }
    if panicked {
        // As a panic of the same part on this thread would.
        panic!("a part of a threaded kernel panicked");
    }
}

/// The next part of the job, if any; a worker's part counts as running.
fn take_part(pool: &Pool, job: &mut MutexGuard<'_, Option<Job>>, worker: bool) -> Option<usize> {
    let j = job.as_mut()?;
    if j.next >= j.parts {
        return None;
    }
    j.next += 1;
    if worker {
        pool.running.fetch_add(1, Ordering::AcqRel);
    }
    Some(j.next - 1)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a part panicked; the state is consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The pool for `threads` threads (`threads - 1` workers), started on
/// first use; None if the workers could not be started (then everything
/// runs on the calling thread).
fn pool(threads: usize) -> Option<&'static Pool> {
    static POOLS: [OnceLock<Option<&'static Pool>>; MAX_THREADS + 1] =
        [const { OnceLock::new() }; MAX_THREADS + 1];
    *POOLS.get(threads)?.get_or_init(|| {
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            run: Mutex::new(()),
            job: Mutex::new(None),
            jobs: AtomicU64::new(0),
            running: AtomicUsize::new(0),
            work: Condvar::new(),
            done: Condvar::new(),
        }));
        for i in 1..threads {
            std::thread::Builder::new()
                .name(format!("theon-{threads}-{i}"))
                .spawn(move || worker(pool))
                .ok()?;
        }
        Some(pool)
    })
}

fn worker(pool: &'static Pool) {
    let mut seen = 0u64;
    loop {
        // A job newer than the last one seen: spin for it, then sleep.
        spin_while(|| pool.jobs.load(Ordering::Acquire) == seen);
        let mut job = lock(&pool.job);
        while pool.jobs.load(Ordering::Acquire) == seen {
            job = pool.work.wait(job).unwrap_or_else(|e| e.into_inner());
        }
        seen = pool.jobs.load(Ordering::Acquire);
        while let Some(p) = take_part(pool, &mut job, true) {
            let f = job.as_ref().map(|j| j.f);
            drop(job);
            let ok = f.is_some_and(|f| {
                // SAFETY: the job is live: this part counts in `running`,
                // so the caller is still waiting and the closure alive.
                catch_unwind(AssertUnwindSafe(|| unsafe { (*f)(p) })).is_ok()
            });
            job = lock(&pool.job);
            if let Some(j) = job.as_mut() {
                j.panicked |= !ok;
            }
            if pool.running.fetch_sub(1, Ordering::AcqRel) == 1 {
                pool.done.notify_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_part_runs_once_whatever_the_thread_count() {
        for threads in [1, 2, 3, 5] {
            for parts in [1, 2, 7, 40] {
                let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                for _ in 0..20 {
                    run_parts(threads, parts, &|p| {
                        hits[p].fetch_add(1, Ordering::Relaxed);
                    });
                }
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 20));
            }
        }
    }

    #[test]
    fn nested_and_concurrent_calls_finish() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..50 {
                        run_parts(2, 4, &|_| {
                            run_parts(2, 3, &|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 3 * 50 * 4 * 3);
    }

    #[test]
    fn ranges_cover_the_whole_length_in_aligned_parts() {
        for (n, parts) in [(100_000, 2), (65_536, 3), (70, 2), (5, 4)] {
            let mut at = 0;
            for p in 0..parts {
                let r = wide_range(n, parts, p);
                assert_eq!(r.start, at);
                assert!(r.start.is_multiple_of(WIDE_ALIGN) || r.start == n);
                at = r.end;
            }
            assert_eq!(at, n);
        }
    }

    #[test]
    fn thread_counts_resolve_and_refuse_zero() {
        assert_eq!(resolve(Some(3)).unwrap(), 3);
        assert!(resolve(Some(0)).unwrap_err().message().contains("1 to"));
        assert!(resolve(Some(MAX_THREADS + 1)).is_err());
        assert_eq!(gemm_parts(4, GEMM_MIN_FLOPS - 1, 1000), 1);
        assert_eq!(gemm_parts(4, 64 * GEMM_PART_FLOPS, 1000), 4);
        assert_eq!(gemm_parts(4, 64 * GEMM_PART_FLOPS, 3), 3);
        assert_eq!(wide_parts(2, WIDE_MIN - 1), 1);
        // Blocks of k: from the shape alone, at least 1024 long, at most 16.
        assert_eq!(k_blocks(32, 10_000, 32), Some(9));
        assert_eq!(k_blocks(3, 1 << 20, 32), Some(16));
        assert_eq!(k_blocks(32, K_SPLIT_MIN_K - 1, 32), None);
        assert_eq!(k_blocks(65, 10_000, 3), None);
        assert_eq!(k_blocks(1, 10_000, 1), None);
        assert_eq!(wide_parts(2, 1 << 20), 2);
    }
}
