//! Eight schools (Rubin 1981), the classic hierarchical model: mu ~
//! Normal(0, 5), tau ~ HalfCauchy(5), theta ~ Normal(mu, tau), y ~
//! Normal(theta, sigma), non-centred by default (theta = mu + tau
//! theta_tilde), fitted by ADVI. Ends with a JSON line of the posterior
//! moments; PyMC's ADVI on the same model (data/pymc_advi_reference.md) gives
//! mu 4.06 ± 3.39, tau 3.35 ± 3.90.
//!
//! cargo run --release --example eight_schools -- [--centered] [--seed N]

use clap::Parser;
use theon::ppl::*;
use theon::prelude::*;

/// The eight-schools hierarchical model by ADVI.
#[derive(Parser)]
#[command(long_about = None)]
struct Cli {
    /// The centred parametrization (theta ~ Normal(mu, tau) directly).
    #[arg(long)]
    centered: bool,
    /// Seed of ADVI and of the draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// ADVI steps.
    #[arg(long, default_value_t = 30_000)]
    iters: usize,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let y = vec![28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
    let sigma = vec![15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];

    let m = Model::new();
    let mu = m.normal("mu", 0.0, 5.0, ())?;
    let tau = m.half_cauchy("tau", 5.0, ())?;
    let theta = if cli.centered {
        m.normal("theta", &mu, &tau, [8])?.var().clone()
    } else {
        let z = m.normal("theta_tilde", 0.0, 1.0, [8])?;
        m.deterministic("theta", &(&mu + &(&tau * &z)?)?)?
    };
    m.normal("y", &theta, sigma, ())?
        .observed(Tensor::vector(y));
    print!("{m}");

    let (approx, fit_s) = {
        let t = std::time::Instant::now();
        let a = m.fit(cli.iters, Advi::new().seed(cli.seed).progressbar(false))?;
        (a, t.elapsed().as_secs_f64())
    };
    let trace = approx.sample(2000)?;
    print!("{}", trace.summary()?);
    let get = |name: &str| -> Result<(f64, f64)> {
        let row = trace.summary()?.rows.into_iter().find(|r| r.name == name);
        let r = row.ok_or_else(|| Error::model(format!("no row {name}")))?;
        Ok((r.mean, r.sd))
    };
    let ((mu_m, mu_sd), (tau_m, tau_sd)) = (get("mu")?, get("tau")?);
    println!(
        "{{\"centered\": {}, \"mu_mean\": {mu_m:.3}, \"mu_sd\": {mu_sd:.3}, \"tau_mean\": {tau_m:.3}, \"tau_sd\": {tau_sd:.3}, \"fit_s\": {fit_s:.3}, \"final_avg_loss\": {:.3}}}",
        cli.centered,
        final_avg_loss(approx.hist())
    );
    Ok(())
}

fn final_avg_loss(hist: &[f64]) -> f64 {
    let tail = &hist[hist.len().saturating_sub(1000)..];
    tail.iter().sum::<f64>() / tail.len().max(1) as f64
}
