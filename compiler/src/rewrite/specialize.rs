//! specialize: matrix products become GEMM calls with transposes, scalings
//! and a bias add folded in (`alpha * op(A) op(B) + beta * C`); logsumexp
//! becomes the max-shifted form that compiles to vector loops; a
//! convolution takes its bias and activation (`conv_epilogue`), a large
//! product its activation (`gemm_epilogue`).

use super::patch::{Patch, Ref};
use super::util::{scalar_const, single_use};
use super::{Ctx, LocalRewrite};
use crate::graph::{Graph, NodeId, Value};
use crate::op::{BinaryOp, ConstValue, F64Key, GemmSpec, Op, ReduceOp, UnaryOp};
use theon_runtime::Dims;
use theon_runtime::{DType, Tensor};

fn plain() -> GemmSpec {
    GemmSpec {
        trans_a: false,
        trans_b: false,
        alpha: F64Key::new(1.0),
        beta: F64Key::new(0.0),
    }
}

/// matmul → gemm; vector operands get a size-1 axis (a free view) and
/// lose it again on the result.
fn matmul_to_gemm(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = (g.input(n, 0), g.input(n, 1));
    let out = Value::of(n);
    let dt = g.ty(out).dtype;
    if !dt.is_float() || g.ty(a).dtype != dt || g.ty(b).dtype != dt {
        return None;
    }
    let (ra, rb) = (g.ty(a).rank(), g.ty(b).rank());
    let mut p = Patch::new();
    let am: Ref = if ra == 1 {
        p.add(
            Op::DimShuffle(smallvec::smallvec![None, Some(0)]),
            &[a.into()],
        )
    } else {
        a.into()
    };
    let bm: Ref = if rb == 1 {
        p.add(
            Op::DimShuffle(smallvec::smallvec![Some(0), None]),
            &[b.into()],
        )
    } else {
        b.into()
    };
    let gm = p.add(Op::Gemm(plain()), &[am, bm]);
    // Drop the axes the vectors added: m (second to last) and/or n (last).
    let r = ra.max(2).max(rb);
    let keep: Dims<Option<usize>> = (0..r)
        .filter(|&i| !((ra == 1 && i == r - 2) || (rb == 1 && i == r - 1)))
        .map(Some)
        .collect();
    let res = if ra == 1 || rb == 1 {
        p.add(Op::DimShuffle(keep), &[gm])
    } else {
        gm
    };
    p.replace(out, res);
    Some(p)
}

/// The input of a dimshuffle that swaps the last two axes and nothing else.
fn transposed_input(g: &Graph, v: Value) -> Option<Value> {
    let Op::DimShuffle(order) = g.op(v.node) else {
        return None;
    };
    let r = order.len();
    let x = g.input(v.node, 0);
    if r < 2 || g.ty(x).rank() != r {
        return None;
    }
    let swapped = (0..r).all(|i| {
        let want = if i == r - 2 {
            r - 1
        } else if i == r - 1 {
            r - 2
        } else {
            i
        };
        order[i] == Some(want)
    });
    swapped.then_some(x)
}

/// gemm(transpose(A), B) → gemm with A transposed in the call (no copy).
fn gemm_transpose(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let Op::Gemm(spec) = g.op(n) else { return None };
    let ins = g.inputs(n);
    for k in 0..2 {
        if let Some(x) = transposed_input(g, ins[k]) {
            let mut s = *spec;
            if k == 0 {
                s.trans_a = !s.trans_a;
            } else {
                s.trans_b = !s.trans_b;
            }
            let mut new_ins: Vec<Ref> = ins.iter().map(|v| Ref::Old(*v)).collect();
            new_ins[k] = x.into();
            return Some(Patch::with(Value::of(n), Op::Gemm(s), &new_ins));
        }
    }
    None
}

/// c * gemm(..) and -gemm(..) → alpha; gemm(c * A, B) → alpha.
fn gemm_scale(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let out = Value::of(n);
    match g.op(n) {
        Op::Binary(BinaryOp::Mul) => {
            let (a, b) = (g.input(n, 0), g.input(n, 1));
            let (gm, c) = match (
                g.op(a.node),
                scalar_const(g, b),
                g.op(b.node),
                scalar_const(g, a),
            ) {
                (Op::Gemm(_), Some(c), _, _) => (a, c),
                (_, _, Op::Gemm(_), Some(c)) => (b, c),
                _ => return None,
            };
            let Op::Gemm(spec) = g.op(gm.node) else {
                return None;
            };
            if !single_use(g, gm) {
                return None;
            }
            let mut s = *spec;
            s.alpha = F64Key::new(s.alpha.get() * c);
            s.beta = F64Key::new(s.beta.get() * c);
            let ins: Vec<Ref> = g.inputs(gm.node).into_iter().map(Ref::Old).collect();
            Some(Patch::with(out, Op::Gemm(s), &ins))
        }
        Op::Unary(UnaryOp::Neg) => {
            let gm = g.input(n, 0);
            let Op::Gemm(spec) = g.op(gm.node) else {
                return None;
            };
            if !single_use(g, gm) {
                return None;
            }
            let mut s = *spec;
            s.alpha = F64Key::new(-s.alpha.get());
            s.beta = F64Key::new(-s.beta.get());
            let ins: Vec<Ref> = g.inputs(gm.node).into_iter().map(Ref::Old).collect();
            Some(Patch::with(out, Op::Gemm(s), &ins))
        }
        Op::Gemm(spec) => {
            let ins = g.inputs(n);
            for k in 0..2 {
                let v = ins[k];
                if *g.op(v.node) != Op::Binary(BinaryOp::Mul) || !single_use(g, v) {
                    continue;
                }
                let (x, c) = (g.input(v.node, 0), g.input(v.node, 1));
                let Some(c) = scalar_const(g, c) else {
                    continue;
                };
                if g.ty(x).shape != g.ty(v).shape {
                    continue;
                }
                let mut s = *spec;
                s.alpha = F64Key::new(s.alpha.get() * c);
                let mut new_ins: Vec<Ref> = ins.iter().map(|v| Ref::Old(*v)).collect();
                new_ins[k] = x.into();
                return Some(Patch::with(out, Op::Gemm(s), &new_ins));
            }
            None
        }
        _ => None,
    }
}

/// gemm(A, B) + C → gemm(A, B, C) with beta = 1 (the bias add happens in
/// the product's output buffer).
fn gemm_bias(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let (a, b) = (g.input(n, 0), g.input(n, 1));
    let (gm, c) = match (g.op(a.node), g.op(b.node)) {
        (Op::Gemm(_), _) if g.n_outputs(a.node) == 1 && g.inputs(a.node).len() == 2 => (a, b),
        (_, Op::Gemm(_)) if g.inputs(b.node).len() == 2 => (b, a),
        _ => return None,
    };
    let Op::Gemm(spec) = g.op(gm.node) else {
        return None;
    };
    if !single_use(g, gm) || g.ty(c).dtype != g.ty(gm).dtype || g.depends_on(c, gm.node) {
        return None;
    }
    let mut s = *spec;
    s.beta = F64Key::new(1.0);
    let mut ins: Vec<Ref> = g.inputs(gm.node).into_iter().map(Ref::Old).collect();
    ins.push(c.into());
    Some(Patch::with(Value::of(n), Op::Gemm(s), &ins))
}

/// logsumexp(x) → m + log(sum(exp(x - m))) with m = max(x), or m itself
/// where m is infinite (all -inf, or some +inf), over axes of known,
/// non-empty size: the stable reduction in
/// ops the code generator runs as vector loops (max, exp, sum, log), not
/// as a call into the interpreter's kernel.
fn logsumexp_expand(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let Op::Reduce {
        op: ReduceOp::LogSumExp,
        axes,
        keepdims,
    } = g.op(n)
    else {
        return None;
    };
    let x = g.input(n, 0);
    let out = Value::of(n);
    let dt = g.ty(out).dtype;
    // max over an empty axis has no value (logsumexp's is -inf): only
    // axes known to be non-empty.
    let sizes = &g.ty(x).shape;
    if !dt.is_float()
        || g.ty(x).dtype != dt
        || axes.iter().any(|&a| !matches!(sizes[a], Some(d) if d > 0))
    {
        return None;
    }
    let keep = |op| Op::Reduce {
        op,
        axes: axes.clone(),
        keepdims: true,
    };
    let mut p = Patch::new();
    let m = p.add(keep(ReduceOp::Max), &[x.into()]);
    let d = p.add(Op::Binary(BinaryOp::Sub), &[x.into(), m]);
    let e = p.add(Op::Unary(UnaryOp::Exp), &[d]);
    let s = p.add(keep(ReduceOp::Sum), &[e]);
    let l = p.add(Op::Unary(UnaryOp::Log), &[s]);
    let sum = p.add(Op::Binary(BinaryOp::Add), &[m, l]);
    let am = p.add(Op::Unary(UnaryOp::Abs), &[m]);
    let inf = p.add(
        Op::Constant(ConstValue::new(Tensor::full(f64::INFINITY, dt, &[]))),
        &[],
    );
    let is_inf = p.add(Op::Binary(BinaryOp::Eq), &[am, inf]);
    let r = p.add(Op::Where, &[is_inf, m, sum]);
    let r = if *keepdims {
        r
    } else {
        let rank = g.ty(x).rank();
        let order: Dims<Option<usize>> =
            (0..rank).filter(|a| !axes.contains(a)).map(Some).collect();
        p.add(Op::DimShuffle(order), &[r])
    };
    p.replace(out, r);
    Some(p)
}

/// sum / mean of float32 → the same in float64, rounded once at the end:
/// float32 accumulators drift (1e6 values: 2.6e-3 relative), NumPy's
/// pairwise sums do not; a float64 accumulator is better than either, and
/// inside a fused loop the widening is one conversion per element.
fn f32_reduce_in_f64(g: &Graph, n: NodeId, _: &Ctx) -> Option<Patch> {
    let Op::Reduce {
        op: op @ (ReduceOp::Sum | ReduceOp::Mean),
        axes,
        keepdims,
    } = g.op(n)
    else {
        return None;
    };
    let x = g.input(n, 0);
    if g.ty(x).dtype != DType::F32 || g.ty(Value::of(n)).dtype != DType::F32 {
        return None;
    }
    let mut p = Patch::new();
    let wide = p.add(Op::Cast(DType::F64), &[x.into()]);
    let r = p.add(
        Op::Reduce {
            op: *op,
            axes: axes.clone(),
            keepdims: *keepdims,
        },
        &[wide],
    );
    let out = p.add(Op::Cast(DType::F32), &[r]);
    p.replace(Value::of(n), out);
    Some(p)
}

pub fn rewrites() -> Vec<LocalRewrite> {
    use LocalRewrite as L;
    let mut v = vec![
        L::code("matmul_to_gemm", |op| *op == Op::MatMul, matmul_to_gemm),
        L::code(
            "gemm_transpose",
            |op| matches!(op, Op::Gemm(_)),
            gemm_transpose,
        ),
        L::code(
            "gemm_scale",
            |op| {
                matches!(
                    op,
                    Op::Gemm(_) | Op::Binary(BinaryOp::Mul) | Op::Unary(UnaryOp::Neg)
                )
            },
            gemm_scale,
        ),
        L::code(
            "gemm_bias",
            |op| *op == Op::Binary(BinaryOp::Add),
            gemm_bias,
        ),
        L::code(
            "logsumexp_expand",
            |op| {
                matches!(
                    op,
                    Op::Reduce {
                        op: ReduceOp::LogSumExp,
                        ..
                    }
                )
            },
            logsumexp_expand,
        ),
        L::code(
            "f32_reduce_in_f64",
            |op| {
                matches!(
                    op,
                    Op::Reduce {
                        op: ReduceOp::Sum | ReduceOp::Mean,
                        ..
                    }
                )
            },
            f32_reduce_in_f64,
        ),
    ];
    v.extend(super::conv_epilogue::rewrites());
    v.extend(super::gemm_epilogue::rewrites());
    v
}
