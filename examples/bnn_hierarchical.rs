//! The hierarchical Bayesian neural network (Thomas Wiecki, "Hierarchical
//! Bayesian Neural Networks with Informative Priors", 2018): 18 two-moons
//! tasks, each rotated by its own angle, 50 training points per task. Three
//! models of the same 2-5-5-1 tanh network (no biases): separate networks,
//! one pooled network, and per-task networks tied to shared weights
//! (hierarchical). Each is fitted with ADVI and sampled with NUTS; every
//! task is predicted with one vectorized function per model. The
//! hierarchical model's shared weights start at the pooled fit's posterior
//! mean (measured in the README).
//!
//! cargo run --release --example bnn_hierarchical -- [--seed N] [--iters N]
//!     [--learning-rate X] [--lr-final X] [--zero-shared-init] [--full-rank-shared]
//!     [--kl-warmup N] [--no-nuts] [--nuts-draws N] [--nuts-tune N] [--chains N] [--out DIR]
//!     [--no-plots]
//!
//! The last line of output is a JSON summary.

use clap::Parser;
use std::path::PathBuf;
use theon::ppl::*;
use theon::prelude::*;
use theon_examples::data::{Tasks, rotated_moons};
use theon_examples::models::{Pooling, TaskBnn, task_bnn};
use theon_examples::plot::{self, ColorMap};
use theon_examples::stats::mean_over_draws;
use theon_examples::timing::timed;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The hierarchical neural network of Wiecki (2018), three ways.
#[derive(Parser)]
#[command(long_about = None)]
struct Cli {
    /// Random seed (data, initial weights, ADVI, NUTS).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ADVI steps per model (full batch).
    #[arg(long, default_value_t = 20_000)]
    iters: usize,
    /// ADVI's Adam learning rate.
    #[arg(long, default_value_t = 0.01)]
    learning_rate: f64,
    /// The learning rate at the last step (exponential decay from
    /// --learning-rate; by default none).
    #[arg(long)]
    lr_final: Option<f64>,
    /// Monte Carlo draws per ELBO gradient.
    #[arg(long, default_value_t = 1)]
    obj_n_mc: usize,
    /// q's starting sigma.
    #[arg(long, default_value_t = 0.1)]
    start_sigma: f64,
    /// The hierarchical model's shared weights and group scales as one
    /// full-rank block (mean-field over the per-task offsets).
    #[arg(long)]
    full_rank_shared: bool,
    /// Start the hierarchical model's shared weights at zero instead of at
    /// the pooled fit's posterior mean.
    #[arg(long)]
    zero_shared_init: bool,
    /// KL warm-up steps for ADVI (0: off).
    #[arg(long, default_value_t = 2000)]
    kl_warmup: usize,
    /// Skip NUTS.
    #[arg(long)]
    no_nuts: bool,
    /// NUTS draws kept per chain.
    #[arg(long, default_value_t = 500)]
    nuts_draws: usize,
    /// NUTS tuning draws per chain.
    #[arg(long, default_value_t = 500)]
    nuts_tune: usize,
    /// NUTS chains.
    #[arg(long, default_value_t = 2)]
    chains: usize,
    /// Tasks (the post: 18).
    #[arg(long, default_value_t = 18)]
    tasks: usize,
    /// Where the picture goes.
    #[arg(long, default_value = "target/bnn_hierarchical")]
    out: PathBuf,
    /// Skip the picture.
    #[arg(long)]
    no_plots: bool,
}

/// Posterior predictive draws per task.
const DRAWS: usize = 500;

/// One model's fit by one method: per-task test accuracy and the
/// predictive function (`[tasks, rows, 2]` -> `[draws, tasks, rows]`).
struct Fitted {
    acc: Vec<f64>,
    predict: Function,
}

impl Fitted {
    fn mean(&self) -> f64 {
        self.acc.iter().sum::<f64>() / self.acc.len() as f64
    }
}

/// Per-task accuracy of the mean predicted probability.
fn task_accuracy(probs: &Tensor, y: &Tensor) -> Vec<f64> {
    let rows = y.shape()[1];
    let mean = mean_over_draws(probs);
    let y = y.to_f64_vec();
    mean.chunks(rows)
        .zip(y.chunks(rows))
        .map(|(m, y)| {
            let hits = m
                .iter()
                .zip(y)
                .filter(|(m, y)| (**m > 0.5) == (**y > 0.5))
                .count();
            hits as f64 / rows as f64
        })
        .collect()
}

/// Compile `node` (an expression of the model's input) for new inputs and
/// score it on the test tasks.
fn fitted(bnn: &TaskBnn, node: &Var, xs: &Var, data: &Tasks) -> Result<Fitted> {
    let node = node.replace(&bnn.input, xs)?;
    let predict = function(&[xs], &[&node])?;
    let probs = predict.call(&[&data.x_test])?.remove(0);
    Ok(Fitted {
        acc: task_accuracy(&probs, &data.y_test),
        predict,
    })
}

/// The posterior means of the per-layer group scales (hierarchical model
/// only), as `; group scales 0.52 0.31 0.90`.
fn group_scales(bnn: &TaskBnn, mean: impl Fn(&str) -> Result<Tensor>) -> Result<String> {
    let mut out = String::new();
    for (name, _) in bnn.model.free_vars() {
        if name.ends_with("_group_sd") {
            out += &format!(" {:.3}", mean(&name)?.item::<f64>()?);
        }
    }
    Ok(if out.is_empty() {
        out
    } else {
        format!("; group scales{out}")
    })
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let seed = cli.seed;
    let start = std::time::Instant::now();
    let data = rotated_moons(cli.tasks, 100, 0.3, seed)?;
    let (tasks, n_train) = (data.x_train.shape()[0], data.x_train.shape()[1]);
    println!(
        "{tasks} tasks of two moons (noise 0.3), {n_train} training and {} test points each, rotated by Normal(0, 90°)",
        data.x_test.shape()[1]
    );
    let xs = Var::input(
        "xs",
        TensorType::new(DType::F64, vec![Some(tasks), None, Some(2)]),
    );
    let mut advi: Vec<Fitted> = vec![];
    let mut nuts: Vec<Option<Fitted>> = vec![];
    let (mut advi_s, mut nuts_s) = (0.0, 0.0);
    // The pooled fit's posterior mean per weight, by name.
    let mut pooled_means: Vec<(String, Tensor)> = vec![];
    for pooling in Pooling::ALL {
        let bnn = task_bnn(pooling, &data.x_train, &data.y_train, seed)?;
        if pooling == Pooling::Hierarchical && !cli.zero_shared_init {
            // Start the shared weights at the pooled network's posterior
            // mean: every task starts around one network (one labelling
            // of the hidden units) instead of around zero.
            for (name, mean) in &pooled_means {
                bnn.model
                    .set_initial(&format!("{name}_mean"), mean.clone())?;
            }
        }
        let dim: usize = bnn
            .model
            .free_vars()
            .iter()
            .map(|(_, v)| {
                v.static_shape()
                    .iter()
                    .map(|d| d.unwrap_or(1))
                    .product::<usize>()
            })
            .sum();
        let mut method = Advi::new()
            .seed(seed)
            .optimizer(theon_examples::flags::decayed_adam(
                cli.learning_rate,
                cli.lr_final.unwrap_or(cli.learning_rate),
                cli.iters,
            )?)
            .start_sigma(cli.start_sigma)
            .obj_n_mc(cli.obj_n_mc)
            .kl_warmup(cli.kl_warmup)
            .progressbar(false);
        if cli.full_rank_shared && pooling == Pooling::Hierarchical {
            let shared: Vec<String> = bnn
                .model
                .free_vars()
                .into_iter()
                .map(|(name, _)| name)
                .filter(|name| name.ends_with("_mean") || name.ends_with("_group_sd"))
                .collect();
            method = method.full_rank_group(shared);
        }
        let (fit, secs) = timed(|| -> Result<(Fitted, f64, String)> {
            let approx = bnn.model.fit(cli.iters, method)?;
            if pooling == Pooling::Pooled {
                for (name, _) in bnn.model.free_vars() {
                    pooled_means.push((name.clone(), approx.mean(&name)?));
                }
            }
            let hist = approx.hist();
            let last = &hist[hist.len().saturating_sub(1000)..];
            let loss = last.iter().sum::<f64>() / last.len().max(1) as f64;
            let node = approx.sample_node(&bnn.p, DRAWS as i64)?;
            let scales = group_scales(&bnn, |name| approx.mean(name))?;
            Ok((fitted(&bnn, &node, &xs, &data)?, loss, scales))
        });
        let (fit, loss, scales) = fit?;
        advi_s += secs;
        println!(
            "{:<12} ({dim} weights) ADVI: mean test accuracy {:.3}, final loss {loss:.1} ({:.2} s){scales}",
            pooling.name(),
            fit.mean(),
            secs
        );
        advi.push(fit);
        if cli.no_nuts {
            nuts.push(None);
            continue;
        }
        let settings = Nuts::new()
            .draws(cli.nuts_draws)
            .tune(cli.nuts_tune)
            .chains(cli.chains)
            .target_accept(0.9)
            .seed(seed);
        let (fit, secs) = timed(|| -> Result<(Fitted, Trace)> {
            let trace = bnn.model.sample(settings)?;
            let node = trace.sample_node(&bnn.model, &bnn.p, Some(DRAWS.min(trace.draws)))?;
            Ok((fitted(&bnn, &node, &xs, &data)?, trace))
        });
        let (fit, trace) = fit?;
        nuts_s += secs;
        let scales = group_scales(&bnn, |name| trace.mean(name))?;
        println!(
            "{:<12} NUTS: mean test accuracy {:.3} ({:.2} s, {} divergences){scales}",
            "",
            fit.mean(),
            secs,
            trace.divergences()
        );
        nuts.push(Some(fit));
    }

    // Each model with its better method.
    let best: Vec<&Fitted> = advi
        .iter()
        .zip(&nuts)
        .map(|(a, n)| match n {
            Some(n) if n.mean() > a.mean() => n,
            _ => a,
        })
        .collect();
    println!("\ntest accuracy per task (each model with its better method):");
    print!("{:<14}", "task");
    for t in 0..tasks {
        print!("{t:>5}");
    }
    println!("{:>7}", "mean");
    for (pooling, f) in Pooling::ALL.iter().zip(&best) {
        print!("{:<14}", pooling.name());
        for a in &f.acc {
            print!("{:>5.2}", a);
        }
        println!("{:>7.3}", f.mean());
    }

    if !cli.no_plots {
        decision_surfaces(&cli.out, &data, best[0], best[2])?;
    }
    let opt = |f: &Option<Fitted>| match f {
        Some(f) => format!("{:.4}", f.mean()),
        None => "null".to_string(),
    };
    println!(
        "{{\"seed\": {seed}, \"acc_separate\": {:.4}, \"acc_pooled\": {:.4}, \"acc_hierarchical\": {:.4}, \"acc_separate_advi\": {:.4}, \"acc_pooled_advi\": {:.4}, \"acc_hierarchical_advi\": {:.4}, \"acc_separate_nuts\": {}, \"acc_pooled_nuts\": {}, \"acc_hierarchical_nuts\": {}, \"advi_s\": {advi_s:.3}, \"nuts_s\": {nuts_s:.3}, \"total_s\": {:.3}}}",
        best[0].mean(),
        best[1].mean(),
        best[2].mean(),
        advi[0].mean(),
        advi[1].mean(),
        advi[2].mean(),
        opt(&nuts[0]),
        opt(&nuts[1]),
        opt(&nuts[2]),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The 18 decision surfaces (mean P(class 1) on a grid) of the separate
/// and the hierarchical model, side by side: three tasks of each per row.
fn decision_surfaces(
    out: &std::path::Path,
    data: &Tasks,
    sep: &Fitted,
    hier: &Fitted,
) -> Result<()> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("creating {}: {e}", out.display())))?;
    let tasks = data.x_test.shape()[0];
    let g = 40;
    let coord = |i: usize| -3.0 + 6.0 * i as f64 / (g - 1) as f64;
    // The network's input keeps the training rows' count (a data
    // container fixes every axis but the first), so the grid goes through
    // in chunks of that many points.
    let rows = data.x_test.shape()[1];
    let points: Vec<[f64; 2]> = (0..g * g).map(|q| [coord(q % g), coord(q / g)]).collect();
    let mean_surface = |f: &Fitted| -> Result<Vec<Vec<f64>>> {
        let mut out = vec![Vec::with_capacity(g * g); tasks];
        for chunk in points.chunks(rows) {
            let mut x: Vec<f64> = Vec::with_capacity(tasks * rows * 2);
            for _ in 0..tasks {
                for k in 0..rows {
                    // Pad the last chunk with its first point.
                    x.extend(chunk.get(k).unwrap_or(&chunk[0]));
                }
            }
            let p = f
                .predict
                .call(&[Tensor::new(x, &[tasks, rows, 2])?])?
                .remove(0);
            let mean = mean_over_draws(&p);
            for (o, m) in out.iter_mut().zip(mean.chunks(rows)) {
                o.extend_from_slice(&m[..chunk.len()]);
            }
        }
        Ok(out)
    };
    let (s_sep, s_hier) = (mean_surface(sep)?, mean_surface(hier)?);
    let xt = data.x_test.to_f64_vec();
    let yt = data.y_test.to_f64_vec();
    let pts: Vec<Vec<[f64; 2]>> = (0..tasks)
        .map(|t| {
            (0..rows)
                .map(|r| [xt[(t * rows + r) * 2], xt[(t * rows + r) * 2 + 1]])
                .collect()
        })
        .collect();
    let labels: Vec<Vec<i64>> = (0..tasks)
        .map(|t| (0..rows).map(|r| yt[t * rows + r] as i64).collect())
        .collect();
    let per_row = 3;
    let mut panels = vec![];
    for chunk in (0..tasks).collect::<Vec<_>>().chunks(per_row) {
        for (name, s, f) in [("separate", &s_sep, sep), ("hierarchical", &s_hier, hier)] {
            for &t in chunk {
                panels.push(plot::Panel {
                    title: format!("task {t}, {name} ({:.2})", f.acc[t]),
                    values: &s[t],
                    points: &pts[t],
                    labels: &labels[t],
                });
            }
            // Pad a short last row so the two models stay in their columns.
            for _ in chunk.len()..per_row {
                panels.push(plot::Panel {
                    title: String::new(),
                    values: &[],
                    points: &[],
                    labels: &[],
                });
            }
        }
    }
    let path = out.join("decision_surfaces.png");
    plot::panels(
        &path,
        "Mean P(class 1) per task: separate networks (left) vs hierarchical (right); test accuracy in brackets",
        &panels,
        2 * per_row,
        g,
        (-3.0, 3.0),
        (0.0, 1.0),
        ColorMap::Diverging,
        "P(class 1)",
    )?;
    println!("picture written to {}", path.display());
    Ok(())
}
