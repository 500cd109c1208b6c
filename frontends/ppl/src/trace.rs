//! Traces: named posterior draws, `[draws, ...shape]` per variable, with
//! their summaries (quantiles, highest-density intervals, ArviZ's
//! `az.summary` table).

use std::fmt;
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
    /// The `q`-quantile over draws (0 <= q <= 1), elementwise, with
    /// NumPy's default (linear) interpolation.
    pub fn quantile(&self, name: &str, q: f64) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::value(format!("quantile: q = {q} is not in [0, 1]")));
        }
        self.moment(name, |v| quantile_sorted(&sorted(v), q))
    }
    /// The highest-density interval holding `prob` of the draws (ArviZ's
    /// `hdi`: the narrowest interval between two draws that contains
    /// floor(prob * draws) + 1 of them), elementwise: (lower, upper).
    pub fn hdi(&self, name: &str, prob: f64) -> Result<(Tensor, Tensor)> {
        if !(prob > 0.0 && prob <= 1.0) {
            return Err(Error::value(format!("hdi: prob = {prob} is not in (0, 1]")));
        }
        let lo = self.moment(name, |v| hdi_sorted(&sorted(v), prob).0)?;
        let hi = self.moment(name, |v| hdi_sorted(&sorted(v), prob).1)?;
        Ok((lo, hi))
    }
    /// One row per scalar element of every variable: mean, sd (ddof = 1, as
    /// ArviZ), and the 94% HDI, printed like `az.summary` (`Display`).
    pub fn summary(&self) -> Result<Summary> {
        let mut rows = vec![];
        for (name, t) in &self.vars {
            let shape = &t.shape()[1..];
            let per = t.len() / self.draws.max(1);
            let v = t.to_f64_vec();
            for i in 0..per {
                let x: Vec<f64> = (0..self.draws).map(|d| v[d * per + i]).collect();
                let n = x.len() as f64;
                let mean = x.iter().sum::<f64>() / n;
                let var = x.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n - 1.0);
                let (lo, hi) = hdi_sorted(&sorted(&x), 0.94);
                rows.push(SummaryRow {
                    name: element_name(name, shape, i),
                    mean,
                    sd: var.sqrt(),
                    hdi_3: lo,
                    hdi_97: hi,
                });
            }
        }
        Ok(Summary { rows })
    }
    fn moment(&self, name: &str, f: impl Fn(&[f64]) -> f64) -> Result<Tensor> {
        let t = self.get(name)?;
        if self.draws == 0 {
            return Err(Error::value(format!("'{name}': a trace without draws")));
        }
        let per = t.len() / self.draws;
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

/// One row of `Trace::summary`.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// `name` or `name[i, j]`.
    pub name: String,
    pub mean: f64,
    pub sd: f64,
    pub hdi_3: f64,
    pub hdi_97: f64,
}

/// ArviZ's `az.summary` table (without the MCMC columns: an ADVI trace has
/// one chain of independent draws).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub rows: Vec<SummaryRow>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        writeln!(
            f,
            "{:w$}  {:>9} {:>9} {:>9} {:>9}",
            "", "mean", "sd", "hdi_3%", "hdi_97%"
        )?;
        for r in &self.rows {
            writeln!(
                f,
                "{:w$}  {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                r.name, r.mean, r.sd, r.hdi_3, r.hdi_97
            )?;
        }
        Ok(())
    }
}

/// `x[1, 2]` for element 5 of a (2, 3) variable, as ArviZ labels rows.
fn element_name(name: &str, shape: &[usize], mut i: usize) -> String {
    if shape.is_empty() {
        return name.to_string();
    }
    let mut idx = vec![0; shape.len()];
    for a in (0..shape.len()).rev() {
        idx[a] = i % shape[a];
        i /= shape[a];
    }
    let idx: Vec<String> = idx.iter().map(|k| k.to_string()).collect();
    format!("{name}[{}]", idx.join(", "))
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// NumPy's linear-interpolation quantile of sorted values.
pub(crate) fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    let h = (s.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    match s.get(lo + 1) {
        Some(&next) => s[lo] + (h - lo as f64) * (next - s[lo]),
        None => s[lo],
    }
}

/// ArviZ's HDI of sorted values.
fn hdi_sorted(s: &[f64], prob: f64) -> (f64, f64) {
    let n = s.len();
    let inc = ((prob * n as f64).floor() as usize).min(n - 1);
    let (mut best, mut at) = (f64::INFINITY, 0);
    for i in 0..n - inc {
        let w = s[i + inc] - s[i];
        if w < best {
            best = w;
            at = i;
        }
    }
    (s[at], s[at + inc])
}
