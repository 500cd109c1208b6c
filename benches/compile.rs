//! Compile-time benchmarks: building the graph, the rewrite pipeline and whole compiles of the
//! BNN ADVI step (objective, gradient, adagrad_window updates).

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

criterion_group!(benches, build_graph, rewrite_pipeline, compile_interpreted);
criterion_main!(benches);
