//! The BNN notebook's hot paths (issue 7): one ADVI step (full batch and
//! minibatch), the fast posterior predictive (`sample_node`, 500 draws),
//! and compiling both. The model is `theon_examples::models::moons_bnn` on
//! seeded two-moons data (500 training and 500 test points).

use criterion::{Criterion, criterion_group, criterion_main};
use theon::ppl::*;
use theon::prelude::*;
use theon_examples::data;
use theon_examples::models::{MoonsBnn, moons_bnn};

fn split() -> data::Split {
    let (mut x, y) = data::moons(1000, 0.2, 0).unwrap();
    data::standardize(&mut x);
    data::split(&x, &y, 0.5, 0).unwrap()
}

fn model(s: &data::Split, dtype: DType, batch: Option<usize>) -> MoonsBnn {
    moons_bnn(&s.x_train, &s.y_train, 0, dtype, batch).unwrap()
}

fn advi_step(c: &mut Criterion) {
    let s = split();
    let mut g = c.benchmark_group("bnn/ADVI step");
    for (name, dtype, batch) in [
        ("full batch 500, f64", DType::F64, None),
        ("full batch 500, f32", DType::F32, None),
        ("minibatch 50, f64", DType::F64, Some(50)),
    ] {
        let m = model(&s, dtype, batch);
        let mut inf = m.model.inference(Advi::new().progressbar(false)).unwrap();
        inf.fit(100).unwrap();
        let step = inf.step_function();
        let mut outs = vec![];
        let none: [Tensor; 0] = [];
        g.bench_function(name, |b| {
            b.iter(|| step.call_into(&none, &mut outs).unwrap())
        });
    }
    g.finish();
}

fn predictive(c: &mut Criterion) {
    let s = split();
    let mut g = c.benchmark_group("bnn/sample_node predictive, 500 draws");
    g.sample_size(30);
    for dtype in [DType::F64, DType::F32] {
        let m = model(&s, dtype, None);
        let approx = m.model.fit(1000, Advi::new().progressbar(false)).unwrap();
        let xs = Var::input("X", TensorType::new(dtype, vec![None, Some(2)]));
        let n = iscalar("n");
        let proba = approx
            .sample_node(&m.p, &n)
            .unwrap()
            .replace(&m.input, &xs)
            .unwrap();
        let f = function(&[&xs, &n], &[&proba]).unwrap();
        let draws = Tensor::scalar(500i64);
        let test = s.x_test.cast(dtype);
        let mut outs = vec![];
        g.bench_function(format!("500 test points, {dtype}"), |b| {
            b.iter(|| f.call_into(&[&test, &draws], &mut outs).unwrap())
        });
        let grid = Tensor::rand_uniform(dtype, &[10_000, 2], -3.0, 3.0, 5).unwrap();
        g.bench_function(format!("10000 grid points, {dtype}"), |b| {
            b.iter(|| f.call_into(&[&grid, &draws], &mut outs).unwrap())
        });
    }
    g.finish();
}

fn compile_both(c: &mut Criterion) {
    let s = split();
    let mut g = c.benchmark_group("bnn/compile");
    let m = model(&s, DType::F64, None);
    g.bench_function("ADVI step (graph, grad, rewrites, codegen)", |b| {
        b.iter(|| m.model.inference(Advi::new().progressbar(false)).unwrap())
    });
    let approx = m.model.fit(10, Advi::new().progressbar(false)).unwrap();
    let xs = Var::input("X", TensorType::new(DType::F64, vec![None, Some(2)]));
    let n = iscalar("n");
    g.bench_function("predictive (sample_node, replace, compile)", |b| {
        b.iter(|| {
            let proba = approx
                .sample_node(&m.p, &n)
                .unwrap()
                .replace(&m.input, &xs)
                .unwrap();
            function(&[&xs, &n], &[&proba]).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, advi_step, predictive, compile_both);
criterion_main!(benches);
