//! vectorize against a loop: slice b of the batched expression equals the
//! expression evaluated on slice b of the batched input.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use theon::compiler::vectorize;
use theon::prelude::*;
use theon_tests::random_graphs::{build, graph, leaf_shapes};

#[test]
fn vectorized_random_graphs_match_a_loop_over_the_batch() {
    let mut runner = TestRunner::new(Config {
        cases: 200,
        ..Config::default()
    });
    let strategy = (
        (1u32..=3).prop_flat_map(graph),
        prop::collection::vec(1usize..5, 1..=3),
        any::<u64>(),
        0u64..1000,
        1usize..4,
    );
    let checked = std::cell::Cell::new(0);
    runner
        .run(&strategy, |(g, base, pick, seed, nb)| {
            let shapes = leaf_shapes(&base, pick);
            let leaves: Vec<Var> = shapes
                .iter()
                .enumerate()
                .map(|(i, s)| tensor_with_shape(&format!("x{i}"), DType::F64, s))
                .collect();
            let Ok(out) = build(&g, &leaves) else {
                return Ok(());
            };
            // Leaf 0 gets a batch axis.
            let mut bshape = vec![None];
            bshape.extend(shapes[0].iter().copied());
            let xb = tensor_with_shape("xb", DType::F64, &bshape);
            let size = iscalar("size");
            let vb = vectorize(
                std::slice::from_ref(&out),
                &[(leaves[0].clone(), xb.clone())],
                &size,
            )
            .unwrap()
            .remove(0);
            let dims =
                |s: &[Option<usize>]| -> Vec<usize> { s.iter().map(|d| d.unwrap()).collect() };
            let args: Vec<Tensor> = shapes
                .iter()
                .enumerate()
                .map(|(i, s)| Tensor::randn(DType::F64, &dims(s), seed + i as u64))
                .collect();
            let mut bdims = vec![nb];
            bdims.extend(dims(&shapes[0]));
            let xbv = Tensor::randn(DType::F64, &bdims, seed + 99);
            let mut ins: Vec<&Var> = vec![&xb, &size];
            ins.extend(leaves[1..].iter());
            let f = function(&ins, &[&vb]).unwrap();
            let mut call_args = vec![xbv.clone(), Tensor::scalar(nb as i64)];
            call_args.extend(args[1..].iter().cloned());
            let batched = f.call(&call_args).unwrap().remove(0);
            let single = function(&leaves.iter().collect::<Vec<_>>(), &[&out]).unwrap();
            let per = xbv.len() / nb;
            for b in 0..nb {
                let slice = Tensor::new(
                    xbv.to_f64_vec()[b * per..(b + 1) * per].to_vec(),
                    &dims(&shapes[0]),
                )
                .unwrap();
                let mut a = vec![slice];
                a.extend(args[1..].iter().cloned());
                let want = single.call(&a).unwrap().remove(0);
                let n = want.len();
                let got = Tensor::new(
                    batched.to_f64_vec()[b * n..(b + 1) * n].to_vec(),
                    want.shape(),
                )
                .unwrap();
                theon_tests::assert_agree(&want, &got, &format!("batch element {b}"));
            }
            checked.set(checked.get() + 1);
            Ok(())
        })
        .unwrap();
    assert!(checked.get() > 150, "{} graphs checked", checked.get());
}

#[test]
fn an_n_d_dot_with_batched_weights_matches_a_loop() {
    // dot([3, r, 2], w[2, 4]) reshapes through w's shape; batching w must
    // keep that shape arithmetic per element (a regression: the shape was
    // treated as batched).
    let x = Var::input(
        "x",
        TensorType::new(DType::F64, vec![Some(3), None, Some(2)]),
    );
    let w = Var::input("w", TensorType::fixed(DType::F64, &[2, 4]));
    let wb = Var::input("wb", TensorType::fixed(DType::F64, &[5, 2, 4]));
    let y = x.dot(&w).unwrap();
    let n = Var::constant(Tensor::scalar(5i64));
    let yb = vectorize(std::slice::from_ref(&y), &[(w.clone(), wb.clone())], &n)
        .unwrap()
        .remove(0);
    let fb = function(&[&x, &wb], &[&yb]).unwrap();
    let f = function(&[&x, &w], &[&y]).unwrap();
    let xv = Tensor::new(
        (0..18).map(|k| (k as f64 * 0.7).sin()).collect::<Vec<_>>(),
        &[3, 3, 2],
    )
    .unwrap();
    let wv = Tensor::new(
        (0..40).map(|k| (k as f64 * 0.3).cos()).collect::<Vec<_>>(),
        &[5, 2, 4],
    )
    .unwrap();
    let got = fb.call(&[&xv, &wv]).unwrap().remove(0);
    assert_eq!(got.shape(), &[5, 3, 3, 4]);
    let got = got.to_f64_vec();
    for b in 0..5 {
        let want = f.call(&[xv.clone(), wv.index_axis0(b).unwrap()]).unwrap()[0].to_f64_vec();
        assert_eq!(&got[b * 36..(b + 1) * 36], want.as_slice());
    }
}

#[test]
fn a_draw_shaped_like_a_batched_value_draws_per_element() {
    // y = mu + noise(shape of mu): batching mu must give every batch
    // element its own noise, not one draw shared by all.
    let mu = Var::input("mu", TensorType::fixed(DType::F64, &[3]));
    let mub = Var::input("mub", TensorType::fixed(DType::F64, &[4, 3]));
    let rng = RandomStream::named("noise", 1);
    let y = (&mu + rng.normal(mu.shape(), DType::F64).unwrap()).unwrap();
    let n = Var::constant(Tensor::scalar(4i64));
    let yb = vectorize(std::slice::from_ref(&y), &[(mu.clone(), mub.clone())], &n)
        .unwrap()
        .remove(0);
    let f = function(&[&mub], &[&yb]).unwrap();
    let out = f
        .call(&[Tensor::zeros(DType::F64, &[4, 3])])
        .unwrap()
        .remove(0);
    assert_eq!(out.shape(), &[4, 3]);
    let v = out.to_f64_vec();
    for b in 1..4 {
        assert_ne!(
            &v[0..3],
            &v[3 * b..3 * b + 3],
            "batch element {b} repeats element 0's noise"
        );
    }
}
