//! Conversion to and from `ndarray::ArrayD`.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use ndarray::{ArrayD, IxDyn};

impl Tensor {
    /// A tensor holding the array's elements in row-major order.
    pub fn from_ndarray<T: Element>(a: &ArrayD<T>) -> Tensor {
        let shape = a.shape().to_vec();
        let data: Vec<T> = a.iter().copied().collect();
        Tensor::new(data, &shape).expect("ndarray element count matches its shape")
    }

    /// The tensor as an ndarray of `T`; `T` must be the tensor's dtype.
    pub fn to_ndarray<T: Element>(&self) -> Result<ArrayD<T>> {
        let v = self.as_slice::<T>()?.to_vec();
        ArrayD::from_shape_vec(IxDyn(self.shape()), v).map_err(|e| Error::shape(e.to_string()))
    }
}

impl<T: Element> From<ArrayD<T>> for Tensor {
    fn from(a: ArrayD<T>) -> Tensor {
        Tensor::from_ndarray(&a)
    }
}
