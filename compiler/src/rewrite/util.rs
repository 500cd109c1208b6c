//! Small graph queries shared by the rewrites.

use super::patch::{Patch, Ref};
use crate::graph::{Graph, NodeId, Value};

use crate::op::{ConstValue, Op};
use crate::types::TensorType;
use theon_runtime::{DType, Tensor};

/// The splat value of a constant input.
pub fn splat(g: &Graph, v: Value) -> Option<f64> {
    match g.op(v.node) {
        Op::Constant(c) => c.splat(),
        _ => None,
    }
}

/// A scalar-shaped (rank 0) constant's value.
pub fn scalar_const(g: &Graph, v: Value) -> Option<f64> {
    if g.ty(v).rank() == 0 {
        splat(g, v)
    } else {
        None
    }
}

pub fn is_const(g: &Graph, v: Value) -> bool {
    matches!(g.op(v.node), Op::Constant(_))
}

/// The value is used once, and not as a graph output.
pub fn single_use(g: &Graph, v: Value) -> bool {
    g.n_uses(v) == 1
}

/// A patch node holding a scalar constant.
pub fn const_ref(p: &mut Patch, v: f64, dtype: DType) -> Ref {
    p.add(
        Op::Constant(ConstValue::new(Tensor::full(v, dtype, &[]))),
        &[],
    )
}

/// A patch value filled with `v` of type `ty`, shaped like `like` at run
/// time (`like` must have the shape of the value being replaced, and must
/// not be that value).
pub fn filled_like(p: &mut Patch, v: f64, ty: &TensorType, like: Value) -> Ref {
    match ty.static_shape() {
        Some(s) if s.iter().product::<usize>() <= 64 => p.add(
            Op::Constant(ConstValue::new(Tensor::full(v, ty.dtype, &s))),
            &[],
        ),
        Some(s) => {
            let c = const_ref(p, v, ty.dtype);
            let shape = p.add(
                Op::Constant(ConstValue::new(Tensor::vector(
                    s.iter().map(|&d| d as i64).collect::<Vec<i64>>(),
                ))),
                &[],
            );
            p.add(Op::Alloc, &[c, shape])
        }
        None => {
            let c = const_ref(p, v, ty.dtype);
            let shape = p.add(Op::Shape, &[Ref::Old(like)]);
            p.add(Op::Alloc, &[c, shape])
        }
    }
}

/// Short text of a node for traces: `Log(Add(1.0, x))`, two levels deep.
pub fn describe(g: &Graph, n: NodeId) -> String {
    describe_value(g, Value::of(n), 2)
}

fn describe_value(g: &Graph, v: Value, depth: usize) -> String {
    let node = g.node(v.node);
    let head = match &node.op {
        Op::Input { .. } => return node.name.clone().unwrap_or_else(|| "input".into()),
        Op::Shared(s) => return s.name().to_string(),
        Op::Constant(c) => return crate::op::fmt_constant(c.tensor()),
        op => op.name(),
    };
    if depth == 0 {
        return format!("{head}(..)");
    }
    let args: Vec<String> = g
        .inputs(v.node)
        .iter()
        .map(|i| describe_value(g, *i, depth - 1))
        .collect();
    format!("{head}({})", args.join(", "))
}
