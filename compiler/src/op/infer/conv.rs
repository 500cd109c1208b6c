//! Type inference for convolution and pooling.

use super::*;
use crate::op::{ConvRole, ConvSpec, PoolSpec};

/// Both operands float and of one dtype (the kernels do not convert).
fn same_float(a: &TensorType, b: &TensorType) -> Result<DType> {
    if !a.dtype.is_float() || a.dtype != b.dtype {
        return Err(Error::dtype(format!(
            "needs float operands of one dtype, got {a} and {b}"
        )));
    }
    Ok(a.dtype)
}

fn check_spec(stride: [usize; 2], more: &[usize]) -> Result<()> {
    if stride.contains(&0) || more.contains(&0) {
        return Err(Error::value(
            "strides, dilations, groups and windows must be >= 1",
        ));
    }
    Ok(())
}

/// A padded spatial size must fit (in isize: kernels index with it).
fn check_padded(len: Dim, pad: [usize; 2], a: usize) -> Result<()> {
    match len {
        Some(len)
            if len
                .checked_add(pad[0])
                .and_then(|v| v.checked_add(pad[1]))
                .is_none_or(|v| v > isize::MAX as usize) =>
        {
            Err(err(format!(
                "the padded input along spatial axis {a} overflows ({len} + {} + {})",
                pad[0], pad[1]
            )))
        }
        _ => Ok(()),
    }
}

/// The output dims of `x` (N, C, H, W) convolved by `w` (O, C/g, kh, kw);
/// either may have a leading batch axis (one convolution per element).
fn conv_out(spec: &ConvSpec, x: &TensorType, w: &TensorType) -> Result<Dims<Dim>> {
    check_spec(
        spec.stride,
        &[spec.dilation[0], spec.dilation[1], spec.groups],
    )?;
    if !matches!(x.rank(), 4 | 5) || !matches!(w.rank(), 4 | 5) {
        return Err(err(format!(
            "needs an input (N, C, H, W) and a kernel (O, C/groups, kh, kw), got {x} and {w}"
        )));
    }
    let batch = match (x.rank() == 5, w.rank() == 5) {
        (true, true) => Some(unify(x.shape[0], w.shape[0], || {
            format!("batch axes of {x} and {w} differ")
        })?),
        (true, false) => Some(x.shape[0]),
        (false, true) => Some(w.shape[0]),
        (false, false) => None,
    };
    let (x, w) = (
        &TensorType::new(x.dtype, x.shape[x.rank() - 4..].to_vec()),
        &TensorType::new(w.dtype, w.shape[w.rank() - 4..].to_vec()),
    );
    let g = spec.groups;
    if let (Some(c), Some(cg)) = (x.shape[1], w.shape[1])
        && c != cg * g
    {
        return Err(err(if g == 1 {
            format!("input has {c} channels, the kernel expects {cg}")
        } else {
            format!("input has {c} channels, the kernel expects {cg} per group x {g} groups")
        }));
    }
    if let Some(o) = w.shape[0]
        && o % g != 0
    {
        return Err(err(format!(
            "{o} output channels do not split into {g} groups"
        )));
    }
    let mut dims: Dims<Dim> = batch.into_iter().collect();
    dims.extend([x.shape[0], w.shape[0]]);
    for a in 0..2 {
        check_padded(x.shape[2 + a], spec.pad[a], a)?;
        dims.push(match (x.shape[2 + a], w.shape[2 + a]) {
            (Some(len), Some(k)) => Some(spec.out_len(a, len, k).ok_or_else(|| {
                err(format!(
                    "the kernel ({} with dilation {}) is larger than the padded input \
                     along spatial axis {a} ({len} + {} + {})",
                    k, spec.dilation[a], spec.pad[a][0], spec.pad[a][1]
                ))
            })?),
            _ => None,
        });
    }
    Ok(dims)
}

/// The output dims of pooling `x` (rank >= 2, the last two axes pooled).
fn pool_out(spec: &PoolSpec, x: &TensorType) -> Result<Dims<Dim>> {
    check_spec(spec.stride, &spec.kernel)?;
    if x.rank() < 2 {
        return Err(err(format!("needs at least two (spatial) axes, got {x}")));
    }
    for a in 0..2 {
        if spec.pad[a].iter().any(|&p| p >= spec.kernel[a]) {
            return Err(Error::value(format!(
                "padding {:?} along spatial axis {a} must be smaller than the window {}",
                spec.pad[a], spec.kernel[a]
            )));
        }
    }
    let r = x.rank();
    let mut dims: Dims<Dim> = x.shape[..r - 2].iter().copied().collect();
    for a in 0..2 {
        check_padded(x.shape[r - 2 + a], spec.pad[a], a)?;
        if x.shape[r - 2 + a] == Some(0) {
            return Err(err(format!(
                "spatial axis {a} is empty: there is nothing to pool"
            )));
        }
        dims.push(match x.shape[r - 2 + a] {
            Some(len) => Some(spec.out_len(a, len).ok_or_else(|| {
                err(format!(
                    "the window {} is larger than the padded input along spatial axis {a} ({len})",
                    spec.kernel[a]
                ))
            })?),
            None => None,
        });
    }
    Ok(dims)
}

/// `gy` must have the shape the forward op gives.
fn check_gy(gy: &TensorType, want: &Dims<Dim>) -> Result<()> {
    if gy.rank() != want.len() {
        return Err(err(format!(
            "the output gradient {gy} must have shape {}",
            fmt_dims(want)
        )));
    }
    for (a, (&g, &w)) in gy.shape.iter().zip(want).enumerate() {
        unify(g, w, || {
            format!(
                "the output gradient {gy} must have shape {} (axis {a})",
                fmt_dims(want)
            )
        })?;
    }
    Ok(())
}

/// A bias for the output `y` ((B,) N, O, OH, OW) that varies along the
/// channel axis only (and along the batch axis, if y has one): its sizes,
/// aligned from the right, are O on the channel axis, the batch size or 1
/// on the batch axis and statically 1 elsewhere.
fn check_channel_bias(b: &TensorType, y: &[Dim]) -> Result<()> {
    let (yr, br) = (y.len(), b.rank());
    let channel = y[yr - 3];
    let ok = br <= yr
        && channel.is_some()
        && b.shape.iter().enumerate().all(|(k, &d)| {
            let axis = yr - br + k;
            if axis == yr - 3 {
                d == channel
            } else if yr == 5 && axis == 0 {
                d == Some(1) || d == y[0]
            } else {
                d == Some(1)
            }
        });
    if ok {
        Ok(())
    } else {
        Err(err(format!(
            "the bias {b} must vary along the output channels ({}) only",
            fmt_dims(y)
        )))
    }
}

pub(super) fn infer(op: &Op, ins: &[&OutType]) -> Result<Vec<OutType>> {
    let ty = |i: usize| &ins[i].ty;
    match op {
        Op::Conv2d { role, spec } => {
            arity(op, ins, if *role == ConvRole::Forward { 2 } else { 3 })?;
            let dt = same_float(ty(0), ty(1))?;
            let y = conv_out(spec, ty(0), ty(1))?;
            match role {
                ConvRole::Forward => Ok(out(TensorType::new(dt, y))),
                ConvRole::GradInput | ConvRole::GradKernel => {
                    same_float(ty(0), ty(2))?;
                    check_gy(ty(2), &y)?;
                    let like = if *role == ConvRole::GradInput { 0 } else { 1 };
                    // The result has its like-operand's shape, so a batch
                    // there must cover a batch anywhere (no summing over it).
                    if y.len() == 5 && ty(like).rank() == 4 {
                        return Err(err(format!(
                            "the operand giving the result's shape ({}) has no batch axis, but the others do",
                            ty(like)
                        )));
                    }
                    Ok(out(ty(like).clone()))
                }
            }
        }
        Op::Conv2dBiasAct { spec, act } => {
            if !matches!(ins.len(), 2 | 3) {
                return Err(err(format!(
                    "takes x, w and optionally a bias, got {} operands",
                    ins.len()
                )));
            }
            let dt = same_float(ty(0), ty(1))?;
            let y = conv_out(spec, ty(0), ty(1))?;
            if ins.len() == 3 {
                same_float(ty(0), ty(2))?;
                check_channel_bias(ty(2), &y)?;
            }
            let y = TensorType::new(dt, y);
            if let Some(a) = act {
                let z = OutType::new(y.clone());
                let t = elementwise::infer(&Op::Unary(*a), &[&z])?;
                if t[0].ty.dtype != dt {
                    return Err(Error::dtype(format!(
                        "the activation {} changes the dtype",
                        a.name()
                    )));
                }
            }
            Ok(out(y))
        }
        Op::Pool2d { spec, .. } => {
            arity(op, ins, 1)?;
            if !ty(0).dtype.is_float() {
                return Err(Error::dtype(format!("needs a float input, got {}", ty(0))));
            }
            Ok(out(TensorType::new(ty(0).dtype, pool_out(spec, ty(0))?)))
        }
        Op::Pool2dGrad { spec, .. } => {
            arity(op, ins, 2)?;
            same_float(ty(0), ty(1))?;
            check_gy(ty(1), &pool_out(spec, ty(0))?)?;
            Ok(out(ty(0).clone()))
        }
        other => Err(Error::graph(format!(
            "{other:?} is not in the convolution family"
        ))),
    }
}
