//! The distributions of issue 15 beyond their SciPy tables
//! (`reference.rs` checks every density and gradient): draws against
//! closed-form moments, the simplex transform's Jacobian against finite
//! differences, the triangular solve MvNormal is built on (against
//! substitution by hand and finite differences), Cholesky factors, and
//! `Potential`.

use theon::ppl::dist::cholesky;
use theon::ppl::*;
use theon::prelude::*;
use theon_tests::eval_checked;

fn c(x: f64) -> Var {
    Var::scalar_const(x, DType::F64)
}
fn cv(v: &[f64]) -> Var {
    constant(Tensor::vector(v.to_vec()))
}

#[test]
fn solve_triangular_matches_substitution_by_hand() {
    // L = [[2, 0], [1, 4]] (the upper entry 9 must not be read).
    let l = Var::input("l", TensorType::fixed(DType::F64, &[2, 2]));
    let b = Var::input("b", TensorType::fixed(DType::F64, &[3, 2]));
    let z = l.solve_triangular(&b, false).unwrap();
    let zt = l.solve_triangular(&b, true).unwrap();
    let lt = Tensor::new(vec![2.0, 9.0, 1.0, 4.0], &[2, 2]).unwrap();
    let bt = Tensor::new(vec![2.0, 5.0, 4.0, 0.0, -6.0, 1.0], &[3, 2]).unwrap();
    let r = eval_checked(&[&l, &b], &[&z, &zt], &[lt, bt]).unwrap();
    // L z = b: z0 = b0 / 2, z1 = (b1 - z0) / 4.
    let want = [1.0, 1.0, 2.0, -0.5, -3.0, 1.0];
    // L^T z = b: z1 = b1 / 4, z0 = (b0 - z1) / 2.
    let want_t = [0.375, 1.25, 2.0, 0.0, -3.125, 0.25];
    assert_eq!(r[0].to_f64_vec(), want);
    assert_eq!(r[1].to_f64_vec(), want_t);
    // Sizes that do not match are errors that say so.
    let bad = Var::input("v", TensorType::fixed(DType::F64, &[3]));
    let e = l.solve_triangular(&bad, false).unwrap_err();
    assert!(e.message().contains("last axis"), "{e}");
}

#[test]
fn solve_triangular_gradients_match_finite_differences() {
    let l = Tensor::new(vec![1.5, 0.0, 0.0, -0.4, 0.8, 0.0, 0.25, 0.6, 1.2], &[3, 3]).unwrap();
    let b = Tensor::new((0..6).map(|i| 0.3 * i as f64 - 0.7).collect(), &[2, 3]).unwrap();
    for trans in [false, true] {
        // Only the lower triangle is an input of the solve: compare on a
        // function of it (mask the upper triangle before solving).
        let check = verify_grad(
            |x| {
                let mask: Vec<f64> = (0..9).map(|i| (i / 3 >= i % 3) as u8 as f64).collect();
                let lower = (&x[0] * &constant(Tensor::new(mask, &[3, 3])?))?;
                lower.solve_triangular(&x[1], trans)
            },
            &[l.clone(), b.clone()],
            &VerifyGrad::default(),
        );
        assert!(check.is_ok(), "trans={trans}: {check:?}");
    }
}

#[test]
fn solve_triangular_vectorizes_over_right_hand_sides() {
    let l = constant(Tensor::new(vec![2.0, 0.0, 1.0, 4.0], &[2, 2]).unwrap());
    let b = Var::input("b", TensorType::fixed(DType::F64, &[2]));
    let z = l.solve_triangular(&b, false).unwrap();
    let bs = Var::input("bs", TensorType::fixed(DType::F64, &[3, 2]));
    let n = Var::scalar_const(3.0, DType::I64);
    let zs = vectorize(&[z], &[(b.clone(), bs.clone())], &n)
        .unwrap()
        .remove(0);
    let bt = Tensor::new(vec![2.0, 5.0, 4.0, 0.0, -6.0, 1.0], &[3, 2]).unwrap();
    let r = eval_checked(&[&bs], &[&zs], &[bt]).unwrap();
    assert_eq!(r[0].to_f64_vec(), [1.0, 1.0, 2.0, -0.5, -3.0, 1.0]);
}

#[test]
fn cholesky_factors_constant_covariances_and_rejects_others() {
    let cov = Tensor::new(vec![4.0, 2.0, 0.4, 2.0, 2.0, 0.5, 0.4, 0.5, 3.0], &[3, 3]).unwrap();
    let l = cholesky(&cov).unwrap();
    let llt = l.matmul(&l.t()).unwrap();
    let r = function(NO_INPUTS, &[&llt, &l])
        .unwrap()
        .call::<Tensor>(&[])
        .unwrap();
    for (a, b) in r[0].to_f64_vec().iter().zip(cov.to_f64_vec()) {
        assert!((a - b).abs() < 1e-14, "{a} vs {b}");
    }
    // Lower triangular with a positive diagonal.
    let lv = r[1].to_f64_vec();
    assert_eq!((lv[1], lv[2], lv[5]), (0.0, 0.0, 0.0));
    assert_eq!(lv[0], 2.0);
    let not_pd = Tensor::new(vec![1.0, 2.0, 2.0, 1.0], &[2, 2]).unwrap();
    assert!(
        cholesky(&not_pd)
            .unwrap_err()
            .message()
            .contains("positive definite")
    );
    let not_sym = Tensor::new(vec![1.0, 0.5, 0.0, 1.0], &[2, 2]).unwrap();
    assert!(
        cholesky(&not_sym)
            .unwrap_err()
            .message()
            .contains("symmetric")
    );
    let model = Model::new();
    let e = model.mv_normal_cov("x", 0.0, &not_pd).unwrap_err();
    assert!(e.message().contains("'x'"), "{e}");
}

#[test]
fn simplex_transform_round_trips_and_its_log_jacobian_is_the_determinant() {
    let t = Transform::Simplex;
    let u = Var::input("u", TensorType::fixed(DType::F64, &[2]));
    let x = t.forward(&u).unwrap();
    let lj = t.log_jacobian(&u).unwrap();
    let back = t.backward(&x).unwrap();
    let f = function(&[&u], &[&x, &lj, &back]).unwrap();
    let at = |v: [f64; 2]| f.call(&[Tensor::vector(v.to_vec())]).unwrap();
    let u0 = [0.3, -1.1];
    let r = at(u0);
    let x0 = r[0].to_f64_vec();
    assert!((x0.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    for (a, b) in r[2].to_f64_vec().iter().zip(u0) {
        assert!((a - b).abs() < 1e-14, "round trip {a} vs {b}");
    }
    // |det d(x0, x1)/d(u0, u1)| by central differences.
    let h = 1e-6;
    let col = |j: usize| -> [f64; 2] {
        let (mut p, mut m) = (u0, u0);
        p[j] += h;
        m[j] -= h;
        let (xp, xm) = (at(p)[0].to_f64_vec(), at(m)[0].to_f64_vec());
        [(xp[0] - xm[0]) / (2.0 * h), (xp[1] - xm[1]) / (2.0 * h)]
    };
    let (c0, c1) = (col(0), col(1));
    let det = (c0[0] * c1[1] - c0[1] * c1[0]).abs();
    let got = r[1].item::<f64>().unwrap();
    assert!((got - det.ln()).abs() < 1e-8, "{got} vs {}", det.ln());
    // A free Dirichlet gets it, with one unconstrained entry fewer.
    let d = Dist::from(Continuous::Dirichlet {
        a: cv(&[1.0, 2.0, 3.0]),
    });
    assert_eq!(
        d.default_transform().unwrap().unconstrained_shape(&[3]),
        [2]
    );
}

/// Mean and variance of 200 000 draws of `d`.
fn draw_moments(d: &Dist, shape: &[i64]) -> (Vec<f64>, Vec<f64>) {
    let rng = RandomStream::new(7);
    let mut full = vec![200_000i64];
    full.extend_from_slice(shape);
    let x = d
        .sample(&rng, &constant(Tensor::vector(full)), DType::F64)
        .unwrap();
    let m = x.mean_axes(&[0], false).unwrap();
    let v = x.var_axes(&[0], false, 0).unwrap();
    let r = function(NO_INPUTS, &[&m, &v])
        .unwrap()
        .call::<Tensor>(&[])
        .unwrap();
    (r[0].to_f64_vec(), r[1].to_f64_vec())
}

fn near(what: &str, got: f64, want: f64, rtol: f64) {
    assert!(
        (got - want).abs() <= rtol * want.abs().max(1e-3),
        "{what}: {got} vs {want}"
    );
}

#[test]
fn draws_have_the_closed_form_moments() {
    let lg = |x: f64| libm::lgamma(x);
    let cont = |d: Continuous| Dist::from(d);
    // LogNormal(0.2, 0.5): mean e^(mu + s²/2), var (e^(s²) - 1) e^(2mu + s²).
    let (m, v) = draw_moments(
        &cont(Continuous::LogNormal {
            mu: c(0.2),
            sigma: c(0.5),
        }),
        &[],
    );
    near("LogNormal mean", m[0], (0.2f64 + 0.125).exp(), 0.01);
    near(
        "LogNormal var",
        v[0],
        (0.25f64.exp() - 1.0) * (0.4f64 + 0.25).exp(),
        0.03,
    );
    // InverseGamma(5, 2): mean b/(a-1), var b²/((a-1)²(a-2)).
    let (m, v) = draw_moments(
        &cont(Continuous::InverseGamma {
            alpha: c(5.0),
            beta: c(2.0),
        }),
        &[],
    );
    near("InverseGamma mean", m[0], 0.5, 0.01);
    near("InverseGamma var", v[0], 4.0 / (16.0 * 3.0), 0.05);
    // Weibull(1.5, 2): mean b Γ(1 + 1/a), var b²(Γ(1 + 2/a) - Γ(1 + 1/a)²).
    let (m, v) = draw_moments(
        &cont(Continuous::Weibull {
            alpha: c(1.5),
            beta: c(2.0),
        }),
        &[],
    );
    let g1 = lg(1.0 + 1.0 / 1.5).exp();
    let g2 = lg(1.0 + 2.0 / 1.5).exp();
    near("Weibull mean", m[0], 2.0 * g1, 0.01);
    near("Weibull var", v[0], 4.0 * (g2 - g1 * g1), 0.03);
    // HalfStudentT(5, 1.5): E x² = sigma² nu / (nu - 2), and
    // E x = 2 sigma sqrt(nu / π) Γ((nu + 1) / 2) / (Γ(nu / 2) (nu - 1)).
    let (_, v) = draw_moments(
        &cont(Continuous::HalfStudentT {
            nu: c(5.0),
            sigma: c(1.5),
        }),
        &[],
    );
    let m2 = 2.25 * 5.0 / 3.0;
    let mean = 2.0 * 1.5 * (5.0f64 / std::f64::consts::PI).sqrt() * (lg(3.0) - lg(2.5)).exp() / 4.0;
    near("HalfStudentT var", v[0], m2 - mean * mean, 0.05);
    // Dirichlet(1, 2, 3): mean a / A, var a(A - a) / (A²(A + 1)).
    let (m, v) = draw_moments(
        &cont(Continuous::Dirichlet {
            a: cv(&[1.0, 2.0, 3.0]),
        }),
        &[3],
    );
    for (i, a) in [1.0, 2.0, 3.0].into_iter().enumerate() {
        near("Dirichlet mean", m[i], a / 6.0, 0.01);
        near("Dirichlet var", v[i], a * (6.0 - a) / (36.0 * 7.0), 0.03);
    }
    // MvNormal: variances are the diagonal of L L^T.
    let chol = constant(Tensor::new(vec![2.0, 0.0, 1.0, 0.5], &[2, 2]).unwrap());
    let (m, v) = draw_moments(
        &cont(Continuous::MvNormal {
            mu: cv(&[1.0, -1.0]),
            chol,
        }),
        &[2],
    );
    near("MvNormal mean 0", m[0], 1.0, 0.02);
    near("MvNormal mean 1", m[1], -1.0, 0.02);
    near("MvNormal var 0", v[0], 4.0, 0.02);
    near("MvNormal var 1", v[1], 1.25, 0.02);
    // NegativeBinomial(mu 3, alpha 2): var mu + mu²/alpha.
    let nb = Dist::from(Discrete::NegativeBinomial {
        mu: c(3.0),
        alpha: c(2.0),
    });
    let (m, v) = draw_moments(&nb, &[]);
    near("NegativeBinomial mean", m[0], 3.0, 0.01);
    near("NegativeBinomial var", v[0], 7.5, 0.03);
}

#[test]
fn cauchy_draws_have_their_quartiles() {
    // No moments: the quartiles are alpha ± beta (HalfCauchy's median is beta).
    let rng = RandomStream::new(3);
    let n = constant(Tensor::vector(vec![100_000i64]));
    let d = Dist::from(Continuous::Cauchy {
        alpha: c(1.0),
        beta: c(2.0),
    });
    let h = Dist::from(Continuous::HalfCauchy { beta: c(2.0) });
    let xs = [
        d.sample(&rng, &n, DType::F64).unwrap(),
        h.sample(&rng, &n, DType::F64).unwrap(),
    ];
    let r = function(NO_INPUTS, &[&xs[0], &xs[1]])
        .unwrap()
        .call::<Tensor>(&[])
        .unwrap();
    let quantile = |t: &Tensor, q: f64| {
        let mut v = t.to_f64_vec();
        v.sort_by(f64::total_cmp);
        v[(q * v.len() as f64) as usize]
    };
    near("Cauchy q25", quantile(&r[0], 0.25), -1.0, 0.03);
    near("Cauchy q75", quantile(&r[0], 0.75), 3.0, 0.03);
    near("HalfCauchy median", quantile(&r[1], 0.5), 2.0, 0.03);
}

#[test]
fn potentials_add_to_the_joint_and_shape_the_posterior() {
    // x ~ Normal(0, 1) with Potential(-x²/2): density ∝ exp(-x²), which is
    // Normal(0, 1/√2); ADVI's Gaussian is exact for it.
    let model = Model::new();
    let x = model.normal("x", 0.0, 1.0, ()).unwrap();
    let pot = (x.var().square() * -0.5).unwrap();
    model.potential("pull", &pot).unwrap();
    let lp = model.logp().unwrap();
    let f = function(&[x.var()], &[&lp]).unwrap();
    let got = f.call(&[Tensor::scalar(0.8)]).unwrap()[0]
        .item::<f64>()
        .unwrap();
    let want = -0.5 * 0.64 - 0.918_938_533_204_672_8 - 0.32;
    assert!((got - want).abs() < 1e-14, "{got} vs {want}");
    assert!(
        model.to_string().contains("pull ~ Potential(f(x))"),
        "{model}"
    );
    // Names are shared with variables; a non-float term is an error.
    assert!(model.potential("x", &pot).is_err());
    let e = model
        .potential("count", &x.var().gt(0.0).unwrap())
        .unwrap_err();
    assert!(e.message().contains("float"), "{e}");
    let approx = model
        .fit(20_000, Advi::new().seed(2).obj_n_mc(10).progressbar(false))
        .unwrap();
    let sd = approx.std("x").unwrap().item::<f64>().unwrap();
    let m = approx.mean("x").unwrap().item::<f64>().unwrap();
    assert!((sd - 0.5f64.sqrt()).abs() < 0.02, "sd {sd}");
    assert!(m.abs() < 0.03, "mean {m}");
}

#[test]
fn dirichlet_and_mv_normal_models_fit() {
    // Dirichlet(1, 1, 1) prior, categorical counts (6, 3, 1): the posterior
    // is Dirichlet(7, 4, 2) with mean (7, 4, 2) / 13.
    let model = Model::new();
    let w = model.dirichlet("w", vec![1.0, 1.0, 1.0]).unwrap();
    let obs: Vec<i64> = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2].to_vec();
    let p = (w.var() + Var::zeros([10, 3], DType::F64).unwrap()).unwrap();
    model
        .categorical("y", &p)
        .unwrap()
        .observed(Tensor::vector(obs));
    let approx = model
        .fit(
            20_000,
            FullRankAdvi::new().seed(4).obj_n_mc(5).progressbar(false),
        )
        .unwrap();
    let m = approx.mean("w").unwrap().to_f64_vec();
    for (got, want) in m.iter().zip([7.0 / 13.0, 4.0 / 13.0, 2.0 / 13.0]) {
        assert!((got - want).abs() < 0.04, "Dirichlet posterior mean {m:?}");
    }
    // MvNormal likelihood with a known covariance: the posterior mean of mu
    // under a flat-ish prior is the data mean.
    let model = Model::new();
    let mu = model.normal("mu", 0.0, 100.0, [2]).unwrap();
    let cov = Tensor::new(vec![1.0, 0.6, 0.6, 2.0], &[2, 2]).unwrap();
    let data = Tensor::new(vec![1.0, 2.0, 0.5, 3.0, 1.5, 1.0, 1.0, 2.5], &[4, 2]).unwrap();
    model.mv_normal_cov("y", &mu, &cov).unwrap().observed(data);
    let approx = model
        .fit(20_000, Advi::new().seed(5).obj_n_mc(5).progressbar(false))
        .unwrap();
    let m = approx.mean("mu").unwrap().to_f64_vec();
    assert!(
        (m[0] - 1.0).abs() < 0.05 && (m[1] - 2.125).abs() < 0.05,
        "{m:?}"
    );
}

#[test]
fn trace_quantiles_hdi_and_summary() {
    // 10 draws of a scalar and of a 2-vector.
    let a = [3.0, -1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0];
    let v: Vec<f64> = (0..20).map(|i| i as f64 * 0.5).collect();
    let trace = Trace::new(
        10,
        vec![
            ("a".into(), Tensor::vector(a.to_vec())),
            ("v".into(), Tensor::new(v.clone(), &[10, 2]).unwrap()),
        ],
    )
    .unwrap();
    // NumPy: np.quantile(a, 0.25) = 2.25, np.quantile(a, 0.5) = 3.5.
    assert_eq!(
        trace.quantile("a", 0.25).unwrap().item::<f64>().unwrap(),
        2.25
    );
    assert_eq!(
        trace.quantile("a", 0.5).unwrap().item::<f64>().unwrap(),
        3.5
    );
    assert_eq!(
        trace.quantile("a", 1.0).unwrap().item::<f64>().unwrap(),
        9.0
    );
    // HDI by brute force: the narrowest [s_i, s_{i+k}] with k = floor(p n).
    let mut s = a.to_vec();
    s.sort_by(f64::total_cmp);
    let k = (0.8f64 * 10.0).floor() as usize;
    let best = (0..10 - k)
        .min_by(|&i, &j| (s[i + k] - s[i]).total_cmp(&(s[j + k] - s[j])))
        .unwrap();
    let (lo, hi) = trace.hdi("a", 0.8).unwrap();
    assert_eq!(
        (lo.item::<f64>().unwrap(), hi.item::<f64>().unwrap()),
        (s[best], s[best + k])
    );
    assert!(trace.hdi("a", 0.0).is_err() && trace.quantile("a", 1.5).is_err());
    // Summary: one row per element, sd with ddof = 1.
    let sum = trace.summary().unwrap();
    let names: Vec<&str> = sum.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "v[0]", "v[1]"]);
    let mean = a.iter().sum::<f64>() / 10.0;
    let sd = (a.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 9.0).sqrt();
    assert!((sum.rows[0].mean - mean).abs() < 1e-12 && (sum.rows[0].sd - sd).abs() < 1e-12);
    // v[1] holds 0.5, 1.5, ..., 9.5: as ArviZ, the 94% HDI of 10 draws
    // spans floor(0.94 * 10) = 9 steps, all of them.
    assert_eq!((sum.rows[2].hdi_3, sum.rows[2].hdi_97), (0.5, 9.5));
    let text = sum.to_string();
    assert!(
        text.contains("hdi_97%") && text.lines().count() == 4,
        "{text}"
    );
}

#[test]
fn prior_predictive_draws_the_joint_prior() {
    // mu ~ Normal(1, 2), y ~ Normal(mu, 0.5) observed (3 values), d = 2 mu:
    // Var y = 4 + 0.25, Cov(mu, y) = 4, and y takes the data's shape.
    let model = Model::new();
    let mu = model.normal("mu", 1.0, 2.0, ()).unwrap();
    model
        .normal("y", &mu, 0.5, ())
        .unwrap()
        .observed(Tensor::vector(vec![0.0, 1.0, 2.0]));
    model
        .deterministic("d", &(mu.var() * 2.0).unwrap())
        .unwrap();
    let t = sample_prior_predictive(&model, 20_000, 11).unwrap();
    assert_eq!(t.names(), ["mu", "y", "d"]);
    assert_eq!(t.get("y").unwrap().shape(), &[20_000, 3]);
    let m = t.get("mu").unwrap().to_f64_vec();
    let y = t.get("y").unwrap().to_f64_vec();
    let d = t.get("d").unwrap().to_f64_vec();
    let n = m.len() as f64;
    let mm = m.iter().sum::<f64>() / n;
    let y0: Vec<f64> = y.chunks(3).map(|c| c[0]).collect();
    let ym = y0.iter().sum::<f64>() / n;
    let vy = y0.iter().map(|v| (v - ym) * (v - ym)).sum::<f64>() / n;
    let cov = m
        .iter()
        .zip(&y0)
        .map(|(a, b)| (a - mm) * (b - ym))
        .sum::<f64>()
        / n;
    near("prior mean of mu", mm, 1.0, 0.03);
    near("prior predictive var of y", vy, 4.25, 0.03);
    near("Cov(mu, y)", cov, 4.0, 0.03);
    assert!(m.iter().zip(&d).all(|(a, b)| *b == 2.0 * a));
    // The three values of y share their mu: their differences have var 0.5.
    let diff: Vec<f64> = y.chunks(3).map(|c| c[0] - c[1]).collect();
    let vd = diff.iter().map(|v| v * v).sum::<f64>() / n;
    near("Var(y0 - y1)", vd, 0.5, 0.03);
    assert!(sample_prior_predictive(&model, 0, 1).is_err());
}

#[test]
fn ndarray_parameters_are_constants() {
    let a = ndarray::array![[1.0, 2.0], [3.0, 4.0]];
    let model = Model::new();
    let x = model.normal("x", &a, 1.0, [2, 2]).unwrap();
    let lp = model.logp().unwrap();
    let at = Tensor::new(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let got = function(&[x.var()], &[&lp]).unwrap().call(&[at]).unwrap()[0]
        .item::<f64>()
        .unwrap();
    // Four standard normal densities at their means.
    assert!((got + 4.0 * 0.918_938_533_204_672_8).abs() < 1e-12, "{got}");
}
