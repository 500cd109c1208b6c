//! JIT benchmarks (issue 5 targets): compile latency of the BNN ADVI step,
//! call overhead, a fused elementwise loop, and the ADVI step itself.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use theon::prelude::*;
use theon_tests::models::advi_step_graph;

fn advi_step(n: usize) -> (Function, [Tensor; 2]) {
    let (ins, loss, updates) = advi_step_graph(n);
    let ups: Vec<(&Var, &Var)> = updates.iter().map(|(a, b)| (a, b)).collect();
    let refs: Vec<&Var> = ins.iter().collect();
    let f = compile(&refs, &[&loss]).updates(&ups).build().unwrap();
    let x = Tensor::randn(DType::F64, &[n, 2], 1);
    let y = Tensor::vector(
        x.to_f64_vec()
            .chunks(2)
            .map(|r| (r[0] * r[1] > 0.0) as i64 as f64)
            .collect::<Vec<f64>>(),
    );
    (f, [x, y])
}

fn compile_advi(c: &mut Criterion) {
    let (ins, loss, updates) = advi_step_graph(500);
    let ups: Vec<(&Var, &Var)> = updates.iter().map(|(a, b)| (a, b)).collect();
    let refs: Vec<&Var> = ins.iter().collect();
    c.bench_function("jit/compile BNN ADVI step (rewrites + codegen)", |b| {
        b.iter(|| compile(&refs, &[&loss]).updates(&ups).build().unwrap())
    });
}

fn call_overhead(c: &mut Criterion) {
    let x = scalar("x");
    let y = (&x + 1.0).unwrap();
    let f = function(&[&x], &[&y]).unwrap();
    let arg = [Tensor::scalar(1.0)];
    let mut outs = Vec::new();
    f.call_into(&arg, &mut outs).unwrap();
    c.bench_function("jit/call overhead, scalar x + 1 (call_into)", |b| {
        b.iter(|| f.call_into(&arg, &mut outs).unwrap())
    });
}

fn fused_tanh(c: &mut Criterion) {
    // A dense unit's activation: scalars a, b and a vector x of 1e6 float64.
    let n = 1_000_000;
    let (a, x, b) = (scalar("a"), vector("x"), scalar("b"));
    let y = ((&a * &x).unwrap() + &b).unwrap().tanh();
    let f = function(&[&a, &x, &b], &[&y]).unwrap();
    let args = [
        Tensor::scalar(0.7),
        Tensor::randn(DType::F64, &[n], 2),
        Tensor::scalar(-0.2),
    ];
    let mut outs = Vec::new();
    f.call_into(&args, &mut outs).unwrap();
    let mut g = c.benchmark_group("jit/fused tanh(a*x+b)");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("1e6 f64", |bch| {
        bch.iter(|| f.call_into(&args, &mut outs).unwrap())
    });
    g.finish();
}

fn step(c: &mut Criterion) {
    let (f, args) = advi_step(500);
    let mut outs = Vec::new();
    f.call_into(&args, &mut outs).unwrap();
    c.bench_function(
        "jit/BNN ADVI step, 500 points (draw, loss, grad, adagrad update)",
        |b| {
            b.iter_batched_ref(
                || (),
                |_| f.call_into(&args, &mut outs).unwrap(),
                BatchSize::SmallInput,
            )
        },
    );
}

criterion_group!(benches, call_overhead, fused_tanh, step, compile_advi);
criterion_main!(benches);
