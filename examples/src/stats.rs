//! Summaries of posterior predictive draws and the examples' JSON line.

use crate::timing::timed;
use theon::ppl::{Advi, Approximation, Model, Trace};
use theon::prelude::*;

/// Rows of a (n, 2) tensor as points.
pub fn points(x: &Tensor) -> Vec<[f64; 2]> {
    x.to_f64_vec().chunks(2).map(|r| [r[0], r[1]]).collect()
}

/// Mean over the first axis (draws) of a (draws, ...) tensor, flattened.
pub fn mean_over_draws(t: &Tensor) -> Vec<f64> {
    let d = t.shape()[0];
    let per = t.len() / d.max(1);
    let v = t.to_f64_vec();
    (0..per)
        .map(|i| (0..d).map(|k| v[k * per + i]).sum::<f64>() / d as f64)
        .collect()
}

/// Standard deviation over the first axis, given the mean.
pub fn std_over_draws(t: &Tensor, mean: &[f64]) -> Vec<f64> {
    let d = t.shape()[0];
    let per = t.len() / d.max(1);
    let v = t.to_f64_vec();
    (0..per)
        .map(|i| {
            ((0..d)
                .map(|k| (v[k * per + i] - mean[i]).powi(2))
                .sum::<f64>()
                / d as f64)
                .sqrt()
        })
        .collect()
}

/// The most probable class and its probability for each row of a flat
/// (rows, k) probability table.
pub fn argmax_rows(p: &[f64], k: usize) -> (Vec<i64>, Vec<f64>) {
    p.chunks(k)
        .map(|row| {
            let (c, v) = row
                .iter()
                .enumerate()
                .fold(
                    (0, f64::NEG_INFINITY),
                    |b, (i, v)| if *v > b.1 { (i, *v) } else { b },
                );
            (c as i64, v)
        })
        .unzip()
}

/// The share of `pred` equal to `truth`.
pub fn accuracy(pred: &[i64], truth: &Tensor) -> f64 {
    let y = truth.to_vec::<i64>();
    pred.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / y.len().max(1) as f64
}

/// The last line every example prints: its timings and accuracies.
#[derive(Default)]
pub struct Summary {
    pub compile_s: f64,
    pub fit_s: f64,
    pub us_per_step: f64,
    pub final_avg_loss: f64,
    pub sample_5000_s: f64,
    pub ppc_slow_ms: f64,
    pub ppc_fast_ms: f64,
    pub grid_ms: f64,
    pub accuracy: f64,
    pub mb_fit_s: f64,
    pub mb_accuracy: f64,
    /// Further figures of optional parts (NUTS), appended to the JSON.
    pub extra: Vec<(&'static str, f64)>,
}

impl Summary {
    /// Compile the ADVI step of `model`, run `iters` steps, record the
    /// fit's figures and print the notebook's line.
    pub fn fit(&mut self, model: &Model, method: Advi, iters: usize) -> Result<Approximation> {
        let (inference, compile_s) = timed(|| model.inference(method));
        let mut inference = inference?;
        let (fitted, steps_s) = timed(|| inference.fit(iters));
        fitted?;
        let approx = inference.into_approx();
        self.compile_s = compile_s;
        self.fit_s = compile_s + steps_s;
        self.us_per_step = steps_s / iters.max(1) as f64 * 1e6;
        self.final_avg_loss = final_avg_loss(approx.hist());
        println!(
            "ADVI: {iters} steps in {:.3} s ({:.1} us/step, compile {:.1} ms); Average Loss = {:.2}",
            self.fit_s,
            self.us_per_step,
            compile_s * 1e3,
            self.final_avg_loss
        );
        Ok(approx)
    }

    /// Fit the minibatch version of a network (`fit`), predict every test
    /// point through `sample_node` with the minibatch input `batch_input`
    /// replaced by `xs`, record the fit time and the accuracy `score`
    /// gives the draws of `probs`, and print the notebook's line.
    #[allow(clippy::too_many_arguments)]
    pub fn minibatch(
        &mut self,
        label: &str,
        fit: impl FnOnce() -> Result<Approximation>,
        probs: &Var,
        batch_input: &Var,
        (xs, x_test): (&Var, &Tensor),
        (n, draws): (&Var, &Tensor),
        score: impl Fn(&Tensor) -> f64,
    ) -> Result<()> {
        let (approx, fit_s) = timed(fit);
        let approx = approx?;
        let node = approx.sample_node(probs, n)?.replace(batch_input, xs)?;
        let p = function(&[xs, n], &[&node])?
            .call(&[x_test, draws])?
            .remove(0);
        self.mb_fit_s = fit_s;
        self.mb_accuracy = score(&p);
        println!(
            "minibatch ADVI ({label}): {} steps in {fit_s:.3} s; Average Loss = {:.2}; Accuracy = {:.1}%",
            approx.hist().len(),
            final_avg_loss(approx.hist()),
            self.mb_accuracy * 100.0
        );
        Ok(())
    }

    pub fn json(&self) -> String {
        let extra: String = self
            .extra
            .iter()
            .map(|(k, v)| match v.is_finite() {
                true => format!(", \"{k}\": {v:.4}"),
                false => format!(", \"{k}\": null"),
            })
            .collect();
        format!(
            "{{\"compile_s\": {:.4}, \"fit_s\": {:.4}, \"us_per_step\": {:.2}, \"final_avg_loss\": {:.3}, \"sample_5000_s\": {:.4}, \"ppc_slow_ms\": {:.2}, \"ppc_fast_ms\": {:.3}, \"grid_ms\": {:.2}, \"accuracy\": {:.4}, \"mb_fit_s\": {:.4}, \"mb_accuracy\": {:.4}{extra}}}",
            self.compile_s,
            self.fit_s,
            self.us_per_step,
            self.final_avg_loss,
            self.sample_5000_s,
            self.ppc_slow_ms,
            self.ppc_fast_ms,
            self.grid_ms,
            self.accuracy,
            self.mb_fit_s,
            self.mb_accuracy
        )
    }
}

/// Mean of the last (up to) 1000 losses.
pub fn final_avg_loss(hist: &[f64]) -> f64 {
    let tail = &hist[hist.len().saturating_sub(1000)..];
    tail.iter().sum::<f64>() / tail.len().max(1) as f64
}

/// A variable's name, posterior means and posterior stds.
pub type Moments = (String, Vec<f64>, Vec<f64>);

/// The `Moments` of traced variables, for `plot::error_bars`.
pub fn trace_moments<'a>(
    trace: &Trace,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Moments>> {
    names
        .into_iter()
        .map(|name| {
            Ok((
                name.to_string(),
                trace.mean(name)?.to_f64_vec(),
                trace.std(name)?.to_f64_vec(),
            ))
        })
        .collect()
}
