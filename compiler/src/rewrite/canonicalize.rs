//! canonicalize: simplify to one normal form, so later phases match less.

use super::patch::{Patch, Ref};
use super::util::{const_ref, filled_like, is_const, scalar_const, splat};
use super::{Ctx, LocalRewrite};
use crate::graph::{Graph, NodeId, Value};
use crate::op::{BinaryOp, ConstValue, Op, ReduceOp, UnaryOp};
use theon_runtime::Dims;
use theon_runtime::Tensor;

fn binary(g: &Graph, n: NodeId) -> (Value, Value) {
    (g.input(n, 0), g.input(n, 1))
}

fn is_binop(op: &Op, b: BinaryOp) -> bool {
    *op == Op::Binary(b)
}

/// x + 0, 0 + x, x - 0 → x (the engine rejects it if 0 broadcast x up).
/// For floats only where IEEE agrees: x + (-0.0) and x - (+0.0) are x for
/// every x, but -0.0 + 0.0 is +0.0, so `x + 0.0` stays unless fast_math.
fn add_zero(g: &Graph, n: NodeId, ctx: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    let out = Value::of(n);
    let exact = !g.ty(out).dtype.is_float() || ctx.fast_math;
    let zero = |v: Value, negative: bool| {
        splat(g, v).is_some_and(|z| z == 0.0 && (exact || z.is_sign_negative() == negative))
    };
    match g.op(n) {
        Op::Binary(BinaryOp::Add) if zero(b, true) => Some(Patch::single(out, a)),
        Op::Binary(BinaryOp::Add) if zero(a, true) => Some(Patch::single(out, b)),
        Op::Binary(BinaryOp::Sub) if zero(b, false) => Some(Patch::single(out, a)),
        _ => None,
    }
}

/// x * 1, 1 * x, x / 1 → x.
fn mul_one(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    let out = Value::of(n);
    match g.op(n) {
        Op::Binary(BinaryOp::Mul) if splat(g, b) == Some(1.0) => Some(Patch::single(out, a)),
        Op::Binary(BinaryOp::Mul) if splat(g, a) == Some(1.0) => Some(Patch::single(out, b)),
        Op::Binary(BinaryOp::Div) if splat(g, b) == Some(1.0) => Some(Patch::single(out, a)),
        _ => None,
    }
}

/// x * 0 → 0 when x cannot be NaN or inf (integers, bools), or with fast_math.
fn mul_zero(g: &Graph, n: NodeId, ctx: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    let other = if splat(g, b) == Some(0.0) {
        a
    } else if splat(g, a) == Some(0.0) {
        b
    } else {
        return None;
    };
    if !(super::global::exact_dtype(g.ty(other).dtype) || ctx.fast_math) {
        return None;
    }
    let out = Value::of(n);
    let mut p = Patch::new();
    let z = filled_like(&mut p, 0.0, &g.ty(out).clone(), other);
    p.replace(out, z);
    Some(p)
}

/// x - x → 0 for integers, or with fast_math (inf - inf is NaN).
fn sub_self(g: &Graph, n: NodeId, ctx: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    if a != b || !(super::global::exact_dtype(g.ty(a).dtype) || ctx.fast_math) {
        return None;
    }
    let out = Value::of(n);
    let mut p = Patch::new();
    let z = filled_like(&mut p, 0.0, &g.ty(out).clone(), a);
    p.replace(out, z);
    Some(p)
}

/// neg(neg(x)) → x.
fn neg_neg(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let a = g.input(n, 0);
    (*g.op(a.node) == Op::Unary(UnaryOp::Neg))
        .then(|| Patch::single(Value::of(n), g.input(a.node, 0)))
}

/// x * -1 → neg(x); x + neg(y) → x - y; x - neg(y) → x + y.
fn neg_forms(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    let out = Value::of(n);
    let is_neg = |v: Value| *g.op(v.node) == Op::Unary(UnaryOp::Neg);
    match g.op(n) {
        Op::Binary(BinaryOp::Mul) if scalar_const(g, b) == Some(-1.0) => {
            Some(Patch::with(out, Op::Unary(UnaryOp::Neg), &[a.into()]))
        }
        Op::Binary(BinaryOp::Add) if is_neg(b) => Some(Patch::with(
            out,
            Op::Binary(BinaryOp::Sub),
            &[a.into(), g.input(b.node, 0).into()],
        )),
        Op::Binary(BinaryOp::Add) if is_neg(a) => Some(Patch::with(
            out,
            Op::Binary(BinaryOp::Sub),
            &[b.into(), g.input(a.node, 0).into()],
        )),
        Op::Binary(BinaryOp::Sub) if is_neg(b) => Some(Patch::with(
            out,
            Op::Binary(BinaryOp::Add),
            &[a.into(), g.input(b.node, 0).into()],
        )),
        _ => None,
    }
}

/// Constants to the right of commutative + and * (one normal form).
fn const_right(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    let Op::Binary(op) = g.op(n) else { return None };
    (matches!(op, BinaryOp::Add | BinaryOp::Mul) && is_const(g, a) && !is_const(g, b))
        .then(|| Patch::with(Value::of(n), Op::Binary(*op), &[b.into(), a.into()]))
}

/// (x + c1) + c2 → x + (c1 + c2), and likewise for *. Constant folding
/// then evaluates `c1 + c2`.
fn gather_constants(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    let Op::Binary(op) = g.op(n) else { return None };
    if !matches!(op, BinaryOp::Add | BinaryOp::Mul)
        || !is_const(g, b)
        || *g.op(a.node) != Op::Binary(*op)
    {
        return None;
    }
    let (x, c1) = (g.input(a.node, 0), g.input(a.node, 1));
    if !is_const(g, c1) || !super::util::single_use(g, a) {
        return None;
    }
    // Not where the folded constant leaves the normal range: (x * 1e200) *
    // 1e200 is not x * inf (0 * inf = NaN at x = 0), nor (x * 1e-200) *
    // 1e-120 x * 1e-320 (a subnormal with 4 digits). Within the range a
    // fold rounds differently by an ulp or so, as any reassociation (and
    // (x + 1e16) + 1 is not x + (1e16 + 1): sums fold as before). Splat
    // constants are checked; others (rare) fold as is.
    let dtype = g.ty(Value::of(n)).dtype;
    if let (Some(k1), Some(k2)) = (super::util::splat(g, c1), super::util::splat(g, b)) {
        let folded = match op {
            BinaryOp::Add => k1 + k2,
            _ => k1 * k2,
        };
        let folded = if dtype == theon_runtime::DType::F32 {
            folded as f32 as f64
        } else {
            folded
        };
        let parts_finite = k1.is_finite() && k2.is_finite();
        let overflows = parts_finite && !folded.is_finite();
        let leaves_normal = *op == BinaryOp::Mul
            && k1.is_normal()
            && k2.is_normal()
            && !(if dtype == theon_runtime::DType::F32 {
                (folded as f32).is_normal()
            } else {
                folded.is_normal()
            });
        if overflows || leaves_normal {
            return None;
        }
    }
    let mut p = Patch::new();
    let c = p.add(Op::Binary(*op), &[c1.into(), b.into()]);
    let r = p.add(Op::Binary(*op), &[x.into(), c]);
    p.replace(Value::of(n), r);
    Some(p)
}

/// x - c → x + (-c) for floats, so constants gather across subtraction.
fn sub_const(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    let c = scalar_const(g, b)?;
    if !g.ty(Value::of(n)).dtype.is_float() || c == 0.0 {
        return None;
    }
    let mut p = Patch::new();
    let k = const_ref(&mut p, -c, g.ty(b).dtype);
    let r = p.add(Op::Binary(BinaryOp::Add), &[a.into(), k]);
    p.replace(Value::of(n), r);
    Some(p)
}

/// x / c → x * (1/c) (may differ from the division by one ulp), 1 / x → reciprocal(x).
fn div_const(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    if !g.ty(Value::of(n)).dtype.is_float() {
        return None;
    }
    if scalar_const(g, a) == Some(1.0) {
        return Some(Patch::with(
            Value::of(n),
            Op::Unary(UnaryOp::Reciprocal),
            &[b.into()],
        ));
    }
    let c = scalar_const(g, b)?;
    if c == 0.0 || c == 1.0 || !c.is_finite() {
        return None;
    }
    // 1/c must be a normal number of the dtype (1/c overflows for subnormal
    // c, and underflows to a subnormal for c near the largest value).
    let inv = 1.0 / c;
    let normal = if g.ty(b).dtype == theon_runtime::DType::F32 {
        (inv as f32).is_normal()
    } else {
        inv.is_normal()
    };
    if !normal {
        return None;
    }
    let mut p = Patch::new();
    let k = const_ref(&mut p, inv, g.ty(b).dtype);
    let r = p.add(Op::Binary(BinaryOp::Mul), &[a.into(), k]);
    p.replace(Value::of(n), r);
    Some(p)
}

/// pow(x, 2) → square, pow(x, 0.5) → sqrt, pow(x, -1) → reciprocal, pow(x, 1) → x.
fn pow_special(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = binary(g, n);
    let e = scalar_const(g, b)?;
    let out = Value::of(n);
    let u = match e {
        2.0 => UnaryOp::Square,
        0.5 => UnaryOp::Sqrt,
        -1.0 => UnaryOp::Reciprocal,
        1.0 => return Some(Patch::single(out, a)),
        _ => return None,
    };
    Some(Patch::with(out, Op::Unary(u), &[a.into()]))
}

/// Compose two dimshuffles into one; drop an identity dimshuffle.
fn dimshuffle_merge(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let Op::DimShuffle(outer) = g.op(n) else {
        return None;
    };
    let x = g.input(n, 0);
    let out = Value::of(n);
    if outer.iter().enumerate().all(|(i, o)| *o == Some(i)) && outer.len() == g.ty(x).rank() {
        return Some(Patch::single(out, x));
    }
    let Op::DimShuffle(inner) = g.op(x.node) else {
        return None;
    };
    let composed: Dims<Option<usize>> = outer.iter().map(|o| o.and_then(|j| inner[j])).collect();
    Some(Patch::with(
        out,
        Op::DimShuffle(composed),
        &[g.input(x.node, 0).into()],
    ))
}

/// reshape(reshape(x)) → reshape(x); a reshape or broadcast_to to the
/// input's own static shape → x.
fn reshape_merge(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let x = g.input(n, 0);
    let out = Value::of(n);
    let same = g.ty(x).static_shape().is_some() && g.ty(x).shape == g.ty(out).shape;
    if same {
        return Some(Patch::single(out, x));
    }
    if *g.op(n) == Op::Reshape && *g.op(x.node) == Op::Reshape {
        return Some(Patch::with(
            out,
            Op::Reshape,
            &[g.input(x.node, 0).into(), g.input(n, 1).into()],
        ));
    }
    None
}

/// stop_gradient is an identity once gradients are built.
fn drop_stop_gradient(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    Some(Patch::single(Value::of(n), g.input(n, 0)))
}

/// A cast to the value's own dtype.
fn useless_cast(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let x = g.input(n, 0);
    (g.ty(x).dtype == g.ty(Value::of(n)).dtype).then(|| Patch::single(Value::of(n), x))
}

/// where(c, a, b) with a constant condition.
fn where_const(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let c = splat(g, g.input(n, 0))?;
    let pick = if c != 0.0 {
        g.input(n, 1)
    } else {
        g.input(n, 2)
    };
    Some(Patch::single(Value::of(n), pick))
}

/// sum/mean over a filled (alloc) tensor: v * count, or v.
fn reduce_of_alloc(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let Op::Reduce { op, axes, .. } = g.op(n) else {
        return None;
    };
    let x = g.input(n, 0);
    if *g.op(x.node) != Op::Alloc {
        return None;
    }
    let count: usize = axes
        .iter()
        .map(|&a| g.ty(x).shape[a])
        .collect::<Option<Vec<usize>>>()?
        .iter()
        .product();
    let out = Value::of(n);
    let ot = g.ty(out).clone();
    let v = g.input(x.node, 0);
    let mut p = Patch::new();
    let val = match op {
        ReduceOp::Sum => {
            let k = const_ref(&mut p, count as f64, g.ty(v).dtype);
            p.add(Op::Binary(BinaryOp::Mul), &[v.into(), k])
        }
        ReduceOp::Mean | ReduceOp::Max | ReduceOp::Min if count > 0 => Ref::Old(v),
        _ => return None,
    };
    let val = if g.ty(v).dtype != ot.dtype {
        p.add(Op::Cast(ot.dtype), &[val])
    } else {
        val
    };
    let r = match ot.static_shape() {
        Some(s) if s.is_empty() => val,
        Some(s) => {
            let dims: Vec<i64> = s.iter().map(|&d| d as i64).collect();
            let shape = p.add(Op::Constant(ConstValue::new(Tensor::vector(dims))), &[]);
            p.add(Op::Alloc, &[val, shape])
        }
        None => return None,
    };
    p.replace(out, r);
    Some(p)
}

/// An elementwise op broadcasts its inputs anyway: read the value under a
/// broadcast_to/alloc directly when the result keeps its type.
fn elementwise_unbroadcast(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let ins = g.inputs(n);
    let k = ins
        .iter()
        .position(|v| matches!(g.op(v.node), Op::BroadcastTo | Op::Alloc))?;
    let inner = g.input(ins[k].node, 0);
    let mut new: Vec<Ref> = ins.iter().map(|v| Ref::Old(*v)).collect();
    new[k] = inner.into();
    let out = Value::of(n);
    // The engine rejects the patch if the output's type would change.
    let mut p = Patch::new();
    let r = p.add(g.op(n).clone(), &new);
    p.replace(out, r);
    Some(p)
}

/// op(broadcast_to(x, s), small...) → broadcast_to(op(x, small...), s) when
/// the other operands fit inside x's shape: the broadcast moves outward
/// (constants fold on the way) until a full-size operand absorbs it.
fn lift_broadcast(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let ins = g.inputs(n);
    let k = ins
        .iter()
        .position(|v| matches!(g.op(v.node), Op::BroadcastTo | Op::Alloc))?;
    let b = ins[k];
    let inner = g.input(b.node, 0);
    let shape_of = |v: Value| g.ty(v).shape.clone();
    let mut all: Vec<theon_runtime::Dims<crate::types::Dim>> = vec![shape_of(inner)];
    all.extend(
        ins.iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .map(|(_, v)| shape_of(*v)),
    );
    let refs: Vec<&[crate::types::Dim]> = all.iter().map(|s| s.as_slice()).collect();
    let joint = crate::types::broadcast_shapes("", &refs).ok()?;
    if joint != g.ty(inner).shape || joint == g.ty(b).shape {
        return None;
    }
    let mut new: Vec<Ref> = ins.iter().map(|v| Ref::Old(*v)).collect();
    new[k] = inner.into();
    let mut p = Patch::new();
    let small = p.add(g.op(n).clone(), &new);
    let r = p.add(Op::BroadcastTo, &[small, g.input(b.node, 1).into()]);
    p.replace(Value::of(n), r);
    Some(p)
}

pub fn rewrites() -> Vec<LocalRewrite> {
    use LocalRewrite as L;
    let add_sub = |op: &Op| is_binop(op, BinaryOp::Add) || is_binop(op, BinaryOp::Sub);
    let mul_div = |op: &Op| is_binop(op, BinaryOp::Mul) || is_binop(op, BinaryOp::Div);
    vec![
        L::code("add_zero", add_sub, add_zero),
        L::code("mul_one", mul_div, mul_one),
        L::code("mul_zero", |op| is_binop(op, BinaryOp::Mul), mul_zero),
        L::code("sub_self", |op| is_binop(op, BinaryOp::Sub), sub_self),
        L::code("neg_neg", |op| *op == Op::Unary(UnaryOp::Neg), neg_neg),
        L::code(
            "neg_forms",
            |op| {
                is_binop(op, BinaryOp::Add)
                    || is_binop(op, BinaryOp::Sub)
                    || is_binop(op, BinaryOp::Mul)
            },
            neg_forms,
        ),
        L::code(
            "const_right",
            |op| is_binop(op, BinaryOp::Add) || is_binop(op, BinaryOp::Mul),
            const_right,
        ),
        L::code(
            "gather_constants",
            |op| is_binop(op, BinaryOp::Add) || is_binop(op, BinaryOp::Mul),
            gather_constants,
        ),
        L::code(
            "sub_const_to_add",
            |op| is_binop(op, BinaryOp::Sub),
            sub_const,
        ),
        L::code(
            "div_const_to_mul",
            |op| is_binop(op, BinaryOp::Div),
            div_const,
        ),
        L::code("pow_special", |op| is_binop(op, BinaryOp::Pow), pow_special),
        L::code(
            "dimshuffle_merge",
            |op| matches!(op, Op::DimShuffle(_)),
            dimshuffle_merge,
        ),
        L::code(
            "reshape_merge",
            |op| matches!(op, Op::Reshape | Op::BroadcastTo),
            reshape_merge,
        ),
        L::code(
            "drop_stop_gradient",
            |op| *op == Op::StopGradient,
            drop_stop_gradient,
        ),
        L::code("useless_cast", |op| matches!(op, Op::Cast(_)), useless_cast),
        L::code("where_const", |op| *op == Op::Where, where_const),
        L::code(
            "reduce_of_alloc",
            |op| matches!(op, Op::Reduce { .. }),
            reduce_of_alloc,
        ),
        L::code(
            "elementwise_unbroadcast",
            Op::is_elementwise,
            elementwise_unbroadcast,
        ),
        L::code("lift_broadcast", Op::is_elementwise, lift_broadcast),
    ]
}
