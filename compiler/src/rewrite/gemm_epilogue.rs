//! specialize: an activation of a matrix product joins it (`GemmAct`), so
//! the product's call applies it to each block of rows while the block is
//! in cache, instead of another pass over the output (the layer
//! `tanh(x·W + b)` is one step: the bias is already the product's C
//! operand). Only for products the backend sends to its GEMM call (large
//! or dynamic ones: `Capabilities::gemm_call`) and activations that would
//! run as standalone wide-math passes anyway; the epilogue calls the same
//! kernel, so results do not change.

use super::fuse::stands_alone;
use super::util::single_use;
use super::{Ctx, LocalRewrite, Patch, Ref};
use crate::graph::{Graph, NodeId, Value};
use crate::op::Op;

/// act(gemm(a, b [, c])) → GemmAct(a, b [, c]).
fn gemm_act(g: &Graph, n: NodeId, ctx: &Ctx) -> Option<Patch> {
    let Op::Unary(u) = g.op(n) else { return None };
    let x = g.input(n, 0);
    let Op::Gemm(spec) = g.op(x.node) else {
        return None;
    };
    let goes_to_call = ctx.backend.gemm_call?;
    if !single_use(g, x) || !stands_alone(g, ctx, n) {
        return None;
    }
    let (a, b) = (g.ty(g.input(x.node, 0)), g.ty(g.input(x.node, 1)));
    let (ra, rb) = (a.rank(), b.rank());
    let (m, k) = if spec.trans_a {
        (a.shape[ra - 1], a.shape[ra - 2])
    } else {
        (a.shape[ra - 2], a.shape[ra - 1])
    };
    let nn = if spec.trans_b {
        b.shape[rb - 2]
    } else {
        b.shape[rb - 1]
    };
    if !goes_to_call(m, k, nn) {
        return None;
    }
    let refs: Vec<Ref> = g.inputs(x.node).into_iter().map(Ref::Old).collect();
    Some(Patch::with(
        Value::of(n),
        Op::GemmAct {
            spec: *spec,
            act: *u,
        },
        &refs,
    ))
}

pub fn rewrites() -> Vec<LocalRewrite> {
    vec![LocalRewrite::code(
        "gemm_act",
        |op| matches!(op, Op::Unary(_)),
        gemm_act,
    )]
}
