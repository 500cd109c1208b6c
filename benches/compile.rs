//! Compile-time benchmarks: building the graph, the rewrite pipeline and whole compiles of the
//! BNN ADVI step (objective, gradient, adagrad_window updates), and the whole
//! `model.inference` of `bnn_deep`'s 2-32-32-3 network (issue 10: under 50 ms).

use criterion::{Criterion, criterion_group, criterion_main};
use theon::compiler::Graph;
use theon::compiler::rewrite::{self, Ctx, Rewrites};
use theon::prelude::*;
use theon_tests::models::advi_step_graph;

fn rewrite_pipeline(c: &mut Criterion) {
    let (_, loss, updates) = advi_step_graph(500);
    let mut roots = vec![loss];
    roots.extend(updates.iter().map(|(_, v)| v.clone()));
    let (g0, _) = Graph::from_vars(&roots).unwrap();
    println!("BNN ADVI step graph: {} nodes before rewriting", g0.len());
    c.bench_function("rewrite pipeline, BNN ADVI step", |b| {
        b.iter(|| {
            let mut g = g0.clone();
            let ctx = Ctx {
                backend: theon::compiler::codegen::capabilities(),
                ..Ctx::default()
            };
            rewrite::optimize(&mut g, &Rewrites::All, &ctx).unwrap();
            g
        })
    });
}

fn build_graph(c: &mut Criterion) {
    c.bench_function("build graph (expressions and grad), BNN ADVI step", |b| {
        b.iter(|| advi_step_graph(500))
    });
}

fn compile_interpreted(c: &mut Criterion) {
    let (ins, loss, updates) = advi_step_graph(500);
    let ups: Vec<(&Var, &Var)> = updates.iter().map(|(a, b)| (a, b)).collect();
    let refs: Vec<&Var> = ins.iter().collect();
    c.bench_function("compile (interpreter), BNN ADVI step", |b| {
        b.iter(|| {
            compile(&refs, &[&loss])
                .updates(&ups)
                .mode(Mode::Interpret)
                .build()
                .unwrap()
        })
    });
}

fn compile_deep_step(c: &mut Criterion) {
    use theon::ppl::{Advi, Optimizer};
    use theon_examples::{data, models::deep_bnn};
    let (mut x, y) = data::spiral(250, 3, 0.2, 7).unwrap();
    data::standardize(&mut x);
    let x = Tensor::new(x.iter().flat_map(|p| *p).collect::<Vec<f64>>(), &[750, 2]).unwrap();
    let y = Tensor::vector(y);
    let net = deep_bnn(&x, &y, 32, 3, None, 0, DType::F64).unwrap();
    // As the example fits it.
    let advi = || {
        Advi::new()
            .optimizer(Optimizer::adam().with_learning_rate(0.01))
            .start_sigma(0.1)
            .progressbar(false)
    };
    // The process's first compile also sets up the code generator for
    // this CPU; the bench below times warm ones.
    for k in ["first", "second"] {
        let t = std::time::Instant::now();
        net.model.inference(advi()).unwrap();
        println!(
            "bnn_deep 2-32-32-3 ADVI step, {k} model.inference of the process: {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.bench_function(
        "bnn_deep 2-32-32-3 ADVI step (model.inference: graph, grad, rewrites, JIT)",
        |b| b.iter(|| net.model.inference(advi()).unwrap()),
    );
    group.finish();
}

criterion_group!(
    benches,
    build_graph,
    rewrite_pipeline,
    compile_interpreted,
    compile_deep_step
);
criterion_main!(benches);
