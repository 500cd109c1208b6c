//! Reductions: sum, mean, prod, max, min, logsumexp, argmax, var, std,
//! and the softmax family built on logsumexp.

use super::Var;
use crate::op::{Op, ReduceOp};
use theon_runtime::Dims;
use theon_runtime::{Error, Result};

/// Normalize possibly negative axes for a rank; sorted, unique.
pub(crate) fn normalize_axes(what: &str, axes: &[i64], rank: usize) -> Result<Dims<usize>> {
    let mut out = Dims::with_capacity(axes.len());
    for &a in axes {
        let n = rank as i64;
        if a < -n || a >= n {
            return Err(Error::index(format!(
                "{what}: axis {a} is out of range for rank {rank}"
            )));
        }
        let a = if a < 0 { a + n } else { a } as usize;
        if out.contains(&a) {
            return Err(Error::index(format!(
                "{what}: axis {a} is repeated in {axes:?}"
            )));
        }
        out.push(a);
    }
    out.sort_unstable();
    Ok(out)
}

macro_rules! reductions {
    ($($(#[$doc:meta])* $all:ident, $axes:ident => $op:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $all(&self) -> Result<Var> {
            self.reduce(ReduceOp::$op, &(0..self.rank() as i64).collect::<Vec<_>>(), false)
        }
        $(#[$doc])*
        /// Over the given axes (negative count from the end).
        pub fn $axes(&self, axes: &[i64], keepdims: bool) -> Result<Var> {
            self.reduce(ReduceOp::$op, axes, keepdims)
        }
    )*};
}

impl Var {
    /// Reduce over `axes` (negative count from the end).
    pub fn reduce(&self, op: ReduceOp, axes: &[i64], keepdims: bool) -> Result<Var> {
        let axes = normalize_axes(op.name(), axes, self.rank())?;
        Var::apply(Op::Reduce { op, axes, keepdims }, &[self])
    }

    reductions! {
        /// Sum of all elements.
        sum, sum_axes => Sum,
        /// Mean of all elements.
        mean, mean_axes => Mean,
        /// Product of all elements.
        prod, prod_axes => Prod,
        /// Maximum of all elements (NaN propagates).
        max, max_axes => Max,
        /// Minimum of all elements (NaN propagates).
        min, min_axes => Min,
        /// log(sum(exp(x))), computed stably.
        logsumexp, logsumexp_axes => LogSumExp,
    }

    /// Index of the first maximum along `axis` (None: of the flattened tensor).
    pub fn argmax(&self, axis: Option<i64>, keepdims: bool) -> Result<Var> {
        let axis = match axis {
            Some(a) => Some(normalize_axes("argmax", &[a], self.rank())?[0]),
            None => None,
        };
        Var::apply(Op::Argmax { axis, keepdims }, &[self])
    }

    /// Variance over `axes` with `ddof` delta degrees of freedom (NumPy's var).
    pub fn var_axes(&self, axes: &[i64], keepdims: bool, ddof: usize) -> Result<Var> {
        let ax = normalize_axes("var", axes, self.rank())?;
        let mean = self.mean_axes(axes, true)?;
        let sq = (self - &mean)?.square();
        let ss = sq.sum_axes(axes, keepdims)?;
        // n - ddof as a symbolic count (dims may be unknown).
        let shape = self.shape();
        let mut n: Option<Var> = None;
        for a in ax {
            let d = shape.take(&Var::constant(theon_runtime::Tensor::scalar(a as i64)), 0)?;
            n = Some(match n {
                None => d,
                Some(p) => (p * d)?,
            });
        }
        let n = match n {
            Some(n) => n,
            None => return ss.mul(0.0),
        };
        // NumPy: max(n - ddof, 0), so too large a ddof gives inf, not a negative variance.
        let denom = n.sub(ddof as i64)?.maximum(0i64)?.cast(ss.dtype());
        ss / denom
    }

    /// Softmax along `axis`: e / sum(e) with e = exp(x - max(x)), exact
    /// for any finite x (exp(x - logsumexp(x)) is not: at |x| ~ 1e308
    /// logsumexp absorbs the log of the sum).
    pub fn softmax(&self, axis: i64) -> Result<Var> {
        let e = self.shifted_by_max(axis)?.exp();
        &e / &e.sum_axes(&[axis], true)?
    }

    /// Log-softmax along `axis`: d - log(sum(exp(d))) with d = x - max(x).
    pub fn log_softmax(&self, axis: i64) -> Result<Var> {
        let d = self.shifted_by_max(axis)?;
        &d - &d.exp().sum_axes(&[axis], true)?.log()
    }

    /// x - max(x) along `axis` (the max taken as 0 where it is infinite:
    /// -inf - -inf would be NaN; a slice of only -inf still gives NaN
    /// softmax, 0/0, as in NumPy and SciPy). The shift cancels in softmax,
    /// so no gradient flows through it.
    fn shifted_by_max(&self, axis: i64) -> Result<Var> {
        let m = self.max_axes(&[axis], true)?;
        let m = Var::where_(&m.abs().lt(f64::INFINITY)?, &m, 0.0)?.stop_gradient();
        self - &m
    }

    /// Standard deviation over `axes` (NumPy's std).
    pub fn std_axes(&self, axes: &[i64], keepdims: bool, ddof: usize) -> Result<Var> {
        Ok(self.var_axes(axes, keepdims, ddof)?.sqrt())
    }
}
