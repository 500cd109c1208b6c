//! Traces: named posterior draws, `[draws, ...shape]` per variable, with
//! their summaries (quantiles, highest-density intervals, ArviZ's
//! `az.summary` table).

use std::fmt;
use std::path::Path;
use theon_tensor::{Error, Result, Tensor};

#[derive(Clone, Debug)]
pub struct Trace {
    /// All draws, every chain's one after the other (chain-major).
    pub draws: usize,
    /// Independent chains (1 for ADVI and predictive draws).
    pub chains: usize,
    vars: Vec<(String, Tensor)>,
    /// Per-draw sampler statistics (NUTS: `diverging`, `step_size`, ...).
    stats: Vec<(String, Tensor)>,
    /// How the MCMC run that made the trace went (`None` for other draws).
    pub run: Option<McmcRun>,
}

/// The cost of an MCMC run: gradient evaluations (leapfrog steps, tuning
/// included) and wall-clock seconds spent compiling and sampling (the
/// slowest chain's, as chains run in parallel).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct McmcRun {
    pub gradient_evals: u64,
    pub compile_s: f64,
    pub sampling_s: f64,
}

impl Trace {
    /// One chain of `draws` draws per variable (`[draws, ...shape]`).
    pub fn new(draws: usize, vars: Vec<(String, Tensor)>) -> Result<Trace> {
        Trace::with_chains(1, draws, vars, vec![])
    }

    /// `chains` chains of `draws` draws each, stacked chain-major
    /// (`[chains * draws, ...shape]` per variable), with sample statistics.
    pub fn with_chains(
        chains: usize,
        draws: usize,
        vars: Vec<(String, Tensor)>,
        stats: Vec<(String, Tensor)>,
    ) -> Result<Trace> {
        let total = chains
            .checked_mul(draws)
            .ok_or_else(|| Error::value(format!("{chains} chains of {draws} draws overflow")))?;
        if let Some((n, t)) = vars
            .iter()
            .chain(&stats)
            .find(|(_, t)| t.shape().first() != Some(&total))
        {
            return Err(Error::shape(format!(
                "trace variable '{n}' has shape {:?}, expected {total} draws first",
                t.shape()
            )));
        }
        Ok(Trace {
            draws: total,
            chains: chains.max(1),
            vars,
            stats,
            run: None,
        })
    }

    /// Sample statistics by name (empty for ADVI traces).
    pub fn stats(&self) -> &[(String, Tensor)] {
        &self.stats
    }
    /// The number of divergent draws (0 without a `diverging` statistic).
    pub fn divergences(&self) -> usize {
        self.stats
            .iter()
            .find(|(n, _)| n == "diverging")
            .map_or(0, |(_, t)| t.iter_f64().filter(|&d| d != 0.0).count())
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
        let t = self.get(name)?;
        let (lo, hi): (Vec<f64>, Vec<f64>) = self
            .columns(name, t)?
            .iter()
            .map(|v| hdi_sorted(&sorted(v), prob))
            .unzip();
        Ok((
            Tensor::new(lo, &t.shape()[1..])?,
            Tensor::new(hi, &t.shape()[1..])?,
        ))
    }
    /// One row per scalar element of every variable: mean, sd (ddof = 1, as
    /// ArviZ), and the 94% HDI, and with several chains the MCMC columns
    /// (mcse_mean, ess_bulk, ess_tail, r_hat), printed like `az.summary`.
    pub fn summary(&self) -> Result<Summary> {
        let per_chain = self.draws / self.chains;
        let mut rows = vec![];
        for (name, t) in &self.vars {
            let shape = &t.shape()[1..];
            for (i, x) in self.columns(name, t)?.iter().enumerate() {
                let n = x.len() as f64;
                let mean = x.iter().sum::<f64>() / n;
                let var = x.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n - 1.0);
                let (lo, hi) = hdi_sorted(&sorted(x), 0.94);
                let mcmc = (self.chains > 1).then(|| {
                    let chains: Vec<&[f64]> = x.chunks(per_chain).collect();
                    use crate::diagnostics as d;
                    Mcmc {
                        mcse_mean: d::mcse_mean(&chains),
                        ess_bulk: d::ess_bulk(&chains),
                        ess_tail: d::ess_tail(&chains),
                        r_hat: d::rhat(&chains),
                    }
                });
                rows.push(SummaryRow {
                    name: element_name(name, shape, i),
                    mean,
                    sd: var.sqrt(),
                    hdi_3: lo,
                    hdi_97: hi,
                    mcmc,
                });
            }
        }
        Ok(Summary { rows })
    }
    fn moment(&self, name: &str, f: impl Fn(&[f64]) -> f64) -> Result<Tensor> {
        let t = self.get(name)?;
        let out: Vec<f64> = self.columns(name, t)?.iter().map(|v| f(v)).collect();
        Tensor::new(out, &t.shape()[1..])
    }
    /// Every scalar element's draws (of variable `name`, values `t`).
    fn columns(&self, name: &str, t: &Tensor) -> Result<Vec<Vec<f64>>> {
        if self.draws == 0 {
            return Err(Error::value(format!("'{name}': a trace without draws")));
        }
        let per = t.len() / self.draws;
        let v = t.to_f64_vec();
        Ok((0..per)
            .map(|i| (0..self.draws).map(|d| v[d * per + i]).collect())
            .collect())
    }
    /// Save as `.npz` with a leading chain axis, `(chains, draws, ...)` per
    /// variable; sample statistics are stored as `sample_stats/<name>`.
    /// `scripts/arviz_trace.py` reads both groups into ArviZ (for a trace
    /// without statistics, `az.from_dict({"posterior": dict(np.load(path))})`).
    pub fn save_npz(&self, path: impl AsRef<Path>) -> Result<()> {
        let stats = self
            .stats
            .iter()
            .map(|(n, t)| (format!("sample_stats/{n}"), t));
        let with_chain: Vec<(String, Tensor)> = self
            .vars
            .iter()
            .map(|(n, t)| (n.clone(), t))
            .chain(stats)
            .map(|(n, t)| {
                let mut s = vec![self.chains, self.draws / self.chains];
                s.extend_from_slice(&t.shape()[1..]);
                Ok((n, t.clone().reshape(&s)?))
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
    /// With several chains: Monte Carlo error and convergence.
    pub mcmc: Option<Mcmc>,
}

/// The MCMC columns of a summary row (`ppl::diagnostics`).
#[derive(Clone, Debug, PartialEq)]
pub struct Mcmc {
    pub mcse_mean: f64,
    pub ess_bulk: f64,
    pub ess_tail: f64,
    pub r_hat: f64,
}

/// ArviZ's `az.summary` table (the MCMC columns only for several chains:
/// an ADVI trace is one chain of independent draws).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub rows: Vec<SummaryRow>,
}

impl Summary {
    /// The row of `name` (`"mu"`, `"w[0, 1]"`), or an error listing none.
    pub fn row(&self, name: &str) -> Result<&SummaryRow> {
        self.rows
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| Error::model(format!("the summary has no row '{name}'")))
    }
    /// The smallest bulk ESS over all rows: the number that decides how
    /// far a run's estimates can be trusted. NaN without MCMC columns or
    /// when any row's is NaN (a constant variable).
    pub fn ess_bulk_min(&self) -> f64 {
        nan_or(self.mcmc().map(|m| m.ess_bulk), f64::min)
    }
    /// The largest R-hat over all rows (NaN as for `ess_bulk_min`).
    pub fn r_hat_max(&self) -> f64 {
        nan_or(self.mcmc().map(|m| m.r_hat), f64::max)
    }
    fn mcmc(&self) -> impl Iterator<Item = &Mcmc> {
        self.rows.iter().filter_map(|r| r.mcmc.as_ref())
    }
}

/// `pick` over `xs`, NaN if `xs` is empty or holds a NaN (`f64::min` and
/// `f64::max` would skip it).
fn nan_or(xs: impl Iterator<Item = f64>, pick: fn(f64, f64) -> f64) -> f64 {
    xs.reduce(|a, b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            pick(a, b)
        }
    })
    .unwrap_or(f64::NAN)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        let mcmc = self.rows.iter().any(|r| r.mcmc.is_some());
        write!(
            f,
            "{:w$}  {:>9} {:>9} {:>9} {:>9}",
            "", "mean", "sd", "hdi_3%", "hdi_97%"
        )?;
        if mcmc {
            write!(
                f,
                " {:>9} {:>9} {:>9} {:>6}",
                "mcse_mean", "ess_bulk", "ess_tail", "r_hat"
            )?;
        }
        writeln!(f)?;
        for r in &self.rows {
            write!(
                f,
                "{:w$}  {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                r.name, r.mean, r.sd, r.hdi_3, r.hdi_97
            )?;
            if let Some(m) = &r.mcmc {
                write!(
                    f,
                    " {:>9.3} {:>9.1} {:>9.1} {:>6.2}",
                    m.mcse_mean, m.ess_bulk, m.ess_tail, m.r_hat
                )?;
            }
            writeln!(f)?;
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
