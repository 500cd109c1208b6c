//! The notebook's "next steps": a deeper Bayesian network with biases and
//! hierarchical prior scales (sd per layer ~ HalfNormal(1)), a Categorical
//! likelihood on a three-arm spiral, trained by full-batch and by minibatch
//! ADVI, with its decision surface and uncertainty.
//!
//! cargo run --release --example bnn_deep -- [--seed N] [--hidden H]
//!     [--iters N] [--minibatch-iters N] [--batch B] [--optimizer NAME]
//!     [--points-per-class N] [--out DIR] [--no-plots]
//!
//! The last line of output is the same JSON summary as bnn_moons'.

use clap::Parser;
use std::path::PathBuf;
use theon::ppl::*;
use theon::prelude::*;
use theon_examples::data;
use theon_examples::models::{DEEP_SCALES, deep_bnn};
use theon_examples::plot::{self, ColorMap};
use theon_examples::stats::{
    Summary, accuracy, argmax_rows, mean_over_draws, points, trace_moments,
};
use theon_examples::timing::{median_secs, timed};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Entropy (nats) of each row of a flat (rows, k) probability table.
fn entropy(p: &[f64], k: usize) -> Vec<f64> {
    p.chunks(k)
        .map(|row| {
            -row.iter()
                .filter(|v| **v > 0.0)
                .map(|v| v * v.ln())
                .sum::<f64>()
        })
        .collect()
}

/// The notebook's wish for a deeper network: 2-H-H-3 with hierarchical
/// layer scales on three interleaved spirals.
#[derive(Parser)]
#[command(long_about = None)]
struct Cli {
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Units per hidden layer.
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    /// ADVI steps, full batch.
    #[arg(long, default_value_t = 10_000)]
    iters: usize,
    /// ADVI steps with minibatches.
    #[arg(long, default_value_t = 20_000)]
    minibatch_iters: usize,
    /// Minibatch size.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Points per class (train and test together).
    #[arg(long, default_value_t = 500)]
    points_per_class: usize,
    /// Optimizer name; Adam by default.
    #[arg(long)]
    optimizer: Option<String>,
    /// Learning rate (0.01 by default for Adam).
    #[arg(long)]
    lr: Option<f64>,
    /// Where the pictures go.
    #[arg(long, default_value = "target/bnn_deep")]
    out: PathBuf,
    /// Skip the pictures.
    #[arg(long)]
    no_plots: bool,
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let (seed, hidden, iters, mb_iters, batch, per_class) = (
        cli.seed,
        cli.hidden,
        cli.iters,
        cli.minibatch_iters,
        cli.batch,
        cli.points_per_class,
    );
    let optimizer = match &cli.optimizer {
        Some(name) => Optimizer::from_name(name)?,
        None => Optimizer::adam().with_learning_rate(0.01),
    };
    let optimizer = match cli.lr {
        Some(lr) => optimizer.with_learning_rate(lr),
        None => optimizer,
    };
    let (out, plots) = (cli.out, !cli.no_plots);
    let k = 3;
    let mut summary = Summary::default();

    // A three-arm spiral, standardized like the moons, split 50/50.
    let (mut x, y) = data::spiral(per_class, k, 0.2, 7)?;
    data::standardize(&mut x);
    let split = data::split(&x, &y, 0.5, 7)?;
    let (n_train, n_test) = (split.x_train.shape()[0], split.x_test.shape()[0]);
    println!(
        "spiral: {k} classes, {n_train} training and {n_test} test points; network 2-{hidden}-{hidden}-{k} with biases"
    );
    let y_test = split.y_test.to_vec::<i64>();
    if plots {
        std::fs::create_dir_all(&out)
            .map_err(|e| Error::io(format!("creating {}: {e}", out.display())))?;
        plot::scatter(
            &out.join("data.png"),
            "Three-arm spiral",
            &points(&split.x_train),
            &split.y_train.to_vec::<i64>(),
            &[],
            "class",
        )?;
    }
    let method = || {
        Advi::new()
            .seed(seed)
            .optimizer(optimizer.clone())
            .start_sigma(0.1)
    };

    // Full batch: the data as Data containers, one compiled step.
    let net = deep_bnn(
        &split.x_train,
        &split.y_train,
        hidden,
        k,
        None,
        seed,
        DType::F64,
    )?;
    let approx = summary.fit(&net.model, method(), iters)?;
    let (trace, sample_s) = timed(|| approx.sample(5_000));
    let trace = trace?;
    summary.sample_5000_s = sample_s;

    // Slow path: per-draw posterior predictive with the test data swapped in.
    let (ppc, slow_s) = timed(|| -> Result<Trace> {
        net.model.set_data("x", split.x_test.clone())?;
        net.model.set_data("y", split.y_test.clone())?;
        sample_posterior_predictive(&net.model, &trace, Some(500), seed)
    });
    summary.ppc_slow_ms = slow_s * 1e3;
    // The most frequent predicted class per test point.
    let drawn = ppc?.get("out")?.to_vec::<i64>();
    let votes: Vec<i64> = (0..n_test)
        .map(|i| {
            let mut count = vec![0; k];
            for d in 0..500 {
                count[drawn[d * n_test + i] as usize] += 1;
            }
            (0..k).max_by_key(|&c| count[c]).unwrap_or(0) as i64
        })
        .collect();
    let slow_acc = accuracy(&votes, &split.y_test);

    // Fast path: class probabilities as one vectorized function.
    let xs = matrix("X");
    let n = iscalar("n");
    let probs = approx
        .sample_node(&net.probs, &n)?
        .replace(&net.input, &xs)?;
    let predict = function(&[&xs, &n], &[&probs])?;
    let draws = Tensor::scalar(500i64);
    let p = predict.call(&[&split.x_test, &draws])?.remove(0);
    let mut buf = vec![];
    summary.ppc_fast_ms = median_secs(20, || {
        predict
            .call_into(&[&split.x_test, &draws], &mut buf)
            .expect("the predictive ran once already");
    }) * 1e3;
    let (pred, _) = argmax_rows(&mean_over_draws(&p), k);
    summary.accuracy = accuracy(&pred, &split.y_test);
    println!(
        "posterior predictive, 500 draws x {n_test} points: slow path {:.1} ms (accuracy {:.1}%), sample_node {:.2} ms",
        summary.ppc_slow_ms,
        slow_acc * 100.0,
        summary.ppc_fast_ms
    );
    println!("Accuracy = {:.1}%", summary.accuracy * 100.0);

    // Grid over [-3, 3]^2.
    let g = 100;
    let (lo, hi) = (-3.0, 3.0);
    let coord = |i: usize| lo + (hi - lo) * i as f64 / (g - 1) as f64;
    let grid = Tensor::new(
        (0..g * g)
            .flat_map(|q| [coord(q % g), coord(q / g)])
            .collect::<Vec<f64>>(),
        &[g * g, 2],
    )?;
    let grid_p = predict.call(&[&grid, &draws])?.remove(0);
    summary.grid_ms = median_secs(5, || {
        predict
            .call_into(&[&grid, &draws], &mut buf)
            .expect("the grid ran once already");
    }) * 1e3;
    println!(
        "grid, 500 draws x {} points: {:.1} ms",
        g * g,
        summary.grid_ms
    );

    // Minibatch ADVI, predicting on all test points by replacing the batch.
    let mb = deep_bnn(
        &split.x_train,
        &split.y_train,
        hidden,
        k,
        Some(batch),
        seed,
        DType::F64,
    )?;
    summary.minibatch(
        &format!("batch {batch}"),
        || mb.model.fit(mb_iters, method()),
        &mb.probs,
        &mb.input,
        (&xs, &split.x_test),
        (&n, &draws),
        |p| accuracy(&argmax_rows(&mean_over_draws(p), k).0, &split.y_test),
    )?;

    if plots {
        let test_pts = points(&split.x_test);
        plot::line(
            &out.join("loss.png"),
            "ADVI: negative ELBO (full batch)",
            "loss",
            approx.hist(),
            1000,
        )?;
        let mean = mean_over_draws(&grid_p);
        let (class, conf) = argmax_rows(&mean, k);
        let title = format!(
            "Decision surface (test accuracy {:.1}%)",
            summary.accuracy * 100.0
        );
        plot::class_surface(
            &out.join("decision.png"),
            &title,
            &class,
            &conf,
            k,
            g,
            (lo, hi),
            &test_pts,
            &y_test,
        )?;
        let h = entropy(&mean, k);
        let hmax = (k as f64).ln();
        plot::surface(
            &out.join("uncertainty.png"),
            "Uncertainty: entropy of the predictive",
            &h,
            g,
            (lo, hi),
            (0.0, hmax),
            ColorMap::Sequential,
            "entropy (nats)",
            &test_pts,
            &y_test,
        )?;
        let groups = trace_moments(&trace, DEEP_SCALES)?;
        plot::error_bars(
            &out.join("scales.png"),
            "Posterior of the layers' prior scales (mean ± std)",
            &groups,
        )?;
        println!("plots written to {}", out.display());
    }
    println!("{}", summary.json());
    Ok(())
}
