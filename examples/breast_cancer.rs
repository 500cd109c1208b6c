//! Logistic regression on scikit-learn's breast-cancer data (30
//! standardized features, `data/breast_cancer/`), fitted by ADVI, with the
//! test-set predictive built by `sample_node` with the training input
//! replaced (the notebook's fast path). PyMC's ADVI on the same split
//! reaches 0.965 test accuracy (data/pymc_advi_reference.md).
//!
//! cargo run --release --example breast_cancer -- [--data DIR] [--seed N]

use clap::Parser;
use std::path::PathBuf;
use theon::ppl::*;
use theon::prelude::*;
use theon_examples::data;
use theon_examples::stats::{accuracy, final_avg_loss, mean_over_draws};

/// Bayesian logistic regression on the breast-cancer data.
#[derive(Parser)]
#[command(long_about = None)]
struct Cli {
    /// Directory with X_train.csv, Y_train.csv, X_test.csv, Y_test.csv.
    #[arg(long, default_value = "data/breast_cancer")]
    data: PathBuf,
    /// Seed of ADVI and of the predictive draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ADVI steps.
    #[arg(long, default_value_t = 30_000)]
    iters: usize,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let s = data::read_split(&cli.data)?;
    let k = s.x_train.shape()[1];

    let m = Model::new();
    let x = m.data("x", s.x_train.clone())?;
    let b = m.normal("intercept", 0.0, 10.0, ())?;
    let w = m.normal("w", 0.0, 1.0, [k])?;
    let logit = (x.dot(&w)? + &b)?;
    m.bernoulli_logit("y", &logit)?
        .observed(s.y_train.cast(DType::F64));
    let t = std::time::Instant::now();
    let approx = m.fit(cli.iters, Advi::new().seed(cli.seed).progressbar(false))?;
    let fit_s = t.elapsed().as_secs_f64();

    // 500 posterior draws of P(benign) for every test point, one function.
    let xs = Var::input("x_test", TensorType::new(DType::F64, vec![None, Some(k)]));
    let n = iscalar("n");
    let p = approx.sample_node(&logit.sigmoid(), &n)?.replace(&x, &xs)?;
    let probs = function(&[&xs, &n], &[&p])?
        .call(&[&s.x_test, &Tensor::scalar(500i64)])?
        .remove(0);
    let pred: Vec<i64> = mean_over_draws(&probs)
        .iter()
        .map(|q| (*q > 0.5) as i64)
        .collect();
    let acc = accuracy(&pred, &s.y_test);
    let loss = final_avg_loss(approx.hist());
    println!(
        "ADVI: {} steps in {fit_s:.2} s; Average Loss = {loss:.2}; test accuracy {:.1}% ({} points)",
        cli.iters,
        acc * 100.0,
        pred.len()
    );
    println!("{{\"fit_s\": {fit_s:.3}, \"final_avg_loss\": {loss:.3}, \"accuracy\": {acc:.4}}}");
    Ok(())
}
