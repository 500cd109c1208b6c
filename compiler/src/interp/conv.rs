//! Convolution and pooling in the interpreter: the direct loops of the
//! runtime's reference kernels, on tensors.

use crate::op::{ConvRole, ConvSpec, PoolKind, PoolSpec};
use theon_runtime::kernels::{conv, pool};
use theon_runtime::{Error, Float, Result, Tensor};

fn geometry_error() -> Error {
    Error::shape("the convolution's output size does not fit (checked by type inference)")
}

/// One convolution op on `ins` (x, w[, gy]); `shape` is the output's.
pub fn conv_eval(
    role: ConvRole,
    spec: &ConvSpec,
    ins: &[&Tensor],
    shape: &[usize],
) -> Result<Tensor> {
    let c = spec
        .call(ins[0].shape(), ins[1].shape())
        .ok_or_else(geometry_error)?;
    let [lx, lw, ly] = c.geom.lens();
    by_float!(ins[0].dtype(), T => {
        let part = |i: usize, b: usize, len: usize| -> Result<&[T]> {
            let at = b * c.step[i];
            Ok(&ins[i].as_slice::<T>()?[at..at + len])
        };
        let mut out = Vec::new();
        for b in 0..c.batch {
            out.extend(match role {
                ConvRole::Forward => conv::forward(&c.geom, part(0, b, lx)?, part(1, b, lw)?),
                ConvRole::GradInput => conv::grad_input(&c.geom, part(1, b, lw)?, part(2, b, ly)?),
                ConvRole::GradKernel => conv::grad_kernel(&c.geom, part(0, b, lx)?, part(2, b, ly)?),
            });
        }
        Tensor::new(out, shape)
    })
}

/// Pooling (`grad`: its input gradient from x, gy) on `ins`.
pub fn pool_eval(
    kind: PoolKind,
    spec: &PoolSpec,
    grad: bool,
    ins: &[&Tensor],
    shape: &[usize],
) -> Result<Tensor> {
    let g = spec.geom(ins[0].shape()).ok_or_else(geometry_error)?;
    by_float!(ins[0].dtype(), T => {
        let x = ins[0].as_slice::<T>()?;
        let mut out = vec![T::ZERO; shape.iter().product()];
        let ok = match (kind, grad) {
            (PoolKind::Max, false) => pool::max_into(&g, x, &mut out),
            (PoolKind::Avg, false) => pool::avg_into(&g, x, &mut out),
            (PoolKind::Max, true) => pool::max_grad_into(&g, x, ins[1].as_slice::<T>()?, &mut out),
            (PoolKind::Avg, true) => pool::avg_grad_into(&g, ins[1].as_slice::<T>()?, &mut out),
        };
        if !ok {
            return Err(geometry_error());
        }
        Tensor::new(out, shape)
    })
}
