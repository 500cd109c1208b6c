//! Intra-op threads on their own: a large product (rows split, and the
//! weight-gradient shape, columns of a transposed operand) and a large
//! wide-math pass, each compiled with one thread and with every core
//! (`JitOptions::threads`), one after the other, twice.
//!
//! cargo bench -p theon-benches --bench threads
//!
//! Prints microseconds per call (mean of 50 calls after one warm-up) and
//! the speedup. The whole ADVI steps are in `--bench roofline`.

use std::time::Instant;
use theon::compiler::CompileOptions;
use theon::prelude::*;

/// Mean seconds per call of `f` compiled with `threads` threads.
fn time(inputs: &[&Var], out: &Var, args: &[Tensor], threads: usize) -> f64 {
    let mut o = CompileOptions::default();
    o.jit.threads = Some(threads);
    let f = compile(inputs, &[out]).options(o).build().unwrap();
    let mut outs = vec![];
    f.call_into(args, &mut outs).unwrap();
    let t = Instant::now();
    for _ in 0..50 {
        f.call_into(args, &mut outs).unwrap();
    }
    t.elapsed().as_secs_f64() / 50.0
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{:<36} {:>12} {:>14} {:>8}",
        "f64 op",
        "1 thread",
        format!("{cores} threads"),
        "speedup"
    );
    let (m, k, n) = (10_000, 128, 128);
    let x = Var::input("x", TensorType::fixed(DType::F64, &[m, k]));
    let w = Var::input("w", TensorType::fixed(DType::F64, &[k, n]));
    let g = Var::input("g", TensorType::fixed(DType::F64, &[m, n]));
    let u = Var::input("u", TensorType::fixed(DType::F64, &[m * n]));
    let (tx, tw, tg, tu) = (
        Tensor::randn(DType::F64, &[m, k], 1),
        Tensor::randn(DType::F64, &[k, n], 2),
        Tensor::randn(DType::F64, &[m, n], 3),
        Tensor::randn(DType::F64, &[m * n], 4),
    );
    let cases: [(&str, Vec<&Var>, Var, Vec<Tensor>); 3] = [
        (
            "x·w [10000x128]·[128x128]",
            vec![&x, &w],
            x.dot(&w).unwrap(),
            vec![tx.clone(), tw],
        ),
        (
            "xᵀ·g [128x10000]·[10000x128]",
            vec![&x, &g],
            x.t().dot(&g).unwrap(),
            vec![tx, tg],
        ),
        ("tanh of 1.28M", vec![&u], u.tanh(), vec![tu]),
    ];
    for (name, inputs, out, args) in &cases {
        for _ in 0..2 {
            let one = time(inputs, out, args, 1);
            let many = time(inputs, out, args, cores);
            println!(
                "{name:<36} {:>10.1}us {:>12.1}us {:>7.2}x",
                one * 1e6,
                many * 1e6,
                one / many
            );
        }
    }
}
