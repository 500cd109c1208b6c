//! NUTS through nuts-rs on compiled log-densities: known posteriors are
//! recovered within their Monte Carlo error, a funnel reports divergences,
//! a seed reproduces every chain, and the summary carries R-hat and ESS.

use theon::ppl::diagnostics::mcse_mean;
use theon::ppl::*;
use theon::prelude::*;

/// Chains of element `i` of a variable (`chains x draws`, chain-major).
fn chains_of(t: &Trace, name: &str, i: usize) -> Vec<Vec<f64>> {
    let v = t.get(name).unwrap();
    let per = v.len() / t.draws;
    let x: Vec<f64> = (0..t.draws).map(|d| v.to_f64_vec()[d * per + i]).collect();
    x.chunks(t.draws / t.chains).map(|c| c.to_vec()).collect()
}

#[test]
fn a_standard_normal_in_ten_dimensions_is_recovered() {
    let m = Model::new();
    m.normal("x", 0.0, 1.0, [10]).unwrap();
    let t = m
        .sample(Nuts::new().draws(500).tune(500).chains(2).seed(1))
        .unwrap();
    assert_eq!((t.chains, t.draws), (2, 1000));
    assert_eq!(t.get("x").unwrap().shape(), &[1000, 10]);
    assert_eq!(t.divergences(), 0);
    for i in 0..10 {
        let c = chains_of(&t, "x", i);
        let refs: Vec<&[f64]> = c.iter().map(|v| v.as_slice()).collect();
        let all: Vec<f64> = c.concat();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let var = all.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / all.len() as f64;
        // Within 4 Monte Carlo standard errors of 0; the variance within 20%.
        assert!(mean.abs() < 4.0 * mcse_mean(&refs), "x[{i}] mean {mean}");
        assert!((var - 1.0).abs() < 0.2, "x[{i}] var {var}");
    }
    let s = t.summary().unwrap();
    let rh = s
        .rows
        .iter()
        .map(|r| r.mcmc.as_ref().unwrap().r_hat)
        .fold(0.0, f64::max);
    assert!(rh < 1.02, "max r_hat {rh}");
    assert!(s.to_string().contains("ess_bulk"));
}

#[test]
fn a_correlated_gaussian_and_a_positive_variable_are_recovered() {
    // x ~ MvNormal(0, [[1, .8], [.8, 1]]), s ~ HalfNormal(2) (log transform).
    let m = Model::new();
    let cov = Tensor::new(vec![1.0, 0.8, 0.8, 1.0], &[2, 2]).unwrap();
    m.mv_normal_cov("x", vec![0.0, 0.0], &cov).unwrap();
    m.half_normal("s", 2.0, ()).unwrap();
    let t = m
        .sample(Nuts::new().draws(1000).tune(500).chains(2).seed(3))
        .unwrap();
    let x = t.get("x").unwrap().to_f64_vec();
    let n = t.draws as f64;
    let (a, b): (Vec<f64>, Vec<f64>) = x.chunks(2).map(|p| (p[0], p[1])).unzip();
    let ma = a.iter().sum::<f64>() / n;
    let mb = b.iter().sum::<f64>() / n;
    let cab = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / n;
    let va = a.iter().map(|x| (x - ma) * (x - ma)).sum::<f64>() / n;
    assert!((cab - 0.8).abs() < 0.15, "cov {cab}");
    assert!((va - 1.0).abs() < 0.2, "var {va}");
    // HalfNormal(2): mean 2 sqrt(2 / π) = 1.596.
    let s = t.get("s").unwrap().to_f64_vec();
    assert!(s.iter().all(|v| *v > 0.0));
    let ms = s.iter().sum::<f64>() / n;
    assert!((ms - 1.596).abs() < 0.2, "s mean {ms}");
}

#[test]
fn a_funnel_reports_divergences() {
    // Neal's funnel, centred: v ~ Normal(0, 3), x ~ Normal(0, exp(v / 2)).
    let m = Model::new();
    let v = m.normal("v", 0.0, 3.0, ()).unwrap();
    m.normal("x", 0.0, (v.var() * 0.5).unwrap().exp(), [9])
        .unwrap();
    let t = m
        .sample(Nuts::new().draws(500).tune(300).chains(2).seed(0))
        .unwrap();
    assert!(t.divergences() > 0, "no divergences in the funnel");
}

#[test]
fn a_seed_reproduces_every_chain() {
    let run = |seed| {
        let m = Model::new();
        let mu = m.normal("mu", 0.0, 5.0, ()).unwrap();
        m.normal("y", &mu, 1.0, ())
            .unwrap()
            .observed(Tensor::vector(vec![1.0, 2.0, 0.5]));
        m.deterministic("twice", &(mu.var() * 2.0).unwrap())
            .unwrap();
        m.sample(Nuts::new().draws(100).tune(100).chains(2).seed(seed))
            .unwrap()
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a.get("mu").unwrap(), b.get("mu").unwrap());
    assert_ne!(a.get("mu").unwrap(), c.get("mu").unwrap());
    let mu = a.get("mu").unwrap().to_f64_vec();
    let tw = a.get("twice").unwrap().to_f64_vec();
    assert!(mu.iter().zip(&tw).all(|(m, t)| *t == 2.0 * m));
    // The two chains differ (their own streams).
    assert_ne!(&mu[..100], &mu[100..]);
    assert_eq!(a.stats().len(), 4);
    // Depth d: at most 2^d - 1 steps, more than 2^(d-1) - 1.
    let (steps, depth) = (&a.stats()[2].1, &a.stats()[3].1);
    for (n, d) in steps.iter_f64().zip(depth.iter_f64()) {
        assert!(
            n <= 2f64.powf(d) - 1.0 && n > 2f64.powf(d - 1.0) - 1.0,
            "{n} steps, depth {d}"
        );
    }
}

#[test]
fn discrete_free_variables_and_empty_requests_are_errors() {
    let m = Model::new();
    m.poisson("k", 3.0).unwrap();
    let e = m.sample(Nuts::new().draws(10).tune(10)).unwrap_err();
    assert!(e.message().contains("discrete"), "{e}");
    let m = Model::new();
    m.normal("x", 0.0, 1.0, ()).unwrap();
    assert!(m.sample(Nuts::new().draws(0)).is_err());
    assert!(m.sample(Nuts::new().chains(0)).is_err());
}
