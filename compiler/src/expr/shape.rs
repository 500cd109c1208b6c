//! Shape builders: shape, transpose/dimshuffle, expand_dims, squeeze,
//! reshape, broadcast_to, alloc, concatenate, stack, slicing, take.

use super::Var;
use super::reduce::normalize_axes;
use crate::op::{Op, SliceSpec};
use theon_runtime::Dims;
use theon_runtime::{DType, Error, Result, Tensor};

/// One entry of a shape given as a mix of numbers and symbolic scalars.
#[derive(Clone, Debug)]
pub enum DimArg {
    Fixed(i64),
    Sym(Var),
}

impl From<i64> for DimArg {
    fn from(v: i64) -> Self {
        DimArg::Fixed(v)
    }
}
impl From<usize> for DimArg {
    fn from(v: usize) -> Self {
        DimArg::Fixed(v as i64)
    }
}
impl From<i32> for DimArg {
    fn from(v: i32) -> Self {
        DimArg::Fixed(v as i64)
    }
}
impl From<&Var> for DimArg {
    fn from(v: &Var) -> Self {
        DimArg::Sym(v.clone())
    }
}
impl From<Var> for DimArg {
    fn from(v: Var) -> Self {
        DimArg::Sym(v)
    }
}

/// Anything that can be a target shape: numbers, a symbolic int64 vector,
/// or a mix of numbers and symbolic scalars.
pub trait IntoShape {
    fn into_shape(self) -> Result<Var>;
}

fn const_shape(v: Vec<i64>) -> Var {
    Var::constant(Tensor::vector(v))
}

impl<const N: usize> IntoShape for [i64; N] {
    fn into_shape(self) -> Result<Var> {
        Ok(const_shape(self.to_vec()))
    }
}
impl<const N: usize> IntoShape for &[i64; N] {
    fn into_shape(self) -> Result<Var> {
        Ok(const_shape(self.to_vec()))
    }
}
impl IntoShape for &[i64] {
    fn into_shape(self) -> Result<Var> {
        Ok(const_shape(self.to_vec()))
    }
}
impl IntoShape for Vec<i64> {
    fn into_shape(self) -> Result<Var> {
        Ok(const_shape(self))
    }
}
impl IntoShape for &[usize] {
    fn into_shape(self) -> Result<Var> {
        Ok(const_shape(self.iter().map(|&d| d as i64).collect()))
    }
}
impl IntoShape for Vec<usize> {
    fn into_shape(self) -> Result<Var> {
        self.as_slice().into_shape()
    }
}
impl IntoShape for &Var {
    fn into_shape(self) -> Result<Var> {
        if self.dtype() != DType::I64 || self.rank() != 1 {
            return Err(Error::shape(format!(
                "a shape must be an int64 vector, got {}",
                self.ty()
            )));
        }
        Ok(self.clone())
    }
}
impl IntoShape for Var {
    fn into_shape(self) -> Result<Var> {
        (&self).into_shape()
    }
}
impl IntoShape for &[DimArg] {
    fn into_shape(self) -> Result<Var> {
        if self.iter().all(|d| matches!(d, DimArg::Fixed(_))) {
            return Ok(const_shape(
                self.iter()
                    .map(|d| if let DimArg::Fixed(v) = d { *v } else { 0 })
                    .collect(),
            ));
        }
        let parts: Vec<Var> = self
            .iter()
            .map(|d| match d {
                DimArg::Fixed(v) => Ok(const_shape(vec![*v])),
                DimArg::Sym(s) => {
                    if s.rank() != 0 || !(s.dtype().is_int() || s.dtype().is_bool()) {
                        return Err(Error::shape(format!(
                            "a symbolic dim must be an integer scalar, got {}",
                            s.ty()
                        )));
                    }
                    s.cast(DType::I64).expand_dims(0)
                }
            })
            .collect::<Result<_>>()?;
        Var::concatenate(&parts, 0)
    }
}
impl IntoShape for Vec<DimArg> {
    fn into_shape(self) -> Result<Var> {
        self.as_slice().into_shape()
    }
}
impl<const N: usize> IntoShape for [DimArg; N] {
    fn into_shape(self) -> Result<Var> {
        self.as_slice().into_shape()
    }
}

impl From<std::ops::Range<i64>> for SliceSpec {
    fn from(r: std::ops::Range<i64>) -> Self {
        SliceSpec {
            start: Some(r.start),
            stop: Some(r.end),
            step: 1,
        }
    }
}
impl From<std::ops::RangeFrom<i64>> for SliceSpec {
    fn from(r: std::ops::RangeFrom<i64>) -> Self {
        SliceSpec {
            start: Some(r.start),
            stop: None,
            step: 1,
        }
    }
}
impl From<std::ops::RangeTo<i64>> for SliceSpec {
    fn from(r: std::ops::RangeTo<i64>) -> Self {
        SliceSpec {
            start: None,
            stop: Some(r.end),
            step: 1,
        }
    }
}
impl From<std::ops::RangeFull> for SliceSpec {
    fn from(_: std::ops::RangeFull) -> Self {
        SliceSpec::FULL
    }
}
impl SliceSpec {
    /// Python's `start:stop:step`.
    pub fn new(start: Option<i64>, stop: Option<i64>, step: i64) -> SliceSpec {
        SliceSpec { start, stop, step }
    }
    /// The same slice with another step.
    pub fn step(self, step: i64) -> SliceSpec {
        SliceSpec { step, ..self }
    }
}

impl Var {
    /// The shape as a symbolic int64 vector.
    pub fn shape(&self) -> Var {
        Var::apply(Op::Shape, &[self]).expect("shape types")
    }

    /// The size of one axis as a symbolic int64 scalar.
    pub fn dim(&self, axis: i64) -> Result<Var> {
        let a = normalize_axes("dim", &[axis], self.rank())?[0];
        self.shape()
            .take(&Var::constant(Tensor::scalar(a as i64)), 0)
    }

    /// General dimshuffle: output axis `i` is input axis `order[i]`, or a
    /// new size-1 axis for `None`; omitted axes must be statically 1.
    pub fn dimshuffle(&self, order: &[Option<usize>]) -> Result<Var> {
        Var::apply(Op::DimShuffle(Dims::from_slice(order)), &[self])
    }

    /// Reverse the axes (matrix transpose for rank 2).
    pub fn t(&self) -> Var {
        let order: Vec<Option<usize>> = (0..self.rank()).rev().map(Some).collect();
        self.dimshuffle(&order)
            .expect("reversal is a valid permutation")
    }

    /// Permute axes: output axis `i` is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Var> {
        if perm.len() != self.rank() {
            return Err(Error::shape(format!(
                "transpose: permutation {perm:?} has {} axes, tensor {} has {}",
                perm.len(),
                self.ty(),
                self.rank()
            )));
        }
        Var::apply_as(
            "transpose",
            Op::DimShuffle(perm.iter().map(|&a| Some(a)).collect()),
            &[self],
        )
    }

    /// Insert a size-1 axis at `axis` (negative counts from the end of the result).
    pub fn expand_dims(&self, axis: i64) -> Result<Var> {
        let a = normalize_axes("expand_dims", &[axis], self.rank() + 1)?[0];
        let mut order: Vec<Option<usize>> = (0..self.rank()).map(Some).collect();
        order.insert(a, None);
        self.dimshuffle(&order)
    }

    /// Remove size-1 axes (they must be known to be 1 at build time).
    pub fn squeeze(&self, axes: &[i64]) -> Result<Var> {
        let axes = normalize_axes("squeeze", axes, self.rank())?;
        let order: Dims<Option<usize>> = (0..self.rank())
            .filter(|a| !axes.contains(a))
            .map(Some)
            .collect();
        Var::apply_as("squeeze", Op::DimShuffle(order), &[self])
    }

    /// Remove every axis statically known to be 1.
    pub fn squeeze_all(&self) -> Var {
        let order: Vec<Option<usize>> = (0..self.rank())
            .filter(|&a| self.static_shape()[a] != Some(1))
            .map(Some)
            .collect();
        self.dimshuffle(&order)
            .expect("dropping static 1s is valid")
    }

    /// Reshape (one entry may be -1: inferred from the element count).
    pub fn reshape(&self, shape: impl IntoShape) -> Result<Var> {
        let s = shape.into_shape()?;
        Var::apply(Op::Reshape, &[self, &s])
    }

    /// Flatten to a vector.
    pub fn flatten(&self) -> Var {
        self.reshape([-1]).expect("flattening always works")
    }

    /// Broadcast to a shape (NumPy's broadcast_to).
    pub fn broadcast_to(&self, shape: impl IntoShape) -> Result<Var> {
        let s = shape.into_shape()?;
        Var::apply(Op::BroadcastTo, &[self, &s])
    }

    /// A tensor of `shape` filled with the scalar `value` (its dtype).
    pub fn alloc(value: &Var, shape: impl IntoShape) -> Result<Var> {
        let s = shape.into_shape()?;
        Var::apply(Op::Alloc, &[value, &s])
    }

    /// Zeros of a dtype and shape.
    pub fn zeros(shape: impl IntoShape, dtype: DType) -> Result<Var> {
        Var::alloc(&Var::scalar_const(0.0, dtype), shape)
    }

    /// Ones of a dtype and shape.
    pub fn ones(shape: impl IntoShape, dtype: DType) -> Result<Var> {
        Var::alloc(&Var::scalar_const(1.0, dtype), shape)
    }

    /// `value` broadcast to this expression's shape and dtype.
    pub fn full_like(&self, value: f64) -> Var {
        let v = Var::scalar_const(value, self.dtype());
        let shape = match self.ty().static_shape() {
            Some(s) => const_shape(s.iter().map(|&d| d as i64).collect()),
            None => self.shape(),
        };
        Var::alloc(&v, shape).expect("a tensor's own shape is a valid alloc shape")
    }
    pub fn zeros_like(&self) -> Var {
        self.full_like(0.0)
    }
    pub fn ones_like(&self) -> Var {
        self.full_like(1.0)
    }

    /// Join tensors along an existing axis.
    pub fn concatenate(parts: &[Var], axis: i64) -> Result<Var> {
        let first = parts
            .first()
            .ok_or_else(|| Error::shape("concatenate: needs at least one tensor"))?;
        let a = normalize_axes("concatenate", &[axis], first.rank())?[0];
        let refs: Vec<&Var> = parts.iter().collect();
        Var::apply(Op::Concatenate(a), &refs)
    }

    /// Join tensors of equal shape along a new axis.
    pub fn stack(parts: &[Var], axis: i64) -> Result<Var> {
        let first = parts
            .first()
            .ok_or_else(|| Error::shape("stack: needs at least one tensor"))?;
        let a = normalize_axes("stack", &[axis], first.rank() + 1)?[0] as i64;
        let expanded: Vec<Var> = parts
            .iter()
            .map(|p| p.expand_dims(a))
            .collect::<Result<_>>()?;
        Var::concatenate(&expanded, a)
            .map_err(|e| Error::new(e.kind(), e.message().replacen("concatenate", "stack", 1)))
    }

    /// Strided slicing, one spec per leading axis (`x[1:, ::2]`).
    pub fn slice(&self, specs: &[SliceSpec]) -> Result<Var> {
        Var::apply(Op::Slice(specs.to_vec()), &[self])
    }

    /// Slice one axis only.
    pub fn slice_axis(&self, axis: i64, spec: impl Into<SliceSpec>) -> Result<Var> {
        let a = normalize_axes("slice", &[axis], self.rank())?[0];
        let mut specs = vec![SliceSpec::FULL; a + 1];
        specs[a] = spec.into();
        self.slice(&specs)
    }

    /// Gather along `axis` with an int64 index tensor (NumPy's take; negative
    /// indices count from the end, out-of-range ones are errors at run time).
    pub fn take(&self, indices: &Var, axis: i64) -> Result<Var> {
        let a = normalize_axes("take", &[axis], self.rank())?[0];
        Var::apply(Op::Take(a), &[self, indices])
    }

    /// Element `i` along `axis` (the axis is removed).
    pub fn index(&self, axis: i64, i: i64) -> Result<Var> {
        self.take(&Var::constant(Tensor::scalar(i)), axis)
    }

    /// `self` with `y` added into a slice (`inc_subtensor`).
    pub fn inc_slice(&self, specs: &[SliceSpec], y: &Var) -> Result<Var> {
        Var::apply(Op::IncSlice(specs.to_vec()), &[self, y])
    }

    /// `self` with `y` scatter-added at `indices` along `axis`.
    pub fn inc_take(&self, indices: &Var, axis: i64, y: &Var) -> Result<Var> {
        let a = normalize_axes("inc_take", &[axis], self.rank())?[0];
        Var::apply(Op::IncTake(a), &[self, indices, y])
    }
}
