//! Convolution, pooling and padding as users write them.
//!
//! `x.conv2d(&w, Conv2d::new().padding(Padding::Same))` for x (N, C, H, W)
//! and kernels w (O, C/groups, kh, kw) — NCHW/OIHW, cross-correlation, as in
//! PyTorch, `jax.lax.conv` and PyTensor's `conv2d`. `x.max_pool2d(Pool2d::new(2))`
//! pools the last two axes of any input of rank >= 2.

use super::Var;
use crate::op::{ConvRole, ConvSpec, Op, PoolKind, PoolSpec, SliceSpec};
use theon_runtime::{DType, Error, Result};

/// Padding of a convolution or a pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// None: only windows inside the image.
    Valid,
    /// Output size ⌈input / stride⌉, padding split as TensorFlow does (the
    /// odd pixel after). Needs the kernel's size, and with strides > 1 the
    /// input's spatial sizes, when the graph is built.
    Same,
    /// (before, after) for rows and for columns.
    Explicit([[usize; 2]; 2]),
}

impl Padding {
    /// The same padding on all four sides.
    pub fn all(p: usize) -> Padding {
        Padding::Explicit([[p, p], [p, p]])
    }

    /// Explicit widths for an input of spatial sizes `len` (None: unknown)
    /// and an effective window of `span` pixels (dilation included).
    fn resolve(
        self,
        what: &str,
        len: [Option<usize>; 2],
        span: [usize; 2],
        stride: [usize; 2],
    ) -> Result<[[usize; 2]; 2]> {
        if stride.contains(&0) || span.contains(&0) {
            return Err(Error::value(format!(
                "{what}: strides and windows must be >= 1, got stride {stride:?}"
            )));
        }
        Ok(match self {
            Padding::Valid => [[0, 0], [0, 0]],
            Padding::Explicit(p) => p,
            Padding::Same => {
                let mut p = [[0, 0]; 2];
                for a in 0..2 {
                    let total = if stride[a] == 1 {
                        span[a] - 1
                    } else {
                        let n = len[a].ok_or_else(|| {
                            Error::shape(format!(
                                "{what}: 'same' padding with stride {} needs the input's spatial size {a} known when the graph is built",
                                stride[a]
                            ))
                        })?;
                        let out = n.div_ceil(stride[a]);
                        (out.saturating_sub(1) * stride[a] + span[a]).saturating_sub(n)
                    };
                    p[a] = [total / 2, total - total / 2];
                }
                p
            }
        })
    }
}

/// Options of `conv2d`: stride, padding, dilation and groups.
#[derive(Clone, Copy, Debug)]
pub struct Conv2d {
    pub stride: [usize; 2],
    pub padding: Padding,
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Default for Conv2d {
    fn default() -> Self {
        Conv2d {
            stride: [1, 1],
            padding: Padding::Valid,
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2d {
    /// Stride 1, no padding, no dilation, one group.
    pub fn new() -> Conv2d {
        Conv2d::default()
    }
    pub fn stride(mut self, s: usize) -> Conv2d {
        self.stride = [s, s];
        self
    }
    pub fn padding(mut self, p: Padding) -> Conv2d {
        self.padding = p;
        self
    }
    pub fn dilation(mut self, d: usize) -> Conv2d {
        self.dilation = [d, d];
        self
    }
    pub fn groups(mut self, g: usize) -> Conv2d {
        self.groups = g;
        self
    }
}

/// Options of the poolings: window, stride (default: the window) and padding.
#[derive(Clone, Copy, Debug)]
pub struct Pool2d {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: Padding,
}

impl Pool2d {
    /// A k x k window moved by k (non-overlapping), no padding.
    pub fn new(k: usize) -> Pool2d {
        Pool2d {
            kernel: [k, k],
            stride: [k, k],
            padding: Padding::Valid,
        }
    }
    pub fn stride(mut self, s: usize) -> Pool2d {
        self.stride = [s, s];
        self
    }
    pub fn padding(mut self, p: Padding) -> Pool2d {
        self.padding = p;
        self
    }
}

impl Var {
    /// 2-d convolution (cross-correlation) of `self` (N, C, H, W) by
    /// kernels `w` (O, C/groups, kh, kw): (N, O, OH, OW). Either operand
    /// may carry one more leading axis B (B convolutions side by side, as
    /// `vectorize` makes them: the groups of a hierarchical network, the
    /// draws of a predictive). Integer operands and mixed float widths are
    /// converted to the common float type.
    pub fn conv2d(&self, w: &Var, opts: Conv2d) -> Result<Var> {
        let (rx, rw) = (self.rank(), w.rank());
        if !matches!(rx, 4 | 5) || !matches!(rw, 4 | 5) {
            return Err(Error::shape(format!(
                "conv2d: needs an input (N, C, H, W) and a kernel (O, C/groups, kh, kw), got {} and {}",
                self.ty(),
                w.ty()
            )));
        }
        let k = [w.static_shape()[rw - 2], w.static_shape()[rw - 1]];
        let span = |a: usize| -> Result<usize> {
            let k = k[a].ok_or_else(|| {
                Error::shape(
                    "conv2d: the kernel's spatial size must be known when the graph is built",
                )
            })?;
            Ok(opts.dilation[a]
                .saturating_mul(k.saturating_sub(1))
                .saturating_add(1))
        };
        let len = [self.static_shape()[rx - 2], self.static_shape()[rx - 1]];
        let pad = match opts.padding {
            Padding::Same => {
                opts.padding
                    .resolve("conv2d", len, [span(0)?, span(1)?], opts.stride)?
            }
            p => p.resolve("conv2d", len, [1, 1], opts.stride)?,
        };
        let spec = ConvSpec {
            stride: opts.stride,
            pad,
            dilation: opts.dilation,
            groups: opts.groups,
        };
        let dt = crate::types::promote_all(&[self.dtype(), w.dtype()]).to_float();
        Var::apply(
            Op::Conv2d {
                role: ConvRole::Forward,
                spec,
            },
            &[&self.cast(dt), &w.cast(dt)],
        )
    }

    /// Max pooling over the last two axes.
    pub fn max_pool2d(&self, opts: Pool2d) -> Result<Var> {
        self.pool2d(PoolKind::Max, opts)
    }

    /// Average pooling over the last two axes (padded pixels are not counted).
    pub fn avg_pool2d(&self, opts: Pool2d) -> Result<Var> {
        self.pool2d(PoolKind::Avg, opts)
    }

    fn pool2d(&self, kind: PoolKind, opts: Pool2d) -> Result<Var> {
        let r = self.rank();
        if r < 2 {
            return Err(Error::shape(format!(
                "{}_pool2d: needs at least two (spatial) axes, got {}",
                kind.name(),
                self.ty()
            )));
        }
        let len = [self.static_shape()[r - 2], self.static_shape()[r - 1]];
        let pad = opts.padding.resolve(
            &format!("{}_pool2d", kind.name()),
            len,
            opts.kernel,
            opts.stride,
        )?;
        let spec = PoolSpec {
            kernel: opts.kernel,
            stride: opts.stride,
            pad,
        };
        let x = if self.dtype().is_float() {
            self.clone()
        } else {
            self.cast(DType::F64)
        };
        Var::apply(Op::Pool2d { kind, spec }, &[&x])
    }

    /// `self` with `widths[a] = (before, after)` elements of `value` added
    /// around axis `a` (NumPy's `pad` with mode "constant"; axes left out
    /// are not padded). Needs the padded axes' sizes when the graph is built.
    pub fn pad(&self, widths: &[(usize, usize)], value: f64) -> Result<Var> {
        if widths.len() > self.rank() {
            return Err(Error::shape(format!(
                "pad: {} widths for {} (rank {})",
                widths.len(),
                self.ty(),
                self.rank()
            )));
        }
        let mut shape = Vec::with_capacity(self.rank());
        let mut specs = Vec::with_capacity(widths.len());
        for (a, &d) in self.static_shape().iter().enumerate() {
            let (lo, hi) = widths.get(a).copied().unwrap_or((0, 0));
            let d = d.ok_or_else(|| {
                Error::shape(format!(
                    "pad: axis {a} of {} must have a size known when the graph is built",
                    self.ty()
                ))
            })?;
            let total = d
                .checked_add(lo)
                .and_then(|t| t.checked_add(hi))
                .filter(|&t| t <= i64::MAX as usize)
                .ok_or_else(|| Error::shape(format!("pad: axis {a} would overflow")))?;
            shape.push(total);
            if a < widths.len() {
                specs.push(SliceSpec::range(lo as i64, (lo + d) as i64));
            }
        }
        let dt = self.dtype();
        let inner: Vec<usize> = (0..self.rank())
            .map(|a| self.static_shape()[a].unwrap_or(0))
            .collect();
        let padded = Var::zeros(shape.clone(), dt)?.inc_slice(&specs, self)?;
        if value == 0.0 {
            return Ok(padded);
        }
        // Select, not add: x + value - value would lose x for an infinite
        // or NaN value (a max-pool's -inf padding).
        let inside = Var::zeros(shape.clone(), DType::F64)?
            .inc_slice(&specs, &Var::ones(inner, DType::F64)?)?
            .gt(0.5)?;
        Var::where_(&inside, &padded, Var::scalar_const(value, dt))
    }
}
