//! MCMC convergence diagnostics of Vehtari, Gelman, Simpson, Carpenter and
//! Bürkner (2021), computed as ArviZ computes them: rank-normalized split
//! R-hat, bulk and tail effective sample sizes, the ESS of the mean and the
//! Monte Carlo standard error of the mean. Chains are slices of equal
//! length. `tests/reference_diagnostics.rs` checks every function against
//! ArviZ 0.23.4 on committed draws.

/// Rank-normalized split R-hat: the larger of the split R-hats of the
/// z-scaled draws and of their folded (|x - median|) version. NaN with
/// fewer than 2 chains, fewer than 4 draws, or NaN draws (as ArviZ).
pub fn rhat(chains: &[&[f64]]) -> f64 {
    if !valid(chains, 2) {
        return f64::NAN;
    }
    let split = split_chains(chains);
    let bulk = rhat_raw(&z_scale(&split));
    let all: Vec<f64> = split.iter().flatten().copied().collect();
    let med = median(&all);
    let folded: Vec<Vec<f64>> = split
        .iter()
        .map(|c| c.iter().map(|x| (x - med).abs()).collect())
        .collect();
    let tail = rhat_raw(&z_scale(&folded));
    bulk.max(tail)
}

/// Bulk effective sample size: the ESS of the rank-normalized split chains.
pub fn ess_bulk(chains: &[&[f64]]) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    ess_raw(&z_scale(&split_chains(chains)))
}

/// Tail effective sample size: the smaller ESS of the indicators of the
/// 5% and 95% quantiles (split chains).
pub fn ess_tail(chains: &[&[f64]]) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    let mut all: Vec<f64> = chains.iter().flat_map(|c| c.iter().copied()).collect();
    all.sort_by(f64::total_cmp);
    let q = |p: f64| crate::trace::quantile_sorted(&all, p);
    [q(0.05), q(0.95)]
        .iter()
        .map(|&t| {
            let ind: Vec<Vec<f64>> = chains
                .iter()
                .map(|c| c.iter().map(|&x| (x <= t) as u8 as f64).collect())
                .collect();
            let refs: Vec<&[f64]> = ind.iter().map(|c| c.as_slice()).collect();
            ess_raw(&split_chains(&refs))
        })
        .fold(f64::INFINITY, f64::min)
}

/// Effective sample size of the mean (split chains, no rank transform).
pub fn ess_mean(chains: &[&[f64]]) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    ess_raw(&split_chains(chains))
}

/// Monte Carlo standard error of the mean: sd (ddof = 1) / sqrt(ess_mean).
pub fn mcse_mean(chains: &[&[f64]]) -> f64 {
    if !valid(chains, 1) {
        return f64::NAN;
    }
    let all: Vec<f64> = chains.iter().flat_map(|c| c.iter().copied()).collect();
    let n = all.len() as f64;
    let m = all.iter().sum::<f64>() / n;
    let sd = (all.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt();
    sd / ess_mean(chains).sqrt()
}

/// ArviZ's validity rule: enough chains, at least 4 draws each, equal
/// lengths, no NaN.
fn valid(chains: &[&[f64]], min_chains: usize) -> bool {
    let n = chains.first().map_or(0, |c| c.len());
    chains.len() >= min_chains
        && n >= 4
        && chains
            .iter()
            .all(|c| c.len() == n && !c.iter().any(|x| x.is_nan()))
}

/// Each chain's first and last halves as two chains (the middle draw of an
/// odd length is dropped).
fn split_chains(chains: &[&[f64]]) -> Vec<Vec<f64>> {
    let half = chains[0].len() / 2;
    let first = chains.iter().map(|c| c[..half].to_vec());
    let second = chains.iter().map(|c| c[c.len() - half..].to_vec());
    first.chain(second).collect()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    crate::trace::quantile_sorted(&s, 0.5)
}

/// Ranks over all draws (ties averaged, 1-based), mapped to normal scores
/// with Blom's offset: Φ⁻¹((r - 3/8) / (n + 1/4)).
fn z_scale(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let all: Vec<f64> = chains.iter().flatten().copied().collect();
    let n = all.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| all[a].total_cmp(&all[b]));
    let mut rank = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[order[j + 1]] == all[order[i]] {
            j += 1;
        }
        // Positions i..=j share the average of ranks i+1..=j+1.
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            rank[k] = avg;
        }
        i = j + 1;
    }
    let per = chains[0].len();
    rank.chunks(per)
        .map(|c| {
            c.iter()
                .map(|r| ndtri((r - 0.375) / (n as f64 + 0.25)))
                .collect()
        })
        .collect()
}

/// Classic R-hat of equal-length chains.
fn rhat_raw(chains: &[Vec<f64>]) -> f64 {
    let n = chains[0].len() as f64;
    let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / n).collect();
    let within = chains
        .iter()
        .zip(&means)
        .map(|(c, m)| c.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0))
        .sum::<f64>()
        / chains.len() as f64;
    let between = n * sample_var(&means);
    ((between / within + n - 1.0) / n).sqrt()
}

fn sample_var(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
}

/// Effective sample size of equal-length chains: Geyer's initial positive
/// and then monotone sequence on the multi-chain autocorrelation.
fn ess_raw(chains: &[Vec<f64>]) -> f64 {
    let (m, n) = (chains.len(), chains[0].len());
    let total = (m * n) as f64;
    let (lo, hi) = chains
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    // Constant draws: every draw counts (ArviZ's float resolution rule).
    if hi - lo < 1e-15 {
        return total;
    }
    let nf = n as f64;
    let means: Vec<f64> = chains.iter().map(|c| c.iter().sum::<f64>() / nf).collect();
    let centred: Vec<Vec<f64>> = chains
        .iter()
        .zip(&means)
        .map(|(c, mu)| c.iter().map(|x| x - mu).collect())
        .collect();
    // Mean over chains of the lag-t autocovariance (divided by n).
    let acov = |t: usize| -> f64 {
        centred
            .iter()
            .map(|c| (0..n - t).map(|i| c[i] * c[i + t]).sum::<f64>() / nf)
            .sum::<f64>()
            / m as f64
    };
    let mean_var = acov(0) * nf / (nf - 1.0);
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if m > 1 {
        var_plus += sample_var(&means);
    }
    let rho = |t: usize| 1.0 - (mean_var - acov(t)) / var_plus;
    let mut rho_hat = vec![0.0; n];
    rho_hat[0] = 1.0;
    let (mut even, mut odd) = (1.0, rho(1));
    rho_hat[1] = odd;
    let mut t = 1;
    while t < n.saturating_sub(3) && even + odd > 0.0 {
        even = rho(t + 1);
        odd = rho(t + 2);
        if even + odd >= 0.0 {
            rho_hat[t + 1] = even;
            rho_hat[t + 2] = odd;
        }
        t += 2;
    }
    let max_t = t - 2;
    if even > 0.0 {
        rho_hat[max_t + 1] = even;
    }
    let mut t = 1;
    while t + 2 <= max_t {
        if rho_hat[t + 1] + rho_hat[t + 2] > rho_hat[t - 1] + rho_hat[t] {
            rho_hat[t + 1] = (rho_hat[t - 1] + rho_hat[t]) / 2.0;
            rho_hat[t + 2] = rho_hat[t + 1];
        }
        t += 2;
    }
    let tau = -1.0 + 2.0 * rho_hat[..=max_t].iter().sum::<f64>() + rho_hat[max_t + 1];
    let tau = tau.max(1.0 / total.log10());
    if rho_hat.iter().any(|r| r.is_nan()) {
        return f64::NAN;
    }
    total / tau
}

/// Φ⁻¹(p), the standard normal quantile: Acklam's rational approximation
/// (relative error 1.2e-9) refined by two Halley steps on
/// Φ(x) = erfc(-x / √2) / 2, which reach double precision.
pub(crate) fn ndtri(p: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return match p {
            0.0 => f64::NEG_INFINITY,
            1.0 => f64::INFINITY,
            _ => f64::NAN,
        };
    }
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let mut x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    for _ in 0..2 {
        let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - p;
        let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
        x -= u / (1.0 + x * u / 2.0);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndtri_inverts_the_normal_cdf() {
        // Reference values of scipy.special.ndtri.
        for (p, want) in [
            (0.5, 0.0),
            (0.975, 1.959963984540054),
            (0.025, -1.9599639845400545),
            (1e-3, -3.090232306167813),
            (0.8413447460685429, 1.0),
        ] {
            let got = ndtri(p);
            assert!(
                (got - want).abs() <= 2e-15 * want.abs().max(1.0),
                "{p}: {got}"
            );
        }
        assert_eq!(ndtri(0.0), f64::NEG_INFINITY);
        assert!(ndtri(1.5).is_nan());
    }
}
