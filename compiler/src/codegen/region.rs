//! Batch regions at run time: a run of steps executed for a chunk of
//! leading indices at a time (found and scheduled by `rewrite/schedule.rs`).
//!
//! The generated code reads sizes from the dims table and buffer addresses
//! from the buffer table at every use, so a chunk is run by rewriting
//! those entries: every size that counts the leading axis becomes
//! `chunk length x the rest`, every buffer that carries the leading axis
//! moves to the chunk's first row, and buffers used only inside the region
//! shrink to one chunk (which is what keeps them in cache). The plan
//! checks at each new shape signature that the region's values really
//! share one leading extent; if not, the region runs as a single chunk.
//! The chunks may run on several threads (`rt::theon_rt_region`), each
//! extra one with a copy of the tables and its own internal buffers
//! (`PartTables`). A large elementwise loop outside regions is a one-step
//! "split" region: one chunk per thread, nothing to keep in cache.

use super::layout::{BufKind, Layout, ShapeOf};
use crate::graph::{Graph, Value};
use crate::schedule::aligned;
use rustc_hash::FxHashMap;
use std::ops::Range;

/// Bytes of region-internal buffers per chunk (well inside a 1 MB L2).
const CHUNK_BYTES: usize = 256 * 1024;

/// What a region touches, known when compiling.
#[derive(Clone, Debug)]
pub struct RegionLayout {
    pub steps: Range<usize>,
    /// Values the region's nodes produce.
    pub produced: Vec<usize>,
    /// Values produced before the region that its nodes read, and whether
    /// they carry the leading axis (their axis 0 is the region's).
    pub inputs: Vec<(usize, bool)>,
    /// Arena buffers only the region writes and reads: one chunk each.
    pub internal: Vec<usize>,
    /// Every buffer the region's steps read or write.
    pub touched: Vec<usize>,
    /// A single elementwise loop made a region only to split it across
    /// threads when large (one chunk per thread, nothing kept in cache).
    pub split: bool,
    /// A step lowered to a run-time (Rust) step, which reads the call's
    /// own tables with the full shapes: the region runs as one chunk. Set
    /// when the region is lowered.
    pub runs_exec: bool,
}

impl RegionLayout {
    pub fn new(g: &Graph, layout: &Layout, steps: Range<usize>, split: bool) -> RegionLayout {
        let in_region = |pos: usize| steps.contains(&pos);
        let mut produced = vec![];
        let mut inputs = vec![];
        for pos in steps.clone() {
            let n = layout.order[pos];
            for port in 0..g.n_outputs(n) as u16 {
                produced.push(layout.vid[&Value { node: n, port }]);
            }
            for v in g.inputs(n) {
                let i = layout.vid[&v];
                if !in_region(layout.pos_of[i]) {
                    inputs.push((i, aligned(g, n, v)));
                }
            }
        }
        // Buffers holding some value, and holding one made outside the region.
        let (mut used, mut outside) = (
            vec![false; layout.bufs.len()],
            vec![false; layout.bufs.len()],
        );
        for (i, &b) in layout.buf_of.iter().enumerate() {
            used[b] = true;
            outside[b] |= !in_region(layout.pos_of[i]);
        }
        let internal = (0..layout.bufs.len())
            .filter(|&b| {
                matches!(layout.bufs[b].kind, BufKind::Arena)
                    && layout.bufs[b].last < steps.end
                    && used[b]
                    && !outside[b]
            })
            .collect();
        let mut touched: Vec<usize> = produced
            .iter()
            .chain(inputs.iter().map(|(v, _)| v))
            .map(|&v| layout.buf_of[v])
            .collect();
        touched.sort_unstable();
        touched.dedup();
        RegionLayout {
            steps,
            produced,
            inputs,
            internal,
            touched,
            split,
            runs_exec: false,
        }
    }

    /// Does value `v` carry the region's leading axis (produced in it, or
    /// read by it aligned)?
    pub fn carries(&self, v: usize) -> bool {
        self.produced.contains(&v) || self.inputs.iter().any(|&(i, aligned)| i == v && aligned)
    }
}

/// A region for one shape signature: how to run it chunk by chunk.
#[derive(Clone, Debug, Default)]
pub struct RegionPlan {
    /// Leading extent and chunk length.
    pub total: usize,
    pub chunk: usize,
    /// Run in chunks; otherwise once, with the tables as they are.
    pub chunked: bool,
    /// (dims-table entry, value per leading index, full value).
    pub dims: Vec<(usize, i64, i64)>,
    /// (buffer, bytes per leading index, address at the region's start).
    pub bufs: Vec<(usize, usize, usize)>,
    /// Where each internal buffer goes in a thread's scratch (`PartTables`):
    /// (buffer, byte offset), one chunk each, disjoint.
    pub scratch: Vec<(usize, usize)>,
    /// Bytes of scratch a thread needs for this region.
    pub scratch_bytes: usize,
}

impl RegionPlan {
    pub fn chunks(&self) -> usize {
        if self.total == 0 {
            0
        } else {
            self.total.div_ceil(self.chunk.max(1))
        }
    }

    /// The chunked plan when the concrete shapes allow it (and the region
    /// holds no run-time step); `threads` sizes a split loop's chunks.
    /// `bytes` are the buffers' full sizes; internal ones are shrunk to a
    /// chunk here.
    pub fn build(
        region: &RegionLayout,
        threads: usize,
        layout: &Layout,
        shapes: &[Vec<usize>],
        loops: &[Vec<usize>],
        dims: &[i64],
        bytes: &mut [usize],
    ) -> RegionPlan {
        let single = |total: usize| RegionPlan {
            total,
            chunk: total.max(1),
            ..Default::default()
        };
        let Some(&first) = region.produced.first() else {
            return single(1);
        };
        if region.runs_exec {
            // A run-time step reads the call's own tables with the full
            // shapes it was prepared for.
            return single(shapes[first].first().copied().unwrap_or(1));
        }
        let Some(&total) = shapes[first].first() else {
            return single(1);
        };
        // Every produced value has the leading extent; every aligned input
        // has it or broadcasts (1) along it.
        if total <= 1
            || region
                .produced
                .iter()
                .any(|&v| shapes[v].first() != Some(&total))
        {
            return single(total);
        }
        // Buffer -> whether it moves with the chunk; one answer per buffer.
        let mut carries: FxHashMap<usize, bool> = FxHashMap::default();
        let mut uses: Vec<(usize, bool)> = region
            .produced
            .iter()
            .map(|&v| (layout.buf_of[v], true))
            .collect();
        for &(v, is_aligned) in &region.inputs {
            let lead = shapes[v].first().copied();
            let moves = is_aligned && lead == Some(total);
            if is_aligned && !moves && lead != Some(1) {
                return single(total);
            }
            uses.push((layout.buf_of[v], moves));
        }
        for (b, moves) in uses {
            if *carries.entry(b).or_insert(moves) != moves {
                return single(total);
            }
        }
        // Chunk length: internal buffers of one chunk within CHUNK_BYTES;
        // a split loop: one chunk per thread when it is large (the
        // threshold of the wide-math passes).
        let per_row: usize = region.internal.iter().map(|&b| bytes[b] / total).sum();
        let chunk = if region.split {
            let elements: usize = shapes[first].iter().product();
            if elements >= super::threads::WIDE_MIN {
                total.div_ceil(threads)
            } else {
                total
            }
        } else {
            (CHUNK_BYTES / per_row.max(1)).clamp(1, total)
        };
        let mut scratch = vec![];
        let mut scratch_bytes = 0;
        for &b in &region.internal {
            bytes[b] = bytes[b] / total * chunk;
            scratch.push((b, scratch_bytes));
            scratch_bytes += bytes[b].div_ceil(SCRATCH_ALIGN) * SCRATCH_ALIGN;
        }
        // Sizes counting the leading axis of a moving value or a region loop.
        let moving_value = |v: usize| {
            carries.get(&layout.buf_of[v]) == Some(&true) && shapes[v].first() == Some(&total)
        };
        let dims_patch = layout
            .quantities
            .iter()
            .enumerate()
            .filter(|(_, q)| q.mask & 1 != 0)
            .filter_map(|(k, q)| {
                let counts_lead = match q.of {
                    ShapeOf::Value(v) => moving_value(v),
                    ShapeOf::Loop(pos) => {
                        region.steps.contains(&pos) && loops[pos].first() == Some(&total)
                    }
                };
                counts_lead.then(|| (k, dims[k] / total as i64, dims[k]))
            })
            .collect();
        let bufs = carries
            .iter()
            .filter(|(b, moves)| **moves && !region.internal.contains(b))
            .map(|(&b, _)| (b, bytes[b] / total, 0))
            .collect();
        RegionPlan {
            total,
            chunk,
            chunked: true,
            dims: dims_patch,
            bufs,
            scratch,
            scratch_bytes,
        }
    }

    /// Record the moving buffers' addresses from the call's tables, before
    /// any chunk is entered.
    ///
    /// # Safety
    /// `ptrs` is the call's buffer table, long enough for every buffer this
    /// plan names.
    pub unsafe fn record(&mut self, ptrs: *const usize) {
        for (b, _, base) in &mut self.bufs {
            // SAFETY: b indexes the buffer table (see the contract).
            *base = unsafe { *ptrs.add(*b) };
        }
    }

    /// Point a copy of the call's tables at chunk `c` (after `record`).
    ///
    /// # Safety
    /// `dims` and `ptrs` are the call's tables or a copy of them, long
    /// enough for every entry this plan names, and no one else reads or
    /// writes them meanwhile.
    pub unsafe fn enter_chunk(&self, c: usize, dims: *mut i64, ptrs: *mut usize) {
        if !self.chunked {
            return;
        }
        let start = c * self.chunk;
        let len = self.chunk.min(self.total - start) as i64;
        for &(k, unit, _) in &self.dims {
            // SAFETY: k indexes the dims table (see the contract).
            unsafe { *dims.add(k) = unit * len };
        }
        for &(b, stride, base) in &self.bufs {
            // SAFETY: as above; the address stays inside the buffer, whose
            // size the plan checked (start < total rows of `stride` bytes).
            unsafe { *ptrs.add(b) = base + start * stride };
        }
    }

    /// Restore the tables after the last chunk.
    ///
    /// # Safety
    /// As for `enter_chunk`, after `record`.
    pub unsafe fn leave(&self, dims: *mut i64, ptrs: *mut usize) {
        if !self.chunked {
            return;
        }
        for &(k, _, full) in &self.dims {
            // SAFETY: see the contract.
            unsafe { *dims.add(k) = full };
        }
        for &(b, _, base) in &self.bufs {
            // SAFETY: see the contract.
            unsafe { *ptrs.add(b) = base };
        }
    }
}

/// Alignment of internal buffers in a thread's scratch (a cache line).
const SCRATCH_ALIGN: usize = 64;

/// What one extra thread runs a region's chunks with: its own copy of the
/// call's tables and room for the region's internal buffers. Allocated
/// with the plan, so a threaded region allocates nothing per call.
pub struct PartTables {
    pub bufs: Vec<usize>,
    pub dims: Vec<i64>,
    scratch: Vec<u64>,
}

impl PartTables {
    pub fn new(n_bufs: usize, n_dims: usize, scratch_bytes: usize) -> theon_runtime::Result<Self> {
        use theon_runtime::alloc::try_vec;
        Ok(PartTables {
            bufs: try_vec(n_bufs, 0usize)?,
            dims: try_vec(n_dims, 0i64)?,
            scratch: try_vec((scratch_bytes + SCRATCH_ALIGN) / 8, 0u64)?,
        })
    }

    /// Copy the call's tables (as they are before the region's first
    /// chunk) and point the region's internal buffers at this scratch.
    /// False if the tables or the scratch do not fit (a plan built for
    /// other shapes).
    ///
    /// # Safety
    /// `dims` and `ptrs` address the call's tables of `n_dims` and `n_bufs`
    /// entries, and nothing writes them meanwhile.
    #[must_use]
    pub unsafe fn copy_for(
        &mut self,
        region: &RegionPlan,
        (dims, n_dims): (*const i64, usize),
        (ptrs, n_bufs): (*const usize, usize),
    ) -> bool {
        if n_dims != self.dims.len()
            || n_bufs != self.bufs.len()
            || region.scratch_bytes + SCRATCH_ALIGN > self.scratch.len() * 8
        {
            return false;
        }
        // SAFETY: see the contract.
        unsafe {
            self.dims
                .copy_from_slice(std::slice::from_raw_parts(dims, n_dims));
            self.bufs
                .copy_from_slice(std::slice::from_raw_parts(ptrs, n_bufs));
        }
        let base = (self.scratch.as_mut_ptr() as usize).div_ceil(SCRATCH_ALIGN) * SCRATCH_ALIGN;
        for &(b, offset) in &region.scratch {
            self.bufs[b] = base + offset;
        }
        true
    }
}
