//! Traces: named posterior draws, `[draws, ...shape]` per variable.

use std::path::Path;
use theon_tensor::{Error, Result, Tensor};

#[derive(Clone, Debug)]
pub struct Trace {
    pub draws: usize,
    vars: Vec<(String, Tensor)>,
}

impl Trace {
    pub fn new(draws: usize, vars: Vec<(String, Tensor)>) -> Result<Trace> {
        if let Some((n, t)) = vars.iter().find(|(_, t)| t.shape().first() != Some(&draws)) {
            return Err(Error::shape(format!(
                "trace variable '{n}' has shape {:?}, expected {draws} draws first",
                t.shape()
            )));
        }
        Ok(Trace { draws, vars })
    }
    pub fn names(&self) -> Vec<&str> {
        self.vars.iter().map(|(n, _)| n.as_str()).collect()
    }
    pub fn vars(&self) -> &[(String, Tensor)] {
        &self.vars
    }
    /// All draws of a variable: `[draws, ...shape]`.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| {
                Error::model(format!(
                    "the trace has no variable '{name}' (it has: {})",
                    self.names().join(", ")
                ))
            })
    }
    /// Draw `k` of a variable.
    pub fn draw(&self, name: &str, k: usize) -> Result<Tensor> {
        let t = self.get(name)?;
        if k >= self.draws {
            return Err(Error::index(format!(
                "draw {k} of a trace with {} draws",
                self.draws
            )));
        }
        t.index_axis0(k)
    }
    /// Mean over draws.
    pub fn mean(&self, name: &str) -> Result<Tensor> {
        self.moment(name, |v| v.iter().sum::<f64>() / v.len() as f64)
    }
    /// Standard deviation over draws.
    pub fn std(&self, name: &str) -> Result<Tensor> {
        self.moment(name, |v| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt()
        })
    }
    fn moment(&self, name: &str, f: impl Fn(&[f64]) -> f64) -> Result<Tensor> {
        let t = self.get(name)?;
        let per = t.len() / self.draws.max(1);
        let v = t.to_f64_vec();
        let out: Vec<f64> = (0..per)
            .map(|i| f(&(0..self.draws).map(|d| v[d * per + i]).collect::<Vec<_>>()))
            .collect();
        Tensor::new(out, &t.shape()[1..])
    }
    /// Save as `.npz` with a leading chain axis, `(1, draws, ...)` per
    /// variable: `arviz.from_dict(posterior=dict(np.load(path)))` reads it.
    pub fn save_npz(&self, path: impl AsRef<Path>) -> Result<()> {
        let with_chain: Vec<(String, Tensor)> = self
            .vars
            .iter()
            .map(|(n, t)| {
                let mut s = vec![1];
                s.extend_from_slice(t.shape());
                Ok((n.clone(), t.clone().reshape(&s)?))
            })
            .collect::<Result<_>>()?;
        let refs: Vec<(&str, &Tensor)> = with_chain.iter().map(|(n, t)| (n.as_str(), t)).collect();
        theon_runtime::io::write_npz(path, &refs)
    }
}
