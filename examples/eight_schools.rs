//! Eight schools (Rubin 1981), the classic hierarchical model: mu ~
//! Normal(0, 5), tau ~ HalfCauchy(5), theta ~ Normal(mu, tau), y ~
//! Normal(theta, sigma), non-centred by default (theta = mu + tau
//! theta_tilde), fitted by ADVI or sampled by NUTS (`--nuts`, 4 chains of
//! 1000 tuning + 1000 draws). Ends with a JSON line of the posterior
//! moments; PyMC's ADVI on the same model (data/pymc_advi_reference.md) gives
//! mu 4.06 ± 3.39, tau 3.35 ± 3.90.
//!
//! cargo run --release --example eight_schools -- [--centered] [--nuts] [--seed N]

use clap::Parser;
use theon::ppl::*;
use theon::prelude::*;
use theon_examples::stats::final_avg_loss;

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
    /// Sample with NUTS instead of fitting ADVI.
    #[arg(long)]
    nuts: bool,
    /// With --nuts: save the trace (posterior and sample_stats) as .npz
    /// (read it with scripts/arviz_trace.py).
    #[arg(long)]
    save: Option<std::path::PathBuf>,
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

    if cli.nuts {
        return sample_nuts(&m, cli.seed, cli.centered, cli.save.as_deref());
    }
    let (approx, fit_s) = {
        let t = std::time::Instant::now();
        let a = m.fit(cli.iters, Advi::new().seed(cli.seed).progressbar(false))?;
        (a, t.elapsed().as_secs_f64())
    };
    let summary = approx.sample(2000)?.summary()?;
    print!("{summary}");
    let (mu, tau) = (summary.row("mu")?, summary.row("tau")?);
    println!(
        "{{\"centered\": {}, \"mu_mean\": {:.3}, \"mu_sd\": {:.3}, \"tau_mean\": {:.3}, \"tau_sd\": {:.3}, \"fit_s\": {fit_s:.3}, \"final_avg_loss\": {:.3}}}",
        cli.centered,
        mu.mean,
        mu.sd,
        tau.mean,
        tau.sd,
        final_avg_loss(approx.hist())
    );
    Ok(())
}

/// NUTS: the summary with R-hat and ESS, and a JSON line.
fn sample_nuts(m: &Model, seed: u64, centered: bool, save: Option<&std::path::Path>) -> Result<()> {
    let t = std::time::Instant::now();
    let trace = m.sample(Nuts::new().seed(seed))?;
    let total_s = t.elapsed().as_secs_f64();
    let summary = trace.summary()?;
    print!("{summary}");
    if let Some(path) = save {
        trace.save_npz(path)?;
        println!("trace written to {}", path.display());
    }
    let (mu, tau) = (summary.row("mu")?, summary.row("tau")?);
    let (ess_min, rhat_max) = (summary.ess_bulk_min(), summary.r_hat_max());
    let run = trace.run.unwrap_or_default();
    println!(
        "{{\"sampler\": \"nuts\", \"centered\": {centered}, \"mu_mean\": {:.3}, \"mu_sd\": {:.3}, \"tau_mean\": {:.3}, \"tau_sd\": {:.3}, \"divergences\": {}, \"ess_bulk_min\": {ess_min:.1}, \"r_hat_max\": {rhat_max:.3}, \"ess_per_s\": {:.1}, \"ess_per_s_sampling\": {:.1}, \"grad_evals_per_s_sampling\": {:.0}, \"compile_s\": {:.4}, \"sampling_s\": {:.4}, \"total_s\": {total_s:.3}}}",
        mu.mean,
        mu.sd,
        tau.mean,
        tau.sd,
        trace.divergences(),
        ess_min / total_s,
        ess_min / run.sampling_s,
        run.gradient_evals as f64 / run.sampling_s,
        run.compile_s,
        run.sampling_s,
    );
    Ok(())
}
