//! The probabilistic layer: distributions against closed forms, transforms,
//! minibatch scaling, ADVI against exact posteriors, sample_node, errors.

use std::f64::consts::PI;
use theon::ppl::*;
use theon::prelude::*;
use theon_tests::eval_checked;

fn c(x: f64) -> Var {
    Var::scalar_const(x, DType::F64)
}

/// log-density of `dist` at each of `xs`, through the interpreter, the
/// rewritten graph and the JIT (which must agree).
fn logp_at(dist: &Dist, xs: &[f64]) -> Vec<f64> {
    let x = vector("x");
    let lp = dist.logp(&x).unwrap();
    eval_checked(&[&x], &[&lp], &[Tensor::vector(xs.to_vec())]).unwrap()[0].to_f64_vec()
}

#[track_caller]
fn check_logp(dist: &Dist, cases: &[(f64, f64)]) {
    let xs: Vec<f64> = cases.iter().map(|c| c.0).collect();
    let got = logp_at(dist, &xs);
    for ((x, want), g) in cases.iter().zip(got) {
        if want.is_infinite() {
            assert_eq!(g, *want, "{} at {x}: got {g}, want {want}", dist.name());
        } else {
            assert!(
                (g - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "{} at {x}: got {g}, want {want}",
                dist.name()
            );
        }
    }
}

const NEG_INF: f64 = f64::NEG_INFINITY;
/// ln Γ at integers and half-integers, from factorials and Γ(1/2) = √π.
fn ln_gamma(x: f64) -> f64 {
    if x.fract() == 0.0 {
        (1..x as u64).map(|k| (k as f64).ln()).sum()
    } else {
        // Γ(n + 1/2) = √π (2n)! / (4^n n!)
        let n = (x - 0.5) as u64;
        0.5 * PI.ln() + (1..=2 * n).map(|k| (k as f64).ln()).sum::<f64>()
            - n as f64 * 4f64.ln()
            - (1..=n).map(|k| (k as f64).ln()).sum::<f64>()
    }
}

#[test]
fn continuous_densities_match_closed_forms() {
    let norm =
        |x: f64, m: f64, s: f64| -0.5 * ((x - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * PI).ln();
    check_logp(
        &Dist::Continuous(Continuous::Normal {
            mu: c(1.0),
            sigma: c(2.0),
        }),
        &[
            (1.0, norm(1.0, 1.0, 2.0)),
            (-3.0, norm(-3.0, 1.0, 2.0)),
            (40.0, norm(40.0, 1.0, 2.0)),
        ],
    );
    let hn = |x: f64, s: f64| (2.0 / PI).sqrt().ln() - s.ln() - 0.5 * (x / s).powi(2);
    check_logp(
        &Dist::Continuous(Continuous::HalfNormal { sigma: c(1.5) }),
        &[(0.0, hn(0.0, 1.5)), (2.0, hn(2.0, 1.5)), (-1e-12, NEG_INF)],
    );
    // StudentT(3, 1, 2): Γ(2)/(Γ(3/2) √(3π) σ) (1 + z²/3)^-2.
    let st = |x: f64| {
        ln_gamma(2.0)
            - ln_gamma(1.5)
            - 0.5 * (3.0 * PI).ln()
            - 2f64.ln()
            - 2.0 * (1.0 + ((x - 1.0) / 2.0).powi(2) / 3.0).ln()
    };
    check_logp(
        &Dist::Continuous(Continuous::StudentT {
            nu: c(3.0),
            mu: c(1.0),
            sigma: c(2.0),
        }),
        &[(1.0, st(1.0)), (-5.0, st(-5.0)), (1e6, st(1e6))],
    );
    let lap = |x: f64| -(2.0 * 0.5f64).ln() - (x + 1.0).abs() / 0.5;
    check_logp(
        &Dist::Continuous(Continuous::Laplace {
            mu: c(-1.0),
            b: c(0.5),
        }),
        &[(-1.0, lap(-1.0)), (2.0, lap(2.0))],
    );
    // Uniform(-1, 3): the closed interval has density 1/4.
    let u = -(4f64.ln());
    check_logp(
        &Dist::Continuous(Continuous::Uniform {
            lower: c(-1.0),
            upper: c(3.0),
        }),
        &[
            (-1.0, u),
            (0.0, u),
            (3.0, u),
            (3.0000001, NEG_INF),
            (-1.5, NEG_INF),
        ],
    );
    // Beta(2, 3): 12 x (1-x)²; zero density at 0 and 1.
    let be = |x: f64| 12f64.ln() + x.ln() + 2.0 * (1.0 - x).ln();
    check_logp(
        &Dist::Continuous(Continuous::Beta {
            alpha: c(2.0),
            beta: c(3.0),
        }),
        &[
            (0.3, be(0.3)),
            (0.9, be(0.9)),
            (0.0, NEG_INF),
            (1.0, NEG_INF),
            (1.2, NEG_INF),
        ],
    );
    // Beta(1, 1) is uniform, including the end points (0 log 0 = 0).
    check_logp(
        &Dist::Continuous(Continuous::Beta {
            alpha: c(1.0),
            beta: c(1.0),
        }),
        &[(0.0, 0.0), (0.5, 0.0), (1.0, 0.0)],
    );
    // Gamma(3, rate 2): 2³ x² e^{-2x} / Γ(3) = 4 x² e^{-2x}.
    let ga = |x: f64| 4f64.ln() + 2.0 * x.ln() - 2.0 * x;
    check_logp(
        &Dist::Continuous(Continuous::Gamma {
            alpha: c(3.0),
            beta: c(2.0),
        }),
        &[
            (0.5, ga(0.5)),
            (7.0, ga(7.0)),
            (0.0, NEG_INF),
            (-1.0, NEG_INF),
        ],
    );
    // Gamma(1, rate 2) is Exponential(2): density 2 at 0.
    check_logp(
        &Dist::Continuous(Continuous::Gamma {
            alpha: c(1.0),
            beta: c(2.0),
        }),
        &[(0.0, 2f64.ln())],
    );
    check_logp(
        &Dist::Continuous(Continuous::Exponential { lam: c(0.5) }),
        &[
            (0.0, 0.5f64.ln()),
            (4.0, 0.5f64.ln() - 2.0),
            (-0.1, NEG_INF),
        ],
    );
}

#[test]
fn discrete_masses_match_closed_forms() {
    let (l3, l7) = (0.3f64.ln(), 0.7f64.ln());
    check_logp(
        &Dist::Discrete(Discrete::Bernoulli { p: Prob::P(c(0.3)) }),
        &[
            (1.0, l3),
            (0.0, l7),
            (0.5, NEG_INF),
            (2.0, NEG_INF),
            (-1.0, NEG_INF),
        ],
    );
    let z = (0.3f64 / 0.7).ln();
    check_logp(
        &Dist::Discrete(Discrete::Bernoulli {
            p: Prob::Logit(c(z)),
        }),
        &[(1.0, l3), (0.0, l7), (0.5, NEG_INF)],
    );
    // A certain outcome: log 1 = 0, the other impossible.
    check_logp(
        &Dist::Discrete(Discrete::Bernoulli { p: Prob::P(c(1.0)) }),
        &[(1.0, 0.0), (0.0, NEG_INF)],
    );
    // Binomial(5, 0.4): C(5, k) 0.4^k 0.6^(5-k).
    let choose = |n: u64, k: u64| -> f64 {
        (1..=n).map(|i| (i as f64).ln()).sum::<f64>()
            - (1..=k).map(|i| (i as f64).ln()).sum::<f64>()
            - (1..=n - k).map(|i| (i as f64).ln()).sum::<f64>()
    };
    let bi = |k: u64| choose(5, k) + k as f64 * 0.4f64.ln() + (5 - k) as f64 * 0.6f64.ln();
    check_logp(
        &Dist::Discrete(Discrete::Binomial {
            n: c(5.0),
            p: c(0.4),
        }),
        &[
            (0.0, bi(0)),
            (2.0, bi(2)),
            (5.0, bi(5)),
            (6.0, NEG_INF),
            (-1.0, NEG_INF),
            (2.5, NEG_INF),
        ],
    );
    check_logp(
        &Dist::Discrete(Discrete::Binomial {
            n: c(4.0),
            p: c(0.0),
        }),
        &[(0.0, 0.0), (1.0, NEG_INF)],
    );
    let p = constant(Tensor::vector(vec![0.2, 0.3, 0.5]));
    check_logp(
        &Dist::Discrete(Discrete::Categorical { p: Prob::P(p) }),
        &[
            (0.0, 0.2f64.ln()),
            (2.0, 0.5f64.ln()),
            (3.0, NEG_INF),
            (-1.0, NEG_INF),
            (1.5, NEG_INF),
        ],
    );
    let logits = constant(Tensor::vector(vec![
        0.2f64.ln() + 7.0,
        0.3f64.ln() + 7.0,
        0.5f64.ln() + 7.0,
    ]));
    check_logp(
        &Dist::Discrete(Discrete::Categorical {
            p: Prob::Logit(logits),
        }),
        &[(1.0, 0.3f64.ln()), (2.0, 0.5f64.ln())],
    );
    let po = |k: u64| k as f64 * 2.5f64.ln() - 2.5 - (1..=k).map(|i| (i as f64).ln()).sum::<f64>();
    check_logp(
        &Dist::Discrete(Discrete::Poisson { mu: c(2.5) }),
        &[
            (0.0, po(0)),
            (3.0, po(3)),
            (30.0, po(30)),
            (-1.0, NEG_INF),
            (1.5, NEG_INF),
        ],
    );
    check_logp(
        &Dist::Discrete(Discrete::Poisson { mu: c(0.0) }),
        &[(0.0, 0.0), (1.0, NEG_INF)],
    );
}

#[test]
fn masses_sum_to_one_and_integer_values_work() {
    // Integer-typed data is accepted by discrete distributions.
    let k = ivector("k");
    let lp = Dist::Discrete(Discrete::Binomial {
        n: c(6.0),
        p: c(0.35),
    })
    .logp(&k)
    .unwrap()
    .exp()
    .sum()
    .unwrap();
    let s = eval_checked(
        &[&k],
        &[&lp],
        &[Tensor::vector((0..=6i64).collect::<Vec<_>>())],
    )
    .unwrap()[0]
        .item::<f64>()
        .unwrap();
    assert!((s - 1.0).abs() < 1e-12, "{s}");
    let lp = Dist::Discrete(Discrete::Poisson { mu: c(3.0) })
        .logp(&k)
        .unwrap()
        .exp()
        .sum()
        .unwrap();
    let s = eval_checked(
        &[&k],
        &[&lp],
        &[Tensor::vector((0..=60i64).collect::<Vec<_>>())],
    )
    .unwrap()[0]
        .item::<f64>()
        .unwrap();
    assert!((s - 1.0).abs() < 1e-12, "{s}");
}

/// Trapezoid rule of exp(f) over a uniform grid.
fn integrate_exp(f: &[f64], h: f64) -> f64 {
    let e: Vec<f64> = f.iter().map(|v| v.exp()).collect();
    h * (e.iter().sum::<f64>() - 0.5 * (e[0] + e[e.len() - 1]))
}

#[test]
fn transformed_densities_integrate_to_one() {
    // p_u(u) = p_x(f(u)) |f'(u)| must integrate to 1 over the real line.
    let dists = [
        Dist::Continuous(Continuous::Gamma {
            alpha: c(3.0),
            beta: c(2.0),
        }),
        Dist::Continuous(Continuous::HalfNormal { sigma: c(0.7) }),
        Dist::Continuous(Continuous::Beta {
            alpha: c(2.0),
            beta: c(5.0),
        }),
        Dist::Continuous(Continuous::Uniform {
            lower: c(-1.0),
            upper: c(3.0),
        }),
        Dist::Continuous(Continuous::Exponential { lam: c(4.0) }),
        Dist::Continuous(Continuous::LogNormal {
            mu: c(0.3),
            sigma: c(0.8),
        }),
        Dist::Continuous(Continuous::HalfStudentT {
            nu: c(4.0),
            sigma: c(1.2),
        }),
        Dist::Continuous(Continuous::HalfCauchy { beta: c(0.5) }),
        Dist::Continuous(Continuous::InverseGamma {
            alpha: c(3.0),
            beta: c(2.0),
        }),
        Dist::Continuous(Continuous::Weibull {
            alpha: c(1.5),
            beta: c(2.0),
        }),
    ];
    let h = 1e-3;
    let grid: Vec<f64> = (0..=60_000).map(|i| -30.0 + i as f64 * h).collect();
    for d in dists {
        let t = d
            .default_transform()
            .expect("a constrained distribution has a transform");
        let u = vector("u");
        let lp = (d.logp(&t.forward(&u).unwrap()).unwrap() + t.log_jacobian(&u).unwrap()).unwrap();
        let f = function(&[&u], &[&lp]).unwrap();
        let vals = f.call(&[Tensor::vector(grid.clone())]).unwrap()[0].to_f64_vec();
        let total = integrate_exp(&vals, h);
        assert!(
            (total - 1.0).abs() < 1e-6,
            "{} ({}): integral {total}",
            d.name(),
            t.name()
        );
    }
}

#[test]
fn log_jacobians_match_finite_differences() {
    let transforms = [
        Transform::Log,
        Transform::LogOdds,
        Transform::Interval {
            lower: c(-2.0),
            upper: c(5.0),
        },
    ];
    let us = [-6.0, -1.3, 0.0, 0.4, 2.5, 9.0];
    for t in transforms {
        let u = vector("u");
        let fwd = t.forward(&u).unwrap();
        let lj = t.log_jacobian(&u).unwrap();
        let back = t.backward(&fwd).unwrap();
        let f = function(&[&u], &[&fwd, &lj, &back]).unwrap();
        let h = 1e-6;
        let at = |d: f64| {
            f.call(&[Tensor::vector(
                us.iter().map(|x| x + d).collect::<Vec<f64>>(),
            )])
            .unwrap()
        };
        let (mid, hi, lo) = (at(0.0), at(h), at(-h));
        let (hi, lo) = (hi[0].to_f64_vec(), lo[0].to_f64_vec());
        let (lj, back) = (mid[1].to_f64_vec(), mid[2].to_f64_vec());
        for i in 0..us.len() {
            let numeric = ((hi[i] - lo[i]) / (2.0 * h)).abs().ln();
            assert!(
                (lj[i] - numeric).abs() < 1e-5,
                "{} at {}: {} vs {numeric}",
                t.name(),
                us[i],
                lj[i]
            );
            assert!(
                (back[i] - us[i]).abs() < 1e-8 * (1.0 + us[i].abs()),
                "{}: backward(forward({})) = {}",
                t.name(),
                us[i],
                back[i]
            );
        }
    }
}

#[test]
fn minibatch_likelihood_is_unbiased_for_the_full_one() {
    let y = Tensor::vector(vec![0.3, -1.2, 2.0, 0.7, 1.1, -0.4]);
    let full = Model::new();
    let mu = full.normal("mu", 0.0, 10.0, ()).unwrap();
    full.normal("y", &mu, 1.0, ()).unwrap().observed(&y);
    let (_, lik_full) = full.logp_terms().unwrap();

    let mb = minibatch(&[&y], 2, 7).unwrap().remove(0);
    let model = Model::new();
    let mu2 = model.normal("mu", 0.0, 10.0, ()).unwrap();
    model
        .normal("y", &mu2, 1.0, ())
        .unwrap()
        .observed(&mb)
        .total_size(6);
    let (_, lik_mb) = model.logp_terms().unwrap();

    let at = Tensor::scalar(0.8);
    let want = function(&[&*mu], &[&lik_full])
        .unwrap()
        .call(std::slice::from_ref(&at))
        .unwrap()[0]
        .item::<f64>()
        .unwrap();
    let f = function(&[&*mu2], &[&lik_mb]).unwrap();
    let n = 40_000;
    let draws: Vec<f64> = (0..n)
        .map(|_| {
            f.call(std::slice::from_ref(&at)).unwrap()[0]
                .item::<f64>()
                .unwrap()
        })
        .collect();
    let mean = draws.iter().sum::<f64>() / n as f64;
    let sd = (draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    assert!(sd > 0.1, "batches differ from call to call");
    assert!(
        (mean - want).abs() < 4.0 * sd / (n as f64).sqrt(),
        "minibatch mean {mean} vs full {want} (sd {sd})"
    );
}

#[test]
fn minibatch_rows_are_shared_between_tensors() {
    let x = Tensor::new((0..20).map(|i| i as f64).collect::<Vec<_>>(), &[10, 2]).unwrap();
    let y = Tensor::vector((0..10).map(|i| 2 * i as i64).collect::<Vec<_>>());
    let parts = minibatch(&[&x, &y], 4, 3).unwrap();
    let f = function(NO_INPUTS, &[&parts[0], &parts[1]]).unwrap();
    let a = f.call::<Tensor>(&[]).unwrap();
    let b = f.call::<Tensor>(&[]).unwrap();
    assert_ne!(
        a[1].to_vec::<i64>(),
        b[1].to_vec::<i64>(),
        "fresh rows each call"
    );
    for out in [a, b] {
        let (xs, ys) = (out[0].to_f64_vec(), out[1].to_vec::<i64>());
        for r in 0..4 {
            // Row i of x is (2i, 2i + 1); of y, 2i.
            assert_eq!(xs[2 * r] as i64, ys[r]);
            assert_eq!(xs[2 * r + 1] as i64, ys[r] + 1);
        }
    }
    assert!(
        minibatch(&[&x, &Tensor::vector(vec![1.0; 3])], 4, 0)
            .unwrap_err()
            .to_string()
            .contains("10 rows")
    );
    assert!(minibatch(&[&x], 0, 0).is_err());
}

/// Normal–Normal with known sigma: the posterior of mu is Normal with
/// precision 1/s0² + n/s² and mean (sum y / s²) / precision.
fn conjugate_model() -> (Model, f64, f64) {
    conjugate_model_at(1.0)
}

/// The conjugate Normal model and its posterior mean and sd at likelihood
/// temperature `t` (p(y | mu)^(1/t) p(mu): the likelihood's precision / t).
fn conjugate_model_at(t: f64) -> (Model, f64, f64) {
    let y: Vec<f64> = (0..20)
        .map(|i| 1.5 + ((i * 7919) % 13) as f64 / 13.0 - 0.5)
        .collect();
    let (s0, s) = (10.0, 1.0);
    let model = Model::new();
    let mu = model.normal("mu", 0.0, s0, ()).unwrap();
    model
        .normal("y", &mu, s, ())
        .unwrap()
        .observed(Tensor::vector(y.clone()));
    let prec = 1.0 / (s0 * s0) + y.len() as f64 / (t * s * s);
    let mean = y.iter().sum::<f64>() / (t * s * s) / prec;
    (model, mean, prec.powf(-0.5))
}

#[test]
fn mean_field_advi_recovers_the_conjugate_posterior() {
    let (model, mean, sd) = conjugate_model();
    let approx = model
        .fit(30_000, Advi::new().seed(1).obj_n_mc(10).progressbar(false))
        .unwrap();
    let m = approx.mean("mu").unwrap().item::<f64>().unwrap();
    let s = approx.std("mu").unwrap().item::<f64>().unwrap();
    assert!(
        (m - mean).abs() < 0.02 * mean.abs(),
        "mean {m} vs exact {mean}"
    );
    assert!((s - sd).abs() < 0.02 * sd, "std {s} vs exact {sd}");
    // The loss is the negative ELBO; at the optimum it is -log p(y) (the
    // approximation is exact), up to Monte Carlo noise.
    let hist = approx.hist();
    assert_eq!(hist.len(), 30_000);
    let tail = &hist[hist.len() - 1000..];
    let avg = tail.iter().sum::<f64>() / tail.len() as f64;
    assert!(avg < hist[0], "the loss falls: {} -> {avg}", hist[0]);
}

#[test]
fn same_seed_gives_bit_identical_fits() {
    let (model, _, _) = conjugate_model();
    let a = model
        .fit(500, Advi::new().seed(5).progressbar(false))
        .unwrap();
    let b = model
        .fit(500, Advi::new().seed(5).progressbar(false))
        .unwrap();
    let c = model
        .fit(500, Advi::new().seed(6).progressbar(false))
        .unwrap();
    assert_eq!(a.hist(), b.hist());
    assert_eq!(a.mean("mu").unwrap(), b.mean("mu").unwrap());
    assert_ne!(a.hist(), c.hist());
}

#[test]
fn full_rank_advi_recovers_a_correlation() {
    // a ~ N(0, 1), b | a ~ N(r a, sqrt(1 - r²)): (a, b) is a standard
    // bivariate normal with correlation r.
    let r = 0.8;
    let model = Model::new();
    let a = model.normal("a", 0.0, 1.0, ()).unwrap();
    model
        .normal("b", (&*a * r).unwrap(), (1.0 - r * r).sqrt(), ())
        .unwrap();
    let approx = model
        .fit(
            30_000,
            FullRankAdvi::new().seed(3).obj_n_mc(10).progressbar(false),
        )
        .unwrap();
    let cov = approx.covariance().unwrap().to_f64_vec();
    let corr = cov[1] / (cov[0] * cov[3]).sqrt();
    assert!(
        (corr - r).abs() < 0.05,
        "correlation {corr} vs {r} (cov {cov:?})"
    );
    assert!(
        (cov[0] - 1.0).abs() < 0.1 && (cov[3] - 1.0).abs() < 0.1,
        "variances {cov:?}"
    );
    // Mean-field cannot represent it.
    let mf = model
        .fit(5_000, Advi::new().seed(3).progressbar(false))
        .unwrap();
    let cov = mf.covariance().unwrap().to_f64_vec();
    assert_eq!(cov[1], 0.0);
}

#[test]
fn a_full_rank_group_captures_its_correlation_and_leaves_the_rest_mean_field() {
    // a ~ N(0, 1), b ~ N(1, 2) independent, c | a ~ N(r a, sqrt(1 - r²)):
    // (a, c) standard bivariate normal with correlation r. The group names
    // c before a and skips b, so the block's order is not the model's.
    let r = 0.8;
    let model = Model::new();
    let a = model.normal("a", 0.0, 1.0, ()).unwrap();
    model.normal("b", 1.0, 2.0, ()).unwrap();
    model
        .normal("c", (&*a * r).unwrap(), (1.0 - r * r).sqrt(), ())
        .unwrap();
    let approx = model
        .fit(
            30_000,
            Advi::new()
                .full_rank_group(["c", "a"])
                .seed(3)
                .obj_n_mc(10)
                .progressbar(false),
        )
        .unwrap();
    let Family::Grouped(groups) = approx.family() else {
        panic!("a grouped family, got {:?}", approx)
    };
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].vars, vec![2, 0]);
    assert_eq!(groups[1].vars, vec![1]);
    assert!(matches!(groups[0].family, Family::FullRank { dim: 2, .. }));
    assert!(matches!(groups[1].family, Family::MeanField { .. }));
    // Covariance in the model's order a, b, c.
    let cov = approx.covariance().unwrap().to_f64_vec();
    let at = |i: usize, j: usize| cov[i * 3 + j];
    let corr = at(0, 2) / (at(0, 0) * at(2, 2)).sqrt();
    assert!(
        (corr - r).abs() < 0.05,
        "corr(a, c) {corr} vs {r} ({cov:?})"
    );
    assert_eq!(at(0, 2), at(2, 0));
    for (i, j) in [(0, 1), (1, 0), (1, 2), (2, 1)] {
        assert_eq!(at(i, j), 0.0, "b is independent of a and c: {cov:?}");
    }
    assert!((at(1, 1) - 4.0).abs() < 0.4, "var(b) {} vs 4", at(1, 1));
    assert!((at(0, 0) - 1.0).abs() < 0.1 && (at(2, 2) - 1.0).abs() < 0.1);
    // Per-variable moments read through the groups.
    let sd_b = approx.std("b").unwrap().item::<f64>().unwrap();
    assert_eq!(sd_b * sd_b, at(1, 1));
    let sd_c = approx.std("c").unwrap().item::<f64>().unwrap();
    assert!((sd_c * sd_c - at(2, 2)).abs() < 1e-12);
    let mean_b = approx.mean("b").unwrap().item::<f64>().unwrap();
    assert!((mean_b - 1.0).abs() < 0.1, "mean of b {mean_b}");
    // Draws follow the block: the sample correlation of (a, c).
    let trace = approx.sample(4000).unwrap();
    let (xa, xc) = (
        trace.get("a").unwrap().to_f64_vec(),
        trace.get("c").unwrap().to_f64_vec(),
    );
    let n = xa.len() as f64;
    let (ma, mc) = (xa.iter().sum::<f64>() / n, xc.iter().sum::<f64>() / n);
    let cross = xa
        .iter()
        .zip(&xc)
        .map(|(x, y)| (x - ma) * (y - mc))
        .sum::<f64>()
        / n;
    let va = xa.iter().map(|x| (x - ma) * (x - ma)).sum::<f64>() / n;
    let vc = xc.iter().map(|y| (y - mc) * (y - mc)).sum::<f64>() / n;
    let sample_corr = cross / (va * vc).sqrt();
    assert!(
        (sample_corr - corr).abs() < 0.05,
        "sample corr {sample_corr} vs q's {corr}"
    );
}

#[test]
fn one_group_over_every_variable_is_full_rank_advi() {
    let r = 0.5;
    let model = Model::new();
    let a = model.normal("a", 0.0, 1.0, ()).unwrap();
    model.normal("b", (&*a * r).unwrap(), 1.0, [2]).unwrap();
    let full = model
        .fit(300, FullRankAdvi::new().seed(7).progressbar(false))
        .unwrap();
    let grouped = model
        .fit(
            300,
            Advi::new()
                .full_rank_group(["a", "b"])
                .start_sigma(1.0)
                .seed(7)
                .progressbar(false),
        )
        .unwrap();
    assert_eq!(full.hist(), grouped.hist());
    assert_eq!(full.covariance().unwrap(), grouped.covariance().unwrap());
}

#[test]
fn bad_full_rank_groups_are_errors_that_name_the_variable() {
    let model = Model::new();
    model.normal("a", 0.0, 1.0, ()).unwrap();
    model.normal("b", 0.0, 1.0, ()).unwrap();
    let fit = |m: Advi| model.fit(10, m.progressbar(false)).unwrap_err().to_string();
    let e = fit(Advi::new().full_rank_group(["a", "z"]));
    assert!(
        e.contains("'z' is not a free variable") && e.contains("a, b"),
        "{e}"
    );
    let e = fit(Advi::new()
        .full_rank_group(["a"])
        .full_rank_group(["b", "a"]));
    assert!(e.contains("'a' is already in group 0"), "{e}");
    let e = fit(Advi::new().full_rank_group(Vec::<String>::new()));
    assert!(e.contains("names no variables"), "{e}");
}

#[test]
fn constrained_variables_are_fitted_in_unconstrained_space() {
    // sigma ~ HalfNormal(5) with y ~ N(0, sigma): the posterior of sigma is
    // near the sample standard deviation; q's mean lives on the log scale.
    let y: Vec<f64> = (0..200)
        .map(|i| 2.0 * (((i * 37) % 101) as f64 / 101.0 - 0.5) * 3.0f64.sqrt())
        .collect();
    let sd = (y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64).sqrt();
    let model = Model::new();
    let sigma = model.half_normal("sigma", 5.0, ()).unwrap();
    model
        .normal("y", 0.0, &sigma, ())
        .unwrap()
        .observed(Tensor::vector(y));
    let approx = model
        .fit(20_000, Advi::new().seed(2).obj_n_mc(4).progressbar(false))
        .unwrap();
    let m = approx.mean("sigma").unwrap().item::<f64>().unwrap();
    let mu_log = approx
        .mean_unconstrained("sigma")
        .unwrap()
        .item::<f64>()
        .unwrap();
    assert!(
        (m - sd).abs() < 0.05 * sd,
        "posterior mean {m} vs sample sd {sd}"
    );
    assert!(
        (mu_log.exp() - sd).abs() < 0.05 * sd,
        "q's mean on the log scale {mu_log}"
    );
}

/// A model with weights `w` (shape [3]) and an approximation whose q we set.
fn linear_approx(seed: u64) -> (Model, Approximation, [f64; 3], [f64; 3]) {
    let model = Model::new();
    let w = model.normal("w", 0.0, 1.0, [3]).unwrap();
    let x = constant(Tensor::new(vec![1.0, 0.5, -1.0, 0.2, 2.0, 0.0], &[2, 3]).unwrap());
    model
        .normal("y", x.dot(&w).unwrap(), 1.0, ())
        .unwrap()
        .observed(Tensor::vector(vec![0.5, 1.0]));
    let approx = model
        .fit(10, Advi::new().seed(seed).progressbar(false))
        .unwrap();
    let (mu, sd) = ([0.5, -1.0, 2.0], [0.3, 0.1, 0.7]);
    let Family::MeanField { mu: m, .. } = approx.family() else {
        panic!("mean field")
    };
    m[0].set_value(Tensor::vector(mu.to_vec())).unwrap();
    approx
        .family()
        .set_sigma(0, &Tensor::vector(sd.to_vec()))
        .unwrap();
    (model, approx, mu, sd)
}

#[test]
fn sample_node_matches_the_closed_form_of_a_linear_function() {
    let (model, approx, mu, sd) = linear_approx(0);
    let w = model.var("w").unwrap();
    let x = vector("x");
    let expr = x.dot(&w).unwrap();
    let node = approx.sample_node(&expr, 20_000).unwrap();
    assert_eq!(node.static_shape(), &[Some(20_000)]);
    let f = function(&[&x], &[&node]).unwrap();
    let xv = [2.0, 1.0, 0.5];
    let d = f.call(&[Tensor::vector(xv.to_vec())]).unwrap()[0].to_f64_vec();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (d.len() - 1) as f64;
    let want_mean: f64 = xv.iter().zip(mu).map(|(a, b)| a * b).sum();
    let want_var: f64 = xv.iter().zip(sd).map(|(a, s)| a * a * s * s).sum();
    assert!(
        (mean - want_mean).abs() < 4.0 * (want_var / d.len() as f64).sqrt(),
        "mean {mean} vs {want_mean}"
    );
    assert!(
        (var / want_var - 1.0).abs() < 0.05,
        "variance {var} vs {want_var}"
    );
    // The deterministic option: exactly x · mu.
    let at_mean = approx.mean_node(&expr).unwrap();
    let m = function(&[&x], &[&at_mean])
        .unwrap()
        .call(&[Tensor::vector(xv.to_vec())])
        .unwrap()[0]
        .item::<f64>()
        .unwrap();
    assert!((m - want_mean).abs() < 1e-12);
}

#[test]
fn sample_node_draws_afresh_and_reproduces_by_seed() {
    let run = |seed: u64| -> (Vec<f64>, Vec<f64>) {
        let (model, approx, _, _) = linear_approx(seed);
        let w = model.var("w").unwrap();
        let n = iscalar("n");
        let node = approx.sample_node(&(&w * 2.0).unwrap(), &n).unwrap();
        let f = function(&[&n], &[&node]).unwrap();
        let a = f.call(&[Tensor::scalar(5i64)]).unwrap().remove(0);
        let b = f.call(&[Tensor::scalar(5i64)]).unwrap().remove(0);
        assert_eq!(a.shape(), &[5, 3], "a symbolic size");
        (a.to_f64_vec(), b.to_f64_vec())
    };
    let (a, b) = run(11);
    assert_ne!(a, b, "two calls give different draws");
    let (a2, b2) = run(11);
    assert_eq!((a.clone(), b), (a2, b2), "the same seed reproduces");
    assert_ne!(a, run(12).0);
}

#[test]
fn sample_node_replaces_a_minibatch_with_the_full_data() {
    // What PyMC 6.4 fails at: predict on all rows of an expression built on
    // a 10-row minibatch.
    let xs = Tensor::new(
        (0..80).map(|i| (i as f64 * 0.37).sin()).collect::<Vec<_>>(),
        &[40, 2],
    )
    .unwrap();
    let ys = Tensor::vector(
        xs.to_f64_vec()
            .chunks(2)
            .map(|r| (r[0] > r[1]) as i64)
            .collect::<Vec<_>>(),
    );
    let parts = minibatch(&[&xs, &ys], 10, 0).unwrap();
    let model = Model::new();
    let w = model.normal("w", 0.0, 1.0, [2]).unwrap();
    let logit = parts[0].dot(&w).unwrap();
    model
        .bernoulli_logit("y", &logit)
        .unwrap()
        .observed(&parts[1])
        .total_size(40);
    let approx = model
        .fit(2_000, Advi::new().seed(0).progressbar(false))
        .unwrap();
    let p = logit.sigmoid();
    let test = constant(xs.clone());
    let draws = 20_000;
    let node = approx
        .sample_node(&p, draws)
        .unwrap()
        .replace(&parts[0], &test)
        .unwrap();
    assert_eq!(node.static_shape(), &[Some(draws), Some(40)]);
    let probs = function(NO_INPUTS, &[&node])
        .unwrap()
        .call::<Tensor>(&[])
        .unwrap()
        .remove(0)
        .to_f64_vec();
    // Against E[sigmoid(x · w)] from independent draws of q.
    let trace = approx.sample(draws).unwrap();
    let ws = trace.get("w").unwrap().to_f64_vec();
    for (r, row) in xs.to_f64_vec().chunks(2).enumerate() {
        let fast: f64 = (0..draws).map(|d| probs[d * 40 + r]).sum::<f64>() / draws as f64;
        let slow: f64 = (0..draws)
            .map(|d| 1.0 / (1.0 + (-(row[0] * ws[2 * d] + row[1] * ws[2 * d + 1])).exp()))
            .sum::<f64>()
            / draws as f64;
        assert!((fast - slow).abs() < 0.01, "row {r}: {fast} vs {slow}");
    }
    // The posterior mean through the same replacement.
    let wm = approx.mean("w").unwrap().to_f64_vec();
    let at_mean = approx
        .mean_node(&p)
        .unwrap()
        .replace(&parts[0], &test)
        .unwrap();
    let pm = function(NO_INPUTS, &[&at_mean])
        .unwrap()
        .call::<Tensor>(&[])
        .unwrap()
        .remove(0)
        .to_f64_vec();
    for (r, row) in xs.to_f64_vec().chunks(2).enumerate() {
        let want = 1.0 / (1.0 + (-(row[0] * wm[0] + row[1] * wm[1])).exp());
        assert!((pm[r] - want).abs() < 1e-12);
    }
}

#[test]
fn trace_holds_draws_and_deterministics_and_saves_npz() {
    let (model, approx, mu, sd) = linear_approx(4);
    let w = model.var("w").unwrap();
    model.deterministic("w_sum", &w.sum().unwrap()).unwrap();
    let trace = approx.sample(8_000).unwrap();
    assert_eq!(trace.get("w").unwrap().shape(), &[8_000, 3]);
    assert_eq!(trace.get("w_sum").unwrap().shape(), &[8_000]);
    let (m, s) = (
        trace.mean("w").unwrap().to_f64_vec(),
        trace.std("w").unwrap().to_f64_vec(),
    );
    for i in 0..3 {
        assert!(
            (m[i] - mu[i]).abs() < 4.0 * sd[i] / (8000f64).sqrt(),
            "mean {m:?}"
        );
        assert!((s[i] / sd[i] - 1.0).abs() < 0.05, "std {s:?}");
    }
    // The deterministic is computed from the same draws.
    let (ws, sums) = (
        trace.get("w").unwrap().to_f64_vec(),
        trace.get("w_sum").unwrap().to_f64_vec(),
    );
    for d in 0..10 {
        assert!((ws[3 * d] + ws[3 * d + 1] + ws[3 * d + 2] - sums[d]).abs() < 1e-12);
    }
    let path = std::env::temp_dir().join(format!("theon_trace_{}.npz", std::process::id()));
    trace.save_npz(&path).unwrap();
    let back = theon::runtime::io::read_npz(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let w_back = &back.iter().find(|(n, _)| n == "w").unwrap().1;
    assert_eq!(w_back.shape(), &[1, 8_000, 3], "a chain axis first");
    assert_eq!(w_back.to_f64_vec(), ws);
    assert!(
        trace
            .get("nope")
            .unwrap_err()
            .to_string()
            .contains("has: w, w_sum")
    );
}

#[test]
fn posterior_predictive_follows_swapped_data() {
    let model = Model::new();
    let x = model
        .data("x", Tensor::vector(vec![-2.0, 0.0, 2.0]))
        .unwrap();
    let w = model.normal("w", 0.0, 1.0, ()).unwrap();
    let y_data = model
        .data("y_data", Tensor::vector(vec![0.0, 1.0, 1.0]))
        .unwrap();
    model
        .bernoulli_logit("y", (&x * &*w).unwrap())
        .unwrap()
        .observed(&y_data);
    let trace = Trace::new(
        2_000,
        vec![("w".into(), Tensor::full(1.5, DType::F64, &[2_000]))],
    )
    .unwrap();
    let ppc = sample_posterior_predictive(&model, &trace, None, 9).unwrap();
    assert_eq!(ppc.get("y").unwrap().shape(), &[2_000, 3]);
    // The observed variable's shape is its data's: swap both (as PyMC's
    // set_data with placeholder outputs); the outputs' values do not matter.
    model
        .set_data("x", Tensor::vector(vec![-1.0, 0.0, 1.0, 3.0, -4.0]))
        .unwrap();
    assert!(
        sample_posterior_predictive(&model, &trace, Some(10), 9).is_err(),
        "3 outputs for 5 inputs"
    );
    model
        .set_data("y_data", Tensor::zeros(DType::F64, &[5]))
        .unwrap();
    let ppc = sample_posterior_predictive(&model, &trace, Some(2_000), 9).unwrap();
    let y = ppc.get("y").unwrap();
    assert_eq!(y.shape(), &[2_000, 5]);
    let freq = ppc.mean("y").unwrap().to_f64_vec();
    for (f, xv) in freq.iter().zip([-1.0, 0.0, 1.0, 3.0, -4.0]) {
        let p = 1.0 / (1.0 + (-1.5f64 * xv).exp());
        assert!(
            (f - p).abs() < 4.0 * (p * (1.0 - p) / 2000.0).sqrt() + 1e-9,
            "x {xv}: {f} vs {p}"
        );
    }
    assert!(sample_posterior_predictive(&model, &trace, Some(3_000), 0).is_err());
}

#[test]
fn callbacks_stop_the_fit() {
    struct StopAt(usize);
    impl Callback for StopAt {
        fn every(&self) -> usize {
            10
        }
        fn call(&mut self, info: &FitInfo) -> Result<Control> {
            assert_eq!(info.hist.len(), info.step);
            Ok(if info.step >= self.0 {
                Control::Stop
            } else {
                Control::Continue
            })
        }
    }
    let (model, _, _) = conjugate_model();
    let a = model
        .fit(1_000, Advi::new().progressbar(false).callback(StopAt(50)))
        .unwrap();
    assert_eq!(a.hist().len(), 50);
    // Converged parameters stop the fit early; a tight tolerance does not.
    let a = model
        .fit(
            200_000,
            Advi::new()
                .optimizer(Optimizer::adam())
                .progressbar(false)
                .callback(CheckParametersConvergence::new().tolerance(0.05)),
        )
        .unwrap();
    assert!(
        a.hist().len() < 200_000,
        "stopped after {} steps",
        a.hist().len()
    );
    let a = model
        .fit(
            300,
            Advi::new().progressbar(false).callback(
                CheckParametersConvergence::new()
                    .every(100)
                    .tolerance(1e-12),
            ),
        )
        .unwrap();
    assert_eq!(a.hist().len(), 300);
}

#[test]
fn every_optimizer_fits_the_conjugate_mean() {
    let (model, mean, _) = conjugate_model();
    for (opt, steps) in [
        (Optimizer::adagrad_window(), 20_000),
        (Optimizer::adam(), 20_000),
        (Optimizer::sgd(1e-3), 20_000),
        (Optimizer::momentum(1e-3, 0.9), 5_000),
        (
            Optimizer::Momentum {
                learning_rate: 1e-3,
                momentum: 0.9,
                nesterov: true,
            },
            5_000,
        ),
    ] {
        let a = model
            .fit(
                steps,
                Advi::new()
                    .seed(1)
                    .obj_n_mc(4)
                    .optimizer(opt.clone())
                    .progressbar(false),
            )
            .unwrap();
        let m = a.mean("mu").unwrap().item::<f64>().unwrap();
        assert!(
            (m - mean).abs() < 0.05 * mean,
            "{opt:?}: mean {m} vs {mean}"
        );
    }
    assert!(
        Optimizer::from_name("adamw")
            .unwrap_err()
            .to_string()
            .contains("adagrad_window, adam")
    );
    assert!(
        model
            .fit(10, Advi::new().optimizer(Optimizer::sgd(-1.0)))
            .is_err()
    );
}

/// Adam keeps one step counter for all parameters (PyMC's `adam`), and
/// three steps of it match the update rule computed by hand.
#[test]
fn adam_steps_match_the_hand_computed_rule_with_one_counter() {
    let (lr, b1, b2, eps) = (0.1, 0.9, 0.999, 1e-8);
    let p0 = [0.5, -1.0, 2.0];
    let q0 = [3.0];
    let p = shared("p", Tensor::vector(p0.to_vec()));
    let q = shared("q", Tensor::vector(q0.to_vec()));
    // Gradients of 0.5 |p|^2 + q^3 / 3.
    let gp = p.clone();
    let gq = q.square();
    let opt = Optimizer::Adam {
        learning_rate: lr,
        beta1: b1,
        beta2: b2,
        epsilon: eps,
    };
    let ups = opt.updates(&[p.clone(), q.clone()], &[gp, gq]).unwrap();
    // m and v per parameter, each parameter, one counter.
    assert_eq!(ups.len(), 2 * 3 + 1);
    let pairs: Vec<(&Var, &Var)> = ups.iter().map(|(a, b)| (a, b)).collect();
    let none: [&Var; 0] = [];
    let step = compile(&none, &none).updates(&pairs).build().unwrap();
    let mut want: Vec<Vec<f64>> = vec![p0.to_vec(), q0.to_vec()];
    let mut m = vec![vec![0.0; 3], vec![0.0; 1]];
    let mut v = m.clone();
    for t in 1..=3 {
        let no_args: [Tensor; 0] = [];
        step.call(&no_args).unwrap();
        let a = lr * (1.0 - b2.powi(t)).sqrt() / (1.0 - b1.powi(t));
        for k in 0..2 {
            for i in 0..want[k].len() {
                let x = want[k][i];
                let g = if k == 0 { x } else { x * x };
                m[k][i] = b1 * m[k][i] + (1.0 - b1) * g;
                v[k][i] = b2 * v[k][i] + (1.0 - b2) * g * g;
                want[k][i] = x - a * m[k][i] / (v[k][i].sqrt() + eps);
            }
        }
        for (k, var) in [&p, &q].into_iter().enumerate() {
            let got = var.get_value().unwrap().to_f64_vec();
            for (g, w) in got.iter().zip(&want[k]) {
                assert!((g - w).abs() < 1e-12, "step {t}: {got:?} vs {:?}", want[k]);
            }
        }
    }
}

#[test]
fn a_diverging_fit_names_the_parameter_and_keeps_finite_values() {
    // y ~ N(1e160 * b[1, 0], 1): the gradient of b[1, 0] overflows; a is fine.
    let model = Model::new();
    let a = model.normal("a", 0.0, 1.0, [2]).unwrap();
    let b = model.normal("b", 0.0, 1.0, [2, 2]).unwrap();
    let pick = b
        .slice(&[SliceSpec::range(1, 2), SliceSpec::range(0, 1)])
        .unwrap()
        .sum()
        .unwrap();
    let loc = ((&pick * 1e160).unwrap() + a.sum().unwrap()).unwrap();
    model
        .normal("y", loc, 1.0, ())
        .unwrap()
        .observed(Tensor::scalar(0.0));
    let err = match model.fit(
        100,
        Advi::new()
            .optimizer(Optimizer::sgd(1.0))
            .progressbar(false),
    ) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the fit should diverge"),
    };
    assert!(err.contains("step 0"), "{err}");
    assert!(err.contains("b[1, 0]"), "{err}");
    assert!(!err.contains("a["), "{err}");
    assert!(!err.contains("b[0, 0]"), "{err}");
}

/// y ~ N(exp(exp(mu)), 1) observed at 1e6: gradient steps blow up.
fn diverging_model() -> Model {
    let model = Model::new();
    let mu = model.normal("mu", 0.0, 1.0, ()).unwrap();
    model
        .normal("y", mu.exp().exp(), 1.0, ())
        .unwrap()
        .observed(Tensor::scalar(1e6));
    model
}

#[test]
fn divergence_restores_the_last_finite_parameters() {
    // Plain SGD overshoots after a few finite steps; the approximation
    // keeps the values before the bad step.
    let model = diverging_model();
    let mut inf = model
        .inference(
            Advi::new()
                .optimizer(Optimizer::sgd(1e-9))
                .progressbar(false),
        )
        .unwrap();
    let e = inf.fit(10_000).unwrap_err().to_string();
    let steps = inf.approx().hist().len();
    assert!(
        e.contains(&format!("step {steps}:")),
        "{e} after {steps} steps"
    );
    assert!(steps > 0, "some finite steps first");
    assert!(
        e.contains("mu of mu") || e.contains("rho of mu") || e.contains("loss is"),
        "{e}"
    );
    let m = inf
        .approx()
        .mean_unconstrained("mu")
        .unwrap()
        .item::<f64>()
        .unwrap();
    let s = inf
        .approx()
        .std_unconstrained("mu")
        .unwrap()
        .item::<f64>()
        .unwrap();
    assert!(m.is_finite() && s.is_finite(), "{m} {s}");
    // Continue from there with a safer optimizer.
    let mut inf2 = model.inference(Advi::new().progressbar(false)).unwrap();
    inf2.fit(100).unwrap();
    inf2.fit(100).unwrap();
    assert_eq!(inf2.approx().hist().len(), 200);
}

#[test]
fn model_errors_are_values() {
    let m = Model::new();
    let x = m.normal("x", 0.0, 1.0, [2]).unwrap();
    assert!(
        m.normal("x", 0.0, 1.0, ())
            .unwrap_err()
            .to_string()
            .contains("already has a variable named 'x'")
    );
    let e = m.var("z").unwrap_err().to_string();
    assert!(e.contains("no variable 'z'") && e.contains("has: x"), "{e}");
    let e = m.normal("s", 0.0, -1.0, ()).unwrap_err().to_string();
    assert!(e.contains("sigma = -1") && e.contains("'s'"), "{e}");
    assert!(
        m.bernoulli("b", 1.5)
            .unwrap_err()
            .to_string()
            .contains("p = 1.5")
    );
    let bad = constant(Tensor::vector(vec![0.2, 0.2]));
    assert!(
        m.categorical("c", &bad)
            .unwrap_err()
            .to_string()
            .contains("sum to 1")
    );
    assert!(
        m.uniform("u", 2.0, 1.0, ())
            .unwrap_err()
            .to_string()
            .contains("lower must be below upper")
    );
    assert!(
        m.binomial("k", 2.5, 0.5)
            .unwrap_err()
            .to_string()
            .contains("non-negative integer")
    );
    assert!(
        m.normal("v", constant(Tensor::vector(vec![0.0; 3])), 1.0, [2])
            .unwrap_err()
            .to_string()
            .contains("do not broadcast")
    );
    // Observed shape mismatch, reported by try_observed or the next call.
    let e = m
        .normal("obs", &*x, 1.0, ())
        .unwrap()
        .try_observed(Tensor::vector(vec![1.0, 2.0, 3.0]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("observed data of 'obs' has shape (3,)"), "{e}");
    let m2 = Model::new();
    let x2 = m2.normal("x", 0.0, 1.0, [2]).unwrap();
    let _ = m2
        .normal("obs", &*x2, 1.0, ())
        .unwrap()
        .observed(Tensor::vector(vec![1.0, 2.0, 3.0]));
    assert!(m2.logp().unwrap_err().to_string().contains("(3,)"));
    assert!(m2.fit(10, Advi::new()).is_err());
    // NaN data, bad init.
    let m3 = Model::new();
    let y = m3.normal("y", 0.0, 1.0, [2]).unwrap();
    assert!(
        y.clone()
            .try_init(Tensor::vector(vec![1.0]))
            .unwrap_err()
            .to_string()
            .contains("init of 'y'")
    );
    assert!(
        m3.normal("o", 0.0, 1.0, ())
            .unwrap()
            .try_observed(Tensor::vector(vec![f64::NAN]))
            .unwrap_err()
            .to_string()
            .contains("NaN")
    );
    assert!(
        m3.data("d", Tensor::vector(vec![1.0, f64::NAN]))
            .unwrap_err()
            .to_string()
            .contains("'d' contains NaN")
    );
    assert!(
        m3.set_data("nope", Tensor::scalar(1.0))
            .unwrap_err()
            .to_string()
            .contains("no data container 'nope'")
    );
    // ADVI needs continuous free variables and at least one.
    let m4 = Model::new();
    m4.poisson("k", 2.0).unwrap();
    assert!(
        m4.fit(10, Advi::new())
            .unwrap_err()
            .to_string()
            .contains("discrete")
    );
    let m5 = Model::new();
    m5.normal("o", 0.0, 1.0, ())
        .unwrap()
        .observed(Tensor::scalar(1.0));
    assert!(
        m5.fit(10, Advi::new())
            .unwrap_err()
            .to_string()
            .contains("no free variables")
    );
    assert!(Model::with_dtype(DType::I64).is_err());
    let (model, _, _) = conjugate_model();
    let a = model.fit(10, Advi::new().progressbar(false)).unwrap();
    assert!(a.mean("sigma").unwrap_err().to_string().contains("has: mu"));
    assert!(a.sample(0).is_err());
    assert!(
        a.sample_node(&model.var("mu").unwrap(), vector("v"))
            .is_err()
    );
}

#[test]
fn hierarchical_models_and_initial_points() {
    let m = Model::new();
    let tau = m.half_normal("tau", 2.0, ()).unwrap();
    let theta = m
        .normal("theta", 0.0, &tau, [4])
        .unwrap()
        .init(Tensor::vector(vec![0.1, 0.2, 0.3, 0.4]));
    m.normal("y", &theta, 1.0, ())
        .unwrap()
        .observed(Tensor::vector(vec![1.0, -1.0, 0.5, 2.0]));
    let init = m.initial_point().unwrap();
    assert_eq!(init[0].0, "tau");
    assert_eq!(init[0].1.item::<f64>().unwrap(), 2.0);
    assert_eq!(init[1].1.to_f64_vec(), vec![0.1, 0.2, 0.3, 0.4]);
    // logp at the initial point against the closed form.
    let lp = m.logp().unwrap();
    let f = function(&[&*tau, &*theta], &[&lp]).unwrap();
    let got = f.call(&[init[0].1.clone(), init[1].1.clone()]).unwrap()[0]
        .item::<f64>()
        .unwrap();
    let norm =
        |x: f64, m: f64, s: f64| -0.5 * ((x - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * PI).ln();
    let hn = (2.0 / PI).sqrt().ln() - 2f64.ln() - 0.5;
    let th: f64 = [0.1, 0.2, 0.3, 0.4]
        .iter()
        .map(|t| norm(*t, 0.0, 2.0))
        .sum();
    let y: f64 = [1.0, -1.0, 0.5, 2.0]
        .iter()
        .zip([0.1, 0.2, 0.3, 0.4])
        .map(|(y, t)| norm(*y, t, 1.0))
        .sum();
    assert!(
        (got - (hn + th + y)).abs() < 1e-12,
        "{got} vs {}",
        hn + th + y
    );
    let approx = m
        .fit(3_000, Advi::new().seed(0).progressbar(false))
        .unwrap();
    // tau is log-transformed: under q, log tau ~ Normal(m, s), so its mean
    // is the log-normal's exp(m + s²/2) and its sd that times
    // sqrt(exp(s²) - 1). `mean`/`std` integrate q's marginal by quadrature:
    // the closed form to rounding, and the same on every call.
    let m_u = approx
        .mean_unconstrained("tau")
        .unwrap()
        .item::<f64>()
        .unwrap();
    let s_u = approx
        .std_unconstrained("tau")
        .unwrap()
        .item::<f64>()
        .unwrap();
    let want = (m_u + s_u * s_u / 2.0).exp();
    let want_sd = want * ((s_u * s_u).exp() - 1.0).sqrt();
    let got = approx.mean("tau").unwrap().item::<f64>().unwrap();
    let got_sd = approx.std("tau").unwrap().item::<f64>().unwrap();
    assert!(
        (got / want - 1.0).abs() < 1e-12,
        "mean of tau {got} vs the log-normal mean {want}"
    );
    assert!(
        (got_sd / want_sd - 1.0).abs() < 1e-9,
        "sd {got_sd} vs {want_sd}"
    );
    assert_eq!(approx.mean("tau").unwrap(), approx.mean("tau").unwrap());
}

#[test]
fn float32_models_fit() {
    let m = Model::with_dtype(DType::F32).unwrap();
    let mu = m.normal("mu", 0.0, 10.0, ()).unwrap();
    m.normal("y", &mu, 1.0, ())
        .unwrap()
        .observed(Tensor::vector(vec![2.0f32, 3.0, 4.0]));
    let a = m
        .fit(20_000, Advi::new().seed(0).obj_n_mc(4).progressbar(false))
        .unwrap();
    let mean = a.mean("mu").unwrap();
    assert_eq!(mean.dtype(), DType::F32);
    assert!((mean.item::<f64>().unwrap() - 3.0 * 3.0 / (3.0 + 0.01)).abs() < 0.05);
}

#[test]
fn uniform_bounds_may_depend_on_other_variables() {
    // x ~ Uniform(0, s) with s ~ HalfNormal(2): ADVI and sampling work in
    // unconstrained coordinates, and every draw of x lies below its s.
    let m = Model::new();
    let s = m.half_normal("s", 2.0, ()).unwrap();
    let x = m.uniform("x", 0.0, &s, [3]).unwrap();
    m.normal("y", &x, 0.5, ())
        .unwrap()
        .observed(Tensor::vector(vec![0.4, 0.9, 1.3]));
    let init = m.initial_point().unwrap();
    assert_eq!(
        init[1].1.to_f64_vec(),
        vec![1.0; 3],
        "the midpoint of (0, s = 2)"
    );
    let approx = m
        .fit(3_000, Advi::new().seed(1).progressbar(false))
        .unwrap();
    let trace = approx.sample(2_000).unwrap();
    let (ss, xs) = (
        trace.get("s").unwrap().to_f64_vec(),
        trace.get("x").unwrap().to_f64_vec(),
    );
    for d in 0..2_000 {
        for k in 0..3 {
            assert!(
                xs[3 * d + k] > 0.0 && xs[3 * d + k] < ss[d],
                "draw {d}: x {} s {}",
                xs[3 * d + k],
                ss[d]
            );
        }
    }
    // Full rank too.
    assert!(m.fit(200, FullRankAdvi::new().progressbar(false)).is_ok());
}

#[test]
fn uniform_with_array_bounds_starts_inside() {
    let m = Model::new();
    let lo = constant(Tensor::vector(vec![2.0, 3.0]));
    let hi = constant(Tensor::vector(vec![4.0, 5.0]));
    m.uniform("u", &lo, &hi, [2]).unwrap();
    assert_eq!(m.initial_point().unwrap()[0].1.to_f64_vec(), vec![3.0, 4.0]);
    assert!(m.fit(100, Advi::new().progressbar(false)).is_ok());
    // Bounds are compared after broadcasting.
    let bad = constant(Tensor::vector(vec![1.0, -1.0]));
    let e = m.uniform("v", 0.0, &bad, [2]).unwrap_err().to_string();
    assert!(e.contains("lower must be below upper"), "{e}");
}

#[test]
fn a_rejected_step_leaves_the_optimizer_state_finite() {
    let model = diverging_model();
    let mut inf = model
        .inference(
            Advi::new()
                .optimizer(Optimizer::momentum(1e-8, 0.9))
                .progressbar(false),
        )
        .unwrap();
    assert!(inf.fit(10_000).is_err());
    for s in inf.step_function().updated_shared() {
        let v = s.get_value().unwrap().to_f64_vec();
        assert!(v.iter().all(|x| x.is_finite()), "{} = {v:?}", s.name());
    }
}

#[test]
fn posterior_predictive_has_the_observed_data_shape() {
    let (model, _, _) = conjugate_model();
    let trace = Trace::new(
        50,
        vec![("mu".into(), Tensor::full(1.5, DType::F64, &[50]))],
    )
    .unwrap();
    let ppc = sample_posterior_predictive(&model, &trace, None, 3).unwrap();
    assert_eq!(ppc.get("y").unwrap().shape(), &[50, 20]);
    let mean = ppc.mean("y").unwrap().to_f64_vec();
    let avg = mean.iter().sum::<f64>() / mean.len() as f64;
    assert!((avg - 1.5).abs() < 4.0 / (1000f64).sqrt(), "{avg}");
}

#[test]
fn bad_sizes_unused_replacements_and_non_finite_data_are_errors() {
    let (model, approx, _, _) = linear_approx(3);
    let w = model.var("w").unwrap();
    let expr = (&w * 2.0).unwrap();
    // Negative and zero draw counts, as `sample(0)`.
    for k in [-5i32, 0] {
        let e = approx.sample_node(&expr, k).unwrap_err();
        assert!(e.message().contains("must be positive"), "{k}: {e}");
    }
    assert!(approx.sample(0).is_err());
    // Replacing a variable the expression does not use.
    let node = approx.sample_node(&expr, 4).unwrap();
    let (a, b) = (vector("a"), vector("b"));
    let e = node.replace(&a, &b).unwrap_err();
    assert!(e.message().contains("does not depend on it"), "{e}");
    let e = clone_replace(&[&expr], &[(&a, &b)]).unwrap_err();
    assert!(e.message().contains("does not depend on it"), "{e}");
    // ... allowed when asked for, and then it changes nothing.
    let same = clone_replace_with(&[&expr], &[(&a, &b)], Unused::Ignore).unwrap();
    assert!(same[0].same(&expr));
    // givens of an unused variable.
    let e = compile(&[&a], &[&(&a * 2.0).unwrap()])
        .givens(&[(&b, &a)])
        .build()
        .unwrap_err();
    assert!(e.message().contains("does not depend on it"), "{e}");
    // One rule for data: finite, in `data` and in `set_data` alike.
    let m = Model::new();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = m.data("d_bad", Tensor::vector(vec![1.0, bad])).unwrap_err();
        assert!(e.message().contains("must be finite"), "{e}");
    }
    m.data("d", Tensor::vector(vec![1.0, 2.0])).unwrap();
    for bad in [f64::NAN, f64::INFINITY] {
        let e = m.set_data("d", Tensor::vector(vec![bad])).unwrap_err();
        assert!(e.message().contains("must be finite"), "{e}");
    }
    m.set_data("d", Tensor::vector(vec![3.0, 4.0, 5.0]))
        .unwrap();
}

#[test]
fn random_variables_combine_like_expressions_and_tensors_are_parameters() {
    let m = Model::new();
    let a = m.normal("a", 0.0, 1.0, ()).unwrap();
    let b = m.normal("b", Tensor::scalar(1.0), vec![2.0], [1]).unwrap();
    let x = scalar("x");
    let sum = (&a + &b).unwrap();
    let mixed = ((2.0 * &a).unwrap() - &x).unwrap();
    let ratio = (&b / 4.0).unwrap();
    let f = function(&[&*a, &*b, &x], &[&sum, &mixed, &ratio, &-&a]).unwrap();
    let r = f
        .call(&[
            Tensor::scalar(3.0),
            Tensor::vector(vec![5.0]),
            Tensor::scalar(0.5),
        ])
        .unwrap();
    assert_eq!(r[0].to_f64_vec(), vec![8.0]);
    assert_eq!(r[1].item::<f64>().unwrap(), 5.5);
    assert_eq!(r[2].to_f64_vec(), vec![1.25]);
    assert_eq!(r[3].item::<f64>().unwrap(), -3.0);
    // b ~ Normal(1, 2): the tensor and the Vec became the parameters.
    let lp = m.logp().unwrap();
    let g = function(&[&*a, &*b], &[&lp]).unwrap();
    let got = g
        .call(&[Tensor::scalar(0.0), Tensor::vector(vec![1.0])])
        .unwrap()[0]
        .item::<f64>()
        .unwrap();
    let norm =
        |x: f64, mu: f64, s: f64| -0.5 * ((x - mu) / s).powi(2) - s.ln() - 0.5 * (2.0 * PI).ln();
    assert!((got - (norm(0.0, 0.0, 1.0) + norm(1.0, 1.0, 2.0))).abs() < 1e-12);
}

#[test]
fn models_print_as_pymc_and_export_graphviz() {
    let m = Model::new();
    let x = m
        .data(
            "x",
            Tensor::new(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[3, 2]).unwrap(),
        )
        .unwrap();
    let sd = m.half_normal("sd", 2.0, ()).unwrap();
    let w = m.normal("w", 0.0, &sd, [2]).unwrap();
    let p = m.deterministic("p", &x.dot(&w).unwrap().sigmoid()).unwrap();
    m.bernoulli("y", &p)
        .unwrap()
        .observed(Tensor::vector(vec![0.0, 1.0, 1.0]));
    let text = m.to_string();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        vec![
            "x ~ Data  (3, 2)",
            "sd ~ HalfNormal(2)  ()",
            "w ~ Normal(0, sd)  (2,)",
            "y ~ Bernoulli(logit_p=f(x, w))  (3,) observed",
            // Its rows follow the data (`set_data` may change them).
            "p ~ Deterministic(f(x, w))  (?,)",
        ],
        "{text}"
    );
    let dot = m.to_graphviz();
    for edge in [
        "\"sd\" -> \"w\"",
        "\"x\" -> \"y\"",
        "\"w\" -> \"y\"",
        "\"w\" -> \"p\"",
    ] {
        assert!(dot.contains(edge), "{edge} missing:\n{dot}");
    }
    assert!(dot.starts_with("digraph model {") && dot.trim_end().ends_with('}'));
    assert!(!dot.contains("\"x\" -> \"w\""));
}

#[test]
fn a_replacement_of_the_wrong_width_is_reported_by_its_name() {
    // The predictive of the notebook's form: data x (2 rows, 3 features)
    // replaced by an input of open sizes, vectorized over draws.
    let (model, approx, _, _) = linear_approx(0);
    let w = model.var("w").unwrap();
    let x = constant(Tensor::new(vec![1.0, 0.5, -1.0, 0.2, 2.0, 0.0], &[2, 3]).unwrap());
    let xs = matrix("x_new");
    let n = iscalar("n");
    let node = approx
        .sample_node(&x.dot(&w).unwrap(), &n)
        .unwrap()
        .replace(&x, &xs)
        .unwrap();
    for mode in [Mode::Jit, Mode::Interpret] {
        let f = compile(&[&xs, &n], &[&node]).mode(mode).build().unwrap();
        // Any number of rows of the right width works...
        let rows = Tensor::new(
            vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
            &[4, 3],
        )
        .unwrap();
        let r = f.call(&[rows, Tensor::scalar(3i64)]).unwrap();
        assert_eq!(r[0].shape(), &[3, 4]);
        // ...a wrong width names the input and the shape it must have.
        let e = f
            .call(&[Tensor::zeros(DType::F64, &[7, 2]), Tensor::scalar(3i64)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("'x_new'") && e.contains("(?, 3)") && e.contains("(7, 2)"),
            "{mode:?}: {e}"
        );
    }
}

#[test]
fn kl_warmup_weights_the_prior_and_entropy_terms_linearly() {
    // A model without data: the loss is all KL part, logq - logp. With a
    // negligible learning rate q does not move and the seed fixes the draws, so
    // step k of a warm-up over 4 steps is min(1, (k + 1) / 4) times the
    // plain loss of step k.
    let run = |warmup| {
        let m = Model::new();
        m.normal("x", 1.0, 2.0, [3]).unwrap();
        m.half_normal("s", 1.0, ()).unwrap();
        m.fit(
            8,
            Advi::new()
                .seed(5)
                .optimizer(Optimizer::sgd(1e-300))
                .kl_warmup(warmup)
                .progressbar(false),
        )
        .unwrap()
        .hist()
        .to_vec()
    };
    let (plain, warm) = (run(0), run(4));
    for (k, (p, w)) in plain.iter().zip(&warm).enumerate() {
        let beta = ((k + 1) as f64 / 4.0).min(1.0);
        assert!(
            (w - beta * p).abs() < 1e-12 * p.abs().max(1.0),
            "step {k}: {w} vs {beta} * {p}"
        );
    }
    assert_ne!(plain[0], warm[0]);
}

#[test]
fn a_sigmoid_behind_a_squeeze_is_still_taken_as_the_logit() {
    // p = sigmoid(z)[:, 0] (what a dense layer of one unit gives): the
    // Bernoulli density must come from z, exact where sigmoid saturates.
    let m = Model::new();
    let z = m
        .data("z", Tensor::new(vec![800.0, -3.0], &[2, 1]).unwrap())
        .unwrap();
    let p = z.sigmoid().squeeze(&[-1]).unwrap();
    m.bernoulli("y", &p)
        .unwrap()
        .observed(Tensor::vector(vec![0.0, 1.0]));
    assert!(m.to_string().contains("logit_p="), "{m}");
    let lp = function(theon::prelude::NO_INPUTS, &[&m.logp().unwrap()])
        .unwrap()
        .call::<Tensor>(&[])
        .unwrap()[0]
        .item::<f64>()
        .unwrap();
    // log(1 - sigmoid(800)) = -800 - log1p(e^-800) = -800 in f64, and
    // log sigmoid(-3) = -ln(1 + e^3); the p form would give -inf.
    let exact = -800.0 - (1.0 + 3f64.exp()).ln();
    assert!((lp - exact).abs() < 1e-9, "{lp} vs {exact}");
}

#[test]
fn decayed_sgd_steps_follow_the_closed_form() {
    // loss p^2 / 2 (gradient p), SGD with rate a decaying by g per step:
    // p_{t+1} = p_t (1 - a g^t), exactly the product over the steps.
    let p = shared("p", Tensor::scalar(1.0));
    let loss = (p.square() * 0.5).unwrap();
    let g = grad(&loss, &[&p]).unwrap();
    let (a, gamma) = (0.1, 0.9);
    let ups = Optimizer::sgd(a)
        .with_decay(gamma)
        .updates(std::slice::from_ref(&p), &g)
        .unwrap();
    let refs: Vec<(&Var, &Var)> = ups.iter().map(|(x, y)| (x, y)).collect();
    let step = compile(NO_INPUTS, &[&loss]).updates(&refs).build().unwrap();
    let mut want = 1.0;
    for t in 0..20 {
        step.call::<Tensor>(&[]).unwrap();
        want *= 1.0 - a * gamma.powi(t);
    }
    let got = p.get_value().unwrap().item::<f64>().unwrap();
    assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    // A decay outside (0, 1] is an error.
    assert!(
        Optimizer::adam()
            .with_decay(0.0)
            .updates(std::slice::from_ref(&p), &g)
            .is_err()
    );
    assert!(
        Optimizer::adam()
            .with_decay(1.5)
            .updates(std::slice::from_ref(&p), &g)
            .is_err()
    );
}

#[test]
fn tempered_advi_recovers_the_tempered_conjugate_posterior() {
    // At T = 0.25 the posterior sd shrinks (about) twofold and the mean
    // moves toward the data.
    let t = 0.25;
    let (model, mean, sd) = conjugate_model_at(t);
    let approx = model
        .fit(
            30_000,
            Advi::new()
                .seed(1)
                .obj_n_mc(10)
                .temperature(t)
                .progressbar(false),
        )
        .unwrap();
    let m = approx.mean("mu").unwrap().item::<f64>().unwrap();
    let sq = approx.std("mu").unwrap().item::<f64>().unwrap();
    assert!((m - mean).abs() < 0.02 * mean.abs(), "mean {m} vs {mean}");
    assert!((sq - sd).abs() < 0.03 * sd, "sd {sq} vs {sd}");
    assert!(model.fit(1, Advi::new().temperature(0.0)).is_err());
    assert!(model.fit(1, Advi::new().temperature(f64::NAN)).is_err());
}
