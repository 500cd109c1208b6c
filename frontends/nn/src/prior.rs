//! Priors of a layer's weights: a fixed Normal, a learned scale (per
//! layer or per unit, centred or non-centred), a hierarchical prior that
//! ties groups of networks to shared weights, or the user's own.

use std::fmt;
use std::sync::Arc;
use theon_ppl::Model;
use theon_tensor::{Error, Result, Tensor, Var};

/// The distribution of a learned scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scale {
    HalfNormal(f64),
    HalfCauchy(f64),
}

/// A user-supplied prior: gets the model, the weight's name and its shape
/// (with the group axis first when the network has groups) and returns the
/// weights.
pub type CustomPrior = Arc<dyn Fn(&Model, &str, &[usize]) -> Result<Var> + Send + Sync>;

/// The prior of a layer's weights (biases have their own, a fixed
/// Normal; see `Sequential::bias_prior`).
#[derive(Clone)]
pub enum Prior {
    /// Every weight ~ Normal(0, sd).
    Normal(f64),
    /// Weights ~ Normal(0, s) with s ~ `scale`, one s per layer or per
    /// output unit; non-centred (w = s * raw, raw ~ Normal(0, 1)) unless
    /// `centered`.
    Learned {
        scale: Scale,
        per_unit: bool,
        centered: bool,
    },
    /// For networks with groups: each group's weights ~ Normal(w_mean, s),
    /// the mean shared by all groups (w_mean ~ Normal(0, mean_sd)) and one
    /// group scale s ~ `scale` per layer, non-centred (the hierarchical
    /// neural network).
    Hierarchical { mean_sd: f64, scale: Scale },
    /// The user's own.
    Custom(CustomPrior),
}

impl fmt::Debug for Prior {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prior::Normal(s) => write!(f, "Normal(0, {s})"),
            Prior::Learned {
                scale,
                per_unit,
                centered,
            } => write!(
                f,
                "Learned {{ scale: {scale:?}, per_unit: {per_unit}, centered: {centered} }}"
            ),
            Prior::Hierarchical { mean_sd, scale } => {
                write!(f, "Hierarchical {{ mean_sd: {mean_sd}, scale: {scale:?} }}")
            }
            Prior::Custom(_) => write!(f, "Custom"),
        }
    }
}

impl Prior {
    /// Normal(0, sd) weights.
    pub fn normal(sd: f64) -> Prior {
        Prior::Normal(sd)
    }
    /// One learned scale per layer, non-centred.
    pub fn learned(scale: Scale) -> Prior {
        Prior::Learned {
            scale,
            per_unit: false,
            centered: false,
        }
    }
    /// Groups tied to shared weights, shared weights ~ Normal(0, 1).
    pub fn hierarchical(scale: Scale) -> Prior {
        Prior::Hierarchical {
            mean_sd: 1.0,
            scale,
        }
    }
    /// A prior built by `f(model, name, shape)`.
    pub fn custom(
        f: impl Fn(&Model, &str, &[usize]) -> Result<Var> + Send + Sync + 'static,
    ) -> Prior {
        Prior::Custom(Arc::new(f))
    }
    /// A learned prior with one scale per output unit.
    pub fn per_unit(self) -> Prior {
        match self {
            Prior::Learned {
                scale, centered, ..
            } => Prior::Learned {
                scale,
                per_unit: true,
                centered,
            },
            other => other,
        }
    }
    /// A learned prior in the centred form (w ~ Normal(0, s) directly).
    pub fn centered(self) -> Prior {
        match self {
            Prior::Learned {
                scale, per_unit, ..
            } => Prior::Learned {
                scale,
                per_unit,
                centered: true,
            },
            other => other,
        }
    }

    /// Whether the prior ties groups together (only a network with groups
    /// can use it).
    pub(crate) fn needs_groups(&self) -> bool {
        matches!(self, Prior::Hierarchical { .. })
    }

    pub(crate) fn check(&self, layer: &str) -> Result<()> {
        let positive = |what: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(Error::value(format!(
                    "{layer}: the prior's {what} must be positive and finite, got {v}"
                )))
            }
        };
        match self {
            Prior::Normal(s) => positive("sd", *s),
            Prior::Learned { scale, .. } => scale.check(layer),
            Prior::Hierarchical { mean_sd, scale } => {
                positive("mean_sd", *mean_sd)?;
                scale.check(layer)
            }
            Prior::Custom(_) => Ok(()),
        }
    }
}

impl Scale {
    fn check(&self, layer: &str) -> Result<()> {
        let (Scale::HalfNormal(s) | Scale::HalfCauchy(s)) = *self;
        if s > 0.0 && s.is_finite() {
            Ok(())
        } else {
            Err(Error::value(format!(
                "{layer}: the scale prior's parameter must be positive and finite, got {s}"
            )))
        }
    }

    /// A scale variable `name` of `shape`, starting at 1.
    fn rv(self, model: &Model, name: &str, shape: &[usize]) -> Result<Var> {
        let rv = match self {
            Scale::HalfNormal(s) => model.half_normal(name, s, shape)?,
            Scale::HalfCauchy(s) => model.half_cauchy(name, s, shape)?,
        };
        let dt = model.dtype();
        Ok(rv.init(Tensor::ones(dt, shape)).var().clone())
    }
}

/// The weights `name` of `shape` (with the group axis first when
/// `grouped`) under `prior`, starting at `init` (of `shape`; under a
/// learned scale starting at 1, the raw weights start there; the
/// hierarchical prior's shared weights start at 0). A per-unit scale has
/// `unit_shape` (the units' axis kept, the others 1). The network has
/// checked `needs_groups` already.
pub(crate) fn weights(
    model: &Model,
    prior: &Prior,
    name: &str,
    (shape, grouped): (&[usize], bool),
    unit_shape: &[usize],
    init: Tensor,
) -> Result<Var> {
    let dt = model.dtype();
    match prior {
        Prior::Normal(sd) => Ok(model
            .normal(name, 0.0, *sd, shape)?
            .init(init)
            .var()
            .clone()),
        Prior::Learned {
            scale,
            per_unit,
            centered,
        } => {
            let s_shape: Vec<usize> = if *per_unit {
                unit_shape.to_vec()
            } else {
                vec![]
            };
            let s = scale.rv(model, &format!("{name}_scale"), s_shape.as_slice())?;
            if *centered {
                Ok(model.normal(name, 0.0, &s, shape)?.init(init).var().clone())
            } else {
                let raw = model
                    .normal(&format!("{name}_raw"), 0.0, 1.0, shape)?
                    .init(init);
                Ok((raw.var() * &s)?.named(name))
            }
        }
        Prior::Hierarchical { mean_sd, scale } => {
            // Start where separate networks start: shared weights 0, each
            // group's own draw (measured: better ADVI fits than starting
            // every group at the shared weights, see docs/nn.md).
            let mean = model
                .normal(
                    &format!("{name}_mean"),
                    0.0,
                    *mean_sd,
                    &shape[grouped as usize..],
                )?
                .init(Tensor::zeros(dt, &shape[grouped as usize..]));
            let s = scale.rv(model, &format!("{name}_group_sd"), &[])?;
            let raw = model
                .normal(&format!("{name}_raw"), 0.0, 1.0, shape)?
                .init(init);
            Ok((mean.var() + (raw.var() * &s)?)?.named(name))
        }
        Prior::Custom(f) => {
            let w = f(model, name, shape)?;
            let want: Vec<Option<usize>> = shape.iter().map(|&d| Some(d)).collect();
            if w.static_shape().to_vec() != want {
                return Err(Error::shape(format!(
                    "{name}: the custom prior returned {}, the layer needs shape {shape:?}",
                    w.ty()
                )));
            }
            Ok(w)
        }
    }
}
