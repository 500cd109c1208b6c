//! The tensor API end to end: functions, shared variables and updates,
//! givens, clone_replace, random streams, input checking, printing.

use theon::prelude::*;
use theon_tests::eval_checked;

fn f64s(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec()
}

#[test]
fn shared_updates_apply_after_outputs_across_calls() {
    let x = scalar("x");
    let acc = shared("acc", Tensor::scalar(10.0));
    // Output reads the old value; the update writes old + x.
    let out = (&acc * 1.0).unwrap();
    let f = compile(&[&x], &[&out])
        .update(&acc, &(&acc + &x).unwrap())
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let mut seen = vec![];
    for k in 1..=3 {
        let r = f.call(&[Tensor::scalar(k as f64)]).unwrap();
        seen.push(r[0].item::<f64>().unwrap());
    }
    assert_eq!(seen, vec![10.0, 11.0, 13.0]);
    assert_eq!(acc.get_value().unwrap().item::<f64>().unwrap(), 16.0);
}

#[test]
fn updates_are_applied_together() {
    // Swap two shared variables: both new values use the old ones.
    let a = shared("a", Tensor::scalar(1.0));
    let b = shared("b", Tensor::scalar(2.0));
    let noinputs: [&Var; 0] = [];
    let outs: [&Var; 0] = [];
    let f = compile(&noinputs, &outs)
        .update(&a, &b)
        .update(&b, &a)
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    f.call::<Tensor>(&[]).unwrap();
    assert_eq!(a.get_value().unwrap().item::<f64>().unwrap(), 2.0);
    assert_eq!(b.get_value().unwrap().item::<f64>().unwrap(), 1.0);
}

#[test]
fn set_value_checks_type() {
    let w = shared("w", Tensor::vector(vec![1.0, 2.0]));
    let e = w
        .set_value(Tensor::vector(vec![1.0, 2.0, 3.0]))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "shape error: shared variable 'w' has type f64[2], got a value of shape (3,)"
    );
    let e = w.set_value(Tensor::vector(vec![1.0f32, 2.0])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "dtype error: shared variable 'w' has dtype float64, got a value of dtype float32"
    );
    let d = shared_resizable("data", Tensor::zeros(DType::F64, &[3, 2]), &[1]);
    d.set_value(Tensor::zeros(DType::F64, &[7, 2])).unwrap();
    assert!(d.set_value(Tensor::zeros(DType::F64, &[7, 3])).is_err());
    let x = vector("x");
    assert!(
        x.get_value()
            .unwrap_err()
            .to_string()
            .contains("is not a shared variable")
    );
}

#[test]
fn update_errors() {
    let w = shared("w", Tensor::vector(vec![1.0, 2.0]));
    let x = vector("x");
    let e = compile(&[&x], &[&x]).update(&x, &x).build().unwrap_err();
    assert!(e.to_string().contains("is not a shared variable"), "{e}");
    let e = compile(&[&x], &[&x])
        .update(&w, &x.sum().unwrap())
        .build()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "graph error: function 'function': update of shared variable 'w' of type f64[2] has type f64[]"
    );
    // Unknown-length update that turns out wrong at run time: checked, nothing written.
    let f = compile(&[&x], &[&x])
        .update(&w, &x)
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let e = f.call(&[Tensor::vector(vec![1.0, 2.0, 3.0])]).unwrap_err();
    assert!(
        e.to_string().contains("the update of 'w' has shape (3,)"),
        "{e}"
    );
    assert_eq!(f64s(&w.get_value().unwrap()), vec![1.0, 2.0]);
}

#[test]
fn input_checking_names_the_input() {
    let x = matrix("X");
    let n = iscalar("n");
    let y = (&x * &n.cast(DType::F64)).unwrap();
    let f = compile(&[&x, &n], &[&y])
        .name("f")
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let e = f.call(&[Tensor::zeros(DType::F64, &[2, 2])]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "value error: function 'f' takes 2 arguments (X, n), got 1"
    );
    let e = f
        .call(&[Tensor::zeros(DType::F32, &[2, 2]), Tensor::scalar(1i64)])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "dtype error: function 'f': input 'X' (argument 0) expects f64[?, ?], got a float32 tensor of shape (2, 2)"
    );
    let e = f
        .call(&[Tensor::zeros(DType::F64, &[2]), Tensor::scalar(1i64)])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "shape error: function 'f': input 'X' (argument 0) expects f64[?, ?], got a float64 tensor of shape (2,)"
    );
    let s = tensor_with_shape("s", DType::F64, &[Some(3)]);
    let g = compile(&[&s], &[&s])
        .name("g")
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let e = g.call(&[Tensor::zeros(DType::F64, &[4])]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "shape error: function 'g': input 's' (argument 0) expects f64[3], got a float64 tensor of shape (4,)"
    );
}

#[test]
fn missing_and_bad_inputs_are_compile_errors() {
    let x = vector("x");
    let y = vector("y");
    let z = (&x + &y).unwrap();
    let e = function(&[&x], &[&z]).unwrap_err();
    assert!(e.to_string().contains("input 'y' is needed"), "{e}");
    let e = function(&[&z], &[&z]).unwrap_err();
    assert!(e.to_string().contains("is not a symbolic input"), "{e}");
    let e = function(&[&x, &x], &[&x]).unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
}

#[test]
fn runtime_shape_errors_name_op_and_shapes() {
    let a = matrix("a");
    let b = matrix("b");
    let c = a.dot(&b).unwrap();
    let f = compile(&[&a, &b], &[&c])
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let e = f
        .call(&[
            Tensor::zeros(DType::F64, &[500, 2]),
            Tensor::zeros(DType::F64, &[5, 5]),
        ])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "shape error: function 'function': matmul: (500, 2) · (5, 5): inner dims 2 != 5 (input shapes (500, 2), (5, 5))"
    );
    // Static shapes fail at build time, with the name the user called.
    let p = tensor_with_shape("p", DType::F64, &[Some(500), Some(2)]);
    let q = tensor_with_shape("q", DType::F64, &[Some(5), Some(5)]);
    assert_eq!(
        p.dot(&q).unwrap_err().to_string(),
        "shape error: dot: (500, 2) · (5, 5): inner dims 2 != 5"
    );
    // Run-time broadcasting of a dim not declared 1: u is f64[?, ?], so
    // u + f64[2, 3] needs u's dims equal to (2, 3).
    let u = matrix("u");
    let w2 = tensor_with_shape("w2", DType::F64, &[Some(2), Some(3)]);
    let v2 = (&u + &w2).unwrap();
    let e = eval_checked(
        &[&u, &w2],
        &[&v2],
        &[
            Tensor::zeros(DType::F64, &[1, 3]),
            Tensor::zeros(DType::F64, &[2, 3]),
        ],
    )
    .unwrap_err();
    assert!(
        e.to_string().contains(
            "add: input 0 has shape (1, 3) at run time, but its axis 0 was not declared as size 1"
        ),
        "{e}"
    );
}

#[test]
fn givens_substitute_before_compiling() {
    let x = vector("x");
    let w = shared("w", Tensor::vector(vec![2.0, 3.0]));
    let y = (&x * &w).unwrap().sum().unwrap();
    let z = vector("z");
    let zz = (&z + 1.0).unwrap();
    let f = compile(&[&z], &[&y])
        .givens(&[(&x, &zz)])
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let r = f.call(&[Tensor::vector(vec![1.0, 1.0])]).unwrap();
    assert_eq!(r[0].item::<f64>().unwrap(), 2.0 * 2.0 + 3.0 * 2.0);
}

#[test]
fn clone_replace_shares_untouched_subgraphs_and_checks_types() {
    let x = vector("x");
    let w = shared("w", Tensor::vector(vec![1.0, -1.0]));
    let h = (&x * &w).unwrap().tanh(); // depends on x
    let c = (&w * 3.0).unwrap(); // independent of x
    let y = (&h + &c).unwrap();
    let z = vector("z");
    let y2 = clone_replace(&[&y], &[(&x, &z)]).unwrap().remove(0);
    // The x-free part is the same node; the rest is new.
    assert!(y2.inputs()[1].same(&c));
    assert!(!y2.inputs()[0].same(&h));
    let r = eval_checked(&[&z], &[&y2], &[Tensor::vector(vec![0.5, 2.0])]).unwrap();
    let want = [0.5f64.tanh() + 3.0, (-2.0f64).tanh() - 3.0];
    for (g, w) in f64s(&r[0]).iter().zip(want) {
        assert!((g - w).abs() < 1e-15);
    }
    // The original is untouched.
    let r = eval_checked(&[&x], &[&y], &[Tensor::vector(vec![0.5, 2.0])]).unwrap();
    assert!((f64s(&r[0])[0] - want[0]).abs() < 1e-15);

    // Type errors name both sides.
    let i = ivector("i");
    let e = clone_replace(&[&y], &[(&x, &i)]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "graph error: cannot replace 'x' of type f64[?] (float64 (?,)) with 'i' of type i64[?] (int64 (?,))"
    );
    let m = matrix("m");
    assert!(clone_replace(&[&y], &[(&x, &m)]).is_err());
    // Static sizes may change (a minibatch replaced by the full data); an
    // expression that cannot take the new sizes fails to rebuild.
    let s3 = tensor_with_shape("s3", DType::F64, &[Some(3)]);
    let s2 = tensor_with_shape("s2", DType::F64, &[Some(2)]);
    let sum = (&s3 * 2.0).unwrap();
    assert_eq!(
        clone_replace(&[&sum], &[(&s3, &s2)]).unwrap()[0].static_shape(),
        &[Some(2)]
    );
    let pair = (&s3 + &constant(Tensor::vector(vec![1.0, 2.0, 3.0]))).unwrap();
    let e = clone_replace(&[&pair], &[(&s3, &s2)]).unwrap_err();
    assert!(
        e.to_string().contains("2") && e.to_string().contains("3"),
        "{e}"
    );
    // A known size may become unknown; downstream types are re-inferred.
    let fixed = tensor_with_shape("fixed", DType::F64, &[Some(50), Some(2)]);
    let prod = fixed
        .dot(&constant(Tensor::new(vec![1.0, 2.0], &[2, 1]).unwrap()))
        .unwrap();
    assert_eq!(prod.static_shape(), &[Some(50), Some(1)]);
    let any = matrix("any");
    let p2 = clone_replace(&[&prod], &[(&fixed, &any)])
        .unwrap()
        .remove(0);
    assert_eq!(p2.static_shape(), &[None, Some(1)]);
}

#[test]
fn random_streams_advance_and_reproduce() {
    let rng = RandomStream::new(42);
    let z = rng.normal([4], DType::F64).unwrap();
    let noinputs: [&Var; 0] = [];
    let f = compile(&noinputs, &[&z])
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let a = f.call::<Tensor>(&[]).unwrap().remove(0);
    let b = f.call::<Tensor>(&[]).unwrap().remove(0);
    assert_ne!(f64s(&a), f64s(&b), "each call draws fresh values");
    assert_eq!(
        rng.state().get_value().unwrap().to_vec::<i64>(),
        vec![42, 2]
    );
    rng.seed(42);
    let a2 = f.call::<Tensor>(&[]).unwrap().remove(0);
    assert_eq!(f64s(&a), f64s(&a2), "a seed reproduces the sequence");
    // Symbolic shape from an integer input.
    let n = iscalar("n");
    let u = rng
        .uniform(&[DimArg::from(&n), DimArg::from(3)][..], DType::F32)
        .unwrap();
    assert_eq!(u.static_shape(), &[None, Some(3)]);
    let g = compile(&[&n], &[&u]).mode(Mode::Interpret).build().unwrap();
    let r = g.call(&[Tensor::scalar(5i64)]).unwrap().remove(0);
    assert_eq!(r.shape(), &[5, 3]);
    assert!(
        r.as_slice::<f32>()
            .unwrap()
            .iter()
            .all(|&v| (0.0..1.0).contains(&v))
    );
    let k = rng.integers(0, 3, [1000]).unwrap();
    let h = compile(&noinputs, &[&k])
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    let r = h.call::<Tensor>(&[]).unwrap().remove(0);
    let v = r.as_slice::<i64>().unwrap();
    assert!(v.iter().all(|&i| (0..3).contains(&i)) && (0..3).all(|i| v.contains(&i)));
}

#[test]
fn weak_scalars_keep_the_tensor_dtype() {
    let x = fvector("x");
    assert_eq!((&x * 2.0).unwrap().dtype(), DType::F32);
    assert_eq!((2.0 * &x).unwrap().dtype(), DType::F32);
    assert_eq!((&x + 1).unwrap().dtype(), DType::F32);
    let i = ivector("i");
    assert_eq!((&i * 2).unwrap().dtype(), DType::I64);
    assert_eq!((&i * 2.5).unwrap().dtype(), DType::F64);
    assert_eq!((&i / 2).unwrap().dtype(), DType::F64);
    assert_eq!(
        (&x + &i).unwrap().dtype(),
        DType::F64,
        "int64 with float32 promotes to float64 (NumPy)"
    );
}

#[test]
fn debugprint_snapshot() {
    let x = tensor_with_shape("x", DType::F64, &[Some(500), Some(2)]);
    let w1 = shared("w1", Tensor::zeros(DType::F64, &[2, 5]));
    let w2 = shared("w2", Tensor::zeros(DType::F64, &[5]));
    let h = x.dot(&w1).unwrap().tanh().named("h");
    let p = h.dot(&w2).unwrap().sigmoid().named("p");
    let loss = (&p * &h.sum_axes(&[1], false).unwrap())
        .unwrap()
        .mean()
        .unwrap();
    insta::assert_snapshot!("bnn_like_types", debugprint(&[&p, &loss], true));
    insta::assert_snapshot!("bnn_like", debugprint(&[&p], false));
}

#[test]
fn function_print_shows_updates() {
    let x = vector("x");
    let w = shared("w", Tensor::vector(vec![1.0, 2.0]));
    let y = (&w * &x).unwrap().sum().unwrap();
    let f = compile(&[&x], &[&y])
        .update(&w, &(&w - &(&x * 0.1).unwrap()).unwrap())
        .mode(Mode::Interpret)
        .build()
        .unwrap();
    insta::assert_snapshot!(f.debugprint(PrintOptions { types: true }));
}

#[test]
fn dot_export_lists_nodes_and_edges() {
    let x = vector("x");
    let y = x.exp().sum().unwrap();
    let dot = to_dot(&[&y]).unwrap();
    assert!(dot.starts_with("digraph theon {"));
    assert!(dot.contains("input x") && dot.contains("Exp") && dot.contains("Sum{axes=[0]}"));
    assert_eq!(dot.matches(" -> ").count(), 3, "{dot}"); // x->exp, exp->sum, sum->output
}

#[test]
fn compiled_functions_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Function>();
    check::<Var>();
}

#[test]
fn tensor_summaries_for_users() {
    let p = Tensor::new(
        vec![0.1, 0.7, 0.2, 0.5, 0.2, 0.3, f64::NAN, 0.1, 0.9],
        &[3, 3],
    )
    .unwrap();
    assert_eq!(p.argmax(1).unwrap().to_vec::<i64>(), vec![1, 0, 0]);
    assert_eq!(p.argmax(0).unwrap().to_vec::<i64>(), vec![2, 0, 2]);
    assert_eq!(p.column(1).unwrap().to_f64_vec(), vec![0.7, 0.2, 0.1]);
    assert!(p.column(3).is_err() && p.argmax(2).is_err());
    assert!(Tensor::zeros(DType::F64, &[2, 0]).argmax(1).is_err());
    let y = Tensor::vector(vec![1i64, 0, 1, 1]);
    assert_eq!(y.mean(), 0.75);
    assert!(Tensor::vector(Vec::<f64>::new()).mean().is_nan());
}

#[test]
fn csv_columns_read_as_vectors() {
    let dir = std::env::temp_dir().join(format!("theon-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("y.csv");
    std::fs::write(&p, "y\n1\n0\n1\n").unwrap();
    assert_eq!(read_csv(&p).unwrap().shape(), &[3, 1]);
    let y = read_csv_column(&p, 0).unwrap();
    assert_eq!(
        (y.shape(), y.to_f64_vec()),
        (&[3usize][..], vec![1.0, 0.0, 1.0])
    );
    let e = read_csv_column(&p, 1).unwrap_err();
    assert!(
        e.message().contains("y.csv") && e.message().contains("column 1"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
