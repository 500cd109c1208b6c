//! Functions generated code calls: run-time steps and GEMM. They are
//! `extern "C"` and never unwind into native frames (a panic becomes an
//! error).

use super::exec::{Buffers, NodeExec};
use super::region::RegionPlan;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use theon_runtime::Error;

/// Time per schedule step, filled by `theon_rt_tick` calls the code makes
/// between steps when compiled with `JitOptions::profile`.
pub struct Profile {
    last: AtomicU64,
    pub ns: Vec<AtomicU64>,
    pub calls: AtomicU64,
}

impl Profile {
    pub fn new(steps: usize) -> Profile {
        Profile {
            last: AtomicU64::new(0),
            ns: (0..steps).map(|_| AtomicU64::new(0)).collect(),
            calls: AtomicU64::new(0),
        }
    }
}

fn now_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Step `pos` just finished (`pos < 0`: a call starts).
///
/// # Safety
/// `p` points to the `Profile` owned by the compiled code that calls this.
pub unsafe extern "C" fn theon_rt_tick(p: *const Profile, pos: i64) {
    // SAFETY: the profile lives as long as the code (see `Compiled`).
    let p = unsafe { &*p };
    let t = now_ns();
    let last = p.last.swap(t, Ordering::Relaxed);
    match usize::try_from(pos).ok().and_then(|i| p.ns.get(i)) {
        Some(slot) => {
            slot.fetch_add(t.saturating_sub(last), Ordering::Relaxed);
        }
        None => {
            p.calls.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a native call can reach: the prepared steps, the buffer table and
/// a slot for the first error.
pub struct CallCtx<'a> {
    pub execs: &'a [Option<NodeExec>],
    /// The buffer and dims tables of the frame (batch regions rewrite
    /// entries during the call, so they are raw pointers).
    pub bufs: *mut usize,
    pub n_bufs: usize,
    pub dims: *mut i64,
    pub regions: *mut RegionPlan,
    pub n_regions: usize,
    pub error: RefCell<Option<Error>>,
}

/// The frame the generated entry point receives.
#[repr(C)]
pub struct Frame {
    pub bufs: *const usize,
    pub dims: *const i64,
    pub ctx: *const CallCtx<'static>,
}

/// Run the prepared step at schedule position `pos`; 0 on success.
///
/// # Safety
/// `ctx` must point to a live `CallCtx` whose buffers were sized by the plan
/// that prepared its steps (the JIT's call path guarantees both).
pub unsafe extern "C" fn theon_rt_exec(ctx: *const CallCtx<'static>, pos: u32) -> i32 {
    // SAFETY: the caller passes the frame's context, alive for the whole call.
    let ctx = unsafe { &*ctx };
    let run = || -> Result<(), Error> {
        let step = ctx.execs[pos as usize]
            .as_ref()
            .ok_or_else(|| Error::compile(format!("step {pos} was not prepared")))?;
        // SAFETY: the table holds n_bufs addresses, and no region rewrites
        // it while a run-time step runs (regions hold generated steps only);
        // buffers were sized by the plan that prepared the step.
        unsafe { step.run(&Buffers(std::slice::from_raw_parts(ctx.bufs, ctx.n_bufs))) }
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            *ctx.error.borrow_mut() = Some(e);
            1
        }
        Err(_) => {
            *ctx.error.borrow_mut() = Some(Error::compile(format!(
                "internal error: step {pos} panicked"
            )));
            2
        }
    }
}

/// Batch region `r`: `c == -1` returns the number of chunks, `c >= 0`
/// points the tables at chunk `c`, `c == -2` restores them.
///
/// # Safety
/// `ctx` points to the live context of the running call; `r` is one of its
/// plan's regions; chunks are entered in order and left once.
pub unsafe extern "C" fn theon_rt_region(ctx: *const CallCtx<'static>, r: i64, c: i64) -> i64 {
    // SAFETY: the caller passes the frame's context, alive for the whole call.
    let ctx = unsafe { &*ctx };
    if r < 0 || r as usize >= ctx.n_regions {
        return 0;
    }
    // SAFETY: r < n_regions; only this function touches the regions during
    // the native call, one at a time.
    let region = unsafe { &mut *ctx.regions.add(r as usize) };
    match c {
        -1 => region.chunks() as i64,
        -2 => {
            if region.chunks() > 0 {
                // SAFETY: the tables are the call's; nothing else uses them now.
                unsafe { region.leave(ctx.dims, ctx.bufs) };
            }
            0
        }
        c => {
            // SAFETY: as above; c counts up from 0 below chunks().
            unsafe { region.enter_chunk(c as usize, ctx.dims, ctx.bufs) };
            0
        }
    }
}

macro_rules! gemm_fn {
    ($name:ident, $t:ty, $f:path) => {
        /// `c <- alpha a.b + beta c` with element strides (matrixmultiply),
        /// split over the rows (or columns) of c across `threads` threads
        /// when the product is large (`threads::gemm_parts`).
        ///
        /// # Safety
        /// The pointers with the given sizes and strides must address valid
        /// memory, and c must not overlap a or b; generated code passes
        /// buffers the plan sized for them.
        #[allow(clippy::too_many_arguments)]
        pub unsafe extern "C" fn $name(
            m: i64,
            k: i64,
            n: i64,
            alpha: $t,
            a: *const $t,
            rsa: i64,
            csa: i64,
            b: *const $t,
            rsb: i64,
            csb: i64,
            beta: $t,
            c: *mut $t,
            rsc: i64,
            csc: i64,
            threads: i64,
        ) {
            if m <= 0 || n <= 0 {
                return;
            }
            let (m, k, n) = (m as usize, k.max(0) as usize, n as usize);
            let (rsa, csa, rsb, csb, rsc, csc) = (
                rsa as isize,
                csa as isize,
                rsb as isize,
                csb as isize,
                rsc as isize,
                csc as isize,
            );
            // Addresses cross threads as integers (raw pointers are not Send).
            let (pa, pb, pc) = (a as usize, b as usize, c as usize);
            // Rows [r0, r1) and columns [c0, c1) of c.
            let block = |r0: usize, r1: usize, c0: usize, c1: usize| {
                let (a, b, c) = (pa as *const $t, pb as *const $t, pc as *mut $t);
                // SAFETY: the caller's contract; the block lies inside c
                // (and its rows of a, columns of b), and blocks of one call
                // are disjoint, so threads write separate elements.
                unsafe {
                    $f(
                        r1 - r0,
                        k,
                        c1 - c0,
                        alpha,
                        a.offset(r0 as isize * rsa),
                        rsa,
                        csa,
                        b.offset(c0 as isize * csb),
                        rsb,
                        csb,
                        beta,
                        c.offset(r0 as isize * rsc + c0 as isize * csc),
                        rsc,
                        csc,
                    )
                }
            };
            let threads = threads.max(1) as usize;
            let flops = m.saturating_mul(n).saturating_mul(k).saturating_mul(2);
            let by_rows = m >= n;
            let parts = super::threads::gemm_parts(threads, flops, m.max(n));
            if parts <= 1 {
                return block(0, m, 0, n);
            }
            super::threads::run_parts(threads, parts, &|p| {
                // Bounds at multiples of 32 rows (columns): every kernel's
                // register tile divides 32, so each block is tiled exactly
                // as the whole product and an element is computed by the
                // same full or edge tile either way.
                let r = super::threads::part_range(m.max(n), parts, p, 32);
                if by_rows {
                    block(r.start, r.end, 0, n)
                } else {
                    block(0, m, r.start, r.end)
                }
            });
        }
    };
}
gemm_fn!(theon_rt_gemm_f64, f64, matrixmultiply::dgemm);
gemm_fn!(theon_rt_gemm_f32, f32, matrixmultiply::sgemm);

/// A wide-math slice kernel over `n` elements of `size` bytes, split across
/// `threads` threads when the pass is large (`threads::wide_parts`).
///
/// # Safety
/// `kernel` is a `SliceFn`; `src` and `dst` hold `n` elements of its
/// type (`size` bytes each) and are equal or disjoint.
pub unsafe extern "C" fn theon_rt_wide(
    kernel: usize,
    src: usize,
    dst: usize,
    n: i64,
    size: i64,
    threads: i64,
) {
    // SAFETY: generated code passes the address of a slice kernel.
    let k = unsafe { std::mem::transmute::<usize, super::math::slice::SliceFn>(kernel) };
    let (n, size, threads) = (
        n.max(0) as usize,
        size.max(0) as usize,
        threads.max(1) as usize,
    );
    let parts = super::threads::wide_parts(threads, n);
    super::threads::run_parts(threads, parts, &|p| {
        let r = super::threads::wide_range(n, parts, p);
        // SAFETY: the caller's contract; parts are disjoint ranges of
        // the buffers, and a kernel handles any count (tails included).
        unsafe {
            k(
                (src + r.start * size) as *const u8,
                (dst + r.start * size) as *mut u8,
                r.len() as u64,
            )
        }
    });
}

/// log |Γ(x)| for generated code.
pub extern "C" fn theon_lgamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ψ(x) for generated code.
pub extern "C" fn theon_digamma(x: f64) -> f64 {
    theon_runtime::element::digamma_f64(x)
}

/// ψ'(x) for generated code.
pub extern "C" fn theon_trigamma(x: f64) -> f64 {
    theon_runtime::element::trigamma_f64(x)
}
