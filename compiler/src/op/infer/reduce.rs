//! Type inference for reductions and argmax.

use super::*;
use theon_runtime::Dims;

pub(super) fn infer(op: &Op, ins: &[&OutType]) -> Result<Vec<OutType>> {
    let ty = |i: usize| &ins[i].ty;
    match op {
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
        other => Err(Error::graph(format!(
            "{other:?} is not in the reduce family"
        ))),
    }
}

pub(super) fn check_axes(axes: &[usize], x: &TensorType) -> Result<()> {
    for (i, &a) in axes.iter().enumerate() {
        check_axis(a, x.rank(), x)?;
        if i > 0 && axes[i - 1] >= a {
            return Err(err(format!("axes {axes:?} must be sorted and unique")));
        }
    }
    Ok(())
}

pub(super) fn reduce_dims(shape: &[Dim], axes: &[usize], keepdims: bool) -> Dims<Dim> {
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
