//! `vectorize`: add a leading batch axis to an expression (JAX's vmap,
//! PyTensor's vectorize_graph).
//!
//! Some leaves are replaced by batched versions (one extra leading axis of
//! size `B`); every op that reads a batched value is rebuilt by its batching
//! rule so that slice `b` of the result is the original expression with the
//! leaves' slice `b` substituted. Products become batched matmuls, reductions
//! shift their axes, random draws with batched parameters draw per batch
//! element. One `match` over every op.

use crate::expr::{Var, VarId};
use crate::op::{Op, SliceSpec};
use rustc_hash::FxHashMap;
use theon_runtime::Dims;
use theon_runtime::{DType, Error, Result, Tensor};

fn err(op: &Op, why: &str) -> Error {
    Error::graph(format!("vectorize: {}: {why}", crate::expr::op_label(op)))
}

/// Insert `n` size-1 axes after the batch axis of a batched value.
fn align(x: &Var, n: usize) -> Result<Var> {
    if n == 0 {
        return Ok(x.clone());
    }
    let mut order: Vec<Option<usize>> = vec![Some(0)];
    order.extend(std::iter::repeat_n(None, n));
    order.extend((1..x.rank()).map(Some));
    x.dimshuffle(&order)
}

/// An unbatched value repeated along a new leading axis of size `size`.
fn lift(x: &Var, size: &Var) -> Result<Var> {
    let shape = Var::concatenate(&[size.cast(DType::I64).expand_dims(0)?, x.shape()], 0)?;
    x.expand_dims(0)?.broadcast_to(shape)
}

/// `[size] ++ shape` as an int64 vector.
fn with_batch(size: &Var, shape: &Var) -> Result<Var> {
    Var::concatenate(&[size.cast(DType::I64).expand_dims(0)?, shape.clone()], 0)
}

/// Batched versions of `outputs`, where each `(old, new)` of `replace`
/// substitutes `new` (leading axis of size `size`) for `old`. Outputs that
/// do not depend on the replaced values are repeated along the batch axis.
pub fn vectorize(outputs: &[Var], replace: &[(Var, Var)], size: &Var) -> Result<Vec<Var>> {
    if size.rank() != 0 || !size.dtype().is_int() {
        return Err(Error::shape(format!(
            "vectorize: the batch size must be an int64 scalar, got {}",
            size.ty()
        )));
    }
    let mut memo: FxHashMap<VarId, (Var, bool)> = FxHashMap::default();
    // Unbatched values computed from a batched value's shape: per-element
    // shapes. A random draw of such a shape still draws per element.
    let mut from_shape: rustc_hash::FxHashSet<VarId> = rustc_hash::FxHashSet::default();
    for (old, new) in replace {
        let want = old.rank() + 1;
        if new.rank() != want || new.dtype() != old.dtype() {
            return Err(Error::shape(format!(
                "vectorize: the batched value for {old:?} must be {} with one more leading axis, got {}",
                old.ty(),
                new.ty()
            )));
        }
        memo.insert(old.id(), (new.clone(), true));
    }
    for v in Var::toposort(outputs) {
        if memo.contains_key(&v.id()) {
            continue;
        }
        let ins: Vec<(Var, bool)> = v.inputs().iter().map(|i| memo[&i.id()].clone()).collect();
        let shape_derived = v.inputs().iter().any(|i| from_shape.contains(&i.id()));
        let draws_per_element = shape_derived && matches!(v.op(), Op::Random { .. });
        let out = if ins.iter().any(|(_, b)| *b) || draws_per_element {
            let nv = batch_rule(&v, &ins, size)?;
            if let Some(n) = v.name() {
                nv.set_name(&n);
            }
            // A batched value's shape is every element's shape: the same
            // for all, so not batched (ops on it, like N-d `dot`'s shape
            // arithmetic, stay per element).
            let is_shape = matches!(v.op(), Op::Shape);
            if is_shape {
                from_shape.insert(v.id());
            }
            (nv, !is_shape)
        } else if ins.iter().zip(v.inputs()).all(|((a, _), b)| a.same(b)) {
            if shape_derived {
                from_shape.insert(v.id());
            }
            (v.clone(), false)
        } else {
            let refs: Vec<&Var> = ins.iter().map(|(x, _)| x).collect();
            let nv = Var::apply(v.op().clone(), &refs)?;
            if shape_derived {
                from_shape.insert(v.id());
            }
            (nv, false)
        };
        memo.insert(v.id(), out);
    }
    outputs
        .iter()
        .map(|o| {
            let (v, b) = &memo[&o.id()];
            if *b { Ok(v.clone()) } else { lift(v, size) }
        })
        .collect()
}

/// The batched version of `v` given its inputs (value, is batched).
fn batch_rule(v: &Var, ins: &[(Var, bool)], size: &Var) -> Result<Var> {
    let op = v.op();
    let r = v.rank();
    let x = |i: usize| &ins[i].0;
    let batched = |i: usize| ins[i].1;
    // Orig rank of input i.
    let orig = |i: usize| v.inputs()[i].rank();
    match op {
        Op::Input { .. } | Op::Constant(_) | Op::Shared(_) => Err(err(op, "leaves have no inputs")),
        Op::Unary(_) | Op::Cast(_) | Op::StopGradient => Var::apply(op.clone(), &[x(0)]),
        Op::SpecifyShape { dims, what } => {
            let mut d = dims.clone();
            d.insert(0, None);
            Var::apply(
                Op::SpecifyShape {
                    dims: d,
                    what: what.clone(),
                },
                &[x(0)],
            )
        }
        Op::Binary(_) | Op::Where => {
            let aligned: Vec<Var> = (0..ins.len())
                .map(|i| {
                    if batched(i) {
                        align(x(i), r - orig(i))
                    } else {
                        Ok(x(i).clone())
                    }
                })
                .collect::<Result<_>>()?;
            let refs: Vec<&Var> = aligned.iter().collect();
            Var::apply(op.clone(), &refs)
        }
        Op::Reduce {
            op: red,
            axes,
            keepdims,
        } => {
            let axes: Dims<usize> = axes.iter().map(|a| a + 1).collect();
            Var::apply(
                Op::Reduce {
                    op: *red,
                    axes,
                    keepdims: *keepdims,
                },
                &[x(0)],
            )
        }
        Op::Argmax {
            axis: Some(a),
            keepdims,
        } => Var::apply(
            Op::Argmax {
                axis: Some(a + 1),
                keepdims: *keepdims,
            },
            &[x(0)],
        ),
        Op::Argmax {
            axis: None,
            keepdims,
        } => {
            let flat = x(0).reshape(with_batch(
                size,
                &Var::constant(Tensor::vector(vec![-1i64])),
            )?)?;
            let am = flat.argmax(Some(1), false)?;
            if *keepdims {
                align(&am, orig(0))
            } else {
                Ok(am)
            }
        }
        Op::MatMul => {
            // Promote vectors, align batched operands to the output's batch rank.
            let (ra, rb) = (orig(0), orig(1));
            let pa = ra.max(2);
            let pb = rb.max(2);
            let nb = pa.max(pb) - 2;
            let promote = |i: usize, rank: usize, vec_axis: i64| -> Result<Var> {
                let mut t = x(i).clone();
                if rank == 1 {
                    t = t.expand_dims(if batched(i) {
                        if vec_axis == 0 { 1 } else { -1 }
                    } else {
                        vec_axis
                    })?;
                }
                if batched(i) {
                    let p = rank.max(2);
                    t = align(&t, nb + 2 - p)?;
                }
                Ok(t)
            };
            let a = promote(0, ra, 0)?;
            let b = promote(1, rb, -1)?;
            let mut out = a.matmul(&b)?;
            if rb == 1 {
                out = out.squeeze(&[-1])?;
            }
            if ra == 1 {
                out = out.squeeze(&[-1 - (rb != 1) as i64])?;
            }
            Ok(out)
        }
        // The batch is one more leading axis of b's vectors; a batched L
        // (one factor per draw) has no batched kernel yet.
        Op::SolveTriangular { .. } if !batched(0) => Var::apply(op.clone(), &[x(0), x(1)]),
        Op::SolveTriangular { .. } => Err(err(
            op,
            "a batched triangular factor is not supported (batch the right-hand sides)",
        )),
        // The kernels take one leading batch axis on x, w and gy.
        Op::Conv2d { role, .. } => {
            if v.inputs().iter().any(|i| i.rank() == 5) {
                return Err(err(op, "the convolution is batched already"));
            }
            let like = match role {
                crate::op::ConvRole::Forward => None,
                crate::op::ConvRole::GradInput => Some(0),
                crate::op::ConvRole::GradKernel => Some(1),
            };
            // An adjoint's shape operand and gy take the batch when anything
            // does (the forward op broadcasts an unbatched operand itself).
            let lifts = |i: usize| like.is_some() && (Some(i) == like || i == 2);
            let parts: Vec<Var> = (0..ins.len())
                .map(|i| {
                    if !batched(i) && lifts(i) {
                        lift(x(i), size)
                    } else {
                        Ok(x(i).clone())
                    }
                })
                .collect::<Result<_>>()?;
            let refs: Vec<&Var> = parts.iter().collect();
            Var::apply(op.clone(), &refs)
        }
        // Pooling treats every leading axis alike.
        Op::Pool2d { .. } => Var::apply(op.clone(), &[x(0)]),
        Op::Pool2dGrad { .. } => {
            let both: Vec<Var> = (0..2)
                .map(|i| {
                    if batched(i) {
                        Ok(x(i).clone())
                    } else {
                        lift(x(i), size)
                    }
                })
                .collect::<Result<_>>()?;
            Var::apply(op.clone(), &[&both[0], &both[1]])
        }
        Op::Gemm(_) | Op::GemmAct { .. } | Op::Conv2dBiasAct { .. } => Err(err(
            op,
            "nodes made by the rewrites exist only in compiled graphs; vectorize the expression instead",
        )),
        Op::DimShuffle(order) => {
            let mut o = vec![Some(0)];
            o.extend(order.iter().map(|a| a.map(|a| a + 1)));
            x(0).dimshuffle(&o)
        }
        Op::Reshape => {
            if batched(1) {
                return Err(err(op, "the target shape depends on the batched values"));
            }
            let b = x(0).dim(0)?;
            x(0).reshape(with_batch(&b, x(1))?)
        }
        Op::BroadcastTo => {
            if batched(1) {
                return Err(err(op, "the target shape depends on the batched values"));
            }
            let t = align(x(0), r - orig(0))?;
            let b = x(0).dim(0)?;
            t.broadcast_to(with_batch(&b, x(1))?)
        }
        Op::Alloc => {
            if batched(1) {
                return Err(err(op, "the shape depends on the batched values"));
            }
            let b = x(0).dim(0)?;
            align(x(0), r)?.broadcast_to(with_batch(&b, x(1))?)
        }
        Op::Concatenate(axis) => {
            let parts: Vec<Var> = (0..ins.len())
                .map(|i| {
                    if batched(i) {
                        Ok(x(i).clone())
                    } else {
                        lift(x(i), size)
                    }
                })
                .collect::<Result<_>>()?;
            Var::concatenate(&parts, *axis as i64 + 1)
        }
        Op::Slice(specs) => {
            let mut s = vec![SliceSpec::FULL];
            s.extend_from_slice(specs);
            x(0).slice(&s)
        }
        Op::IncSlice(specs) => {
            let base = if batched(0) {
                x(0).clone()
            } else {
                lift(x(0), size)?
            };
            let y = if batched(1) {
                align(x(1), r - orig(1))?
            } else {
                x(1).clone()
            };
            let mut s = vec![SliceSpec::FULL];
            s.extend_from_slice(specs);
            base.inc_slice(&s, &y)
        }
        Op::Take(axis) => {
            if batched(1) {
                return Err(err(
                    op,
                    "indices that depend on the batched values are not supported",
                ));
            }
            x(0).take(x(1), *axis as i64 + 1)
        }
        Op::IncTake(axis) => {
            if batched(1) {
                return Err(err(
                    op,
                    "indices that depend on the batched values are not supported",
                ));
            }
            let base = if batched(0) {
                x(0).clone()
            } else {
                lift(x(0), size)?
            };
            let region_rank = orig(0) - 1 + orig(1);
            let y = if batched(2) {
                align(x(2), region_rank - orig(2))?
            } else {
                x(2).clone()
            };
            base.inc_take(x(1), *axis as i64 + 1, &y)
        }
        Op::Shape => x(0).shape().slice(&[SliceSpec::new(Some(1), None, 1)]),
        Op::Random { .. } => {
            if batched(0) || batched(1) {
                return Err(err(
                    op,
                    "the random state and draw shape cannot depend on the batched values",
                ));
            }
            let mut inputs = vec![x(0).clone(), with_batch(size, x(1))?];
            for i in 2..ins.len() {
                inputs.push(if batched(i) {
                    align(x(i), r - orig(i))?
                } else {
                    x(i).clone()
                });
            }
            let refs: Vec<&Var> = inputs.iter().collect();
            Var::apply(op.clone(), &refs)
        }
        Op::Fused(_) => Err(err(op, "fused nodes exist only in compiled graphs")),
        Op::Custom(_) => Err(err(op, "custom ops have no batching rule")),
    }
}
