//! Type and shape inference: one `match` over every op.
//!
//! `infer` works on static types (dims may be unknown) and, for small
//! integer tensors, statically known values (so `reshape(x, [n, -1])` knows
//! what it can). `check_runtime` runs the same rules on concrete shapes at
//! call time and adds the run-time broadcasting check; the interpreter and
//! the JIT's planner both use it, so shape errors read the same everywhere.
//! Error messages here do not name the op: callers prefix it.

mod conv;
mod elementwise;
mod index;
mod linalg;
mod reduce;
mod shape;

use index::{check_fits_region, slice_dims, take_dims};
use reduce::{check_axes, reduce_dims};
use theon_runtime::Dims;

use super::{
    BinaryOp, FusedOutput, FusedProgram, Instr, Op, RandomDist, ReduceOp, SliceSpec, UnaryOp,
};
use crate::types::{
    Dim, Known, MAX_KNOWN, OutType, TensorType, broadcast_shapes, fmt_dims, fmt_shape, promote_all,
};
use std::sync::Arc;
use theon_runtime::kernels::movement::normalize_slice;
use theon_runtime::{DType, Error, Result, Tensor};

fn err(msg: impl Into<String>) -> Error {
    Error::shape(msg)
}

fn arity(op: &Op, ins: &[&OutType], n: usize) -> Result<()> {
    if ins.len() != n {
        return Err(Error::graph(format!(
            "{} takes {n} inputs, got {}",
            op.name(),
            ins.len()
        )));
    }
    Ok(())
}

fn out(ty: TensorType) -> Vec<OutType> {
    vec![OutType::new(ty)]
}

/// Known values only for int64 tensors of rank <= 1 with few elements.
fn keep_known(ty: &TensorType, known: Option<Vec<Option<i64>>>) -> Known {
    let small =
        ty.dtype == DType::I64 && ty.rank() <= 1 && ty.static_len().is_some_and(|n| n <= MAX_KNOWN);
    match known {
        Some(k) if small && Some(k.len()) == ty.static_len() => Some(Arc::new(k)),
        _ => None,
    }
}

fn with_known(ty: TensorType, known: Option<Vec<Option<i64>>>) -> Vec<OutType> {
    let known = keep_known(&ty, known);
    vec![OutType { ty, known }]
}

/// Statically known values of a small integer tensor.
pub fn known_from_tensor(t: &Tensor) -> Known {
    // Only small ones: the values are copied (16 bytes an element).
    if t.dtype() != DType::I64 || t.rank() > 1 || t.len() > MAX_KNOWN {
        return None;
    }
    let ty = TensorType::fixed(t.dtype(), t.shape());
    keep_known(&ty, Some(t.to_vec::<i64>().into_iter().map(Some).collect()))
}

/// The entries of a shape-vector input: its static length and known values.
fn shape_entries(what: &str, t: &OutType) -> Result<Vec<Option<i64>>> {
    if t.ty.dtype != DType::I64 || t.ty.rank() != 1 {
        return Err(err(format!("{what} must be an int64 vector, got {}", t.ty)));
    }
    let n = t.ty.shape[0]
        .ok_or_else(|| err(format!("{what} must have a length known at build time")))?;
    Ok(match &t.known {
        Some(k) => k.to_vec(),
        None => vec![None; n],
    })
}

/// Dims of a target shape from known entries; negative entries are errors.
fn dims_of(what: &str, entries: &[Option<i64>]) -> Result<Dims<Dim>> {
    entries
        .iter()
        .map(|e| match e {
            Some(v) if *v < 0 => Err(err(format!("{what} has a negative entry {v}"))),
            Some(v) => Ok(Some(*v as usize)),
            None => Ok(None),
        })
        .collect()
}

fn check_axis(axis: usize, rank: usize, ty: &TensorType) -> Result<()> {
    if axis >= rank {
        return Err(Error::index(format!(
            "axis {axis} is out of range for {ty} (rank {rank})"
        )));
    }
    Ok(())
}

/// Merge two views of one dim that must agree.
fn unify(a: Dim, b: Dim, what: impl Fn() -> String) -> Result<Dim> {
    match (a, b) {
        (Some(x), Some(y)) if x != y => Err(err(what())),
        (Some(x), _) | (_, Some(x)) => Ok(Some(x)),
        _ => Ok(None),
    }
}

/// Elementwise known-value arithmetic on int vectors of equal length (or length 1).
fn known_binary(a: &Known, b: &Known, f: impl Fn(i64, i64) -> i64) -> Option<Vec<Option<i64>>> {
    let (a, b) = (a.as_ref()?, b.as_ref()?);
    let n = a.len().max(b.len());
    if !(a.len() == n || a.len() == 1) || !(b.len() == n || b.len() == 1) {
        return None;
    }
    Some(
        (0..n)
            .map(|i| {
                let x = a[if a.len() == 1 { 0 } else { i }]?;
                let y = b[if b.len() == 1 { 0 } else { i }]?;
                Some(f(x, y))
            })
            .collect(),
    )
}

/// Largest element count a tensor may have (its bytes must fit an isize).
const MAX_ELEMENTS: usize = (isize::MAX as usize) / 8;

/// Static type inference for `op` applied to inputs of types `ins`.
pub fn infer(op: &Op, ins: &[&OutType]) -> Result<Vec<OutType>> {
    let outs = infer_types(op, ins)?;
    for o in &outs {
        // Zero dims are skipped: a shape with a 0 still may not have
        // partial products (strides, loop bounds) that overflow.
        let mut n: usize = 1;
        for d in o.ty.shape.iter().flatten().filter(|d| **d != 0) {
            n = n
                .checked_mul(*d)
                .filter(|&n| n <= MAX_ELEMENTS)
                .ok_or_else(|| err(format!("the result {} would have too many elements", o.ty)))?;
        }
    }
    Ok(outs)
}

fn infer_types(op: &Op, ins: &[&OutType]) -> Result<Vec<OutType>> {
    let ty = |i: usize| &ins[i].ty;
    match op {
        Op::Input { ty, .. } => {
            arity(op, ins, 0)?;
            Ok(out(ty.clone()))
        }
        Op::Constant(c) => {
            arity(op, ins, 0)?;
            let t = c.tensor();
            Ok(vec![OutType {
                ty: TensorType::fixed(t.dtype(), t.shape()),
                known: known_from_tensor(t),
            }])
        }
        Op::Shared(s) => {
            arity(op, ins, 0)?;
            Ok(out(s.ty().clone()))
        }
        Op::Random { dist, dtype, .. } => {
            arity(op, ins, 2 + dist.n_params())?;
            let state = ty(0);
            if *state != TensorType::fixed(DType::I64, &[2]) {
                return Err(err(format!("random state must be int64[2], got {state}")));
            }
            let dims = dims_of("the draw shape", &shape_entries("the draw shape", ins[1])?)?;
            match dist {
                RandomDist::Integers { low, high } => {
                    if *dtype != DType::I64 {
                        return Err(Error::dtype(format!(
                            "integers draws are int64, not {dtype}"
                        )));
                    }
                    if low >= high {
                        return Err(Error::value(format!(
                            "integers(low={low}, high={high}): need low < high"
                        )));
                    }
                }
                RandomDist::Normal | RandomDist::Uniform | RandomDist::Gamma
                    if !dtype.is_float() =>
                {
                    return Err(Error::dtype(format!(
                        "{} draws must be float32 or float64, not {dtype}",
                        dist.name()
                    )));
                }
                RandomDist::Poisson | RandomDist::Binomial if dtype.is_bool() => {
                    return Err(Error::dtype(format!(
                        "{} draws cannot be bool",
                        dist.name()
                    )));
                }
                _ => {}
            }
            for (i, p) in ins[2..].iter().enumerate() {
                if !p.ty.dtype.is_float() {
                    return Err(Error::dtype(format!(
                        "parameter {i} of {} must be float, got {}",
                        dist.name(),
                        p.ty
                    )));
                }
                check_fits_region(&p.ty, &dims).map_err(|e| {
                    err(format!("parameter {i} of {}: {}", dist.name(), e.message()))
                })?;
            }
            Ok(out(TensorType::new(*dtype, dims)))
        }
        Op::Custom(c) => {
            let tys: Vec<&TensorType> = ins.iter().map(|t| &t.ty).collect();
            Ok(out(c.kernel().infer(&tys)?))
        }
        Op::Unary(..) | Op::Binary(..) | Op::Where | Op::Cast(..) | Op::Fused(..) => {
            elementwise::infer(op, ins)
        }
        Op::Reduce { .. } | Op::Argmax { .. } => reduce::infer(op, ins),
        Op::MatMul | Op::Gemm(..) | Op::GemmAct { .. } | Op::SolveTriangular { .. } => {
            linalg::infer(op, ins)
        }
        Op::Conv2d { .. }
        | Op::Conv2dBiasAct { .. }
        | Op::Pool2d { .. }
        | Op::Pool2dGrad { .. } => conv::infer(op, ins),
        Op::DimShuffle(..)
        | Op::Reshape
        | Op::BroadcastTo
        | Op::Alloc
        | Op::Concatenate(..)
        | Op::Shape
        | Op::StopGradient
        | Op::SpecifyShape { .. } => shape::infer(op, ins),
        Op::Slice(..) | Op::IncSlice(..) | Op::Take(..) | Op::IncTake(..) => index::infer(op, ins),
    }
}

/// A broadcast error message without its (empty) op prefix.
fn strip(e: &Error) -> String {
    e.message().trim_start_matches(": ").to_string()
}

/// Input `i` of a broadcasting op, for the run-time broadcasting check.
fn broadcast_operands(op: &Op, n_inputs: usize) -> Vec<usize> {
    match op {
        Op::Binary(_) | Op::Where | Op::Fused(_) => (0..n_inputs).collect(),
        Op::Gemm(_) | Op::GemmAct { .. } if n_inputs == 3 => vec![2],
        Op::BroadcastTo => vec![0],
        Op::IncSlice(_) => vec![1],
        Op::IncTake(_) => vec![2],
        Op::Random { .. } => (2..n_inputs).collect(),
        _ => vec![],
    }
}

/// Concrete output shapes at run time, with the same rules as `infer` plus
/// PyTensor's run-time broadcasting check: an input dim that is 1 now but
/// was not declared 1 may not stretch. `values[i]` is input `i`'s value
/// when the op needs it (shape inputs); `label` names the op in errors.
pub fn check_runtime(
    op: &Op,
    label: &str,
    static_ins: &[&TensorType],
    shapes: &[&[usize]],
    values: &[Option<&Tensor>],
) -> Result<Vec<Vec<usize>>> {
    let concrete: Vec<OutType> = static_ins
        .iter()
        .zip(shapes)
        .zip(values)
        .map(|((t, s), v)| OutType {
            ty: TensorType::fixed(t.dtype, s),
            known: v.and_then(known_from_tensor),
        })
        .collect();
    let refs: Vec<&OutType> = concrete.iter().collect();
    let outs = infer(op, &refs).map_err(|e| {
        let shapes: Vec<String> = shapes.iter().map(|s| fmt_shape(s)).collect();
        Error::new(
            e.kind(),
            format!(
                "{label}: {} (input shapes {})",
                e.message(),
                shapes.join(", ")
            ),
        )
    })?;
    let outs: Vec<Vec<usize>> = outs
        .into_iter()
        .map(|o| {
            o.ty.static_shape().ok_or_else(|| {
                Error::shape(format!(
                    "{label}: output shape {} is not determined at run time",
                    o.ty
                ))
            })
        })
        .collect::<Result<_>>()?;
    // The loop shape a broadcasting input stretches to.
    let target: Option<Vec<usize>> = match op {
        Op::Fused(_) | Op::Random { .. } => {
            let all: Vec<Dims<Dim>> = shapes
                .iter()
                .map(|s| s.iter().map(|&d| Some(d)).collect())
                .collect();
            match op {
                Op::Random { .. } => Some(outs[0].clone()),
                _ => broadcast_shapes("", &all.iter().map(|v| v.as_slice()).collect::<Vec<_>>())
                    .ok()
                    .and_then(|v| v.into_iter().collect()),
            }
        }
        Op::IncSlice(specs) => {
            let x = TensorType::fixed(static_ins[0].dtype, shapes[0]);
            slice_dims(specs, &x)
                .ok()
                .and_then(|d| d.into_iter().collect())
        }
        Op::IncTake(axis) => {
            let x = TensorType::fixed(static_ins[0].dtype, shapes[0]);
            let i = TensorType::fixed(DType::I64, shapes[1]);
            take_dims(&x, &i, *axis).into_iter().collect()
        }
        _ => Some(outs[0].clone()),
    };
    if let Some(target) = target {
        for i in broadcast_operands(op, shapes.len()) {
            let (s, st) = (shapes[i], static_ins[i]);
            let off = target.len().saturating_sub(s.len());
            for (a, &d) in s.iter().enumerate() {
                if d == 1 && target.get(a + off).is_some_and(|&t| t != 1) && st.shape[a] != Some(1)
                {
                    return Err(Error::shape(format!(
                        "{label}: input {i} has shape {} at run time, but its axis {a} was not declared as size 1 \
                         (type {st}); theon broadcasts only dims known to be 1 when the graph is built \
                         — give the input a static shape with 1 there, or broadcast explicitly",
                        fmt_shape(s)
                    )));
                }
            }
        }
    }
    // Batch dims of products follow the same rule.
    if let Op::MatMul | Op::Gemm(_) | Op::GemmAct { .. } = op {
        let (a, b) = (shapes[0], shapes[1]);
        let (ra, rb) = (a.len().max(2) - 2, b.len().max(2) - 2);
        let nb = ra.max(rb);
        for (i, (s, r)) in [(a, ra), (b, rb)].into_iter().enumerate() {
            for ax in 0..r.min(s.len()) {
                let t = outs[0].get(nb - r + ax).copied().unwrap_or(1);
                if s[ax] == 1 && t != 1 && static_ins[i].shape[ax] != Some(1) {
                    return Err(Error::shape(format!(
                        "{label}: batch axis {ax} of input {i} is 1 at run time but was not declared as size 1 (type {})",
                        static_ins[i]
                    )));
                }
            }
        }
    }
    Ok(outs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(dtype: DType, dims: &[Dim]) -> OutType {
        OutType::new(TensorType::new(dtype, dims.to_vec()))
    }

    #[test]
    fn matmul_shapes_and_error() {
        let a = t(DType::F64, &[Some(500), Some(2)]);
        let b = t(DType::F64, &[Some(5), Some(5)]);
        let e = infer(&Op::MatMul, &[&a, &b]).unwrap_err();
        assert_eq!(e.message(), "(500, 2) · (5, 5): inner dims 2 != 5");
        let v = t(DType::F64, &[Some(2)]);
        let o = infer(&Op::MatMul, &[&a, &v]).unwrap();
        assert_eq!(o[0].ty.shape.to_vec(), vec![Some(500)]);
        let batched = t(DType::F64, &[None, Some(2), Some(5)]);
        let o = infer(&Op::MatMul, &[&a, &batched]).unwrap();
        assert_eq!(o[0].ty.shape.to_vec(), vec![None, Some(500), Some(5)]);
    }

    #[test]
    fn reshape_with_known_shape_vector() {
        let x = t(DType::F64, &[Some(4), Some(6)]);
        let shape =
            OutType::with_known(TensorType::fixed(DType::I64, &[2]), vec![Some(3), Some(-1)]);
        let o = infer(&Op::Reshape, &[&x, &shape]).unwrap();
        assert_eq!(o[0].ty.shape.to_vec(), vec![Some(3), Some(8)]);
        let bad = OutType::with_known(TensorType::fixed(DType::I64, &[2]), vec![Some(5), Some(-1)]);
        assert!(
            infer(&Op::Reshape, &[&x, &bad])
                .unwrap_err()
                .message()
                .contains("cannot reshape")
        );
    }

    #[test]
    fn runtime_broadcast_rule() {
        let st = TensorType::new(DType::F64, vec![None, Some(3)]);
        let full = TensorType::fixed(DType::F64, &[4, 3]);
        let e = check_runtime(
            &Op::Binary(BinaryOp::Add),
            "add",
            &[&st, &full],
            &[&[1, 3], &[4, 3]],
            &[None, None],
        )
        .unwrap_err();
        assert!(e.message().contains("was not declared as size 1"), "{e}");
        let ok = check_runtime(
            &Op::Binary(BinaryOp::Add),
            "add",
            &[&st, &full],
            &[&[4, 3], &[4, 3]],
            &[None, None],
        );
        assert_eq!(ok.unwrap(), vec![vec![4, 3]]);
    }
}
