//! Type inference for shape and layout ops: dimshuffle, reshape, broadcast, alloc, concatenate, shape.

use super::*;
use theon_runtime::Dims;

pub(super) fn infer(op: &Op, ins: &[&OutType]) -> Result<Vec<OutType>> {
    let ty = |i: usize| &ins[i].ty;
    match op {
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
                .collect::<Dims<_>>();
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
            let mut dims: Dims<Dim> = entries
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
        Op::Shape => {
            arity(op, ins, 1)?;
            let x = ty(0);
            let t = TensorType::fixed(DType::I64, &[x.rank()]);
            let known = x.shape.iter().map(|d| d.map(|d| d as i64)).collect();
            Ok(with_known(t, Some(known)))
        }
        Op::StopGradient => {
            arity(op, ins, 1)?;
            Ok(vec![ins[0].clone()])
        }
        Op::SpecifyShape { dims, what } => {
            arity(op, ins, 1)?;
            let x = ty(0);
            let bad = || {
                Error::shape(format!(
                    "{what} has type {x}, expected shape {}",
                    fmt_dims(dims)
                ))
            };
            if x.rank() != dims.len() {
                return Err(bad());
            }
            let mut shape = x.shape.clone();
            for (s, d) in shape.iter_mut().zip(dims) {
                match (*s, *d) {
                    (Some(a), Some(b)) if a != b => return Err(bad()),
                    (None, Some(b)) => *s = Some(b),
                    _ => {}
                }
            }
            let t = TensorType::new(x.dtype, shape);
            Ok(with_known(t, ins[0].known.as_ref().map(|k| k.to_vec())))
        }
        other => Err(Error::graph(format!(
            "{other:?} is not in the shape family"
        ))),
    }
}
