//! Every rewrite: the graph before and after (insta snapshots), proof that
//! it fired, and the same values with and without it. Then the stability
//! cases and the optimized graphs of the models this project is about.

use theon::compiler::Op;
use theon::prelude::*;
use theon_tests::models::{advi_step_graph, bnn_forward};
use theon_tests::{assert_agree, eval_checked};

/// One before/after case.
struct Case {
    rewrite: &'static str,
    inputs: Vec<Var>,
    output: Var,
    args: Vec<Tensor>,
}

fn case(rewrite: &'static str, inputs: Vec<Var>, output: Result<Var>, args: Vec<Tensor>) -> Case {
    Case {
        rewrite,
        inputs,
        output: output.unwrap(),
        args,
    }
}

fn vec_(v: &[f64]) -> Tensor {
    Tensor::vector(v.to_vec())
}

fn run_case(c: &Case) {
    eprintln!("case {}", c.rewrite);
    let ins: Vec<&Var> = c.inputs.iter().collect();
    let before = compile(&ins, &[&c.output])
        .mode(Mode::Interpret)
        .rewrites(Rewrites::None)
        .build()
        .unwrap();
    let after = compile(&ins, &[&c.output])
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let trace = after.rewrite_trace();
    assert!(
        trace.fired(c.rewrite),
        "{} did not fire; trace:\n{trace}",
        c.rewrite
    );
    let p = PrintOptions { types: true };
    insta::assert_snapshot!(
        format!("rewrite_{}", c.rewrite),
        format!(
            "before:\n{}\nafter:\n{}",
            before.debugprint(p),
            after.debugprint(p)
        )
    );
    let a = before.call(&c.args).unwrap();
    let b = after.call(&c.args).unwrap();
    assert_agree(&a[0], &b[0], c.rewrite);
}

fn cases() -> Vec<Case> {
    let x = vector("x");
    let y = vector("y");
    let i = ivector("i");
    let m = matrix("m");
    let w = matrix("w");
    let xs = vec_(&[-1.5, 0.25, 2.0]);
    let ys = vec_(&[0.5, -2.0, 3.0]);
    let ints = Tensor::vector(vec![3i64, -4, 7]);
    // A convolution with a per-channel bias (2 images, 1 -> 2 channels).
    let img = Var::input("img", TensorType::fixed(DType::F64, &[2, 1, 4, 4]));
    let ker = Var::input("ker", TensorType::fixed(DType::F64, &[2, 1, 3, 3]));
    let bias = Var::input("bias", TensorType::fixed(DType::F64, &[2, 1, 1]));
    let img_v = Tensor::randn(DType::F64, &[2, 1, 4, 4], 11);
    let ker_v = Tensor::randn(DType::F64, &[2, 1, 3, 3], 12);
    let bias_v = Tensor::new(vec![0.5, -1.5], &[2, 1, 1]).unwrap();
    // Two known columns (logsumexp_expand needs the reduced size).
    let m2 = tensor_with_shape("m2", DType::F64, &[None, Some(2)]);
    let mat = Tensor::new(
        (0..6).map(|k| k as f64 * 0.3 - 0.7).collect::<Vec<_>>(),
        &[2, 3],
    )
    .unwrap();
    let mat2 = Tensor::new(
        (0..12).map(|k| (k as f64 * 0.17).sin()).collect::<Vec<_>>(),
        &[3, 4],
    )
    .unwrap();
    let sig = |v: &Var| v.sigmoid();
    let f32v = tensor_with_shape("f", DType::F32, &[None]);
    let s = tensor_with_shape("s", DType::F64, &[Some(2), Some(3)]);
    vec![
        // canonicalize
        case(
            "merge",
            vec![x.clone()],
            x.exp() + x.exp(),
            vec![xs.clone()],
        ),
        case(
            "constant_fold",
            vec![x.clone()],
            &x * (constant(2.0) * constant(3.0)).unwrap(),
            vec![xs.clone()],
        ),
        case(
            "fold_known",
            vec![s.clone()],
            (|| s.shape().cast(DType::F64).sum()?.add(s.sum()?))(),
            vec![mat.clone()],
        ),
        // x - 0.0 is exact for every float (x + 0.0 is not: -0.0 + 0.0 = +0.0).
        case(
            "add_zero",
            vec![x.clone()],
            (&x - 0.0).map(|v| v.exp()),
            vec![xs.clone()],
        ),
        case(
            "mul_one",
            vec![x.clone()],
            (&x * 1.0).map(|v| v.exp()),
            vec![xs.clone()],
        ),
        case(
            "mul_zero",
            vec![i.clone()],
            (&i * 0).and_then(|v| v.add(&i)),
            vec![ints.clone()],
        ),
        case(
            "sub_self",
            vec![i.clone()],
            // The same value on both sides (what the rewrite looks for).
            #[allow(clippy::eq_op)]
            (&i - &i).and_then(|v| v.mul(3)),
            vec![ints.clone()],
        ),
        case(
            "neg_neg",
            vec![x.clone()],
            Ok((-(-&x)).exp()),
            vec![xs.clone()],
        ),
        case(
            "neg_forms",
            vec![x.clone(), y.clone()],
            &x + &(-&y),
            vec![xs.clone(), ys.clone()],
        ),
        case(
            "const_right",
            vec![x.clone()],
            2.0 * &x.exp(),
            vec![xs.clone()],
        ),
        case(
            "gather_constants",
            vec![x.clone()],
            (x.exp() * 2.0).unwrap() * 3.0,
            vec![xs.clone()],
        ),
        case(
            "sub_const_to_add",
            vec![x.clone()],
            x.exp() - 2.0,
            vec![xs.clone()],
        ),
        case(
            "div_const_to_mul",
            vec![x.clone()],
            x.exp() / 4.0,
            vec![xs.clone()],
        ),
        case("pow_special", vec![x.clone()], x.pow(2.0), vec![xs.clone()]),
        case(
            "dimshuffle_merge",
            vec![m.clone()],
            Ok(m.t().t().exp()),
            vec![mat.clone()],
        ),
        case(
            "reshape_merge",
            vec![m.clone()],
            m.reshape([3, 2])
                .and_then(|r| r.reshape([6]))
                .map(|v| v.exp()),
            vec![mat.clone()],
        ),
        case(
            "drop_stop_gradient",
            vec![x.clone()],
            Ok(x.stop_gradient().exp()),
            vec![xs.clone()],
        ),
        case(
            "useless_cast",
            vec![x.clone()],
            Var::apply(Op::Cast(DType::F64), &[&x]).map(|v| v.exp()),
            vec![xs.clone()],
        ),
        case(
            "where_const",
            vec![x.clone(), y.clone()],
            Var::where_(&constant(true), &x, &y),
            vec![xs.clone(), ys.clone()],
        ),
        case(
            "reduce_of_alloc",
            vec![x.clone()],
            Var::alloc(&x.sum().unwrap(), [2, 3]).and_then(|a| a.sum()),
            vec![xs.clone()],
        ),
        case(
            "elementwise_unbroadcast",
            vec![x.clone(), m.clone()],
            x.broadcast_to(m.shape()).and_then(|b| b.mul(&m)),
            vec![xs.clone(), mat.clone()],
        ),
        case(
            "lift_broadcast",
            vec![x.clone()],
            x.broadcast_to([2, 3])
                .and_then(|b| b.mul(2.0))
                .map(|v| v.exp()),
            vec![xs.clone()],
        ),
        // stabilize
        case(
            "log1p",
            vec![x.clone()],
            (&x + 1.0).map(|v| v.log()),
            vec![vec_(&[1e-20, 0.5, 3.0])],
        ),
        case(
            "expm1",
            vec![x.clone()],
            x.exp() - 1.0,
            vec![vec_(&[1e-20, -0.5, 3.0])],
        ),
        case(
            "log_sigmoid",
            vec![x.clone()],
            Ok(sig(&x).log()),
            vec![vec_(&[-800.0, 0.5, 30.0])],
        ),
        case(
            "log1p_neg_sigmoid",
            vec![x.clone()],
            Ok((-sig(&x)).log1p()),
            vec![vec_(&[800.0, 0.5, -30.0])],
        ),
        // log(1 - sigmoid(x)) becomes log_sigmoid(-x) through this and log_sigmoid.
        case(
            "one_minus_sigmoid",
            vec![x.clone()],
            (1.0 - &sig(&x)).map(|v| v.log()),
            vec![vec_(&[800.0, 0.5, -3.0])],
        ),
        case(
            "log_exp",
            vec![x.clone()],
            Ok(x.exp().log()),
            vec![vec_(&[800.0, 0.5, -3.0])],
        ),
        case(
            "sigmoid_from_exp",
            vec![x.clone()],
            1.0 / ((-&x).exp() + 1.0).unwrap(),
            vec![vec_(&[-800.0, 0.5, 3.0])],
        ),
        // log(1 + exp(x)) becomes softplus(x) through log1p and this.
        case(
            "softplus_from_log1p_exp",
            vec![x.clone()],
            (x.exp() + 1.0).map(|v| v.log()),
            vec![vec_(&[800.0, 0.5, -3.0])],
        ),
        case(
            "log_sigmoid_from_softplus",
            vec![x.clone()],
            Ok(-(-&x).softplus()),
            vec![vec_(&[800.0, 0.5, -3.0])],
        ),
        case(
            "bernoulli_logits",
            vec![x.clone(), y.clone()],
            (|| (&y * &x.log_sigmoid())? + ((1.0 - &y)? * (-&x).log_sigmoid())?)(),
            vec![vec_(&[-800.0, 0.5, 3.0]), vec_(&[1.0, 0.0, 1.0])],
        ),
        case(
            "bernoulli_select",
            vec![x.clone(), y.clone()],
            (|| where_(&y.equal(1.0)?, x.sigmoid().log(), (-x.sigmoid()).log1p()))(),
            vec![vec_(&[-800.0, 0.5, 3.0]), vec_(&[1.0, 0.0, 1.0])],
        ),
        case(
            "f32_reduce_in_f64",
            vec![f32v.clone()],
            f32v.sum_axes(&[0], false),
            vec![Tensor::vector(vec![1.5f32, -0.25, 1e7, 3.0])],
        ),
        case(
            "logaddexp",
            vec![x.clone(), y.clone()],
            (&x.exp() + &y.exp()).map(|v| v.log()),
            vec![
                vec_(&[-1.5, 0.25, 2.0, 0.0]),
                vec_(&[0.5, 0.25, -3.0, -30.0]),
            ],
        ),
        case(
            "logsumexp",
            vec![m.clone()],
            m.exp().sum_axes(&[1], false).map(|s| s.log()),
            vec![mat.clone()],
        ),
        // specialize
        case(
            "matmul_to_gemm",
            vec![m.clone(), w.clone()],
            m.dot(&w),
            vec![mat.clone(), mat2.clone()],
        ),
        case(
            "gemm_transpose",
            vec![m.clone(), w.clone()],
            m.t().dot(&m),
            vec![mat.clone(), mat2.clone()],
        ),
        case(
            "gemm_scale",
            vec![m.clone(), w.clone()],
            m.dot(&w).unwrap() * 2.5,
            vec![mat.clone(), mat2.clone()],
        ),
        case(
            "gemm_bias",
            vec![m.clone(), w.clone(), x.clone()],
            m.dot(&w).unwrap() + &x,
            vec![mat.clone(), mat2.clone(), vec_(&[1.0, 2.0, 3.0, 4.0])],
        ),
        case(
            "conv_bias",
            vec![img.clone(), ker.clone(), bias.clone()],
            img.conv2d(&ker, Conv2d::new()).unwrap() + &bias,
            vec![img_v.clone(), ker_v.clone(), bias_v.clone()],
        ),
        case(
            "conv_act",
            vec![img.clone(), ker.clone()],
            Ok(img.conv2d(&ker, Conv2d::new()).unwrap().tanh()),
            vec![img_v.clone(), ker_v.clone()],
        ),
        case(
            "gemm_act",
            vec![m.clone(), w.clone(), x.clone()],
            (m.dot(&w).unwrap() + &x).map(|z| z.tanh()),
            vec![mat.clone(), mat2.clone(), vec_(&[1.0, 2.0, 3.0, 4.0])],
        ),
        case(
            "logsumexp_expand",
            vec![m2.clone()],
            m2.logsumexp_axes(&[1], false),
            vec![
                Tensor::new(
                    vec![
                        1000.0,
                        1000.0,
                        0.0,
                        f64::NEG_INFINITY,
                        f64::NEG_INFINITY,
                        f64::NEG_INFINITY,
                    ],
                    &[3, 2],
                )
                .unwrap(),
            ],
        ),
        // fuse: cheap elementwise ops and a reduction become one loop;
        // transcendentals on large tensors stay out (see fuse.rs).
        case(
            "fuse_elementwise",
            vec![m.clone(), x.clone()],
            (|| ((&m * &x)? + 1.0)?.square().sum_axes(&[1], false))(),
            vec![mat.clone(), xs.clone()],
        ),
    ]
}

#[test]
fn every_rewrite_before_and_after() {
    for c in cases() {
        run_case(&c);
    }
}

#[test]
fn every_named_rewrite_has_a_case() {
    let covered: Vec<&str> = cases().iter().map(|c| c.rewrite).collect();
    let mut names: Vec<&str> = theon::compiler::rewrite::phases()
        .iter()
        .flat_map(|p| {
            p.locals
                .iter()
                .map(|r| r.name)
                .chain(p.globals.iter().map(|g| g.name))
                .collect::<Vec<_>>()
        })
        .collect();
    names.push("fold_known");
    for n in names {
        assert!(covered.contains(&n), "rewrite {n} has no before/after case");
    }
}

#[test]
fn rewrites_can_be_chosen() {
    let x = vector("x");
    let e = (x.sigmoid().log() - 0.0).unwrap();
    let only = compile(&[&x], &[&e])
        .mode(Mode::Interpret)
        .rewrites(Rewrites::Only(vec!["stabilize".into()]))
        .build()
        .unwrap();
    assert!(only.rewrite_trace().fired("log_sigmoid"));
    assert!(!only.rewrite_trace().fired("add_zero"));
    let except = compile(&[&x], &[&e])
        .mode(Mode::Interpret)
        .rewrites(Rewrites::Except(vec!["log_sigmoid".into()]))
        .build()
        .unwrap();
    assert!(!except.rewrite_trace().fired("log_sigmoid"));
    assert!(except.rewrite_trace().fired("add_zero"));
    let none = compile(&[&x], &[&e])
        .mode(Mode::Interpret)
        .rewrites(Rewrites::None)
        .build()
        .unwrap();
    assert!(none.rewrite_trace().events.is_empty());
    let text = only.rewrite_trace().to_string();
    assert!(
        text.contains("log_sigmoid x1")
            && text.contains("stabilize/log_sigmoid at Log(Sigmoid(x))"),
        "{text}"
    );
}

// ---- stability at extreme inputs ------------------------------------------------------

#[test]
fn stabilized_forms_are_finite_and_accurate_at_extremes() {
    let x = scalar("x");
    let run = |e: &Var, at: f64| {
        eval_checked(&[&x], &[e], &[Tensor::scalar(at)]).unwrap()[0]
            .item::<f64>()
            .unwrap()
    };
    assert_eq!(run(&x.sigmoid().log(), -800.0), -800.0);
    assert_eq!(run(&(1.0 - &x.sigmoid()).unwrap().log(), 800.0), -800.0);
    assert_eq!(run(&(&x + 1.0).unwrap().log(), 1e-20), 1e-20);
    assert_eq!(run(&(x.exp() - 1.0).unwrap(), 1e-20), 1e-20);
    let v = vector("v");
    let lse = v.exp().sum().unwrap().log();
    let r = eval_checked(&[&v], &[&lse], &[vec_(&[1000.0, 1000.0])]).unwrap()[0]
        .item::<f64>()
        .unwrap();
    assert!((r - (1000.0 + std::f64::consts::LN_2)).abs() < 1e-12, "{r}");
    // Without rewrites the same graphs overflow: the rewrites did this.
    let plain = compile(&[&v], &[&lse])
        .mode(Mode::Interpret)
        .rewrites(Rewrites::None)
        .build()
        .unwrap();
    assert_eq!(
        plain.call(&[vec_(&[1000.0, 1000.0])]).unwrap()[0]
            .item::<f64>()
            .unwrap(),
        f64::INFINITY
    );
}

// ---- the optimized graphs of the models -----------------------------------------------

fn count_ops(f: &Function, pred: impl Fn(&Op) -> bool) -> usize {
    let g = f.graph();
    g.toposort().iter().filter(|n| pred(g.op(**n))).count()
}

fn unstable_forms(f: &Function) -> usize {
    let g = f.graph();
    g.toposort()
        .iter()
        .filter(|&&n| {
            let op = g.op(n);
            let inner = |k: usize| g.inputs(n).get(k).map(|v| g.op(v.node).clone());
            matches!(op, Op::Unary(UnaryOp::Log))
                && matches!(inner(0), Some(Op::Unary(UnaryOp::Sigmoid | UnaryOp::Exp)))
        })
        .count()
}

#[test]
fn bnn_forward_graph() {
    let x = tensor_with_shape("X", DType::F64, &[Some(500), Some(2)]);
    let w1 = shared("w_in_1", Tensor::randn(DType::F64, &[2, 5], 1));
    let w2 = shared("w_1_2", Tensor::randn(DType::F64, &[5, 5], 2));
    let w3 = shared("w_2_out", Tensor::randn(DType::F64, &[5], 3));
    let p = bnn_forward(&x, &w1, &w2, &w3).unwrap();
    let f = compile(&[&x], &[&p]).mode(Mode::Interpret).build().unwrap();
    insta::assert_snapshot!(f.debugprint(PrintOptions { types: true }));
    assert_eq!(
        count_ops(&f, |o| matches!(o, Op::Gemm(_))),
        3,
        "one GEMM per layer"
    );
    assert_eq!(count_ops(&f, |o| matches!(o, Op::MatMul)), 0);
    let xv = Tensor::randn(DType::F64, &[500, 2], 4);
    eval_checked(&[&x], &[&p], &[xv]).unwrap();
}

#[test]
fn bnn_advi_step_graph() {
    let (ins, loss, updates) = advi_step_graph(500);
    let ups: Vec<(&Var, &Var)> = updates.iter().map(|(a, b)| (a, b)).collect();
    let refs: Vec<&Var> = ins.iter().collect();
    let f = compile(&refs, &[&loss])
        .updates(&ups)
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    insta::assert_snapshot!(f.debugprint(PrintOptions { types: false }));
    let gemms = count_ops(&f, |o| matches!(o, Op::Gemm(_)));
    assert!(gemms >= 3, "forward products become GEMMs ({gemms})");
    assert_eq!(count_ops(&f, |o| matches!(o, Op::MatMul)), 0);
    assert_eq!(unstable_forms(&f), 0, "no log(sigmoid) or log(exp) left");
    assert!(count_ops(&f, |o| matches!(o, Op::Fused(_))) >= 3);
    // And it runs: the loss is finite and the parameters move.
    let xv = Tensor::randn(DType::F64, &[500, 2], 5);
    let yv = Tensor::vector(
        xv.to_f64_vec()
            .chunks(2)
            .map(|r| if r[0] > 0.0 { 1.0 } else { 0.0 })
            .collect::<Vec<f64>>(),
    );
    let l = f.call(&[xv, yv]).unwrap()[0].item::<f64>().unwrap();
    assert!(l.is_finite());
}

#[test]
fn logistic_regression_training_graph() {
    let x = tensor_with_shape("x", DType::F64, &[None, Some(3)]);
    let y = tensor_with_shape("y", DType::F64, &[None]);
    let w = shared("w", Tensor::zeros(DType::F64, &[3]));
    let b = shared("b", Tensor::scalar(0.0));
    let p = (x.dot(&w).unwrap() + &b).unwrap().sigmoid();
    let xent = (-((&y * &p.log()).unwrap()
        + ((1.0 - &y).unwrap() * (1.0 - &p).unwrap().log()).unwrap())
    .unwrap())
    .mean()
    .unwrap();
    let cost = (&xent + &(w.square().sum().unwrap() * 0.01).unwrap()).unwrap();
    let g = grad(&cost, &[&w, &b]).unwrap();
    let f = compile(&[&x, &y], &[&cost])
        .update(&w, &(&w - &(&g[0] * 0.1).unwrap()).unwrap())
        .update(&b, &(&b - &(&g[1] * 0.1).unwrap()).unwrap())
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    insta::assert_snapshot!(f.debugprint(PrintOptions { types: true }));
    assert_eq!(unstable_forms(&f), 0);
    assert!(
        f.rewrite_trace().fired("bernoulli_logits"),
        "{}",
        f.rewrite_trace()
    );
    // Train on separable data: the cost falls.
    let xv = Tensor::randn(DType::F64, &[100, 3], 6);
    let yv = Tensor::vector(
        xv.to_f64_vec()
            .chunks(3)
            .map(|r| if r[0] + r[1] > 0.0 { 1.0 } else { 0.0 })
            .collect::<Vec<f64>>(),
    );
    let first = f.call(&[&xv, &yv]).unwrap()[0].item::<f64>().unwrap();
    let mut last = first;
    for _ in 0..200 {
        last = f.call(&[&xv, &yv]).unwrap()[0].item::<f64>().unwrap();
    }
    assert!(last < 0.5 * first, "{first} -> {last}");
}

#[test]
fn fusion_never_makes_two_groups_depend_on_each_other() {
    // a1 -> (reverse) -> b1 and b2 -> (reverse) -> a2: {a1, a2} and
    // {b1, b2, n} each look convex alone, but fused together each would
    // need the other. The pass must keep the graph acyclic.
    let x = vector("x");
    let y = vector("y");
    let rev = |v: &Var| v.slice(&[SliceSpec::new(None, None, -1)]).unwrap();
    let a1 = x.exp();
    let b1 = (rev(&a1) + &y).unwrap().tanh();
    let b2 = y.sin();
    let n = (&b1 * &b2).unwrap();
    let a2 = (rev(&b2) + &a1).unwrap();
    let args = [vec_(&[0.1, -0.4, 0.3, 2.0]), vec_(&[1.0, 0.5, -2.0, 0.25])];
    let r = eval_checked(&[&x, &y], &[&a2, &n], &args).unwrap();
    let (xs, ys) = (args[0].to_f64_vec(), args[1].to_f64_vec());
    for i in 0..4 {
        let want_a2 = ys[3 - i].sin() + xs[i].exp();
        let want_n = (xs[3 - i].exp() + ys[i]).tanh() * ys[i].sin();
        assert!((r[0].to_f64_vec()[i] - want_a2).abs() < 1e-14);
        assert!((r[1].to_f64_vec()[i] - want_n).abs() < 1e-14);
    }
}
