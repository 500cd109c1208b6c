//! Sizes and allocation that fail as values: element counts are checked
//! for overflow and storage is reserved fallibly, so a huge shape from a
//! user, a file or a graph is an error, never a wrapped count, a panic or
//! an abort.

use crate::dtype::DType;
use crate::error::{Error, Result};

/// The most bytes one tensor may hold. Rust allocations cannot exceed
/// `isize::MAX` bytes; anything near that is refused before asking.
pub const MAX_TENSOR_BYTES: usize = isize::MAX as usize;

/// Number of elements of a shape, or an error if the product of its
/// non-zero dims overflows: a shape like (0, 2^40, 2^40) has no elements,
/// but its partial products (strides, loop bounds) would wrap.
pub fn try_numel(shape: &[usize]) -> Result<usize> {
    let overflow = || {
        Error::memory(format!(
            "shape {shape:?} has more elements than fit in usize"
        ))
    };
    shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(overflow)?;
    Ok(if shape.contains(&0) {
        0
    } else {
        shape.iter().product()
    })
}

/// Bytes of `n` elements of `dtype`, or an error past `MAX_TENSOR_BYTES`.
pub fn try_bytes(n: usize, dtype: DType) -> Result<usize> {
    n.checked_mul(dtype.size_of())
        .filter(|&b| b <= MAX_TENSOR_BYTES)
        .ok_or_else(|| {
            Error::memory(format!(
                "{n} elements of {dtype} exceed the largest possible allocation"
            ))
        })
}

/// A Vec of `n` copies of `value`, or an error when the memory cannot be had.
pub fn try_vec<T: Clone>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    reserve(&mut v, n)?;
    v.resize(n, value);
    Ok(v)
}

/// Reserve room for `n` more elements, or an error when the memory cannot be had.
pub fn reserve<T>(v: &mut Vec<T>, n: usize) -> Result<()> {
    v.try_reserve_exact(n).map_err(|_| {
        Error::memory(format!(
            "cannot allocate {n} elements of {} bytes each",
            std::mem::size_of::<T>()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflowing_shapes_are_errors() {
        assert_eq!(try_numel(&[3, 4]).unwrap(), 12);
        assert_eq!(try_numel(&[]).unwrap(), 1);
        assert!(try_numel(&[3, 6148914691236517206]).is_err());
        assert_eq!(try_numel(&[0, 5, 2]).unwrap(), 0);
        assert!(try_numel(&[0, usize::MAX, 2]).is_err());
        assert!(try_bytes(usize::MAX / 4, DType::F64).is_err());
    }

    #[test]
    // Miri allocates for real (and would exhaust the machine doing so).
    #[cfg_attr(miri, ignore)]
    fn impossible_allocations_are_errors() {
        // 8 TB: more than any machine here has; refused, not aborted.
        assert!(try_vec(1usize << 40, 0.0f64).is_err());
        assert_eq!(try_vec(3, 1u8).unwrap(), vec![1, 1, 1]);
    }
}
