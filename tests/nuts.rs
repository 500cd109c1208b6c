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

/// Variances of both coordinates of a 2-vector variable and their covariance.
fn moments2(t: &Trace, name: &str) -> [f64; 3] {
    let x = t.get(name).unwrap().to_f64_vec();
    let n = t.draws as f64;
    let (a, b): (Vec<f64>, Vec<f64>) = x.chunks(2).map(|p| (p[0], p[1])).unzip();
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let c = |u: &[f64], mu: f64, v: &[f64], mv: f64| {
        u.iter()
            .zip(v)
            .map(|(x, y)| (x - mu) * (y - mv))
            .sum::<f64>()
            / n
    };
    [c(&a, ma, &a, ma), c(&b, mb, &b, mb), c(&a, ma, &b, mb)]
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
    let [va, _, cab] = moments2(&t, "x");
    let n = t.draws as f64;
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
    assert_eq!(a.stats().len(), 6);
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
    let e = m.sample(Nuts::new().target_accept(1.0)).unwrap_err();
    assert!(e.message().contains("target_accept"), "{e}");
    let e = m.sample(Nuts::new().max_depth(0)).unwrap_err();
    assert!(e.message().contains("max_depth"), "{e}");
}

/// A statistic of a trace by name.
fn stat(t: &Trace, name: &str) -> Vec<f64> {
    t.stats()
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no statistic {name}"))
        .1
        .to_f64_vec()
}

#[test]
fn energy_and_acceptance_statistics_follow_the_target() {
    // x ~ Normal(0, 1) in 5-d: energy = -logp + |p|^2 / 2 >= -logp(x) at the
    // draw (the kinetic part is non-negative), and the acceptance
    // statistic averages near the target the step size was tuned for.
    let run = |target: f64| {
        let m = Model::new();
        m.normal("x", 0.0, 1.0, [5]).unwrap();
        m.sample(
            Nuts::new()
                .draws(400)
                .tune(400)
                .chains(2)
                .seed(2)
                .target_accept(target),
        )
        .unwrap()
    };
    let t = run(0.8);
    let x = t.get("x").unwrap().to_f64_vec();
    let energy = stat(&t, "energy");
    let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    for (k, e) in energy.iter().enumerate() {
        let neg_logp: f64 = x[5 * k..5 * k + 5]
            .iter()
            .map(|v| 0.5 * v * v + half_log_2pi)
            .sum();
        assert!(
            *e >= neg_logp - 1e-9,
            "draw {k}: energy {e} < -logp {neg_logp}"
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let accept = stat(&t, "mean_tree_accept");
    assert!(accept.iter().all(|a| (0.0..=1.0).contains(a)));
    assert!(
        (mean(&accept) - 0.8).abs() < 0.1,
        "mean accept {}",
        mean(&accept)
    );
    // Every kept draw's leapfrog steps are gradient evaluations, and the
    // tuning draws add more.
    let kept: f64 = stat(&t, "n_steps").iter().sum();
    let cost = t.run.unwrap();
    assert!(
        cost.gradient_evals as f64 > kept,
        "{} vs {kept}",
        cost.gradient_evals
    );
    assert!(cost.compile_s > 0.0 && cost.sampling_s > 0.0);
    // A higher target means smaller steps.
    let step = |t: &Trace| mean(&stat(t, "step_size"));
    let high = run(0.95);
    assert!(step(&high) < step(&t), "{} vs {}", step(&high), step(&t));
    assert!(mean(&stat(&high, "mean_tree_accept")) > 0.88);
}

#[test]
fn a_low_rank_mass_matrix_recovers_a_strongly_correlated_gaussian() {
    // Correlation 0.99: the diagonal mass matrix cannot undo it, the
    // low-rank one can; both must be right, low rank in fewer steps.
    let cov = Tensor::new(vec![1.0, 0.99, 0.99, 1.0], &[2, 2]).unwrap();
    let run = |low_rank| {
        let m = Model::new();
        m.mv_normal_cov("x", vec![0.0, 0.0], &cov).unwrap();
        m.sample(
            Nuts::new()
                .draws(1000)
                .tune(1000)
                .chains(2)
                .seed(4)
                .low_rank(low_rank),
        )
        .unwrap()
    };
    let (diag, low) = (run(false), run(true));
    for (kind, t) in [("diagonal", &diag), ("low rank", &low)] {
        let [_, _, cab] = moments2(t, "x");
        assert!((cab - 0.99).abs() < 0.15, "{kind}: cov {cab}");
    }
    let steps = |t: &Trace| stat(t, "n_steps").iter().sum::<f64>();
    assert!(
        steps(&low) < steps(&diag),
        "{} vs {}",
        steps(&low),
        steps(&diag)
    );
}

#[test]
fn the_trace_predictive_evaluates_an_expression_at_every_draw() {
    // mu ~ Normal(0, 5), s ~ HalfNormal(1); y = mu + s * x for a data input
    // x, evaluated by one vectorized function and by hand per draw.
    let m = Model::new();
    let mu = m.normal("mu", 0.0, 5.0, ()).unwrap();
    let s = m.half_normal("s", 1.0, ()).unwrap();
    let x = m.data("x", Tensor::vector(vec![1.0, -2.0, 0.5])).unwrap();
    m.normal("obs", &mu, 1.0, ())
        .unwrap()
        .observed(Tensor::vector(vec![0.3, 1.1]));
    let y = (mu.var() + (s.var() * &x).unwrap()).unwrap();
    let t = m
        .sample(Nuts::new().draws(50).tune(50).chains(2).seed(5))
        .unwrap();
    let xs = Var::input("xs", TensorType::new(DType::F64, vec![None]));
    let node = t
        .sample_node(&m, &y, Some(25))
        .unwrap()
        .replace(&x, &xs)
        .unwrap();
    let f = function(&[&xs], &[&node]).unwrap();
    let new_x = [4.0, 0.0, -1.0, 2.5];
    let out = f.call(&[Tensor::vector(new_x.to_vec())]).unwrap().remove(0);
    assert_eq!(out.shape(), &[25, 4]);
    let (mus, ss) = (
        t.get("mu").unwrap().to_f64_vec(),
        t.get("s").unwrap().to_f64_vec(),
    );
    let got = out.to_f64_vec();
    for k in 0..25 {
        // Evenly spaced over the 100 draws of both chains: draw 4k.
        let d = 4 * k;
        for (j, xv) in new_x.iter().enumerate() {
            let want = mus[d] + ss[d] * xv;
            assert!((got[4 * k + j] - want).abs() < 1e-12, "draw {d}, x {xv}");
        }
    }
    assert!(t.sample_node(&m, &y, Some(101)).is_err());
    assert!(t.sample_node(&m, &y, Some(0)).is_err());
    // A trace without the model's variables names the missing one.
    let other = Model::new();
    let z = other.normal("z", 0.0, 1.0, ()).unwrap();
    let e = t.sample_node(&other, z.var(), None).unwrap_err();
    assert!(e.message().contains("'z'"), "{e}");
}

#[test]
fn summary_extremes_propagate_nan_and_huge_requests_are_errors() {
    let row = |r_hat: f64, ess: f64| SummaryRow {
        name: "x".into(),
        mean: 0.0,
        sd: 1.0,
        hdi_3: -1.0,
        hdi_97: 1.0,
        mcmc: Some(Mcmc {
            mcse_mean: 0.1,
            ess_bulk: ess,
            ess_tail: ess,
            r_hat,
        }),
    };
    let s = Summary {
        rows: vec![row(1.01, 400.0), row(1.2, 50.0)],
    };
    assert_eq!((s.r_hat_max(), s.ess_bulk_min()), (1.2, 50.0));
    let s = Summary {
        rows: vec![row(1.01, 400.0), row(f64::NAN, f64::NAN), row(1.2, 50.0)],
    };
    assert!(s.r_hat_max().is_nan() && s.ess_bulk_min().is_nan());
    let m = Model::new();
    m.normal("x", 0.0, 1.0, ()).unwrap();
    let e = m.sample(Nuts::new().tune(usize::MAX)).unwrap_err();
    assert!(e.message().contains("overflow"), "{e}");
    let e = m
        .sample(Nuts::new().draws(usize::MAX / 2).chains(4))
        .unwrap_err();
    assert!(e.message().contains("overflow"), "{e}");
}
