//! Day one with theon: Bayesian linear regression, as PyMC's "getting
//! started" (alpha ~ Normal(0, 10), beta ~ Normal(0, 10), sigma ~
//! HalfNormal(1), y ~ Normal(alpha + X beta, sigma)), fitted by ADVI and
//! checked against the least-squares solution it should sit next to.
//!
//! cargo run --release --example linear_regression -- [--seed N] [--iters N]

use clap::Parser;
use theon::ppl::*;
use theon::prelude::*;

/// Bayesian linear regression by ADVI on simulated data.
#[derive(Parser)]
#[command(long_about = None)]
struct Cli {
    /// Seed of the data and of ADVI.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ADVI steps.
    #[arg(long, default_value_t = 20_000)]
    iters: usize,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // PyMC's example data: alpha 1, beta (1, 2.5), sigma 1, 100 points.
    let n = 100;
    let x = Tensor::randn(DType::F64, &[n, 2], cli.seed).to_f64_vec();
    let x = Tensor::new(
        x.chunks(2)
            .flat_map(|r| [r[0], 0.2 * r[1]])
            .collect::<Vec<_>>(),
        &[n, 2],
    )?;
    let noise = Tensor::randn(DType::F64, &[n], cli.seed + 1).to_f64_vec();
    let xv = x.to_f64_vec();
    let y: Vec<f64> = (0..n)
        .map(|i| 1.0 + xv[2 * i] + 2.5 * xv[2 * i + 1] + noise[i])
        .collect();

    // The model, line for line as in PyMC.
    let m = Model::new();
    let alpha = m.normal("alpha", 0.0, 10.0, ())?;
    let beta = m.normal("beta", 0.0, 10.0, [2])?;
    let sigma = m.half_normal("sigma", 1.0, ())?;
    let mu = (constant(x.clone()).dot(&beta)? + &alpha)?;
    m.normal("y", &mu, &sigma, ())?
        .observed(Tensor::vector(y.clone()));
    print!("{m}");
    let approx = m.fit(cli.iters, Advi::new().seed(cli.seed).progressbar(false))?;
    let trace = approx.sample(2000)?;
    print!("{}", trace.summary()?);

    // Least squares on [1, x] (the posterior mode under flat priors).
    let ols = least_squares(&xv, &y, n);
    let a = trace.mean("alpha")?.item::<f64>()?;
    let b = trace.mean("beta")?.to_f64_vec();
    println!(
        "least squares: alpha {:.3}, beta ({:.3}, {:.3}); posterior means: alpha {a:.3}, beta ({:.3}, {:.3})",
        ols[0], ols[1], ols[2], b[0], b[1]
    );
    println!(
        "{{\"alpha_mean\": {a:.4}, \"beta0_mean\": {:.4}, \"beta1_mean\": {:.4}, \"sigma_mean\": {:.4}, \"ols\": [{:.4}, {:.4}, {:.4}]}}",
        b[0],
        b[1],
        trace.mean("sigma")?.item::<f64>()?,
        ols[0],
        ols[1],
        ols[2]
    );
    Ok(())
}

/// Solve the 3 x 3 normal equations of y ~ [1, x0, x1] (Gaussian elimination).
fn least_squares(x: &[f64], y: &[f64], n: usize) -> [f64; 3] {
    let row = |i: usize| [1.0, x[2 * i], x[2 * i + 1]];
    let mut a = [[0.0; 4]; 3];
    for i in 0..n {
        let r = row(i);
        for j in 0..3 {
            for k in 0..3 {
                a[j][k] += r[j] * r[k];
            }
            a[j][3] += r[j] * y[i];
        }
    }
    for c in 0..3 {
        for r in c + 1..3 {
            let f = a[r][c] / a[c][c];
            for k in c..4 {
                a[r][k] -= f * a[c][k];
            }
        }
    }
    let mut s = [0.0; 3];
    for c in (0..3).rev() {
        s[c] = (a[c][3] - (c + 1..3).map(|k| a[c][k] * s[k]).sum::<f64>()) / a[c][c];
    }
    s
}
