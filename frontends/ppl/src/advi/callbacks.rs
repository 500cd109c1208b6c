//! Callbacks run during `fit` every few steps; they may stop it.

use theon_tensor::{Result, Tensor, Var};

/// Whether the fit goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Stop,
}

/// What a callback sees.
pub struct FitInfo<'a> {
    /// Steps done so far.
    pub step: usize,
    /// Losses so far.
    pub hist: &'a [f64],
    /// The variational parameters (shared variables).
    pub params: &'a [Var],
}

pub trait Callback: Send {
    /// Call every this many steps.
    fn every(&self) -> usize {
        1
    }
    fn call(&mut self, info: &FitInfo) -> Result<Control>;
}

/// How `CheckParametersConvergence` measures change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Diff {
    Absolute,
    Relative,
}

/// Stop when the parameters change less than `tolerance` between checks
/// (PyMC's CheckParametersConvergence: the `ord`-norm of the change, or of
/// the change relative to the previous values).
pub struct CheckParametersConvergence {
    pub every: usize,
    pub tolerance: f64,
    pub diff: Diff,
    /// f64::INFINITY for the max norm, 2.0 for the Euclidean norm.
    pub ord: f64,
    prev: Option<Vec<f64>>,
}

impl CheckParametersConvergence {
    /// every 100 steps, tolerance 1e-3, relative, max norm (PyMC's defaults).
    pub fn new() -> Self {
        CheckParametersConvergence {
            every: 100,
            tolerance: 1e-3,
            diff: Diff::Relative,
            ord: f64::INFINITY,
            prev: None,
        }
    }
    pub fn every(mut self, every: usize) -> Self {
        self.every = every.max(1);
        self
    }
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }
    pub fn diff(mut self, diff: Diff) -> Self {
        self.diff = diff;
        self
    }
    pub fn ord(mut self, ord: f64) -> Self {
        self.ord = ord;
        self
    }
}

impl Default for CheckParametersConvergence {
    fn default() -> Self {
        Self::new()
    }
}

fn flat(params: &[Var]) -> Result<Vec<f64>> {
    let mut v = Vec::new();
    for p in params {
        let t: Tensor = p.get_value()?;
        v.extend(t.to_f64_vec());
    }
    Ok(v)
}

impl Callback for CheckParametersConvergence {
    fn every(&self) -> usize {
        self.every
    }
    fn call(&mut self, info: &FitInfo) -> Result<Control> {
        let now = flat(info.params)?;
        let Some(prev) = self.prev.replace(now.clone()) else {
            return Ok(Control::Continue);
        };
        let delta: Vec<f64> = now
            .iter()
            .zip(&prev)
            .map(|(a, b)| match self.diff {
                Diff::Absolute => (a - b).abs(),
                // PyMC: (|diff| + eps) / (|prev| + eps), eps = 1e-6.
                Diff::Relative => ((a - b).abs() + 1e-6) / (b.abs() + 1e-6),
            })
            .collect();
        let norm = if self.ord.is_infinite() {
            delta.iter().fold(0.0f64, |m, d| m.max(d.abs()))
        } else {
            delta
                .iter()
                .map(|d| d.abs().powf(self.ord))
                .sum::<f64>()
                .powf(1.0 / self.ord)
        };
        Ok(if norm < self.tolerance {
            Control::Stop
        } else {
            Control::Continue
        })
    }
}
