//! Minibatches: random rows of full data sets, one random index vector per
//! call shared by all of them (PyMC's `pm.Minibatch`).

use theon_tensor::{Error, RandomStream, Result, Tensor, Var, shared};

/// Minibatches of `batch_size` rows of each tensor (same row count),
/// drawn with replacement, the same rows for every tensor in one call,
/// fresh rows on every call. The full data live in shared variables; an
/// expression built on a minibatch can be given the full data (or test
/// data) later with `replace`/`clone_replace`.
pub fn minibatch(data: &[&Tensor], batch_size: usize, seed: u64) -> Result<Vec<Var>> {
    let first = data
        .first()
        .ok_or_else(|| Error::value("minibatch: needs at least one tensor"))?;
    let n = *first
        .shape()
        .first()
        .ok_or_else(|| Error::shape("minibatch: tensors need at least one axis (rows)"))?;
    if let Some(t) = data.iter().find(|t| t.shape().first() != Some(&n)) {
        return Err(Error::shape(format!(
            "minibatch: every tensor needs {n} rows like the first, got shape {:?}",
            t.shape()
        )));
    }
    if batch_size == 0 || n == 0 {
        return Err(Error::value(format!(
            "minibatch: batch size {batch_size} from {n} rows: both must be positive"
        )));
    }
    let rng = RandomStream::named("minibatch", seed);
    let idx = rng.integers(0, n as i64, [batch_size as i64])?;
    data.iter()
        .enumerate()
        .map(|(k, t)| shared(&format!("minibatch_data_{k}"), (*t).clone()).take(&idx, 0))
        .collect()
}
