//! Symbolic gradients against central finite differences, closed forms and
//! the stability cases of issue 3.

use proptest::prelude::*;
use theon::prelude::*;
use theon_tests::eval_checked;
use theon_tests::random_graphs::{SMOOTH_UNARY, smooth_unary};

fn opts() -> VerifyGrad {
    VerifyGrad {
        eps: 1e-6,
        rtol: 1e-6,
        atol: 1e-8,
        seed: 3,
        mode: Mode::Interpret,
    }
}

/// Random float64 points of the given shapes.
fn points(shapes: &[&[usize]], seed: u64) -> Vec<Tensor> {
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| Tensor::randn(DType::F64, s, seed * 31 + i as u64))
        .collect()
}

/// Points with |x| >= 0.5 (for division and 1/x).
fn away_from_zero(t: &Tensor) -> Tensor {
    let v: Vec<f64> = t
        .to_f64_vec()
        .iter()
        .map(|x| x.signum() * (x.abs() + 0.5))
        .collect();
    Tensor::new(v, t.shape()).unwrap()
}

/// Points > 0.5 (for log, sqrt, pow bases).
fn positive(t: &Tensor) -> Tensor {
    let v: Vec<f64> = t.to_f64_vec().iter().map(|x| x.abs() + 0.5).collect();
    Tensor::new(v, t.shape()).unwrap()
}

#[track_caller]
fn check(f: impl Fn(&[Var]) -> Result<Var>, pts: &[Tensor]) {
    match verify_grad(f, pts, &opts()) {
        Ok(r) => assert!(r.n_checked > 0),
        Err(e) => panic!("{e}"),
    }
}

fn item(t: &Tensor) -> f64 {
    t.item::<f64>().unwrap()
}

// ---- every differentiable op --------------------------------------------------

#[test]
fn unary_ops_match_finite_differences() {
    let any = points(&[&[2, 3]], 1);
    let pos = vec![positive(&any[0])];
    let nz = vec![away_from_zero(&any[0])];
    type U = fn(&Var) -> Var;
    let on_any: [(&str, U); 13] = [
        ("neg", |x| x.neg()),
        ("abs", |x| x.abs()),
        ("exp", |x| x.exp()),
        ("expm1", |x| x.expm1()),
        ("square", |x| x.square()),
        ("tanh", |x| x.tanh()),
        ("sigmoid", |x| x.sigmoid()),
        ("softplus", |x| x.softplus()),
        ("log_sigmoid", |x| x.log_sigmoid()),
        ("sin", |x| x.sin()),
        ("cos", |x| x.cos()),
        ("erf", |x| x.erf()),
        ("stop_gradient+x", |x| {
            (x.stop_gradient() * 0.0).unwrap().add(x).unwrap()
        }),
    ];
    for (name, f) in on_any {
        let pts = if name == "abs" {
            nz.clone()
        } else {
            any.clone()
        };
        eprintln!("{name}");
        check(|v| Ok(f(&v[0])), &pts);
    }
    let on_pos: [(&str, U); 5] = [
        ("log", |x| x.log()),
        ("log1p", |x| x.log1p()),
        ("sqrt", |x| x.sqrt()),
        ("lgamma", |x| x.lgamma()),
        ("digamma", |x| x.digamma()),
    ];
    for (name, f) in on_pos {
        eprintln!("{name}");
        check(|v| Ok(f(&v[0])), &pos);
    }
    check(|v| Ok(v[0].reciprocal()), &nz);
}

#[test]
fn binary_ops_with_broadcasting() {
    // (3, 1, 4) against (2, 1): rank promotion and size-1 dims on both sides.
    let p = points(&[&[3, 1, 4], &[2, 1]], 2);
    let a = tensor_with_shape("unused", DType::F64, &[Some(1)]);
    let _ = a;
    check(|v| &v[0] + &v[1], &p);
    check(|v| &v[0] - &v[1], &p);
    check(|v| &v[0] * &v[1], &p);
    check(|v| v[0].maximum(&v[1]), &p);
    check(|v| v[0].minimum(&v[1]), &p);
    let pd = vec![p[0].clone(), away_from_zero(&p[1])];
    check(|v| &v[0] / &v[1], &pd);
    // pow in both arguments: positive base.
    let pp = vec![positive(&p[0]), p[1].clone()];
    check(|v| v[0].pow(&v[1]), &pp);
    // A scalar against a matrix.
    let ps = points(&[&[], &[2, 3]], 3);
    check(|v| (&v[0] * &v[1])?.add(v[0].exp()), &ps);
}

#[test]
fn where_cast_and_comparisons() {
    let p = points(&[&[4, 3], &[3]], 4);
    check(
        |v| Var::where_(&v[0].gt(&v[1])?, v[0].sin(), (&v[1] * 2.0)?),
        &p,
    );
    // Comparisons carry no gradient; the cast of a float to float keeps it.
    check(
        |v| (v[0].gt(0.0)?.cast(DType::F64) + v[0].cast(DType::F64))?.mul(&v[1]),
        &p,
    );
}

#[test]
fn reductions_over_several_axes() {
    let p = points(&[&[3, 4, 5]], 5);
    for keep in [false, true] {
        check(|v| v[0].sum_axes(&[0, 2], keep), &p);
        check(|v| v[0].mean_axes(&[0, 2], keep), &p);
        check(|v| v[0].max_axes(&[1, 2], keep), &p);
        check(|v| v[0].min_axes(&[0, 1], keep), &p);
        check(|v| v[0].logsumexp_axes(&[0, 2], keep), &p);
        check(|v| v[0].prod_axes(&[2], keep), &p);
        check(|v| v[0].var_axes(&[0, 2], keep, 1), &p);
        check(|v| v[0].std_axes(&[1], keep, 0), &p);
    }
    check(|v| v[0].sum(), &p);
    check(|v| v[0].logsumexp(), &p);
    // prod with zeros: exactly one zero in a row and two zeros in another.
    let z = Tensor::new(vec![0.0, 2.0, 3.0, 0.0, 0.0, 5.0, 1.5, -2.0, 0.5], &[3, 3]).unwrap();
    check(|v| v[0].prod_axes(&[1], false), &[z]);
}

#[test]
fn matmul_every_combination() {
    let cases: [(&[usize], &[usize]); 7] = [
        (&[4], &[4]),
        (&[3, 4], &[4]),
        (&[4], &[4, 2]),
        (&[3, 4], &[4, 2]),
        (&[2, 3, 4], &[4, 5]),
        (&[2, 1, 3, 4], &[5, 4, 2]),
        (&[3], &[2, 3, 4]),
    ];
    for (k, (a, b)) in cases.iter().enumerate() {
        let p = points(&[a, b], 10 + k as u64);
        check(|v| v[0].matmul(&v[1]), &p);
    }
    let p = points(&[&[3, 4], &[4, 2]], 20);
    check(|v| v[0].dot(&v[1]), &p);
}

#[test]
fn shape_ops() {
    let p = points(&[&[2, 3, 4]], 6);
    check(|v| v[0].permute(&[2, 0, 1]), &p);
    check(|v| v[0].t().expand_dims(1), &p);
    check(|v| v[0].reshape([4, -1]), &p);
    check(
        |v| {
            v[0].flatten()
                .slice(&[SliceSpec::new(Some(20), Some(2), -3)])
        },
        &p,
    );
    check(
        |v| v[0].slice(&[(0..1).into(), SliceSpec::new(None, None, -1), (1..).into()]),
        &p,
    );
    let q = points(&[&[1, 3]], 7);
    check(|v| v[0].broadcast_to([4, 2, 3]), &q);
    check(|v| v[0].squeeze(&[0]), &q);
    let r = points(&[&[2, 3], &[4, 3], &[2, 3]], 8);
    check(
        |v| Var::concatenate(&[v[0].clone(), v[1].clone(), v[2].exp()], 0),
        &r,
    );
    check(|v| Var::stack(&[v[0].clone(), v[2].clone()], -1), &r);
    // take with repeated and negative indices: gradients accumulate.
    let idx = constant(Tensor::vector(vec![1i64, -1, 1, 0]));
    check(|v| v[1].take(&idx, 0), &r);
    check(|v| v[0].take(&idx, 1), &r);
    // inc_slice / inc_take in both inputs.
    let s = points(&[&[4, 3], &[2, 3]], 9);
    check(
        |v| v[0].inc_slice(&[SliceSpec::new(Some(0), None, 2)], &v[1].tanh()),
        &s,
    );
    let i2 = constant(Tensor::vector(vec![3i64, 3]));
    check(|v| v[0].inc_take(&i2, 0, &v[1].sin()), &s);
    // alloc of a symbolic value, and zeros_like as a constant-gradient path.
    let sc = points(&[&[], &[2, 2]], 11);
    check(
        |v| (Var::alloc(&v[0], [3, 2])?.sum()? + v[1].zeros_like().sum()?)?.add(&v[1].sum()?),
        &sc,
    );
}

// ---- property test ------------------------------------------------------------

/// A random differentiable expression over inputs of shapes that broadcast
/// to (2, 3). Domain-restricted ops get their arguments mapped into the domain.
#[derive(Clone, Debug)]
enum Expr {
    Leaf(usize),
    Un(u8, Box<Expr>),
    Bin(u8, Box<Expr>, Box<Expr>),
    Red(u8, usize, Box<Expr>),
}

const SHAPES: [&[usize]; 4] = [&[2, 3], &[3], &[2, 1], &[]];

fn expr(depth: u32) -> BoxedStrategy<Expr> {
    if depth == 0 {
        return (0usize..4).prop_map(Expr::Leaf).boxed();
    }
    let sub = expr(depth - 1);
    let any = (0..depth).prop_flat_map(expr);
    prop_oneof![
        (0u8..14, sub.clone()).prop_map(|(k, e)| Expr::Un(k, Box::new(e))),
        (0u8..5, sub.clone(), any).prop_map(|(k, a, b)| Expr::Bin(k, Box::new(a), Box::new(b))),
        (0u8..3, 0usize..2, sub).prop_map(|(k, ax, e)| Expr::Red(k, ax, Box::new(e))),
    ]
    .boxed()
}

fn build(e: &Expr, v: &[Var]) -> Result<Var> {
    Ok(match e {
        Expr::Leaf(i) => v[*i].clone(),
        Expr::Un(k, a) => {
            let a = build(a, v)?;
            match k {
                0..SMOOTH_UNARY => smooth_unary(*k, &a)?,
                12 => (a * 0.5)?.square(),
                _ => -a,
            }
        }
        Expr::Bin(k, a, b) => {
            let (a, b) = (build(a, v)?, build(b, v)?);
            match k {
                0 => (a + b)?,
                1 => (a - b)?,
                2 => (a * b)?,
                3 => (a / (b.square() + 0.5)?)?,
                _ => (a.square() + 0.5)?.pow(b.tanh())?,
            }
        }
        Expr::Red(k, ax, a) => {
            // Broadcast to (2, 3) first so both axes exist; keepdims keeps
            // the result broadcastable with everything else.
            let full = (build(a, v)? + Var::zeros([2, 3], DType::F64)?)?;
            let axes = [*ax as i64];
            match k {
                0 => full.sum_axes(&axes, true)?,
                1 => full.mean_axes(&axes, true)?,
                _ => full.logsumexp_axes(&axes, true)?,
            }
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]
    #[test]
    fn random_expressions_match_finite_differences(e in (3u32..=6).prop_flat_map(expr), seed in 0u64..1000) {
        let pts = points(&SHAPES, seed);
        // Scale the cost so deep products stay in a well-conditioned range.
        let r = verify_grad(|v| Ok(build(&e, v)?.tanh()), &pts, &VerifyGrad { rtol: 1e-5, atol: 1e-7, ..opts() });
        prop_assert!(r.is_ok(), "{:?}\n{}", e, r.unwrap_err());
    }
}

// ---- second derivatives -----------------------------------------------------------

#[test]
fn hessian_of_quadratic_plus_exp_matches_closed_form() {
    // f(x) = 1/2 x^T A x + sum(exp(x)): H = (A + A^T) / 2 + diag(exp(x)).
    let a_vals = [2.0, 1.0, 0.5, -1.0, 3.0, 0.25, 0.0, 1.5, 4.0];
    let a = constant(Tensor::new(a_vals.to_vec(), &[3, 3]).unwrap());
    let x = tensor_with_shape("x", DType::F64, &[Some(3)]);
    let f =
        ((x.dot(&a.dot(&x).unwrap()).unwrap() * 0.5).unwrap() + x.exp().sum().unwrap()).unwrap();
    let h = hessian(&f, &x).unwrap();
    assert_eq!(h.static_shape(), &[Some(3), Some(3)]);
    let x0 = [0.3, -0.7, 1.1];
    let got = eval_checked(&[&x], &[&h], &[Tensor::vector(x0.to_vec())])
        .unwrap()
        .remove(0)
        .to_f64_vec();
    for i in 0..3 {
        for j in 0..3 {
            let mut want = 0.5 * (a_vals[3 * i + j] + a_vals[3 * j + i]);
            if i == j {
                want += f64::exp(x0[i]);
            }
            assert!(
                (got[3 * i + j] - want).abs() < 1e-12,
                "H[{i},{j}] = {} want {want}",
                got[3 * i + j]
            );
        }
    }
}

#[test]
fn grad_of_grad_is_the_second_derivative() {
    // f(x) = sin(x) * x: f'' = 2 cos x - x sin x.
    let x = scalar("x");
    let f = (x.sin() * &x).unwrap();
    let g = grad(&f, &[&x]).unwrap().remove(0);
    let gg = grad(&g, &[&x]).unwrap().remove(0);
    let ggg = grad(&gg, &[&x]).unwrap().remove(0);
    for x0 in [-2.0f64, 0.0, 0.7, 3.0] {
        let r = eval_checked(&[&x], &[&g, &gg, &ggg], &[Tensor::scalar(x0)]).unwrap();
        assert!((item(&r[0]) - (x0.cos() * x0 + x0.sin())).abs() < 1e-14);
        assert!((item(&r[1]) - (2.0 * x0.cos() - x0 * x0.sin())).abs() < 1e-14);
        assert!((item(&r[2]) - (-3.0 * x0.sin() - x0 * x0.cos())).abs() < 1e-14);
    }
}

#[test]
fn jacobian_of_a_vector_function() {
    // y = [x0 * x1, sin(x1)]: J = [[x1, x0], [0, cos x1]].
    let x = tensor_with_shape("x", DType::F64, &[Some(2)]);
    let y = Var::stack(
        &[
            (x.index(0, 0).unwrap() * x.index(0, 1).unwrap()).unwrap(),
            x.index(0, 1).unwrap().sin(),
        ],
        0,
    )
    .unwrap();
    let j = jacobian(&y, &x).unwrap();
    let r = eval_checked(&[&x], &[&j], &[Tensor::vector(vec![2.0, 0.5])])
        .unwrap()
        .remove(0);
    assert_eq!(r.shape(), &[2, 2]);
    let want = [0.5, 2.0, 0.0, 0.5f64.cos()];
    for (g, w) in r.to_f64_vec().iter().zip(want) {
        assert!((g - w).abs() < 1e-15);
    }
}

// ---- the model this project exists for ---------------------------------------------

#[test]
fn bnn_log_likelihood_gradient_per_weight_matrix() {
    // Two tanh layers, sigmoid output, Bernoulli log-likelihood, 20 points.
    let xs = Tensor::randn(DType::F64, &[20, 2], 100);
    let ys: Vec<f64> = xs
        .to_f64_vec()
        .chunks(2)
        .map(|r| if r[0] * r[1] > 0.0 { 1.0 } else { 0.0 })
        .collect();
    let x = constant(xs);
    let y = constant(Tensor::vector(ys));
    let loglik = |v: &[Var]| -> Result<Var> {
        let h1 = x.dot(&v[0])?.tanh();
        let h2 = h1.dot(&v[1])?.tanh();
        let p = h2.dot(&v[2])?.sigmoid();
        let ll = ((&y * &p.log())? + ((1.0 - &y)? * (1.0 - &p)?.log())?)?;
        ll.sum()
    };
    let w = points(&[&[2, 5], &[5, 5], &[5]], 101);
    // Each weight matrix on its own (the others fixed) and all together.
    for k in 0..3 {
        let fixed = w.clone();
        check(
            |v| {
                let mut all: Vec<Var> = fixed.iter().map(|t| constant(t.clone())).collect();
                all[k] = v[0].clone();
                loglik(&all)
            },
            &[w[k].clone()],
        );
    }
    check(loglik, &w);
}

// ---- numerically delicate gradients -------------------------------------------------

#[test]
fn delicate_gradients_stay_finite_where_the_math_is() {
    let x = scalar("x");
    let d = |f: Var, at: f64| -> f64 {
        let g = grad(&f, &[&x]).unwrap().remove(0);
        item(&eval_checked(&[&x], &[&g], &[Tensor::scalar(at)]).unwrap()[0])
    };
    assert_eq!(d(x.softplus(), 800.0), 1.0);
    assert_eq!(d(x.softplus(), -800.0), 0.0);
    assert_eq!(d(x.log_sigmoid(), -800.0), 1.0);
    assert_eq!(d(x.log_sigmoid(), 800.0), 0.0);
    assert_eq!(d(x.sigmoid(), -800.0), 0.0);
    assert_eq!(
        d(x.sqrt(), 0.0),
        f64::INFINITY,
        "d sqrt(x) / dx at 0 is +inf"
    );
    assert_eq!(d(x.log(), 0.0), f64::INFINITY);
    // The unselected branch of where must not poison the selected one.
    let guarded_sqrt = Var::where_(&x.gt(0.0).unwrap(), x.sqrt(), 0.0).unwrap();
    assert_eq!(d(guarded_sqrt.clone(), 0.0), 0.0);
    assert_eq!(d(guarded_sqrt, 4.0), 0.25);
    let guarded_log = Var::where_(&x.gt(0.0).unwrap(), x.log(), &x).unwrap();
    assert_eq!(d(guarded_log.clone(), 0.0), 1.0);
    assert_eq!(d(guarded_log, -1.0), 1.0);
    let guarded_div = Var::where_(&x.equal(0.0).unwrap(), 1.0, (x.sin() / &x).unwrap()).unwrap();
    assert_eq!(d(guarded_div, 0.0), 0.0);
    // logsumexp at huge inputs.
    let v = vector("v");
    let lse = v.logsumexp().unwrap();
    let g = grad(&lse, &[&v]).unwrap().remove(0);
    let r = eval_checked(&[&v], &[&g], &[Tensor::vector(vec![1000.0, 1000.0])])
        .unwrap()
        .remove(0);
    // exp(x - lse) with lse = 1000 + ln 2 rounded: within a few ulp of 1/2.
    assert!(
        r.to_f64_vec().iter().all(|g| (g - 0.5).abs() < 1e-13),
        "{r}"
    );
}

// ---- shared variables and errors -------------------------------------------------------

#[test]
fn gradients_with_respect_to_shared_variables() {
    let w = shared("w", Tensor::vector(vec![1.0, -2.0]));
    let x = vector("x");
    let cost = (&w * &x).unwrap().square().sum().unwrap();
    let gw = grad(&cost, &[&w]).unwrap().remove(0);
    let r = eval_checked(&[&x], &[&gw], &[Tensor::vector(vec![3.0, 0.5])])
        .unwrap()
        .remove(0);
    // d/dw sum((w x)^2) = 2 w x^2
    assert_eq!(r.to_f64_vec(), vec![2.0 * 1.0 * 9.0, 2.0 * -2.0 * 0.25]);
}

#[test]
fn gradient_errors() {
    let x = vector("x");
    let y = vector("y");
    let e = grad(&x.exp(), &[&x]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "gradient error: the cost must be a scalar, got f64[?] (sum or mean it first)"
    );
    let c = x.sum().unwrap();
    let e = grad(&c, &[&y]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "gradient error: the cost does not depend on 'y' (pass Disconnected::Zero or Ignore to allow this)"
    );
    let z = grad_with(&c, &[&x, &y], Disconnected::Zero).unwrap();
    let r = eval_checked(
        &[&x, &y],
        &[z[1].as_ref().unwrap()],
        &[Tensor::vector(vec![1.0]), Tensor::vector(vec![5.0, 6.0])],
    )
    .unwrap();
    assert_eq!(r[0].to_f64_vec(), vec![0.0, 0.0]);
    let z = grad_with(&c, &[&x, &y], Disconnected::Ignore).unwrap();
    assert!(z[0].is_some() && z[1].is_none());
    let i = ivector("i");
    let e = grad(&i.cast(DType::F64).sum().unwrap(), &[&i]).unwrap_err();
    assert!(e.to_string().contains("not a float tensor"), "{e}");
    let e = grad(&i.sum().unwrap(), &[&x]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "gradient error: the cost must be a float, got i64[]"
    );
    // A gradient through a random draw or a stop_gradient is disconnected.
    let rng = RandomStream::new(1);
    let n = rng.normal([2], DType::F64).unwrap();
    let e = grad(&(&n * 2.0).unwrap().sum().unwrap(), &[&n]).is_ok();
    assert!(e, "a draw itself is a valid wrt");
    let e = grad(&x.stop_gradient().sum().unwrap(), &[&x]).unwrap_err();
    assert!(e.to_string().contains("does not depend on 'x'"), "{e}");
    // Concatenate along an unknown axis needs static sizes.
    let e = grad(
        &Var::concatenate(&[x.clone(), y.clone()], 0)
            .unwrap()
            .sum()
            .unwrap(),
        &[&x],
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown size along axis 0"), "{e}");
    // verify_grad reports where a wrong gradient is.
    let bad = |v: &[Var]| -> Result<Var> { v[0].stop_gradient() * &v[0] };
    let e = verify_grad(bad, &[Tensor::vector(vec![1.0, 2.0])], &opts()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("gradient error: verify_grad: d/dx0 at (0,) of (2,): analytic"),
        "{e}"
    );
}

// ---- training with updates reaches a known optimum ---------------------------------------

#[test]
fn gradient_descent_reaches_least_squares_solution() {
    // y = X b + noise; GD on the mean squared error converges to the
    // normal-equations solution, computed here by hand for 2 parameters.
    let xs = Tensor::randn(DType::F64, &[50, 2], 5);
    let xv = xs.to_f64_vec();
    let yv: Vec<f64> = xv
        .chunks(2)
        .enumerate()
        .map(|(i, r)| 1.5 * r[0] - 0.5 * r[1] + 0.1 * ((i * 7 % 11) as f64 - 5.0) / 5.0)
        .collect();
    let (mut s00, mut s01, mut s11, mut t0, mut t1) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (r, y) in xv.chunks(2).zip(&yv) {
        s00 += r[0] * r[0];
        s01 += r[0] * r[1];
        s11 += r[1] * r[1];
        t0 += r[0] * y;
        t1 += r[1] * y;
    }
    let det = s00 * s11 - s01 * s01;
    let exact = [(s11 * t0 - s01 * t1) / det, (s00 * t1 - s01 * t0) / det];

    let x = matrix("x");
    let y = vector("y");
    let b = shared("b", Tensor::vector(vec![0.0, 0.0]));
    let cost = (x.dot(&b).unwrap() - &y).unwrap().square().mean().unwrap();
    let gb = grad(&cost, &[&b]).unwrap().remove(0);
    let step = compile(&[&x, &y], &[&cost])
        .update(&b, &(&b - &(&gb * 0.3).unwrap()).unwrap())
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let yt = Tensor::vector(yv);
    for _ in 0..300 {
        step.call(&[&xs, &yt]).unwrap();
    }
    let got = b.get_value().unwrap().to_f64_vec();
    assert!(
        (got[0] - exact[0]).abs() < 1e-9 && (got[1] - exact[1]).abs() < 1e-9,
        "{got:?} vs {exact:?}"
    );
}
