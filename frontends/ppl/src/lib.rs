//! theon-ppl: probabilistic models over theon expressions — `Model`,
//! distributions, transforms, minibatches, ADVI (mean-field and full-rank),
//! `Approximation::sample_node`, traces and posterior predictive sampling.

pub mod advi;
pub mod diagnostics;
pub mod dist;
pub mod map;
pub mod minibatch;
pub mod model;
mod model_print;
pub mod nuts;
pub mod ppc;
mod rv_ops;
pub mod trace;
pub mod transform;

pub use advi::{
    Advi, Approximation, Callback, CheckParametersConvergence, Control, Diff, Family, FitInfo,
    FullRankAdvi, Group, Inference, Optimizer, Size,
};
pub use dist::{Continuous, Discrete, Dist, IntoParam, Prob, Support};
pub use map::MapEstimate;
pub use minibatch::minibatch;
pub use model::{Model, Observed, Rv, Shape};
pub use nuts::Nuts;
pub use ppc::{sample_posterior_predictive, sample_prior_predictive};
pub use trace::{Mcmc, McmcRun, Summary, SummaryRow, Trace};
pub use transform::Transform;
