//! schedule: the order nodes run in, with batch regions made contiguous.
//!
//! A vectorized graph (`vectorize`, `sample_node`) computes a network for
//! many draws at once: batched products and elementwise ops over values
//! whose leading axis is the draw. Run op by op, every intermediate holds
//! all draws (500 draws x 500 points x 5 units is 10 MB) and each op
//! streams it through memory. A batch region is a set of such ops that
//! only ever combine entries with the same leading index; the code
//! generator runs the whole region for a chunk of leading indices at a
//! time, so its intermediates stay in cache (`codegen/region.rs`).
//!
//! Here the regions are found and the schedule is reordered so each one
//! is a contiguous run of steps. A region is grown from each batched
//! product (output rank >= 3) along edges whose endpoints keep the leading
//! axis as their axis 0 ("aligned"), and must be convex.

use crate::graph::{Graph, NodeId, Value};
use crate::op::{FusedOutput, Op};
use rustc_hash::{FxHashMap, FxHashSet};
use std::ops::Range;

/// Ops that compute each leading index from the same leading index of
/// their aligned inputs.
fn batch_local(g: &Graph, n: NodeId) -> bool {
    let rank = g.ty(Value::of(n)).rank();
    match g.op(n) {
        Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_) => rank >= 1 && g.n_outputs(n) == 1,
        Op::Fused(p) => {
            rank >= 1
                && p.outputs
                    .iter()
                    .all(|o| matches!(o, FusedOutput::Elementwise(_)))
        }
        // Float products only: they are generated code (integer ones run in Rust).
        Op::Gemm(_) | Op::GemmAct { .. } | Op::MatMul => {
            rank >= 3 && g.ty(Value::of(n)).dtype.is_float()
        }
        Op::DimShuffle(order) => g.is_view(n) && order.first() == Some(&Some(0)),
        _ => false,
    }
}

/// Does input `v` of node `n` carry the leading axis of `n`'s output as its
/// own axis 0? (Same rank: elementwise broadcasting and batched products
/// align axes from the right; a view keeping axis 0 in front.)
pub fn aligned(g: &Graph, n: NodeId, v: Value) -> bool {
    match g.op(n) {
        Op::DimShuffle(_) => true,
        _ => g.ty(v).rank() == g.ty(Value::of(n)).rank(),
    }
}

/// Reorder `order` so every batch region is contiguous; returns the new
/// order and the regions as position ranges.
pub fn with_batch_regions(g: &Graph, order: Vec<NodeId>) -> (Vec<NodeId>, Vec<Range<usize>>) {
    let mut order = order;
    let mut taken: FxHashSet<NodeId> = FxHashSet::default();
    let mut sets: Vec<FxHashSet<NodeId>> = vec![];
    let seeds: Vec<NodeId> = order
        .iter()
        .copied()
        .filter(|&n| {
            matches!(g.op(n), Op::Gemm(_) | Op::GemmAct { .. } | Op::MatMul) && batch_local(g, n)
        })
        .collect();
    for seed in seeds {
        if taken.contains(&seed) {
            continue;
        }
        let region = prune(g, grow(g, seed, &taken));
        if region.len() < 2 || !region.contains(&seed) {
            continue;
        }
        order = make_contiguous(g, order, &region);
        taken.extend(region.iter().copied());
        sets.push(region.into_iter().collect());
    }
    // A later reordering may split an earlier region: keep the contiguous ones.
    let pos: FxHashMap<NodeId, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut regions: Vec<Range<usize>> = sets
        .iter()
        .filter_map(|set| {
            let lo = set.iter().map(|m| pos[m]).min()?;
            let hi = set.iter().map(|m| pos[m]).max()?;
            (hi + 1 - lo == set.len()).then_some(lo..hi + 1)
        })
        .collect();
    regions.sort_by_key(|r| r.start);
    (order, regions)
}

/// The batch-local nodes connected to `seed` through aligned edges.
fn grow(g: &Graph, seed: NodeId, taken: &FxHashSet<NodeId>) -> Vec<NodeId> {
    let mut region = vec![seed];
    let mut seen: FxHashSet<NodeId> = [seed].into_iter().collect();
    let mut stack = vec![seed];
    while let Some(n) = stack.pop() {
        let mut next = vec![];
        for v in g.inputs(n) {
            if aligned(g, n, v) && g.n_outputs(v.node) == 1 {
                next.push(v.node);
            }
        }
        for port in 0..g.n_outputs(n) as u16 {
            for (c, slot) in g.clients(Value { node: n, port }) {
                if aligned(g, c, g.input(c, slot as usize)) {
                    next.push(c);
                }
            }
        }
        for m in next {
            if !seen.contains(&m) && !taken.contains(&m) && batch_local(g, m) {
                seen.insert(m);
                region.push(m);
                stack.push(m);
            }
        }
    }
    region
}

/// Drop region nodes until every edge inside the region is aligned (a node
/// must not read a chunked value as if it were whole) and the region is
/// convex.
fn prune(g: &Graph, region: Vec<NodeId>) -> Vec<NodeId> {
    let mut region = region;
    loop {
        let set: FxHashSet<NodeId> = region.iter().copied().collect();
        let kept: Vec<NodeId> = region
            .iter()
            .copied()
            .filter(|&n| {
                g.inputs(n)
                    .iter()
                    .all(|&v| !set.contains(&v.node) || aligned(g, n, v))
            })
            .collect();
        let kept = make_convex(g, kept);
        if kept.len() == region.len() {
            return kept;
        }
        region = kept;
    }
}

/// Drop region nodes until no path leaves the region and comes back:
/// a node that reads something computed from the region outside of it
/// (e.g. `x - logsumexp(x)`, the reduction being outside) leaves.
fn make_convex(g: &Graph, region: Vec<NodeId>) -> Vec<NodeId> {
    let mut set: FxHashSet<NodeId> = region.iter().copied().collect();
    loop {
        // Outside nodes computed from the region.
        let mut outside: FxHashSet<NodeId> = FxHashSet::default();
        let mut stack: Vec<NodeId> = set.iter().copied().collect();
        while let Some(x) = stack.pop() {
            for port in 0..g.n_outputs(x) as u16 {
                for (c, _) in g.clients(Value { node: x, port }) {
                    if !set.contains(&c) && outside.insert(c) {
                        stack.push(c);
                    }
                }
            }
        }
        let bad: Vec<NodeId> = set
            .iter()
            .copied()
            .filter(|&r| g.inputs(r).iter().any(|v| outside.contains(&v.node)))
            .collect();
        if bad.is_empty() {
            return region.into_iter().filter(|n| set.contains(n)).collect();
        }
        for b in bad {
            set.remove(&b);
        }
    }
}

/// A topological order with `region` contiguous: its outside ancestors
/// (and unrelated nodes scheduled earlier) first, then the region, then
/// the rest, each keeping its relative order.
fn make_contiguous(g: &Graph, order: Vec<NodeId>, region: &[NodeId]) -> Vec<NodeId> {
    let set: FxHashSet<NodeId> = region.iter().copied().collect();
    let mut ancestors: FxHashSet<NodeId> = FxHashSet::default();
    let mut stack: Vec<NodeId> = region
        .iter()
        .flat_map(|&n| g.inputs(n))
        .map(|v| v.node)
        .collect();
    while let Some(x) = stack.pop() {
        if !set.contains(&x) && ancestors.insert(x) {
            stack.extend(g.inputs(x).iter().map(|v| v.node));
        }
    }
    let pos: FxHashMap<NodeId, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let first = region
        .iter()
        .map(|n| pos[n])
        .min()
        .expect("non-empty region");
    let (mut before, mut inside, mut after) = (vec![], vec![], vec![]);
    for n in order {
        if set.contains(&n) {
            inside.push(n);
        } else if ancestors.contains(&n) || pos[&n] < first {
            before.push(n);
        } else {
            after.push(n);
        }
    }
    before.extend(inside);
    before.extend(after);
    before
}
