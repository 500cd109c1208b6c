//! Random streams: seeded generators whose state is a shared variable.

use super::{IntoShape, Var};
use crate::op::{Op, RandomDist};
use crate::shared::SharedVar;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use theon_runtime::{DType, Error, Result};

/// A seeded source of random expressions (PyTensor's RandomStream).
///
/// Every draw made from it reads the same state (int64 `[seed, counter]`);
/// a compiled function advances the counter once per call, so each call
/// draws fresh values and a seed reproduces the whole sequence.
///
/// Draw ids count per stream, so the same seed and the same sequence of
/// draws reproduce the same values, however many other streams exist.
#[derive(Clone, Debug)]
pub struct RandomStream {
    state: SharedVar,
    next_draw: Arc<AtomicU64>,
}

impl RandomStream {
    pub fn new(seed: u64) -> RandomStream {
        RandomStream::named("rng", seed)
    }
    pub fn named(name: &str, seed: u64) -> RandomStream {
        RandomStream {
            state: SharedVar::random_state(name, seed),
            next_draw: Arc::new(AtomicU64::new(0)),
        }
    }
    /// The shared variable holding the state.
    pub fn state(&self) -> &SharedVar {
        &self.state
    }
    /// Restart from a seed.
    pub fn seed(&self, seed: u64) {
        self.state
            .seed(seed)
            .expect("a random stream's state is a random state");
    }

    fn draw(
        &self,
        dist: RandomDist,
        dtype: DType,
        shape: impl IntoShape,
        params: &[&Var],
    ) -> Result<Var> {
        let shape = shape.into_shape()?;
        let draw = self.next_draw.fetch_add(1, Ordering::Relaxed);
        let state = Var::shared(&self.state);
        let mut inputs = vec![&state, &shape];
        inputs.extend_from_slice(params);
        Var::apply(Op::Random { dist, dtype, draw }, &inputs)
    }

    /// Standard normal draws.
    pub fn normal(&self, shape: impl IntoShape, dtype: DType) -> Result<Var> {
        self.draw(RandomDist::Normal, dtype, shape, &[])
    }

    /// Uniform draws on [0, 1).
    pub fn uniform(&self, shape: impl IntoShape, dtype: DType) -> Result<Var> {
        self.draw(RandomDist::Uniform, dtype, shape, &[])
    }

    /// Uniform draws on [low, high).
    pub fn uniform_range(
        &self,
        low: f64,
        high: f64,
        shape: impl IntoShape,
        dtype: DType,
    ) -> Result<Var> {
        if !(low < high) || !low.is_finite() || !high.is_finite() {
            return Err(Error::value(format!(
                "uniform: need finite low < high, got {low}, {high}"
            )));
        }
        let u = self.uniform(shape, dtype)?;
        (u * (high - low))?.add(low)
    }

    /// Uniform integers in [low, high).
    pub fn integers(&self, low: i64, high: i64, shape: impl IntoShape) -> Result<Var> {
        self.draw(RandomDist::Integers { low, high }, DType::I64, shape, &[])
    }

    /// Poisson draws with rates broadcast to `shape`.
    pub fn poisson(&self, rate: &Var, shape: impl IntoShape, dtype: DType) -> Result<Var> {
        self.draw(RandomDist::Poisson, dtype, shape, &[rate])
    }

    /// Gamma(alpha, scale 1) draws with `alpha` broadcast to `shape`.
    pub fn gamma(&self, alpha: &Var, shape: impl IntoShape, dtype: DType) -> Result<Var> {
        self.draw(RandomDist::Gamma, dtype, shape, &[alpha])
    }

    /// Binomial(n, p) draws with `n`, `p` broadcast to `shape`.
    pub fn binomial(&self, n: &Var, p: &Var, shape: impl IntoShape, dtype: DType) -> Result<Var> {
        self.draw(RandomDist::Binomial, dtype, shape, &[n, p])
    }
}
