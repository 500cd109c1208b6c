//! The convolution and pooling op families: what each op computes, its
//! static parameters, and the kernel geometry for concrete shapes (shared by
//! the interpreter and the JIT's prepared steps).

use std::fmt;
use theon_runtime::kernels::conv::Conv2dGeom;
use theon_runtime::kernels::pool::Pool2dGeom;

op_family! {
    /// The three convolution ops: the product and its two adjoints. Each
    /// takes the same operands in the same positions, so one spec and one
    /// shape rule serve all three.
    pub enum ConvRole {
        /// Inputs x (N, C, H, W), w (O, C/groups, kh, kw): y (N, O, OH, OW).
        Forward => "conv2d",
        /// Inputs x (only its shape is read), w, gy (y's shape): the
        /// gradient of x, the transposed convolution of gy by w.
        GradInput => "conv2d_grad_input",
        /// Inputs x, w (only its shape is read), gy: the gradient of w.
        GradKernel => "conv2d_grad_kernel",
    }
}

op_family! {
    /// What a pooling window computes.
    pub enum PoolKind {
        Max => "max",
        Avg => "avg",
    }
}

/// Stride, padding (before, after) per spatial axis, dilation and groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvSpec {
    pub stride: [usize; 2],
    pub pad: [[usize; 2]; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl ConvSpec {
    /// The output size along axis `a` of an input of size `len` and a
    /// kernel of size `k`, or None when the dilated kernel does not fit.
    pub fn out_len(&self, a: usize, len: usize, k: usize) -> Option<usize> {
        let span = self.dilation[a]
            .checked_mul(k.checked_sub(1)?)?
            .checked_add(1)?;
        let padded = len
            .checked_add(self.pad[a][0])?
            .checked_add(self.pad[a][1])?;
        Some(padded.checked_sub(span)? / self.stride[a] + 1)
    }

    /// The kernel geometry and batching for x of shape `x` and w of shape
    /// `w` (rank 4, or 5 with a leading batch axis; checked by type
    /// inference).
    pub fn call(&self, x: &[usize], w: &[usize]) -> Option<ConvCall> {
        let batch = match (x.len(), w.len()) {
            (5, _) => x[0],
            (_, 5) => w[0],
            _ => 1,
        };
        let geom = self.geom(&x[x.len() - 4..], &w[w.len() - 4..])?;
        let [lx, lw, ly] = geom.lens();
        let step = |batched: bool, len: usize| if batched { len } else { 0 };
        Some(ConvCall {
            geom,
            batch,
            step: [
                step(x.len() == 5, lx),
                step(w.len() == 5, lw),
                step(batch > 1 || x.len() == 5 || w.len() == 5, ly),
            ],
        })
    }

    fn geom(&self, x: &[usize], w: &[usize]) -> Option<Conv2dGeom> {
        Some(Conv2dGeom {
            n: x[0],
            c: x[1],
            h: x[2],
            w: x[3],
            o: w[0],
            kh: w[2],
            kw: w[3],
            oh: self.out_len(0, x[2], w[2])?,
            ow: self.out_len(1, x[3], w[3])?,
            stride: self.stride,
            pad: [self.pad[0][0], self.pad[1][0]],
            dilation: self.dilation,
            groups: self.groups,
        })
    }
}

/// One convolution op at concrete shapes: `batch` convolutions of
/// `geom`, operand b of x, w and y (or their gradients) starting at
/// `b · step[i]` (0: the operand is shared by the whole batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvCall {
    pub geom: Conv2dGeom,
    pub batch: usize,
    pub step: [usize; 3],
}

/// Window, stride and padding (before, after) per spatial axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolSpec {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [[usize; 2]; 2],
}

impl PoolSpec {
    /// The output size along axis `a` for an input of size `len`.
    pub fn out_len(&self, a: usize, len: usize) -> Option<usize> {
        let padded = len
            .checked_add(self.pad[a][0])?
            .checked_add(self.pad[a][1])?;
        Some(padded.checked_sub(self.kernel[a])? / self.stride[a] + 1)
    }

    /// The geometry for x of shape `x` (rank >= 2: the last two axes pool).
    pub fn geom(&self, x: &[usize]) -> Option<Pool2dGeom> {
        let r = x.len();
        Some(Pool2dGeom {
            planes: x[..r - 2].iter().product(),
            h: x[r - 2],
            w: x[r - 1],
            kernel: self.kernel,
            stride: self.stride,
            pad: [self.pad[0][0], self.pad[1][0]],
            oh: self.out_len(0, x[r - 2])?,
            ow: self.out_len(1, x[r - 1])?,
        })
    }
}

/// `a×b`.
fn pair(v: [usize; 2]) -> String {
    format!("{}x{}", v[0], v[1])
}

/// Padding as printed: one number when all four sides agree.
fn fmt_pad(p: [[usize; 2]; 2]) -> String {
    if p.iter().flatten().all(|&v| v == p[0][0]) {
        p[0][0].to_string()
    } else {
        format!("({},{})x({},{})", p[0][0], p[0][1], p[1][0], p[1][1])
    }
}

impl fmt::Display for ConvSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stride={}, pad={}", pair(self.stride), fmt_pad(self.pad))?;
        if self.dilation != [1, 1] {
            write!(f, ", dilation={}", pair(self.dilation))?;
        }
        if self.groups != 1 {
            write!(f, ", groups={}", self.groups)?;
        }
        Ok(())
    }
}

impl fmt::Display for PoolSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kernel={}, stride={}, pad={}",
            pair(self.kernel),
            pair(self.stride),
            fmt_pad(self.pad)
        )
    }
}
