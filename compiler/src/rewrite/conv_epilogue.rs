//! specialize: a convolution's bias add and activation join it
//! (`Conv2dBiasAct`), so the JIT applies them to each chunk of the product
//! while the chunk is in cache instead of making two more passes over the
//! output. The activation must be a wide-math op of the backend (tanh,
//! sigmoid, softplus, exp, ...): the step calls the same kernel a
//! standalone activation would, so results do not change.

use super::util::single_use;
use super::{Ctx, LocalRewrite, Patch, Ref};
use crate::graph::{Graph, NodeId, Value};
use crate::op::{BinaryOp, ConvRole, ConvSpec, Op};

/// A convolution whose epilogue is still free: the plain forward op, or a
/// fused one without bias (`want_bias`) or without activation (neither
/// has an activation yet). Returns its spec and operands.
fn open_conv(g: &Graph, v: Value, want_bias: bool) -> Option<(ConvSpec, Vec<Value>)> {
    if !single_use(g, v) {
        return None;
    }
    let ins = g.inputs(v.node);
    match g.op(v.node) {
        Op::Conv2d {
            role: ConvRole::Forward,
            spec,
        } => Some((*spec, ins)),
        Op::Conv2dBiasAct { spec, act: None } if !want_bias || ins.len() == 2 => Some((*spec, ins)),
        _ => None,
    }
}

/// conv2d(x, w) + b → Conv2dBiasAct(x, w, b) when b varies along the
/// output channels only (type inference of the patch checks that; a
/// bias that does not fit leaves the graph as it is).
fn conv_bias(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = (g.input(n, 0), g.input(n, 1));
    let (conv, bias, (spec, ins)) = match open_conv(g, a, true) {
        Some(c) => (a, b, c),
        None => (b, a, open_conv(g, b, true)?),
    };
    if g.ty(bias).dtype != g.ty(conv).dtype
        || g.ty(bias).rank() > g.ty(conv).rank()
        || g.depends_on(bias, conv.node)
    {
        return None;
    }
    let mut refs: Vec<Ref> = ins.into_iter().map(Ref::Old).collect();
    refs.push(bias.into());
    Some(Patch::with(
        Value::of(n),
        Op::Conv2dBiasAct { spec, act: None },
        &refs,
    ))
}

/// act(conv2d(x, w) [+ b]) → Conv2dBiasAct with the activation.
fn conv_act(g: &Graph, n: NodeId, ctx: &Ctx) -> Option<Patch> {
    let Op::Unary(u) = g.op(n) else { return None };
    let x = g.input(n, 0);
    if !ctx.backend.wide_math.contains(u) || g.ty(x).dtype != g.ty(Value::of(n)).dtype {
        return None;
    }
    let (spec, ins) = open_conv(g, x, false)?;
    let refs: Vec<Ref> = ins.into_iter().map(Ref::Old).collect();
    Some(Patch::with(
        Value::of(n),
        Op::Conv2dBiasAct {
            spec,
            act: Some(*u),
        },
        &refs,
    ))
}

pub fn rewrites() -> Vec<LocalRewrite> {
    use LocalRewrite as L;
    vec![
        L::code(
            "conv_bias",
            |op| *op == Op::Binary(BinaryOp::Add),
            conv_bias,
        ),
        L::code("conv_act", |op| matches!(op, Op::Unary(_)), conv_act),
    ]
}
