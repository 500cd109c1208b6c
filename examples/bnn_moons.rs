//! PyMC's notebook "Variational Inference: Bayesian Neural Networks", end
//! to end: the two-moons data, the 2-5-5-1 tanh network, ADVI, posterior
//! draws, the slow and the fast posterior predictive, minibatch ADVI, and
//! the notebook's plots.
//!
//! cargo run --release --example bnn_moons -- [--data DIR] [--seed N]
//!     [--iters N] [--minibatch-iters N] [--optimizer NAME] [--obj-n-mc N]
//!     [--start-sigma X|pymc] [--dtype f32|f64] [--out DIR] [--no-plots]
//!     [--nuts] [--nuts-draws N] [--nuts-tune N]
//!
//! With `--nuts` the network is also sampled with NUTS (the notebook's
//! "we could now just run a MCMC sampler like NUTS"), and its predictive
//! is compared with ADVI's (nuts_vs_advi.png).
//!
//! The last line of output is a JSON summary of the timings and accuracies.

use clap::Parser;
use std::path::PathBuf;
use theon::ppl::*;
use theon::prelude::*;
use theon_examples::data::{self, Split};
use theon_examples::models::{MOONS_LAYERS, moons_bnn};
use theon_examples::plot::{self, ColorMap};
use theon_examples::stats::{Summary, mean_over_draws, points, std_over_draws, trace_moments};
use theon_examples::timing::{median_secs, timed};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Predicted class 1 where the mean probability exceeds one half.
fn classify(prob: &[f64]) -> Vec<i64> {
    prob.iter().map(|p| (*p > 0.5) as i64).collect()
}

/// The notebook "Variational Inference: Bayesian Neural Networks" end to end.
#[derive(Parser)]
#[command(long_about = None)]
struct Cli {
    /// Random seed (data, q's draws, predictive draws).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ADVI steps, full batch.
    #[arg(long, default_value_t = 30_000)]
    iters: usize,
    /// ADVI steps, minibatches of 50.
    #[arg(long, default_value_t = 40_000)]
    minibatch_iters: usize,
    /// Optimizer name (adagrad_window, adam, sgd, ...); PyMC's
    /// adagrad_window by default.
    #[arg(long)]
    optimizer: Option<String>,
    /// Monte Carlo draws per ELBO gradient.
    #[arg(long, default_value_t = 1)]
    obj_n_mc: usize,
    /// q's starting sigma, or `pymc` for PyMC's ln 2 (see the README).
    #[arg(long, default_value = "0.1")]
    start_sigma: String,
    /// Float type of the model: f64 or f32.
    #[arg(long, default_value = "f64")]
    dtype: String,
    /// Where the pictures, trace.npz and model.dot go.
    #[arg(long, default_value = "target/bnn_moons")]
    out: PathBuf,
    /// Skip the pictures.
    #[arg(long)]
    no_plots: bool,
    /// A directory with X_train.csv, Y_train.csv, X_test.csv, Y_test.csv
    /// (e.g. data/moons); by default the moons are generated.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also sample the posterior with NUTS (4 chains) and compare.
    #[arg(long)]
    nuts: bool,
    /// NUTS draws kept per chain.
    #[arg(long, default_value_t = 1000)]
    nuts_draws: usize,
    /// NUTS tuning draws per chain.
    #[arg(long, default_value_t = 1000)]
    nuts_tune: usize,
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let (seed, iters, mb_iters, obj_n_mc) =
        (cli.seed, cli.iters, cli.minibatch_iters, cli.obj_n_mc);
    let optimizer = match &cli.optimizer {
        Some(name) => Optimizer::from_name(name)?,
        None => Optimizer::adagrad_window(),
    };
    // q starts with sigma 0.1 instead of PyMC's ln 2 (see the README);
    // `--start-sigma pymc` starts where PyMC does.
    let start_sigma: Option<f64> = match cli.start_sigma.as_str() {
        "pymc" => None,
        s => Some(s.parse().map_err(|_| {
            Error::value(format!(
                "--start-sigma: expected a number or 'pymc', got '{s}'"
            ))
        })?),
    };
    let dtype = theon_examples::flags::parse_dtype(&cli.dtype)?;
    let (out, plots, data_dir) = (cli.out.clone(), !cli.no_plots, cli.data.clone());
    let mut summary = Summary::default();

    // Data: the notebook's make_moons(noise=0.2, n=1000), scaled, split 50/50.
    let split: Split = match &data_dir {
        Some(dir) => {
            let s = data::read_split(dir.as_ref())?;
            if s.x_train.shape()[1] != 2 {
                return Err(Error::shape(format!(
                    "--data {}: the network takes 2 features, X has {}",
                    dir.display(),
                    s.x_train.shape()[1]
                )));
            }
            s
        }
        None => {
            let (mut x, y) = data::moons(1000, 0.2, 0)?;
            data::standardize(&mut x);
            data::split(&x, &y, 0.5, 0)?
        }
    };
    let (n_train, n_test) = (split.x_train.shape()[0], split.x_test.shape()[0]);
    let source = data_dir
        .as_deref()
        .map_or("generated, noise 0.2".to_string(), |d| {
            format!("from {}", d.display())
        });
    println!("two moons: {n_train} training and {n_test} test points ({source}), {dtype}");
    let (x_test, y_test) = (split.x_test.cast(dtype), split.y_test.to_vec::<i64>());
    if plots {
        std::fs::create_dir_all(&out)
            .map_err(|e| Error::io(format!("creating {}: {e}", out.display())))?;
        let mut all = points(&split.x_train);
        all.extend(points(&split.x_test));
        let mut labels = split.y_train.to_vec::<i64>();
        labels.extend(&y_test);
        plot::scatter(
            &out.join("data.png"),
            "Toy binary classification data set",
            &all,
            &labels,
            &[],
            "class",
        )?;
    }

    // The model, and ADVI with the step compiled once.
    let bnn = moons_bnn(&split.x_train, &split.y_train, seed, dtype, None)?;
    let model = &bnn.model;
    println!("{model}");
    let method = || {
        let m = Advi::new()
            .seed(seed)
            .obj_n_mc(obj_n_mc)
            .optimizer(optimizer.clone());
        match start_sigma {
            Some(s) => m.start_sigma(s),
            None => m,
        }
    };
    let approx = summary.fit(model, method(), iters)?;

    // Posterior draws (the notebook's approx.sample(draws=5000)).
    let (trace, sample_s) = timed(|| approx.sample(5_000));
    let trace = trace?;
    summary.sample_5000_s = sample_s;
    println!("approx.sample(5000): {:.1} ms", sample_s * 1e3);

    // Slow path: swap the data, draw the observed variable per posterior draw.
    let (ppc, slow_s) = timed(|| -> Result<Trace> {
        model.set_data("ann_input", x_test.clone())?;
        model.set_data("ann_output", split.y_test.cast(dtype))?;
        sample_posterior_predictive(model, &trace, Some(500), seed)
    });
    let slow_acc =
        theon_examples::stats::accuracy(&classify(&ppc?.mean("out")?.to_f64_vec()), &split.y_test);
    summary.ppc_slow_ms = slow_s * 1e3;
    model.set_data("ann_input", split.x_train.cast(dtype))?;
    model.set_data("ann_output", split.y_train.cast(dtype))?;

    // Fast path: sample_node with the input replaced, one compiled function.
    let xs = Var::input("X", TensorType::new(dtype, vec![None, Some(2)]));
    let n = iscalar("n");
    let proba = approx.sample_node(&bnn.p, &n)?.replace(&bnn.input, &xs)?;
    let sample_proba = function(&[&xs, &n], &[&proba])?;
    let draws = Tensor::scalar(500i64);
    let probs = sample_proba.call(&[&x_test, &draws])?.remove(0);
    let mut buf = vec![];
    let fast_s = median_secs(20, || {
        sample_proba
            .call_into(&[&x_test, &draws], &mut buf)
            .expect("the predictive ran once already");
    });
    summary.ppc_fast_ms = fast_s * 1e3;
    let mean_p = mean_over_draws(&probs);
    let pred = classify(&mean_p);
    summary.accuracy = theon_examples::stats::accuracy(&pred, &split.y_test);
    println!(
        "posterior predictive, 500 draws x {n_test} points: slow path {:.1} ms (accuracy {:.1}%), sample_node {:.2} ms",
        summary.ppc_slow_ms,
        slow_acc * 100.0,
        summary.ppc_fast_ms
    );
    println!("Accuracy = {:.1}%", summary.accuracy * 100.0);

    // The grid: 100 x 100 points over [-3, 3]^2, 500 draws.
    let g = 100;
    let coord = |i: usize| -3.0 + 6.0 * i as f64 / (g - 1) as f64;
    let grid: Vec<f64> = (0..g * g)
        .flat_map(|q| [coord(q % g), coord(q / g)])
        .collect();
    let grid = Tensor::new(grid, &[g * g, 2])?.cast(dtype);
    let grid_probs = sample_proba.call(&[&grid, &draws])?.remove(0);
    let grid_s = median_secs(5, || {
        sample_proba
            .call_into(&[&grid, &draws], &mut buf)
            .expect("the grid ran once already");
    });
    summary.grid_ms = grid_s * 1e3;
    println!(
        "grid, 500 draws x {} points: {:.1} ms",
        g * g,
        summary.grid_ms
    );

    // Minibatch ADVI: batches of 50, then predict on the whole test set by
    // replacing the minibatch input.
    let mb = moons_bnn(&split.x_train, &split.y_train, seed, dtype, Some(50))?;
    summary.minibatch(
        "batch 50",
        || mb.model.fit(mb_iters, method()),
        &mb.p,
        &mb.input,
        (&xs, &x_test),
        (&n, &draws),
        |p| theon_examples::stats::accuracy(&classify(&mean_over_draws(p)), &split.y_test),
    )?;

    let test_pts = points(&split.x_test);
    let gm = mean_over_draws(&grid_probs);
    let gs = std_over_draws(&grid_probs, &gm);
    if cli.nuts {
        let nuts = Nuts::new()
            .draws(cli.nuts_draws)
            .tune(cli.nuts_tune)
            .seed(seed);
        let on_grid = NutsRun::new(model, &bnn, nuts, (&xs, &grid))?;
        let acc = on_grid.accuracy(&x_test, &split.y_test)?;
        on_grid.report(acc, &mut summary);
        if plots {
            let ns = std_over_draws(&on_grid.grid_probs, &mean_over_draws(&on_grid.grid_probs));
            let smax = gs.iter().chain(&ns).cloned().fold(0.0, f64::max);
            let panel = |title: String, values| plot::Panel {
                title,
                values,
                points: &test_pts,
                labels: &y_test,
            };
            plot::panels(
                &out.join("nuts_vs_advi.png"),
                "Uncertainty (std of the predicted probability): ADVI vs NUTS",
                &[
                    panel(
                        format!("ADVI (accuracy {:.1}%)", summary.accuracy * 100.0),
                        &gs,
                    ),
                    panel(format!("NUTS (accuracy {:.1}%)", acc * 100.0), &ns),
                ],
                2,
                g,
                (-3.0, 3.0),
                (0.0, smax),
                ColorMap::Sequential,
                "std",
            )?;
        }
    }

    if plots {
        plot::line(
            &out.join("loss.png"),
            "ADVI: negative ELBO",
            "loss",
            approx.hist(),
            1000,
        )?;
        let wrong: Vec<bool> = pred.iter().zip(&y_test).map(|(a, b)| a != b).collect();
        let title = format!(
            "Predictions on the test set (accuracy {:.1}%)",
            summary.accuracy * 100.0
        );
        plot::scatter(
            &out.join("predictions.png"),
            &title,
            &test_pts,
            &pred,
            &wrong,
            "predicted class",
        )?;
        let range = (-3.0, 3.0);
        let (pm, sm) = (
            "Posterior predictive mean probability",
            "Uncertainty: std of the predicted probability",
        );
        plot::surface(
            &out.join("probability.png"),
            pm,
            &gm,
            g,
            range,
            (0.0, 1.0),
            ColorMap::Diverging,
            "P(class 1)",
            &test_pts,
            &y_test,
        )?;
        let smax = gs.iter().cloned().fold(0.0, f64::max);
        plot::surface(
            &out.join("uncertainty.png"),
            sm,
            &gs,
            g,
            range,
            (0.0, smax),
            ColorMap::Sequential,
            "std",
            &test_pts,
            &y_test,
        )?;
        let groups = trace_moments(&trace, MOONS_LAYERS)?;
        plot::error_bars(
            &out.join("weights.png"),
            "Posterior of the weights (mean ± std)",
            &groups,
        )?;
        trace.save_npz(out.join("trace.npz"))?;
        std::fs::write(out.join("model.dot"), model.to_graphviz())
            .map_err(|e| Error::io(format!("writing model.dot: {e}")))?;
        println!(
            "plots, trace.npz and model.dot (dot -Tpng model.dot -o model.png) written to {}",
            out.display()
        );
    }
    println!("{}", summary.json());
    Ok(())
}

/// The network sampled with NUTS: the trace, its cost and its predictive
/// on the grid.
struct NutsRun {
    trace: Trace,
    total_s: f64,
    /// P(class 1) for new inputs, at 500 draws spread over the chains.
    predict: Function,
    grid_probs: Tensor,
}

impl NutsRun {
    fn new(
        model: &Model,
        bnn: &theon_examples::models::MoonsBnn,
        nuts: Nuts,
        (xs, grid): (&Var, &Tensor),
    ) -> Result<NutsRun> {
        let (trace, total_s) = timed(|| model.sample(nuts));
        let trace = trace?;
        let node = trace
            .sample_node(model, &bnn.p, Some(500.min(trace.draws)))?
            .replace(&bnn.input, xs)?;
        let predict = function(&[xs], &[&node])?;
        let grid_probs = predict.call(&[grid])?.remove(0);
        Ok(NutsRun {
            trace,
            total_s,
            predict,
            grid_probs,
        })
    }

    fn accuracy(&self, x: &Tensor, y: &Tensor) -> Result<f64> {
        let p = self.predict.call(&[x])?.remove(0);
        Ok(theon_examples::stats::accuracy(
            &classify(&mean_over_draws(&p)),
            y,
        ))
    }

    /// Print the NUTS line and add its figures to the JSON summary.
    fn report(&self, accuracy: f64, summary: &mut Summary) {
        let t = &self.trace;
        let (ess, rhat) = match t.summary() {
            Ok(s) => (s.ess_bulk_min(), s.r_hat_max()),
            Err(_) => (f64::NAN, f64::NAN),
        };
        let run = t.run.unwrap_or_default();
        println!(
            "NUTS: {} chains x {} draws in {:.2} s (compile {:.3} s, sampling {:.2} s), {} divergences, min bulk ESS {:.0}, max R-hat {:.3}, {:.0} gradients/s; Accuracy = {:.1}%",
            t.chains,
            t.draws / t.chains,
            self.total_s,
            run.compile_s,
            run.sampling_s,
            t.divergences(),
            ess,
            rhat,
            run.gradient_evals as f64 / run.sampling_s,
            accuracy * 100.0
        );
        summary.extra.extend([
            ("nuts_accuracy", accuracy),
            ("nuts_divergences", t.divergences() as f64),
            ("nuts_ess_bulk_min", ess),
            ("nuts_r_hat_max", rhat),
            ("nuts_s", self.total_s),
            ("nuts_sampling_s", run.sampling_s),
            ("nuts_ess_per_s", ess / self.total_s),
            ("nuts_ess_per_s_sampling", ess / run.sampling_s),
            (
                "nuts_grad_evals_per_s",
                run.gradient_evals as f64 / run.sampling_s,
            ),
        ]);
    }
}
