//! Type inference for indexing: slices and takes, and their increments.

use super::*;
use theon_runtime::Dims;

pub(super) fn infer(op: &Op, ins: &[&OutType]) -> Result<Vec<OutType>> {
    let ty = |i: usize| &ins[i].ty;
    match op {
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
        other => Err(Error::graph(format!(
            "{other:?} is not in the index family"
        ))),
    }
}

pub(super) fn slice_dims(specs: &[SliceSpec], x: &TensorType) -> Result<Dims<Dim>> {
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

pub(super) fn take_dims(x: &TensorType, idx: &TensorType, axis: usize) -> Dims<Dim> {
    let mut shape = Dims::from_slice(&x.shape[..axis]);
    shape.extend_from_slice(&idx.shape);
    shape.extend_from_slice(&x.shape[axis + 1..]);
    shape
}

/// `y` must broadcast into a region of shape `region` without growing it.
/// NumPy's same_kind rule for `x[...] += y`: y's kind (bool < int < float)
/// may not exceed x's.
pub(super) fn check_same_kind(x: &TensorType, y: &TensorType) -> Result<()> {
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

pub(super) fn check_fits_region(y: &TensorType, region: &[Dim]) -> Result<()> {
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
