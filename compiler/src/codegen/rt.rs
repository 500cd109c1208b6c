//! Functions generated code calls: run-time steps, GEMM, wide-math passes
//! and the batch-region runner. They are
//! `extern "C"` and never unwind into native frames (a panic becomes an
//! error).

use super::exec::{Buffers, NodeExec};
use super::math::slice::SliceFn;
use super::region::{PartTables, RegionPlan};
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
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
    pub n_dims: usize,
    pub regions: *mut RegionPlan,
    pub n_regions: usize,
    /// Threads a chunked region may run on, and the tables of the extra
    /// ones (the plan's `parts`).
    pub threads: usize,
    pub parts: *mut PartTables,
    pub n_parts: usize,
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

/// A batch region's steps, generated as a function of their own.
pub type RegionBody = unsafe extern "C" fn(*const Frame) -> i32;

/// Run batch region `r`: its `body` once per chunk, in order on this
/// thread, or in contiguous runs of chunks on up to `ctx.threads` threads
/// (each extra thread with its own copy of the tables and its own internal
/// buffers; every chunk writes only its own rows, so the results do not
/// depend on the split). Returns the body's first non-zero code.
///
/// # Safety
/// `ctx` and `frame` are the running call's; `r` is one of its plan's
/// regions and `body` that region's generated function.
pub unsafe extern "C" fn theon_rt_region(
    ctx: *const CallCtx<'static>,
    r: i64,
    body: RegionBody,
    frame: *const Frame,
) -> i32 {
    // SAFETY: the caller passes the frame's context, alive for the whole call.
    let ctx = unsafe { &*ctx };
    let internal = |what: String| {
        *ctx.error.borrow_mut() = Some(Error::compile(format!("internal error: {what}")));
        3
    };
    if r < 0 || r as usize >= ctx.n_regions {
        return internal(format!("no batch region {r}"));
    }
    // SAFETY: r < n_regions; only this function touches the regions during
    // the native call, one region at a time.
    let region = unsafe { &mut *ctx.regions.add(r as usize) };
    let chunks = region.chunks();
    let parts = ctx.threads.min(ctx.n_parts + 1).min(chunks);
    if !region.chunked || parts <= 1 {
        // SAFETY: the tables are the call's and nothing else uses them now;
        // chunks are entered in order, then the tables restored.
        return unsafe {
            region.record(ctx.bufs);
            let mut rc = 0;
            for c in 0..chunks {
                region.enter_chunk(c, ctx.dims, ctx.bufs);
                rc = body(frame);
                if rc != 0 {
                    break;
                }
            }
            region.leave(ctx.dims, ctx.bufs);
            rc
        };
    }
    // SAFETY: as above; the parts' tables are the plan's, n_parts of them,
    // each as long as the call's tables (`Plan::build`), and they are
    // copied before any chunk rewrites the call's tables.
    unsafe {
        region.record(ctx.bufs);
        for p in 0..parts - 1 {
            let tables = &mut *ctx.parts.add(p);
            if !tables.copy_for(region, (ctx.dims, ctx.n_dims), (ctx.bufs, ctx.n_bufs)) {
                region.leave(ctx.dims, ctx.bufs);
                return internal(format!("batch region {r}: a thread's tables do not fit"));
            }
        }
    }
    let view = PartsView {
        ctx,
        frame,
        body,
        region: &*region,
        chunks,
        parts,
        first_error: AtomicI32::new(0),
    };
    let ran = catch_unwind(AssertUnwindSafe(|| {
        super::threads::run_parts(ctx.threads, parts, &|p| view.run(p))
    }));
    let rc = view.first_error.load(Ordering::Relaxed);
    // SAFETY: every part has finished; the call's tables are ours again.
    unsafe { region.leave(ctx.dims, ctx.bufs) };
    match ran {
        Ok(()) => rc,
        Err(_) => 2,
    }
}

/// What the parts of a threaded region share.
struct PartsView<'a> {
    ctx: &'a CallCtx<'static>,
    frame: *const Frame,
    body: RegionBody,
    region: &'a RegionPlan,
    chunks: usize,
    parts: usize,
    first_error: AtomicI32,
}

impl PartsView<'_> {
    /// Run part `p`'s contiguous run of chunks.
    fn run(&self, p: usize) {
        let range = super::threads::part_range(self.chunks, self.parts, p, 1);
        // Part 0 runs on the call's own tables; part p on the plan's p-th copy.
        let (dims, bufs) = if p == 0 {
            (self.ctx.dims, self.ctx.bufs)
        } else {
            // SAFETY: p - 1 < n_parts, and only part p uses these tables.
            let t = unsafe { &mut *self.ctx.parts.add(p - 1) };
            (t.dims.as_mut_ptr(), t.bufs.as_mut_ptr())
        };
        // SAFETY: the frame is the call's, alive until the region returns.
        let call_frame = unsafe { &*self.frame };
        let frame = Frame {
            bufs,
            dims,
            ctx: call_frame.ctx,
        };
        for c in range {
            if self.first_error.load(Ordering::Relaxed) != 0 {
                return;
            }
            // SAFETY: these tables belong to this part alone; the body runs
            // the region's steps for the chunk they point at, writing only
            // the chunk's rows of shared buffers and this part's internal
            // buffers.
            let rc = unsafe {
                self.region.enter_chunk(c, dims, bufs);
                (self.body)(&frame)
            };
            if rc != 0 {
                let _ =
                    self.first_error
                        .compare_exchange(0, rc, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    }
}

// SAFETY: the parts read the context's table pointers (each writes only
// its own tables, see `theon_rt_region`), the frame (read only) and the
// region plan (read only while they run); the context's error cell is not
// touched by region bodies (a region holding a run-time step runs as one
// chunk on the calling thread).
unsafe impl Sync for PartsView<'_> {}

/// Rows of c one epilogue block spans: about 128 KiB of c (it stays in
/// the core's L2 between the product and the epilogue), at least 256
/// rows (each block's product packs op(B) again: with 32-row blocks the
/// 2-512-512-3 step on 10000 rows ran 1.4x slower), a multiple of 32 (so
/// the blocks tile the product as the whole does).
fn epilogue_rows(n: usize, size: usize) -> usize {
    ((128 << 10) / n.max(1) / size).max(256) / 32 * 32
}

macro_rules! gemm_fn {
    ($name:ident, $t:ty, $f:path) => {
        /// `c <- alpha a.b + beta c_in`, then `c <- act(c)`, with element
        /// strides (`kernels::gemm`), split over the rows (or columns) of
        /// c across `threads` threads when the product is large
        /// (`threads::gemm_parts`) or the activation is
        /// (`threads::wide_parts`). `c_in` (null: none) is read with its
        /// own strides (0 broadcasts a bias along rows), `act` is a slice
        /// kernel (0: none). Both run as the epilogue of each block of
        /// `epilogue_rows` rows, right after its product, while the block
        /// is in cache: the product runs with beta = 0 and never reads c.
        ///
        /// # Safety
        /// The pointers with the given sizes and strides must address valid
        /// memory, c must not overlap a, b or c_in, c's columns must be
        /// contiguous (`csc == 1`) when `act` is given, and `act` must be 0
        /// or a `SliceFn` for this dtype; `wide` (the code's CPU level is
        /// AVX2 or above) must be 0 on a machine without AVX2; generated
        /// code passes buffers the plan sized for them.
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
            c_in: *const $t,
            rsci: i64,
            csci: i64,
            c: *mut $t,
            rsc: i64,
            csc: i64,
            act: usize,
            threads: i64,
            wide: i64,
        ) {
            if m <= 0 || n <= 0 {
                return;
            }
            let (m, k, n) = (m as usize, k.max(0) as usize, n as usize);
            let (rsa, csa, rsb, csb, rsci, csci, rsc, csc) = (
                rsa as isize,
                csa as isize,
                rsb as isize,
                csb as isize,
                rsci as isize,
                csci as isize,
                rsc as isize,
                csc as isize,
            );
            // SAFETY: the caller passes 0 or a slice kernel.
            let act: Option<SliceFn> =
                (act != 0).then(|| unsafe { std::mem::transmute::<usize, SliceFn>(act) });
            // Addresses cross threads as integers (raw pointers are not Send).
            let (pa, pb, pci, pc) = (a as usize, b as usize, c_in as usize, c as usize);
            let epilogue = !c_in.is_null() || act.is_some();
            let step = if epilogue {
                epilogue_rows(n, std::mem::size_of::<$t>())
            } else {
                m
            };
            // Rows [r0, r1) and columns [c0, c1) of c.
            let block = |r0: usize, r1: usize, c0: usize, c1: usize| {
                let (a, b, c) = (pa as *const $t, pb as *const $t, pc as *mut $t);
                let mut s0 = r0;
                while s0 < r1 {
                    let s1 = (s0 + step).min(r1);
                    // SAFETY: the caller's contract; the block lies inside c
                    // (and its rows of a, columns of b), and blocks of one
                    // call are disjoint, so threads write separate elements.
                    unsafe {
                        $f(
                            s1 - s0,
                            k,
                            c1 - c0,
                            alpha,
                            a.offset(s0 as isize * rsa),
                            rsa,
                            csa,
                            b.offset(c0 as isize * csb),
                            rsb,
                            csb,
                            0.0,
                            c.offset(s0 as isize * rsc + c0 as isize * csc),
                            rsc,
                            csc,
                        )
                    }
                    if epilogue {
                        // SAFETY: as above, the block's elements of c and
                        // c_in are valid; act's contract is the caller's.
                        unsafe {
                            gemm_epilogue::<$t>(
                                (s0, s1, c0, c1),
                                beta,
                                (pci as *const $t, rsci, csci),
                                (c, rsc, csc),
                                act,
                                wide != 0,
                            )
                        }
                    }
                    s0 = s1;
                }
            };
            let threads = threads.max(1) as usize;
            if let Some(blocks) = super::threads::k_blocks(m, k, n) {
                // A long k under a small c (the weight gradient of a narrow
                // layer over many rows): c has too few rows and columns to
                // split, so k is, into blocks fixed by the shape alone. Each
                // block's product goes to its own slice of `partials`, the
                // slices are summed in block order, then the epilogue runs
                // on the whole c: the same bits whatever the thread count.
                thread_local! {
                    static PARTIALS: RefCell<Vec<$t>> = const { RefCell::new(Vec::new()) };
                }
                let (kb, size) = (k.div_ceil(blocks), m * n);
                let sum = |partials: &mut [$t]| {
                    let pp = partials.as_mut_ptr() as usize;
                    super::threads::run_parts(threads, blocks, &|p| {
                        let (k0, k1) = ((p * kb).min(k), ((p + 1) * kb).min(k));
                        let (a, b) = (pa as *const $t, pb as *const $t);
                        // SAFETY: the caller's contract for a and b (the
                        // block's columns of op(A) and rows of op(B)); part
                        // p writes only its own m x n slice of `partials`.
                        unsafe {
                            $f(
                                m,
                                k1 - k0,
                                n,
                                alpha,
                                a.offset(k0 as isize * csa),
                                rsa,
                                csa,
                                b.offset(k0 as isize * rsb),
                                rsb,
                                csb,
                                0.0,
                                (pp as *mut $t).add(p * size),
                                n as isize,
                                1,
                            )
                        }
                    });
                    for i in 0..m {
                        for j in 0..n {
                            let mut acc = partials[i * n + j];
                            for p in 1..blocks {
                                acc += partials[p * size + i * n + j];
                            }
                            // SAFETY: (i, j) is inside c (the caller's contract).
                            unsafe { *c.offset(i as isize * rsc + j as isize * csc) = acc };
                        }
                    }
                };
                // A nested call on this thread (none today), or one from a
                // thread-local destructor, gets a buffer of its own.
                let reused = PARTIALS
                    .try_with(|cell| match cell.try_borrow_mut() {
                        Ok(mut partials) => {
                            if partials.len() < blocks * size {
                                partials.resize(blocks * size, 0.0);
                            }
                            sum(&mut partials[..blocks * size]);
                            true
                        }
                        Err(_) => false,
                    })
                    .unwrap_or(false);
                if !reused {
                    sum(&mut vec![0.0; blocks * size]);
                }
                if epilogue {
                    // SAFETY: as for a block below, with the whole of c.
                    unsafe {
                        gemm_epilogue::<$t>(
                            (0, m, 0, n),
                            beta,
                            (c_in, rsci, csci),
                            (c, rsc, csc),
                            act,
                            wide != 0,
                        )
                    }
                }
                return;
            }
            let flops = m.saturating_mul(n).saturating_mul(k).saturating_mul(2);
            let by_rows = m >= n;
            let len = m.max(n);
            let mut parts = super::threads::gemm_parts(threads, flops, len);
            if act.is_some() {
                let wide = super::threads::wide_parts(threads, m.saturating_mul(n));
                parts = parts.max(wide).min(len.div_ceil(32));
            }
            if parts <= 1 {
                return block(0, m, 0, n);
            }
            super::threads::run_parts(threads, parts, &|p| {
                // Bounds at multiples of 32 rows (columns): every kernel's
                // register tile divides 32, so each block is tiled exactly
                // as the whole product and an element is computed by the
                // same full or edge tile either way.
                let r = super::threads::part_range(len, parts, p, 32);
                if by_rows {
                    block(r.start, r.end, 0, n)
                } else {
                    block(0, m, r.start, r.end)
                }
            });
        }
    };
}
gemm_fn!(theon_rt_gemm_f64, f64, theon_runtime::kernels::gemm::dgemm);
gemm_fn!(theon_rt_gemm_f32, f32, theon_runtime::kernels::gemm::sgemm);

/// The element types of a GEMM epilogue (f32, f64).
trait EpilogueElem:
    Copy + PartialEq + From<f32> + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self>
{
}
impl<T> EpilogueElem for T where
    T: Copy + PartialEq + From<f32> + std::ops::Add<Output = T> + std::ops::Mul<Output = T>
{
}

/// The epilogue of one block (rows r0..r1, columns c0..c1) of a product
/// in c: `c += beta * c_in` (`beta * c_in` rounded first, as a prefilled
/// `beta * c_in` would be; exact when beta is 1, so the multiply is then
/// skipped), then `c = act(c)`. `wide` runs the addition
/// compiled for AVX2 (the same operations, four or eight lanes at a
/// time instead of SSE2's two: no fused multiply-add, so the same bits).
///
/// # Safety
/// The block's elements of c and c_in (when not null) are valid through
/// their strides; `act` reads and writes `c1 - c0` contiguous elements
/// per row (whole rows at once when they are contiguous); `wide` only on
/// a machine with AVX2.
unsafe fn gemm_epilogue<T: EpilogueElem>(
    block: (usize, usize, usize, usize),
    beta: T,
    c_in: (*const T, isize, isize),
    (c, rsc, csc): (*mut T, isize, isize),
    act: Option<SliceFn>,
    wide: bool,
) {
    let (r0, r1, c0, c1) = block;
    let cols = c1 - c0;
    if !c_in.0.is_null() {
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: the caller's contract (the block's elements, AVX2).
            unsafe { add_c_in_avx2(block, beta, c_in, (c, rsc, csc)) };
        } else {
            // SAFETY: the caller's contract.
            unsafe { add_c_in(block, beta, c_in, (c, rsc, csc)) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = wide;
            // SAFETY: the caller's contract.
            unsafe { add_c_in(block, beta, c_in, (c, rsc, csc)) };
        }
    }
    if let Some(f) = act {
        // SAFETY: act maps contiguous elements in place (src == dst is
        // allowed); rows are contiguous (csc == 1, the caller's contract).
        unsafe {
            if cols as isize == rsc {
                let p = c.offset(r0 as isize * rsc + c0 as isize) as *mut u8;
                f(p, p, ((r1 - r0) * cols) as u64);
            } else {
                for i in r0..r1 {
                    let p = c.offset(i as isize * rsc + c0 as isize) as *mut u8;
                    f(p, p, cols as u64);
                }
            }
        }
    }
}

/// [`add_c_in`] compiled for AVX2.
///
/// # Safety
/// As [`add_c_in`], on a machine with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_c_in_avx2<T: EpilogueElem>(
    block: (usize, usize, usize, usize),
    beta: T,
    c_in: (*const T, isize, isize),
    c: (*mut T, isize, isize),
) {
    // SAFETY: the caller's contract.
    unsafe { add_c_in(block, beta, c_in, c) }
}

/// `c += beta * c_in` over a block (rows r0..r1, columns c0..c1); with
/// beta 1 it adds c_in itself, the same values.
///
/// # Safety
/// The block's elements of c and c_in are valid through their strides.
#[inline(always)]
unsafe fn add_c_in<T: EpilogueElem>(
    (r0, r1, c0, c1): (usize, usize, usize, usize),
    beta: T,
    (ci, rsci, csci): (*const T, isize, isize),
    (c, rsc, csc): (*mut T, isize, isize),
) {
    let cols = c1 - c0;
    let unit = beta == T::from(1.0);
    for i in r0 as isize..r1 as isize {
        // SAFETY: row i's elements c0..c1 of c and c_in are in the block.
        unsafe {
            let row = c.offset(i * rsc + c0 as isize * csc);
            let crow = ci.offset(i * rsci + c0 as isize * csci);
            if csc == 1 && csci == 1 {
                // Contiguous rows (a bias, a full C): loops LLVM vectorizes.
                let o = std::slice::from_raw_parts_mut(row, cols);
                let x = std::slice::from_raw_parts(crow, cols);
                if unit {
                    o.iter_mut().zip(x).for_each(|(o, x)| *o = *o + *x);
                } else {
                    o.iter_mut().zip(x).for_each(|(o, x)| *o = *o + beta * *x);
                }
            } else {
                for j in 0..cols as isize {
                    let p = row.offset(j * csc);
                    *p = *p + beta * *crow.offset(j * csci);
                }
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    //! The region runner with a Rust body standing in for generated code
    //! (so Miri can run it: scripts/miri.sh).
    use super::*;

    /// out[i] = 2 * in[i] + 1 through an internal buffer, for the chunk
    /// the frame's tables point at: dims[0] is the chunk's row count, buffer
    /// 0 the input, 1 the output, 2 the internal one.
    unsafe extern "C" fn body(frame: *const Frame) -> i32 {
        // SAFETY: the runner passes a frame whose tables point at the chunk.
        unsafe {
            let f = &*frame;
            let n = *f.dims as usize;
            let (input, out, tmp) = (
                *f.bufs as *const f64,
                *f.bufs.add(1) as *mut f64,
                *f.bufs.add(2) as *mut f64,
            );
            for i in 0..n {
                *tmp.add(i) = 2.0 * *input.add(i);
            }
            for i in 0..n {
                *out.add(i) = *tmp.add(i) + 1.0;
            }
        }
        0
    }

    /// Run region 0 of these tables through the runner; its return code.
    fn run_region(
        (bufs, dims): (&mut [usize], &mut [i64]),
        regions: &mut [RegionPlan],
        parts: &mut [PartTables],
        threads: usize,
    ) -> (i32, Option<Error>) {
        let ctx = CallCtx {
            execs: &[],
            bufs: bufs.as_mut_ptr(),
            n_bufs: bufs.len(),
            dims: dims.as_mut_ptr(),
            n_dims: dims.len(),
            regions: regions.as_mut_ptr(),
            n_regions: regions.len(),
            threads,
            parts: parts.as_mut_ptr(),
            n_parts: parts.len(),
            error: RefCell::new(None),
        };
        let frame = Frame {
            bufs: ctx.bufs,
            dims: ctx.dims,
            ctx: (&ctx as *const CallCtx).cast(),
        };
        // SAFETY: the context, tables and buffers are alive and sized for
        // the regions (the tests build them so); a missing region returns
        // before touching any table.
        let rc = unsafe { theon_rt_region(frame.ctx, 0, body, &frame) };
        (rc, ctx.error.take())
    }

    fn run(threads: usize, total: usize, chunk: usize) -> Vec<f64> {
        let input: Vec<f64> = (0..total).map(|i| i as f64).collect();
        let mut out = vec![0.0f64; total];
        let mut tmp = vec![0.0f64; chunk];
        let mut bufs = [
            input.as_ptr() as usize,
            out.as_mut_ptr() as usize,
            tmp.as_mut_ptr() as usize,
        ];
        let mut dims = [total as i64];
        let mut regions = [RegionPlan {
            total,
            chunk,
            chunked: true,
            dims: vec![(0, 1, total as i64)],
            bufs: vec![(0, 8, 0), (1, 8, 0)],
            scratch: vec![(2, 0)],
            scratch_bytes: chunk * 8,
        }];
        let mut parts: Vec<PartTables> = (1..threads)
            .map(|_| PartTables::new(3, 1, chunk * 8).unwrap())
            .collect();
        let (rc, _) = run_region((&mut bufs, &mut dims), &mut regions, &mut parts, threads);
        assert_eq!(rc, 0);
        // The tables are restored.
        assert_eq!(dims, [total as i64]);
        assert_eq!(bufs[0], input.as_ptr() as usize);
        assert_eq!(bufs[1], out.as_ptr() as usize);
        assert_eq!(bufs[2], tmp.as_ptr() as usize);
        out
    }

    #[test]
    fn regions_run_every_chunk_once_on_any_thread_count() {
        for (total, chunk) in [(10, 3), (7, 7), (64, 5), (1, 1)] {
            let want: Vec<f64> = (0..total).map(|i| 2.0 * i as f64 + 1.0).collect();
            for threads in [1, 2, 3] {
                assert_eq!(
                    run(threads, total, chunk),
                    want,
                    "{total}/{chunk}, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn a_region_outside_the_plan_is_an_error() {
        let (rc, error) = run_region((&mut [], &mut []), &mut [], &mut [], 1);
        assert_ne!(rc, 0);
        assert!(error.unwrap().to_string().contains("no batch region 0"));
    }
}
