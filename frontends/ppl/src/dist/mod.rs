//! Distributions: exact log-densities (normalizing constants included),
//! supports, default transforms, and draws for predictive sampling.
//!
//! A distribution holds its parameters as expressions, so they may depend
//! on other random variables (hierarchical models). Parameters that are
//! constants are checked when the distribution is made.

mod checks;
mod continuous;
mod discrete;
mod mv_normal;

pub use continuous::Continuous;
pub use discrete::Discrete;
pub use mv_normal::cholesky;

use crate::transform::Transform;
use theon_tensor::{DType, Error, Result, Tensor, Var, constant, function, where_};

/// A probability given directly or through its logit.
#[derive(Clone, Debug)]
pub enum Prob {
    P(Var),
    Logit(Var),
}

impl Prob {
    /// A probability expression; `sigmoid(z)` is taken as the logit `z`
    /// (the same density, computed from z directly and always valid, so
    /// it needs no [0, 1] check), also under shape-only ops
    /// (`sigmoid(z).squeeze(..)` is `z.squeeze(..)`'s logit).
    pub fn from_p(p: Var) -> Prob {
        match logit_of(&p) {
            Some(z) => Prob::Logit(z),
            None => Prob::P(p),
        }
    }
}

/// `z` when `p` is `sigmoid(z)` behind any number of dimshuffles and
/// reshapes (rebuilt on `z`).
fn logit_of(p: &Var) -> Option<Var> {
    use theon_compiler::{Op, UnaryOp};
    match p.op() {
        Op::Unary(UnaryOp::Sigmoid) => Some(p.inputs()[0].clone()),
        Op::DimShuffle(_) | Op::Reshape => {
            let mut inputs = p.inputs().to_vec();
            inputs[0] = logit_of(&inputs[0])?;
            let refs: Vec<&Var> = inputs.iter().collect();
            Var::apply(p.op().clone(), &refs).ok()
        }
        _ => None,
    }
}

/// A distribution: one of two families, each declared (with its checks,
/// densities and draws) in its own file.
#[derive(Clone, Debug)]
pub enum Dist {
    Continuous(Continuous),
    Discrete(Discrete),
}

impl From<Continuous> for Dist {
    fn from(d: Continuous) -> Dist {
        Dist::Continuous(d)
    }
}
impl From<Discrete> for Dist {
    fn from(d: Discrete) -> Dist {
        Dist::Discrete(d)
    }
}

/// Where a distribution puts its mass.
#[derive(Clone, Debug, PartialEq)]
pub enum Support {
    Real,
    Positive,
    UnitInterval,
    /// Between two constants.
    Interval(f64, f64),
    /// Between two expressions (a hierarchical uniform).
    SymbolicInterval,
    /// Vectors of non-negative entries summing to 1 (the last axis).
    Simplex,
    Discrete,
}

/// A parameter: a number (in the model's float dtype) or an expression.
pub trait IntoParam {
    fn into_param(self, dtype: DType) -> Var;
}
impl IntoParam for f64 {
    fn into_param(self, dtype: DType) -> Var {
        Var::scalar_const(self, dtype)
    }
}
impl IntoParam for i32 {
    fn into_param(self, dtype: DType) -> Var {
        Var::scalar_const(self as f64, dtype)
    }
}
impl IntoParam for &Var {
    fn into_param(self, dtype: DType) -> Var {
        self.cast(dtype)
    }
}
impl IntoParam for Var {
    fn into_param(self, dtype: DType) -> Var {
        self.cast(dtype)
    }
}
/// A tensor of parameters (a constant, in the model's dtype).
impl IntoParam for Tensor {
    fn into_param(self, dtype: DType) -> Var {
        constant(self.cast(dtype))
    }
}
impl IntoParam for &Tensor {
    fn into_param(self, dtype: DType) -> Var {
        constant(self.cast(dtype))
    }
}
/// A vector of parameters (a constant, in the model's dtype).
impl IntoParam for Vec<f64> {
    fn into_param(self, dtype: DType) -> Var {
        constant(Tensor::vector(self).cast(dtype))
    }
}
/// An ndarray of parameters, any dimension (a constant, in the model's dtype).
impl<S, D> IntoParam for &ndarray::ArrayBase<S, D>
where
    S: ndarray::Data<Elem = f64>,
    D: ndarray::Dimension,
{
    fn into_param(self, dtype: DType) -> Var {
        constant(Tensor::from_ndarray(&self.view().into_dyn().to_owned()).cast(dtype))
    }
}
impl IntoParam for &crate::Rv {
    fn into_param(self, dtype: DType) -> Var {
        self.var().cast(dtype)
    }
}

/// -inf where `ok` is false, else `logp` (a support or parameter check).
pub(crate) fn bound(logp: Var, ok: Var) -> Result<Var> {
    where_(&ok, &logp, f64::NEG_INFINITY)
}

/// Check a constant parameter; expressions are checked at run time by the
/// density (which is -inf or NaN outside the parameter space).
pub(crate) fn check_const(
    dist: &str,
    what: &str,
    v: &Var,
    ok: impl Fn(f64) -> bool,
    rule: &str,
) -> Result<()> {
    if let Some(t) = v.as_constant()
        && let Some(bad) = t.to_f64_vec().into_iter().find(|x| !ok(*x))
    {
        return Err(Error::value(format!(
            "{dist}: {what} = {bad} is invalid ({rule})"
        )));
    }
    Ok(())
}

impl Dist {
    pub fn name(&self) -> &'static str {
        match self {
            Dist::Continuous(d) => d.name(),
            Dist::Discrete(d) => d.name(),
        }
    }

    /// The parameters' expressions with their names (`logit_p` for a
    /// probability given by its logit).
    pub fn named_params(&self) -> Vec<(&'static str, &Var)> {
        match self {
            Dist::Continuous(d) => d.named_params(),
            Dist::Discrete(d) => d.named_params(),
        }
    }

    /// The parameters' expressions.
    pub fn params(&self) -> Vec<&Var> {
        self.named_params().into_iter().map(|(_, v)| v).collect()
    }

    /// Check constant parameters (sigma > 0, p in [0, 1], ...).
    pub fn validate(&self) -> Result<()> {
        match self {
            Dist::Continuous(d) => d.validate(),
            Dist::Discrete(d) => d.validate(),
        }
    }

    pub fn support(&self) -> Support {
        match self {
            Dist::Continuous(d) => d.support(),
            Dist::Discrete(_) => Support::Discrete,
        }
    }

    /// Number of trailing axes of the value one density covers (1 for
    /// Dirichlet and MvNormal, whose values are vectors).
    pub fn event_rank(&self) -> usize {
        match self {
            Dist::Continuous(d) => d.event_rank(),
            Dist::Discrete(_) => 0,
        }
    }

    /// The transform ADVI uses for a free variable of this distribution.
    pub fn default_transform(&self) -> Option<Transform> {
        if let Dist::Continuous(Continuous::Uniform { lower, upper }) = self {
            return Some(Transform::Interval {
                lower: lower.clone(),
                upper: upper.clone(),
            });
        }
        match self.support() {
            Support::Real | Support::Discrete => None,
            Support::Positive => Some(Transform::Log),
            Support::UnitInterval => Some(Transform::LogOdds),
            Support::Simplex => Some(Transform::Simplex),
            // Only Uniform has interval supports.
            Support::Interval(..) | Support::SymbolicInterval => None,
        }
    }

    /// Shape of a value implied by the parameters (event axis included;
    /// Categorical's category axis excluded: its values are scalars).
    pub fn param_shape(&self) -> Result<theon_runtime::Dims<Option<usize>>> {
        let shapes: Vec<&[Option<usize>]> = self
            .named_params()
            .into_iter()
            .map(|(name, p)| {
                let s = p.static_shape();
                &s[..s.len().saturating_sub(self.extra_axes(name))]
            })
            .collect();
        theon_compiler::types::broadcast_shapes(self.name(), &shapes)
    }

    /// Zeros of the value's shape the parameters imply, as an expression
    /// (sizes of resizable data are known only at run time).
    pub fn value_zeros(&self) -> Result<Var> {
        let mut zeros = vec![];
        for (name, p) in self.named_params() {
            let z = p.zeros_like();
            zeros.push(match self.extra_axes(name) {
                0 => z,
                _ => z.sum_axes(&[-1], false)?,
            });
        }
        let mut it = zeros.into_iter();
        let first = it
            .next()
            .ok_or_else(|| Error::model("a distribution without parameters"))?;
        it.try_fold(first, |a, b| a + b)
    }

    /// Trailing axes a parameter has beyond the value's shape: Categorical's
    /// category axis (one value per probability vector) and the column
    /// axis of MvNormal's factor (its rows match the value's last axis).
    fn extra_axes(&self, param: &str) -> usize {
        match (self, param) {
            (Dist::Discrete(Discrete::Categorical { .. }), _)
            | (Dist::Continuous(Continuous::MvNormal { .. }), "chol") => 1,
            _ => 0,
        }
    }

    /// A sensible starting value in the support (PyMC's initial point):
    /// the mode or mean where it is a constant, else a point inside.
    pub fn default_init(&self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        match self {
            Dist::Continuous(d) => d.default_init(shape, dtype),
            Dist::Discrete(_) => Tensor::try_zeros(dtype, shape),
        }
    }

    /// Log-density (or mass) of `x`, -inf outside the support: one per
    /// element, or per vector along the last axis for event rank 1.
    pub fn logp(&self, x: &Var) -> Result<Var> {
        match self {
            Dist::Continuous(d) => d.logp(x),
            Dist::Discrete(d) => d.logp(x),
        }
    }

    /// Random draws of `shape` (an int64 vector; the parameters broadcast to it).
    pub fn sample(
        &self,
        rng: &theon_tensor::RandomStream,
        shape: &Var,
        dtype: DType,
    ) -> Result<Var> {
        match self {
            Dist::Continuous(d) => d.sample(rng, shape, dtype),
            Dist::Discrete(d) => d.sample(rng, shape, dtype),
        }
    }
}

/// The element pairs of two constants broadcast against each other.
pub(crate) fn broadcast_pairs(a: &Tensor, b: &Tensor) -> Result<Vec<(f64, f64)>> {
    let (x, y) = (constant(a.clone()), constant(b.clone()));
    let pair = function(
        theon_tensor::NO_INPUTS,
        &[&(&x + &y.zeros_like())?, &(&y + &x.zeros_like())?],
    )?
    .call::<Tensor>(&[])?;
    Ok(pair[0].iter_f64().zip(pair[1].iter_f64()).collect())
}

/// An error for an expression that cannot be a parameter.
pub(crate) fn not_float(dist: &str, what: &str, v: &Var) -> Error {
    Error::dtype(format!("{dist}: {what} must be a float, got {}", v.ty()))
}
