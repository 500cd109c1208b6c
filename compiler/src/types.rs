//! Static tensor types: a dtype and a per-dim size that is known or not.
//!
//! Broadcasting follows PyTensor: a dim broadcasts only if it is statically
//! known to be 1. A dim unknown at build time must match the other operands
//! at run time; a run-time 1 against a larger size is an error that says to
//! declare the dim as 1. This keeps every broadcast decision static, so the
//! code generator never branches on it.

use std::fmt;
use std::sync::Arc;
use theon_runtime::{DType, Dims, Error, Result};

/// A dimension: `Some(n)` known at build time, `None` known only at run time.
pub type Dim = Option<usize>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Dims<Dim>,
}

/// Statically known entries of a small integer tensor (a shape vector or an
/// integer scalar), flattened; `None` entries are unknown. Lets `reshape`,
/// `alloc` and random draws infer static output shapes from symbolic shapes.
pub type Known = Option<Arc<Vec<Option<i64>>>>;

/// The inferred type of one output of an op, with its known integer values.
#[derive(Clone, Debug, PartialEq)]
pub struct OutType {
    pub ty: TensorType,
    pub known: Known,
}

impl OutType {
    pub fn new(ty: TensorType) -> OutType {
        OutType { ty, known: None }
    }
    pub fn with_known(ty: TensorType, known: Vec<Option<i64>>) -> OutType {
        OutType {
            ty,
            known: Some(Arc::new(known)),
        }
    }
}

/// Largest integer tensor whose values are tracked statically.
pub const MAX_KNOWN: usize = 64;

impl TensorType {
    pub fn new(dtype: DType, shape: impl Into<Dims<Dim>>) -> TensorType {
        TensorType {
            dtype,
            shape: shape.into(),
        }
    }
    /// A type with every dim known.
    pub fn fixed(dtype: DType, shape: &[usize]) -> TensorType {
        TensorType {
            dtype,
            shape: shape.iter().map(|&d| Some(d)).collect(),
        }
    }
    pub fn scalar(dtype: DType) -> TensorType {
        TensorType {
            dtype,
            shape: Dims::new(),
        }
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    /// All dims known.
    pub fn static_shape(&self) -> Option<Vec<usize>> {
        self.shape.iter().copied().collect()
    }
    /// Element count if all dims are known (and the count fits in usize).
    pub fn static_len(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |n, d| d.and_then(|d| n.checked_mul(d)))
    }
    /// Dim `a` is statically 1 (broadcastable).
    pub fn broadcastable(&self, a: usize) -> bool {
        self.shape[a] == Some(1)
    }
    pub fn with_dtype(&self, dtype: DType) -> TensorType {
        TensorType {
            dtype,
            shape: self.shape.clone(),
        }
    }
    /// Can a value of type `other` stand where a value of `self` is expected?
    /// Same dtype and rank, and no static size of `self` contradicted.
    pub fn accepts(&self, other: &TensorType) -> bool {
        self.dtype == other.dtype
            && self.rank() == other.rank()
            && self
                .shape
                .iter()
                .zip(&other.shape)
                .all(|(a, b)| a.is_none() || a == b)
    }
    /// Does a concrete shape fit this type?
    pub fn fits(&self, shape: &[usize]) -> bool {
        shape.len() == self.rank()
            && self
                .shape
                .iter()
                .zip(shape)
                .all(|(d, &s)| d.is_none_or(|d| d == s))
    }
}

impl fmt::Display for TensorType {
    /// `f64[500, ?]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            self.dtype.short(),
            ShapeDisplay::brackets(&self.shape)
        )
    }
}

/// Formats a static shape as `(500, ?)` or `[500, ?]`.
pub struct ShapeDisplay<'a> {
    dims: &'a [Dim],
    open: char,
    close: char,
}

impl<'a> ShapeDisplay<'a> {
    pub fn parens(dims: &'a [Dim]) -> Self {
        ShapeDisplay {
            dims,
            open: '(',
            close: ')',
        }
    }
    pub fn brackets(dims: &'a [Dim]) -> Self {
        ShapeDisplay {
            dims,
            open: '[',
            close: ']',
        }
    }
}

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.open)?;
        for (i, d) in self.dims.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            match d {
                Some(n) => write!(f, "{n}")?,
                None => write!(f, "?")?,
            }
        }
        if self.dims.len() == 1 && self.open == '(' {
            write!(f, ",")?;
        }
        write!(f, "{}", self.close)
    }
}

/// `(500, ?)` for a list of dims.
pub fn fmt_dims(dims: &[Dim]) -> String {
    ShapeDisplay::parens(dims).to_string()
}

/// `(500, 2)` for a concrete shape.
pub fn fmt_shape(shape: &[usize]) -> String {
    let dims: Dims<Dim> = shape.iter().map(|&d| Some(d)).collect();
    fmt_dims(&dims)
}

/// Broadcast static shapes (right-aligned, PyTensor rule: only static 1s
/// broadcast). `what` names the op for the error.
pub fn broadcast_shapes(what: &str, shapes: &[&[Dim]]) -> Result<Dims<Dim>> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = Dims::with_capacity(rank);
    for a in 0..rank {
        let mut dim: Dim = Some(1);
        let mut unknown_seen = false;
        for s in shapes {
            let off = rank - s.len();
            if a < off {
                continue;
            }
            match s[a - off] {
                Some(1) => {}
                Some(n) => match dim {
                    Some(1) => dim = Some(n),
                    Some(m) if m != n => {
                        return Err(Error::shape(format!(
                            "{what}: shapes {} cannot be broadcast together: axis {} is {m} in one and {n} in another",
                            shapes
                                .iter()
                                .map(|s| fmt_dims(s))
                                .collect::<Vec<_>>()
                                .join(" and "),
                            a as i64 - rank as i64,
                        )));
                    }
                    _ => {}
                },
                None => unknown_seen = true,
            }
        }
        // An unknown dim against only 1s stays unknown; against a known n it is n
        // (checked at run time).
        if unknown_seen && dim == Some(1) {
            dim = None;
        }
        out.push(dim);
    }
    Ok(out)
}

/// Promote dtypes of several operands (NumPy rules).
pub fn promote_all(dtypes: &[DType]) -> DType {
    dtypes
        .iter()
        .copied()
        .reduce(DType::promote)
        .unwrap_or(DType::F64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_static_rules() {
        let b = |s: &[&[Dim]]| broadcast_shapes("add", s).map(|d| d.to_vec());
        assert_eq!(
            b(&[&[Some(3), Some(1)], &[Some(4)]]).unwrap(),
            vec![Some(3), Some(4)]
        );
        assert_eq!(
            b(&[&[None, Some(2)], &[Some(2)]]).unwrap(),
            vec![None, Some(2)]
        );
        assert_eq!(b(&[&[None], &[Some(5)]]).unwrap(), vec![Some(5)]);
        assert_eq!(b(&[&[None], &[Some(1)]]).unwrap(), vec![None]);
        assert_eq!(b(&[&[Some(0)], &[Some(1)]]).unwrap(), vec![Some(0)]);
        assert_eq!(
            b(&[&[], &[Some(2), Some(3)]]).unwrap(),
            vec![Some(2), Some(3)]
        );
        let e = b(&[&[Some(3), Some(4)], &[Some(5)]]).unwrap_err();
        assert_eq!(
            e.message(),
            "add: shapes (3, 4) and (5,) cannot be broadcast together: axis -1 is 4 in one and 5 in another"
        );
    }

    #[test]
    fn display() {
        let t = TensorType::new(DType::F64, vec![Some(500), None]);
        assert_eq!(t.to_string(), "f64[500, ?]");
        assert_eq!(fmt_shape(&[5]), "(5,)");
    }
}
