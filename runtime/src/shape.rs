//! Shapes: dims kept inline for rank ≤ 4 (no heap allocation for the
//! shapes almost every tensor, type and axis list has), and `Shape`, a
//! concrete shape whose element count is known to fit in `usize`.

use crate::alloc::try_numel;
use crate::error::Result;
use smallvec::SmallVec;
use std::fmt;
use std::ops::Deref;

/// A short list of dims or axes, inline up to rank 4.
pub type Dims<T> = SmallVec<[T; 4]>;

/// A tensor's shape. Built only through `Shape::new` (or from another
/// valid shape), so its element count, and every partial product of its
/// non-zero dims, fits in `usize`.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Shape(Dims<usize>);

impl Shape {
    /// A shape, or an error when its element count overflows `usize`.
    pub fn new(dims: &[usize]) -> Result<Shape> {
        try_numel(dims)?;
        Ok(Shape(Dims::from_slice(dims)))
    }
    /// The rank-0 shape.
    pub fn scalar() -> Shape {
        Shape(Dims::new())
    }
    /// The rank-1 shape `[n]`; a single dim always fits.
    pub fn vector(n: usize) -> Shape {
        Shape(smallvec::smallvec![n])
    }
    /// Number of elements (cannot overflow: checked on construction).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
    pub fn as_slice(&self) -> &[usize] {
        &self.0
    }
}

impl Deref for Shape {
    type Target = [usize];
    fn deref(&self) -> &[usize] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Shape {
    type Item = &'a usize;
    type IntoIter = std::slice::Iter<'a, usize>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_on_construction() {
        assert_eq!(Shape::new(&[2, 3]).unwrap().numel(), 6);
        assert_eq!(Shape::new(&[0, 5]).unwrap().numel(), 0);
        assert_eq!(Shape::scalar().numel(), 1);
        assert!(Shape::new(&[usize::MAX, 2]).is_err());
        assert!(Shape::new(&[0, usize::MAX, 3]).is_err());
        assert_eq!(format!("{:?}", Shape::new(&[4, 1]).unwrap()), "[4, 1]");
        // Rank 5 spills to the heap and still works.
        assert_eq!(Shape::new(&[1, 2, 3, 4, 5]).unwrap().numel(), 120);
    }
}
