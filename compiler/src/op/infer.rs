//! Type and shape inference: one `match` over every op.
//!
//! `infer` works on static types (dims may be unknown) and, for small
//! integer tensors, statically known values (so `reshape(x, [n, -1])` knows
//! what it can). `check_runtime` runs the same rules on concrete shapes at
//! call time and adds the run-time broadcasting check; the interpreter and
//! the JIT's planner both use it, so shape errors read the same everywhere.
//! Error messages here do not name the op: callers prefix it.

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
fn dims_of(what: &str, entries: &[Option<i64>]) -> Result<Vec<Dim>> {
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
        let mut n: usize = 1;
        for d in o.ty.shape.iter().flatten() {
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
        Op::Unary(u) => {
            arity(op, ins, 1)?;
            let x = ty(0);
            if *u == UnaryOp::Not && x.dtype != DType::Bool {
                return Err(Error::dtype(format!("needs a bool tensor, got {x}")));
            }
            let t = x.with_dtype(u.out_dtype(x.dtype));
            let known = match u {
                UnaryOp::Neg => ins[0]
                    .known
                    .as_ref()
                    .map(|k| k.iter().map(|v| v.map(i64::wrapping_neg)).collect()),
                _ => None,
            };
            Ok(with_known(t, known))
        }
        Op::Binary(b) => {
            arity(op, ins, 2)?;
            let (x, y) = (ty(0), ty(1));
            if b.is_logical() && (x.dtype != DType::Bool || y.dtype != DType::Bool) {
                return Err(Error::dtype(format!("needs bool tensors, got {x} and {y}")));
            }
            let shape = broadcast_shapes("", &[&x.shape, &y.shape]).map_err(|e| err(strip(&e)))?;
            let t = TensorType::new(b.out_dtype(x.dtype, y.dtype), shape);
            let (ka, kb) = (&ins[0].known, &ins[1].known);
            let known = match b {
                BinaryOp::Add => known_binary(ka, kb, i64::wrapping_add),
                BinaryOp::Sub => known_binary(ka, kb, i64::wrapping_sub),
                BinaryOp::Mul => known_binary(ka, kb, i64::wrapping_mul),
                BinaryOp::Maximum => known_binary(ka, kb, i64::max),
                BinaryOp::Minimum => known_binary(ka, kb, i64::min),
                _ => None,
            };
            Ok(with_known(t, known))
        }
        Op::Where => {
            arity(op, ins, 3)?;
            let (c, a, b) = (ty(0), ty(1), ty(2));
            if c.dtype != DType::Bool {
                return Err(Error::dtype(format!("condition must be bool, got {c}")));
            }
            let shape = broadcast_shapes("", &[&c.shape, &a.shape, &b.shape])
                .map_err(|e| err(strip(&e)))?;
            Ok(out(TensorType::new(
                DType::promote(a.dtype, b.dtype),
                shape,
            )))
        }
        Op::Cast(d) => {
            arity(op, ins, 1)?;
            let known = if *d == DType::I64 {
                ins[0].known.as_ref().map(|k| k.to_vec())
            } else {
                None
            };
            Ok(with_known(ty(0).with_dtype(*d), known))
        }
        Op::Reduce {
            op: r,
            axes,
            keepdims,
        } => {
            arity(op, ins, 1)?;
            let x = ty(0);
            check_axes(axes, x)?;
            if matches!(r, ReduceOp::Max | ReduceOp::Min)
                && axes.iter().any(|&a| x.shape[a] == Some(0))
            {
                return Err(err(format!(
                    "{} over an empty axis of {x} has no identity",
                    r.name()
                )));
            }
            Ok(out(TensorType::new(
                r.out_dtype(x.dtype),
                reduce_dims(&x.shape, axes, *keepdims),
            )))
        }
        Op::Argmax { axis, keepdims } => {
            arity(op, ins, 1)?;
            let x = ty(0);
            let axes: Vec<usize> = match axis {
                Some(a) => {
                    check_axis(*a, x.rank(), x)?;
                    vec![*a]
                }
                None => (0..x.rank()).collect(),
            };
            if axes.iter().any(|&a| x.shape[a] == Some(0)) {
                return Err(err(format!("argmax over an empty axis of {x}")));
            }
            Ok(out(TensorType::new(
                DType::I64,
                reduce_dims(&x.shape, &axes, *keepdims),
            )))
        }
        Op::MatMul => {
            arity(op, ins, 2)?;
            let (a, b) = (ty(0), ty(1));
            if a.rank() == 0 || b.rank() == 0 {
                return Err(err(format!(
                    "{} · {}: operands must have rank >= 1",
                    fmt_dims(&a.shape),
                    fmt_dims(&b.shape)
                )));
            }
            let pa: Vec<Dim> = if a.rank() == 1 {
                vec![Some(1), a.shape[0]]
            } else {
                a.shape.clone()
            };
            let pb: Vec<Dim> = if b.rank() == 1 {
                vec![b.shape[0], Some(1)]
            } else {
                b.shape.clone()
            };
            let (m, k1) = (pa[pa.len() - 2], pa[pa.len() - 1]);
            let (k2, n) = (pb[pb.len() - 2], pb[pb.len() - 1]);
            let ctx = || format!("{} · {}", fmt_dims(&a.shape), fmt_dims(&b.shape));
            unify(k1, k2, || {
                format!("{}: inner dims {} != {}", ctx(), k1.unwrap(), k2.unwrap())
            })?;
            let batch = broadcast_shapes("", &[&pa[..pa.len() - 2], &pb[..pb.len() - 2]])
                .map_err(|e| err(format!("{}: batch dims: {}", ctx(), strip(&e))))?;
            let mut shape = batch;
            if a.rank() > 1 {
                shape.push(m);
            }
            if b.rank() > 1 {
                shape.push(n);
            }
            let dt = DType::promote(a.dtype, b.dtype).arithmetic();
            Ok(out(TensorType::new(dt, shape)))
        }
        Op::Gemm(g) => {
            if ins.len() != 2 && ins.len() != 3 {
                return Err(Error::graph(format!(
                    "Gemm takes 2 or 3 inputs, got {}",
                    ins.len()
                )));
            }
            let (a, b) = (ty(0), ty(1));
            if a.rank() < 2 || b.rank() < 2 {
                return Err(err(format!(
                    "gemm operands must be matrices, got {a} and {b}"
                )));
            }
            let (ra, rb) = (a.rank(), b.rank());
            let (m, k1) = if g.trans_a {
                (a.shape[ra - 1], a.shape[ra - 2])
            } else {
                (a.shape[ra - 2], a.shape[ra - 1])
            };
            let (k2, n) = if g.trans_b {
                (b.shape[rb - 1], b.shape[rb - 2])
            } else {
                (b.shape[rb - 2], b.shape[rb - 1])
            };
            let eff = |t: &TensorType, tr: bool| {
                let mut d = t.shape.clone();
                let r = d.len();
                if tr {
                    d.swap(r - 2, r - 1);
                }
                fmt_dims(&d)
            };
            unify(k1, k2, || {
                format!(
                    "{} · {}: inner dims {} != {}",
                    eff(a, g.trans_a),
                    eff(b, g.trans_b),
                    k1.unwrap(),
                    k2.unwrap()
                )
            })?;
            let mut shape = broadcast_shapes("", &[&a.shape[..ra - 2], &b.shape[..rb - 2]])
                .map_err(|e| err(strip(&e)))?;
            shape.push(m);
            shape.push(n);
            let mut dt = DType::promote(a.dtype, b.dtype).arithmetic();
            if ins.len() == 3 {
                let c = ty(2);
                let bs = broadcast_shapes("", &[&shape, &c.shape]).map_err(|e| err(strip(&e)))?;
                if bs.len() != shape.len()
                    || bs
                        .iter()
                        .zip(&shape)
                        .any(|(x, y)| x.is_some() && y.is_some() && x != y)
                {
                    return Err(err(format!(
                        "gemm addend {c} does not broadcast to the product shape {}",
                        fmt_dims(&shape)
                    )));
                }
                shape = bs;
                dt = DType::promote(dt, c.dtype.arithmetic());
            }
            Ok(out(TensorType::new(dt, shape)))
        }
        Op::DimShuffle(order) => {
            arity(op, ins, 1)?;
            let x = ty(0);
            let mut seen = vec![false; x.rank()];
            for a in order.iter().flatten() {
                check_axis(*a, x.rank(), x)?;
                if std::mem::replace(&mut seen[*a], true) {
                    return Err(err(format!("axis {a} appears twice in the permutation")));
                }
            }
            for (a, s) in seen.iter().enumerate() {
                if !s && x.shape[a] != Some(1) {
                    return Err(err(format!(
                        "cannot drop axis {a} of {x}: only axes known to be 1 can be squeezed (use reshape)"
                    )));
                }
            }
            let shape = order
                .iter()
                .map(|o| o.map_or(Some(1), |a| x.shape[a]))
                .collect();
            let t = TensorType::new(x.dtype, shape);
            let known = ins[0].known.as_ref().map(|k| k.to_vec());
            Ok(with_known(t, known))
        }
        Op::Reshape => {
            arity(op, ins, 2)?;
            let x = ty(0);
            let entries = shape_entries("the target shape", ins[1])?;
            let infer_at: Vec<usize> = entries
                .iter()
                .enumerate()
                .filter(|(_, e)| **e == Some(-1))
                .map(|(i, _)| i)
                .collect();
            if infer_at.len() > 1 {
                return Err(err("only one -1 is allowed in a reshape target"));
            }
            if let Some(v) = entries.iter().flatten().find(|v| **v < -1) {
                return Err(err(format!("reshape target has a negative entry {v}")));
            }
            let total = x.static_len();
            let shape_str = || {
                entries
                    .iter()
                    .map(|e| e.map_or("?".into(), |v| v.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut known_prod: Option<usize> = Some(1);
            for e in entries.iter().filter(|e| **e != Some(-1)) {
                known_prod = match (known_prod, e) {
                    (Some(p), Some(v)) => Some(p.checked_mul(*v as usize).ok_or_else(|| {
                        err(format!(
                            "reshape target ({}) has too many elements",
                            shape_str()
                        ))
                    })?),
                    _ => None,
                };
            }
            let mut dims: Vec<Dim> = entries
                .iter()
                .map(|e| e.filter(|v| *v >= 0).map(|v| v as usize))
                .collect();
            match (infer_at.first(), total, known_prod) {
                (Some(&i), Some(t), Some(p)) => {
                    if p == 0 || t % p != 0 {
                        return Err(err(format!(
                            "cannot reshape {x} ({t} elements) to ({})",
                            shape_str()
                        )));
                    }
                    dims[i] = Some(t / p);
                }
                (None, Some(t), Some(p)) if t != p => {
                    return Err(err(format!(
                        "cannot reshape {x} ({t} elements) to ({}) ({p} elements)",
                        shape_str()
                    )));
                }
                _ => {}
            }
            let t = TensorType::new(x.dtype, dims);
            let known = ins[0].known.as_ref().map(|k| k.to_vec());
            Ok(with_known(t, known))
        }
        Op::BroadcastTo => {
            arity(op, ins, 2)?;
            let x = ty(0);
            let target = dims_of(
                "the target shape",
                &shape_entries("the target shape", ins[1])?,
            )?;
            if x.rank() > target.len() {
                return Err(err(format!(
                    "cannot broadcast {x} to {} (fewer dims)",
                    fmt_dims(&target)
                )));
            }
            let off = target.len() - x.rank();
            let mut shape = target.clone();
            for (a, d) in x.shape.iter().enumerate() {
                let t = target[a + off];
                shape[a + off] = match (d, t) {
                    (Some(1), _) => t,
                    (Some(n), Some(m)) if *n != m => {
                        return Err(err(format!(
                            "cannot broadcast {x} to {}",
                            fmt_dims(&target)
                        )));
                    }
                    (Some(n), _) => Some(*n),
                    (None, t) => t,
                };
            }
            Ok(out(TensorType::new(x.dtype, shape)))
        }
        Op::Alloc => {
            arity(op, ins, 2)?;
            let v = ty(0);
            if v.rank() != 0 {
                return Err(err(format!("alloc value must be a scalar, got {v}")));
            }
            let dims = dims_of(
                "the alloc shape",
                &shape_entries("the alloc shape", ins[1])?,
            )?;
            let t = TensorType::new(v.dtype, dims);
            let known = match (&ins[0].known, t.static_len()) {
                (Some(k), Some(n)) if n <= MAX_KNOWN => Some(vec![k[0]; n]),
                _ => None,
            };
            Ok(with_known(t, known))
        }
        Op::Concatenate(axis) => {
            if ins.is_empty() {
                return Err(err("concatenate needs at least one tensor"));
            }
            let first = ty(0);
            check_axis(*axis, first.rank(), first)?;
            let mut shape = first.shape.clone();
            let mut total: Dim = Some(0);
            for (i, t) in ins.iter().enumerate() {
                let t = &t.ty;
                if t.rank() != first.rank() {
                    return Err(err(format!(
                        "input {i} is {t} but input 0 is {first}: ranks differ"
                    )));
                }
                for a in 0..t.rank() {
                    if a == *axis {
                        total = total.zip(t.shape[a]).map(|(x, y)| x + y);
                    } else {
                        shape[a] = unify(shape[a], t.shape[a], || {
                            format!("input {i} is {t} but input 0 is {first}: axis {a} differs")
                        })?;
                    }
                }
            }
            shape[*axis] = total;
            let dt = promote_all(&ins.iter().map(|t| t.ty.dtype).collect::<Vec<_>>());
            let t = TensorType::new(dt, shape);
            let known = if first.rank() == 1 && t.static_len().is_some_and(|n| n <= MAX_KNOWN) {
                // Unknown parts contribute unknown entries of their static length.
                ins.iter()
                    .map(|t| match &t.known {
                        Some(k) => Some(k.to_vec()),
                        None => t.ty.static_len().map(|n| vec![None; n]),
                    })
                    .collect::<Option<Vec<_>>>()
                    .map(|v| v.concat())
            } else {
                None
            };
            Ok(with_known(t, known))
        }
        Op::Slice(specs) => {
            arity(op, ins, 1)?;
            let x = ty(0);
            let shape = slice_dims(specs, x)?;
            let t = TensorType::new(x.dtype, shape);
            let known = match (&ins[0].known, x.rank()) {
                (Some(k), 1) => {
                    let s = specs.first().copied().unwrap_or(SliceSpec::FULL);
                    let n = normalize_slice(s.start, s.stop, s.step, k.len());
                    Some(
                        (0..n.len)
                            .map(|i| k[(n.start as isize + i as isize * n.step) as usize])
                            .collect(),
                    )
                }
                _ => None,
            };
            Ok(with_known(t, known))
        }
        Op::IncSlice(specs) => {
            arity(op, ins, 2)?;
            let (x, y) = (ty(0), ty(1));
            let region = slice_dims(specs, x)?;
            check_same_kind(x, y)?;
            check_fits_region(y, &region)?;
            Ok(out(x.clone()))
        }
        Op::Take(axis) => {
            arity(op, ins, 2)?;
            let (x, idx) = (ty(0), ty(1));
            check_axis(*axis, x.rank(), x)?;
            if idx.dtype != DType::I64 {
                return Err(Error::dtype(format!("indices must be int64, got {idx}")));
            }
            let shape = take_dims(x, idx, *axis);
            let t = TensorType::new(x.dtype, shape);
            let known = match (&ins[0].known, &ins[1].known, x.rank()) {
                (Some(k), Some(ix), 1) => {
                    let n = k.len() as i64;
                    let at = |i: i64| {
                        let j = if i < 0 { i + n } else { i };
                        if (0..n).contains(&j) {
                            k[j as usize]
                        } else {
                            None
                        }
                    };
                    Some(ix.iter().map(|i| i.and_then(at)).collect())
                }
                _ => None,
            };
            Ok(with_known(t, known))
        }
        Op::IncTake(axis) => {
            arity(op, ins, 3)?;
            let (x, idx, y) = (ty(0), ty(1), ty(2));
            check_axis(*axis, x.rank(), x)?;
            if idx.dtype != DType::I64 {
                return Err(Error::dtype(format!("indices must be int64, got {idx}")));
            }
            let region = take_dims(x, idx, *axis);
            check_same_kind(x, y)?;
            check_fits_region(y, &region)?;
            Ok(out(x.clone()))
        }
        Op::Shape => {
            arity(op, ins, 1)?;
            let x = ty(0);
            let t = TensorType::fixed(DType::I64, &[x.rank()]);
            let known = x.shape.iter().map(|d| d.map(|d| d as i64)).collect();
            Ok(with_known(t, Some(known)))
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
        Op::StopGradient => {
            arity(op, ins, 1)?;
            Ok(vec![ins[0].clone()])
        }
        Op::Fused(p) => infer_fused(p, ins),
        Op::Custom(c) => {
            let tys: Vec<&TensorType> = ins.iter().map(|t| &t.ty).collect();
            Ok(out(c.kernel().infer(&tys)?))
        }
    }
}

/// A broadcast error message without its (empty) op prefix.
fn strip(e: &Error) -> String {
    e.message().trim_start_matches(": ").to_string()
}

fn check_axes(axes: &[usize], x: &TensorType) -> Result<()> {
    for (i, &a) in axes.iter().enumerate() {
        check_axis(a, x.rank(), x)?;
        if i > 0 && axes[i - 1] >= a {
            return Err(err(format!("axes {axes:?} must be sorted and unique")));
        }
    }
    Ok(())
}

fn reduce_dims(shape: &[Dim], axes: &[usize], keepdims: bool) -> Vec<Dim> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(a, d)| {
            if axes.contains(&a) {
                keepdims.then_some(Some(1))
            } else {
                Some(*d)
            }
        })
        .collect()
}

fn slice_dims(specs: &[SliceSpec], x: &TensorType) -> Result<Vec<Dim>> {
    if specs.len() > x.rank() {
        return Err(Error::index(format!(
            "{} slices for {x} of rank {}",
            specs.len(),
            x.rank()
        )));
    }
    let mut shape = x.shape.clone();
    for (a, s) in specs.iter().enumerate() {
        if s.step == 0 {
            return Err(Error::value("slice step cannot be zero"));
        }
        shape[a] = x.shape[a].map(|d| normalize_slice(s.start, s.stop, s.step, d).len);
    }
    Ok(shape)
}

fn take_dims(x: &TensorType, idx: &TensorType, axis: usize) -> Vec<Dim> {
    let mut shape = x.shape[..axis].to_vec();
    shape.extend_from_slice(&idx.shape);
    shape.extend_from_slice(&x.shape[axis + 1..]);
    shape
}

/// `y` must broadcast into a region of shape `region` without growing it.
/// NumPy's same_kind rule for `x[...] += y`: y's kind (bool < int < float)
/// may not exceed x's.
fn check_same_kind(x: &TensorType, y: &TensorType) -> Result<()> {
    let kind = |d: DType| match d {
        DType::Bool => 0,
        DType::I64 => 1,
        _ => 2,
    };
    if kind(y.dtype) > kind(x.dtype) {
        return Err(Error::dtype(format!(
            "cannot add {y} into {x}: {} does not convert to {} without losing values",
            y.dtype, x.dtype
        )));
    }
    Ok(())
}

fn check_fits_region(y: &TensorType, region: &[Dim]) -> Result<()> {
    let bad = || {
        err(format!(
            "{y} does not broadcast to the region {}",
            fmt_dims(region)
        ))
    };
    if y.rank() > region.len() {
        return Err(bad());
    }
    let off = region.len() - y.rank();
    for (a, d) in y.shape.iter().enumerate() {
        match (d, region[a + off]) {
            (Some(1), _) | (None, _) | (_, None) => {}
            (Some(n), Some(m)) if *n != m => return Err(bad()),
            _ => {}
        }
    }
    Ok(())
}

fn infer_fused(p: &FusedProgram, ins: &[&OutType]) -> Result<Vec<OutType>> {
    if ins.len() != p.n_inputs {
        return Err(Error::graph(format!(
            "fused program takes {} inputs, got {}",
            p.n_inputs,
            ins.len()
        )));
    }
    let shapes: Vec<&[Dim]> = ins.iter().map(|t| t.ty.shape.as_slice()).collect();
    let loop_shape = broadcast_shapes("", &shapes).map_err(|e| err(strip(&e)))?;
    for (r, (ins_, dt)) in p.instrs.iter().enumerate() {
        if let Instr::Input(k) = ins_
            && (*k >= ins.len() || ins[*k].ty.dtype != *dt)
        {
            return Err(Error::graph(format!(
                "fused program register {r} reads input {k} with the wrong dtype"
            )));
        }
    }
    p.outputs
        .iter()
        .map(|o| {
            let dt = p.dtype(o.reg());
            Ok(match o {
                FusedOutput::Elementwise(_) => {
                    OutType::new(TensorType::new(dt, loop_shape.clone()))
                }
                FusedOutput::Reduce {
                    op, axes, keepdims, ..
                } => {
                    let lt = TensorType::new(dt, loop_shape.clone());
                    check_axes(axes, &lt)?;
                    OutType::new(TensorType::new(
                        op.out_dtype(dt),
                        reduce_dims(&loop_shape, axes, *keepdims),
                    ))
                }
            })
        })
        .collect()
}

/// Input `i` of a broadcasting op, for the run-time broadcasting check.
fn broadcast_operands(op: &Op, n_inputs: usize) -> Vec<usize> {
    match op {
        Op::Binary(_) | Op::Where | Op::Fused(_) => (0..n_inputs).collect(),
        Op::Gemm(_) if n_inputs == 3 => vec![2],
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
    for s in &outs {
        theon_runtime::alloc::try_numel(s).map_err(|e| e.context(label))?;
    }
    // The loop shape a broadcasting input stretches to.
    let target: Option<Vec<usize>> = match op {
        Op::Fused(_) | Op::Random { .. } => {
            let all: Vec<Vec<Dim>> = shapes
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
    if let Op::MatMul | Op::Gemm(_) = op {
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
        assert_eq!(o[0].ty.shape, vec![Some(500)]);
        let batched = t(DType::F64, &[None, Some(2), Some(5)]);
        let o = infer(&Op::MatMul, &[&a, &batched]).unwrap();
        assert_eq!(o[0].ty.shape, vec![None, Some(500), Some(5)]);
    }

    #[test]
    fn reshape_with_known_shape_vector() {
        let x = t(DType::F64, &[Some(4), Some(6)]);
        let shape =
            OutType::with_known(TensorType::fixed(DType::I64, &[2]), vec![Some(3), Some(-1)]);
        let o = infer(&Op::Reshape, &[&x, &shape]).unwrap();
        assert_eq!(o[0].ty.shape, vec![Some(3), Some(8)]);
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
