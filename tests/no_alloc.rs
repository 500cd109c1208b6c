//! Steady-state calls of a compiled function allocate nothing: a counting
//! global allocator watches 100 calls of the BNN ADVI step.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use theon::prelude::*;
use theon_tests::draws_of;
use theon_tests::models::advi_step_graph;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_calls_allocate_nothing() {
    let (ins, loss, updates) = advi_step_graph(500);
    let ups: Vec<(&Var, &Var)> = updates.iter().map(|(a, b)| (a, b)).collect();
    let refs: Vec<&Var> = ins.iter().collect();
    let step = compile(&refs, &[&loss]).updates(&ups).build().unwrap();
    let x = Tensor::randn(DType::F64, &[500, 2], 1);
    let y = Tensor::vector(
        x.to_f64_vec()
            .chunks(2)
            .map(|r| (r[0] * r[1] > 0.0) as i64 as f64)
            .collect::<Vec<f64>>(),
    );
    let args = [&x, &y];
    let mut outs = Vec::new();
    // The first call plans (and allocates); later calls reuse everything.
    step.call_into(&args, &mut outs).unwrap();
    step.call_into(&args, &mut outs).unwrap();
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..100 {
        step.call_into(&args, &mut outs).unwrap();
    }
    let during = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(during, 0, "{during} allocations in 100 steady-state calls");
    assert!(outs[0].item::<f64>().unwrap().is_finite());

    // Alternating shapes: each keeps its plan (no re-planning, so still no
    // allocation), and the results are those of each shape. (In this one
    // test: the counter is global to the binary.)
    let v = vector("v");
    let f = function(
        &[&v],
        &[&((&v * 2.0).unwrap() + 1.0).unwrap().tanh().sum().unwrap()],
    )
    .unwrap();
    let a = Tensor::vector(vec![0.25f64; 100]);
    let b = Tensor::vector(vec![-0.5f64; 300]);
    let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        f.call_into(&[&a], &mut out_a).unwrap();
        f.call_into(&[&b], &mut out_b).unwrap();
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..100 {
        f.call_into(&[&a], &mut out_a).unwrap();
        f.call_into(&[&b], &mut out_b).unwrap();
    }
    let during = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(during, 0, "{during} allocations alternating two shapes");
    // Threaded calls: a wide-math pass large enough to be split across two
    // threads (the pool starts at the first call) allocates nothing. (A
    // product that goes to the gemm crate allocates that crate's packing
    // buffers in every call: two per call for a [400 x 200] x [200 x 150]
    // product split over two threads, its own behaviour, docs/compiler.md.)
    let u = vector("u");
    let mut opts = CompileOptions::default();
    opts.jit.threads = Some(2);
    // Also a large elementwise loop (split by rows) and a batch region
    // whose chunks run on both threads.
    let xr = Var::input("xr", TensorType::new(DType::F64, vec![None, Some(3)]));
    let w1 = draws_of("w1", DType::F64, 3, 4);
    let w2 = draws_of("w2", DType::F64, 4, 2);
    let batched = xr.matmul(&w1).unwrap().tanh().matmul(&w2).unwrap();
    let square = ((&u * &u).unwrap() + 1.0).unwrap();
    let big = compile(&[&u, &xr, &w1, &w2], &[&u.tanh(), &square, &batched])
        .options(opts)
        .build()
        .unwrap();
    assert_eq!(
        big.steps()
            .unwrap()
            .iter()
            .filter(|k| **k == StepKind::WideMath)
            .count(),
        2,
        "u's tanh and the network's"
    );
    let tu = Tensor::randn(DType::F64, &[1 << 17], 5);
    let (txr, tw1, tw2) = (
        Tensor::randn(DType::F64, &[2000, 3], 6),
        Tensor::randn(DType::F64, &[16, 3, 4], 7),
        Tensor::randn(DType::F64, &[16, 4, 2], 8),
    );
    let big_args = [&tu, &txr, &tw1, &tw2];
    let mut out_big = Vec::new();
    for _ in 0..2 {
        big.call_into(&big_args, &mut out_big).unwrap();
    }
    let chunks = big.region_chunks();
    assert_eq!(
        chunks.iter().filter(|(total, chunk)| chunk < total).count(),
        2,
        "a chunked batch region and a split loop: {chunks:?}"
    );
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..100 {
        big.call_into(&big_args, &mut out_big).unwrap();
    }
    let during = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(during, 0, "{during} allocations in 100 threaded calls");
    let got = out_big[0].to_f64_vec();
    let input = tu.to_f64_vec();
    let squares = out_big[1].to_f64_vec();
    for k in [0, 1 << 16, (1 << 17) - 1] {
        assert!((got[k] - input[k].tanh()).abs() < 1e-15);
        assert_eq!(squares[k], input[k] * input[k] + 1.0);
    }
    // One entry of the batched network, by hand: draw 15, row 1999.
    let (x, w1v, w2v) = (txr.to_f64_vec(), tw1.to_f64_vec(), tw2.to_f64_vec());
    let h: Vec<f64> = (0..4)
        .map(|j| {
            (0..3)
                .map(|i| x[1999 * 3 + i] * w1v[15 * 12 + i * 4 + j])
                .sum::<f64>()
                .tanh()
        })
        .collect();
    let y: f64 = (0..4).map(|j| h[j] * w2v[15 * 8 + j * 2 + 1]).sum();
    let net = out_big[2].to_f64_vec();
    assert_eq!(out_big[2].shape(), &[16, 2000, 2]);
    assert!((net[(15 * 2000 + 1999) * 2 + 1] - y).abs() < 1e-12);

    let want = |x: f64, n: f64| n * (2.0 * x + 1.0).tanh();
    assert!((out_a[0].item::<f64>().unwrap() - want(0.25, 100.0)).abs() < 1e-12);
    assert!((out_b[0].item::<f64>().unwrap() - want(-0.5, 300.0)).abs() < 1e-12);
}
