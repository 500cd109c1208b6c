//! The JIT against the interpreter: random graphs, the inline math kernels
//! bit for bit against the model they were tested as, plans per shape
//! signature, errors instead of crashes, threads, and the printed IR.

use proptest::prelude::*;
use theon::compiler::codegen::math::{self, scalar::ScalarF32, scalar::ScalarF64};
use theon::prelude::*;
use theon_tests::random_graphs::{graph, instantiate};
use theon_tests::{assert_agree, draws_of, eval_checked};

// ---- random graphs ------------------------------------------------------------------

/// At least 1000 random graphs with broadcasting shapes, float32 and
/// float64: interpreter (as written and rewritten) and JIT agree on every one.
#[test]
fn random_graphs_agree_with_the_interpreter() {
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        ..Config::default()
    });
    let evaluated = std::cell::Cell::new(0usize);
    let strategy = (
        (1u32..=4).prop_flat_map(graph),
        prop::collection::vec(1usize..6, 1..=3),
        any::<u64>(),
        any::<bool>(),
        0u64..10_000,
    );
    runner
        .run(&strategy, |(g, base, pick, f32_, seed)| {
            let dtype = if f32_ { DType::F32 } else { DType::F64 };
            // A graph whose shapes do not combine is skipped.
            let Some((leaves, out, args)) = instantiate(&g, &base, pick, dtype, seed * 7) else {
                return Ok(());
            };
            let refs: Vec<&Var> = leaves.iter().collect();
            eval_checked(&refs, &[&out], &args).unwrap();
            evaluated.set(evaluated.get() + 1);
            Ok(())
        })
        .unwrap();
    assert!(
        evaluated.get() >= 900,
        "only {} of 1000 random graphs were well-typed",
        evaluated.get()
    );
}

#[test]
fn dynamic_dims_replan_on_new_shapes() {
    // Unknown dims: the same code runs every shape; plans follow the signature.
    let x = matrix("x");
    let w = shared("w", Tensor::randn(DType::F64, &[3, 4], 1));
    let y = (x.dot(&w).unwrap().tanh().sum_axes(&[1], false).unwrap() * 2.0).unwrap();
    let jit = function(&[&x], &[&y]).unwrap();
    let interp = compile(&[&x], &[&y]).mode(Mode::Interpret).build().unwrap();
    for rows in [5usize, 1, 17, 5, 0, 64] {
        let xv = Tensor::randn(DType::F64, &[rows, 3], rows as u64);
        let a = jit.call(&[&xv]).unwrap();
        let b = interp.call(&[&xv]).unwrap();
        assert_eq!(a[0].shape(), &[rows]);
        assert_agree(&b[0], &a[0], &format!("{rows} rows"));
    }
}

#[test]
fn shapes_depending_on_input_values_replan() {
    let n = iscalar("n");
    let rng = RandomStream::new(3);
    let z = rng
        .normal(&[DimArg::from(&n), DimArg::from(2)][..], DType::F64)
        .unwrap();
    let s = z.square().sum_axes(&[1], false).unwrap();
    let f = function(&[&n], &[&s]).unwrap();
    for k in [4i64, 9, 4] {
        assert_eq!(
            f.call(&[Tensor::scalar(k)]).unwrap()[0].shape(),
            &[k as usize]
        );
    }
}

#[test]
fn runtime_errors_are_values_not_crashes() {
    let x = vector("x");
    let i = ivector("i");
    let y = x.take(&i, 0).unwrap().exp();
    let f = function(&[&x, &i], &[&y]).unwrap();
    let e = f
        .call(&[
            Tensor::vector(vec![1.0, 2.0]),
            Tensor::vector(vec![0i64, 5]),
        ])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "index error: function 'function': take: index 5 is out of bounds for axis 0 with size 2"
    );
    // The function still works afterwards.
    let ok = f
        .call(&[Tensor::vector(vec![1.0, 2.0]), Tensor::vector(vec![-1i64])])
        .unwrap();
    assert!((ok[0].item::<f64>().unwrap() - 2f64.exp()).abs() < 1e-15);
    // Shape errors are caught before native code runs.
    let a = matrix("a");
    let b = matrix("b");
    let g = function(&[&a, &b], &[&(&a + &b).unwrap()]).unwrap();
    let e = g
        .call(&[
            Tensor::zeros(DType::F64, &[2, 3]),
            Tensor::zeros(DType::F64, &[3, 2]),
        ])
        .unwrap_err();
    assert!(e.to_string().contains("add:"), "{e}");
}

#[test]
fn functions_are_shared_between_threads() {
    let x = vector("x");
    let y = x.tanh().sum().unwrap();
    let f = std::sync::Arc::new(function(&[&x], &[&y]).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let f = f.clone();
            std::thread::spawn(move || {
                let xv =
                    Tensor::vector((0..100).map(|i| (i + t) as f64 * 0.01).collect::<Vec<_>>());
                let want: f64 = xv.to_f64_vec().iter().map(|v| v.tanh()).sum();
                for _ in 0..50 {
                    let got = f.call(&[&xv]).unwrap()[0].item::<f64>().unwrap();
                    assert!((got - want).abs() < 1e-12);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn ir_and_disassembly_on_request() {
    let x = vector("x");
    let y = (x.tanh() * 2.0).unwrap();
    // The inline kernels (not the wide slice kernels) show in the IR.
    let opts = CompileOptions {
        jit: JitOptions {
            keep_ir: true,
            keep_disasm: true,
            wide_math: false,
            ..Default::default()
        },
        ..Default::default()
    };
    let f = compile(&[&x], &[&y]).options(opts).build().unwrap();
    let ir = f.ir().unwrap();
    assert!(
        ir.contains("function") && ir.contains("f64x2") && ir.contains("fma"),
        "{ir}"
    );
    let asm = f.disassembly().unwrap();
    assert!(asm.contains("ret"), "{asm}");
    let plain = function(&[&x], &[&y]).unwrap();
    assert!(plain.ir().is_none());
    let none = CompileOptions {
        jit: JitOptions {
            opt_level: OptLevel::None,
            ..Default::default()
        },
        ..Default::default()
    };
    let g = compile(&[&x], &[&y]).options(none).build().unwrap();
    let xv = Tensor::vector(vec![0.5, -1.0, 3.0]);
    assert_eq!(g.call(&[&xv]).unwrap(), f.call(&[&xv]).unwrap());
}

// ---- inline math: the emitted code is the tested model ----------------------------------

fn edge_inputs() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        5e-324,
        -5e-324,
        709.78,
        709.79,
        -745.2,
        -745.1,
        88.7,
        88.8,
        -103.9,
        1e-300,
        1e300,
        -1e300,
        0.5,
        2.0,
        710.0,
        800.0,
        -800.0,
        37.0,
        -37.0,
        1e-8,
        -1e-8,
        3.0e38,
        1e20,
        -1e20,
        1e9,
        3.25,
        std::f64::consts::FRAC_PI_2,
    ];
    let mut state = 0x9E3779B97F4A7C15u64;
    for _ in 0..2000 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        v.push((u - 0.5) * 60.0);
        v.push(
            f64::from_bits(state.rotate_left(17) & 0x7FEF_FFFF_FFFF_FFFF)
                * if state & 1 == 1 { -1.0 } else { 1.0 },
        );
    }
    v.push(0.25); // odd length: the scalar tail runs too
    v
}

type Model64 = fn(&mut ScalarF64, f64) -> f64;
type Model32 = fn(&mut ScalarF32, f32) -> f32;

type Case = (&'static str, fn(&Var) -> Var, Model64, Model32);

/// Every one-argument kernel: the op, and its model in f64 and f32.
fn kernel_cases() -> [Case; 11] {
    [
        ("exp", Var::exp, math::exp, math::exp),
        ("expm1", Var::expm1, math::expm1, math::expm1),
        ("log", Var::log, math::log, math::log),
        ("log1p", Var::log1p, math::log1p, math::log1p),
        ("tanh", Var::tanh, math::tanh, math::tanh),
        ("sigmoid", Var::sigmoid, math::sigmoid, math::sigmoid),
        ("softplus", Var::softplus, math::softplus, math::softplus),
        (
            "log_sigmoid",
            Var::log_sigmoid,
            math::log_sigmoid,
            math::log_sigmoid,
        ),
        ("erf", Var::erf, math::erf, math::erf),
        ("sin", Var::sin, math::sin, math::sin),
        ("cos", Var::cos, math::cos, math::cos),
    ]
}

/// `got` equals the model at `v` bit for bit (any NaN for a NaN).
fn assert_model_bits(name: &str, dtype: DType, v: f64, got: f64, m64: Model64, m32: Model32) {
    let want = match dtype {
        DType::F64 => m64(&mut ScalarF64, v),
        _ => m32(&mut ScalarF32, v as f32) as f64,
    };
    assert!(
        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
        "{name} {dtype} at {v:e}: JIT {got:e}, model {want:e}"
    );
}

#[test]
fn emitted_kernels_match_the_tested_model_bit_for_bit() {
    let funcs = kernel_cases();
    let xs = edge_inputs();
    // At every CPU level this machine supports: the inline 128-bit code
    // (portable) and the AVX2 / AVX-512 slice kernels.
    for level in CpuLevel::supported() {
        let wide = level != CpuLevel::Portable;
        for (name, f, m64, m32) in funcs {
            for dtype in [DType::F64, DType::F32] {
                let x = tensor("x", dtype, 1);
                // Rewrites off: the kernel itself, not a rewritten form, runs.
                let mut opts = CompileOptions {
                    rewrites: Rewrites::None,
                    ..Default::default()
                };
                opts.jit.cpu = Some(level);
                let jit = compile(&[&x], &[&f(&x)]).options(opts).build().unwrap();
                let used_wide = jit.steps().unwrap().contains(&StepKind::WideMath);
                assert_eq!(used_wide, wide, "{name} at {level:?}");
                let input = Tensor::vector(xs.clone()).cast(dtype);
                let got = jit.call(&[&input]).unwrap().remove(0);
                let got = got.to_f64_vec();
                for (i, &v) in xs.iter().enumerate() {
                    assert_model_bits(name, dtype, v, got[i], m64, m32);
                }
            }
        }
    }
    // pow, two arguments.
    for dtype in [DType::F64, DType::F32] {
        let (x, y) = (tensor("x", dtype, 1), tensor("y", dtype, 1));
        let jit = compile(&[&x, &y], &[&x.pow(&y).unwrap()])
            .rewrites(Rewrites::None)
            .build()
            .unwrap();
        let ys: Vec<f64> = xs.iter().rev().map(|v| v / 7.0).collect();
        let (xt, yt) = (
            Tensor::vector(xs.clone()).cast(dtype),
            Tensor::vector(ys.clone()).cast(dtype),
        );
        let got = jit.call(&[&xt, &yt]).unwrap().remove(0).to_f64_vec();
        for i in 0..xs.len() {
            let w = match dtype {
                DType::F64 => math::pow(&mut ScalarF64, xs[i], ys[i]),
                _ => math::pow(&mut ScalarF32, xs[i] as f32, ys[i] as f32) as f64,
            };
            assert!(
                got[i].to_bits() == w.to_bits() || (got[i].is_nan() && w.is_nan()),
                "pow {dtype} at ({:e}, {:e}): JIT {:e}, model {w:e}",
                xs[i],
                ys[i],
                got[i]
            );
        }
    }
}

/// Scalar loops of a few elements (here one) call the kernels out of line
/// instead of inlining them: the same bits.
#[test]
fn out_of_line_kernels_match_the_tested_model_bit_for_bit() {
    let xs = edge_inputs();
    let compile_small = |ins: &[&Var], out: &Var| {
        let mut opts = CompileOptions {
            rewrites: Rewrites::None,
            ..Default::default()
        };
        // Portable: a whole-tensor kernel is a loop, not a slice kernel.
        opts.jit.cpu = Some(CpuLevel::Portable);
        opts.jit.keep_ir = true;
        let jit = compile(ins, &[out]).options(opts).build().unwrap();
        let ir = jit.ir().unwrap().to_string();
        assert!(
            ir.contains("call_indirect"),
            "the loop calls out of line:\n{ir}"
        );
        jit
    };
    for (name, f, m64, m32) in kernel_cases() {
        for dtype in [DType::F64, DType::F32] {
            let x = Var::input("x", TensorType::fixed(dtype, &[]));
            let jit = compile_small(&[&x], &f(&x));
            for &v in &xs {
                let input = Tensor::scalar(v).cast(dtype);
                let got = jit.call(&[&input]).unwrap().remove(0).to_f64_vec()[0];
                assert_model_bits(name, dtype, v, got, m64, m32);
            }
        }
    }
    for dtype in [DType::F64, DType::F32] {
        let x = Var::input("x", TensorType::fixed(dtype, &[]));
        let y = Var::input("y", TensorType::fixed(dtype, &[]));
        let jit = compile_small(&[&x, &y], &x.pow(&y).unwrap());
        for (&a, b) in xs.iter().zip(xs.iter().rev().map(|v| v / 7.0)) {
            let (xt, yt) = (Tensor::scalar(a).cast(dtype), Tensor::scalar(b).cast(dtype));
            let got = jit.call(&[&xt, &yt]).unwrap().remove(0).to_f64_vec()[0];
            let want = match dtype {
                DType::F64 => math::pow(&mut ScalarF64, a, b),
                _ => math::pow(&mut ScalarF32, a as f32, b as f32) as f64,
            };
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "pow {dtype} at ({a:e}, {b:e}): JIT {got:e}, model {want:e}"
            );
        }
    }
}

#[test]
fn bool_operands_and_outputs_run_on_lanes() {
    // Masks in and out of a float loop, odd lengths (lanes plus a tail),
    // a broadcast mask, both float widths; checked against the interpreter.
    for dt in [DType::F64, DType::F32] {
        for n in [1usize, 2, 3, 4, 5, 7, 8, 9, 17] {
            let x = Var::input("x", TensorType::new(dt, vec![None]));
            let m = Var::input("m", TensorType::new(DType::Bool, vec![None]));
            let b = Var::input("b", TensorType::new(DType::Bool, vec![Some(1)]));
            let gt = x.gt(0.5).unwrap();
            let both = gt.logical_and(&m).unwrap().logical_or(&b).unwrap();
            let y = where_(&both, x.exp(), (&x * 2.0).unwrap()).unwrap();
            let xs = Tensor::new(
                (0..n)
                    .map(|i| (i as f64 * 0.37).sin())
                    .collect::<Vec<f64>>(),
                &[n],
            )
            .unwrap()
            .cast(dt);
            let ms = Tensor::new((0..n).map(|i| i % 3 != 1).collect::<Vec<bool>>(), &[n]).unwrap();
            for bv in [false, true] {
                let bs = Tensor::new(vec![bv], &[1]).unwrap();
                let r = eval_checked(
                    &[&x, &m, &b],
                    &[&y, &both, &gt],
                    &[xs.clone(), ms.clone(), bs],
                )
                .unwrap();
                let xv = xs.to_f64_vec();
                let want: Vec<bool> = (0..n).map(|i| (xv[i] > 0.5 && i % 3 != 1) || bv).collect();
                assert_eq!(r[1].to_vec::<bool>(), want, "{dt} n={n} b={bv}");
                assert_eq!(
                    r[2].to_vec::<bool>(),
                    xv.iter().map(|v| *v > 0.5).collect::<Vec<_>>()
                );
            }
        }
    }
}

#[test]
fn small_gemm_kernels_match_the_inline_ones_bit_for_bit() {
    // Rows (k, n <= 8) and outer (m, n <= 8) products, transposed operands,
    // alpha and a C term, batches; at every CPU level the machine has, the
    // AVX2 and AVX-512 kernels give exactly the inline kernels' results,
    // and both agree with the interpreter.
    let mut shapes = vec![
        (37usize, 5usize, 5usize),
        (9, 2, 5),
        (40, 8, 8),
        (3, 7, 1),
        (5, 300, 5),
        (8, 129, 3),
        (2, 1, 8),
    ];
    // Every size the kernels are specialized to: rows kernels (k, n) with
    // 7 rows (a block of four and three more), outer kernels (m, n) on a
    // k too long for the rows kernel.
    for a in 1..=8usize {
        for b in 1..=8usize {
            if a * b <= 40 {
                shapes.push((7, a, b));
                shapes.push((a, 11, b));
            }
        }
    }
    for dt in [DType::F64, DType::F32] {
        for &(m, k, n) in &shapes {
            let a = Var::input("a", TensorType::new(dt, vec![None, Some(k)]));
            let at = Var::input("at", TensorType::new(dt, vec![Some(k), Some(m)]));
            let b = Var::input("b", TensorType::new(dt, vec![Some(k), Some(n)]));
            let bt = Var::input("bt", TensorType::new(dt, vec![Some(n), Some(k)]));
            let c = Var::input("c", TensorType::new(dt, vec![Some(m), Some(n)]));
            let outs = [
                a.dot(&b).unwrap(),
                a.dot(&bt.t()).unwrap(),
                at.t().dot(&b).unwrap(),
                (at.t().dot(&b).unwrap() * 2.5).unwrap(),
                (a.dot(&b).unwrap() + &c).unwrap(),
                ((at.t().dot(&bt.t()).unwrap() * 0.5).unwrap() + &c).unwrap(),
            ];
            // An infinite entry: its row may be inf/NaN, the rows around
            // it (which share vectors with it in the kernels) must not.
            let mut a_vals = Tensor::randn(DType::F64, &[m, k], 1).to_f64_vec();
            if let Some(v) = a_vals.get_mut(k) {
                *v = f64::INFINITY;
            }
            let args = [
                Tensor::new(a_vals, &[m, k]).unwrap().cast(dt),
                Tensor::randn(DType::F64, &[k, m], 2).cast(dt),
                Tensor::randn(DType::F64, &[k, n], 3).cast(dt),
                Tensor::randn(DType::F64, &[n, k], 4).cast(dt),
                Tensor::randn(DType::F64, &[m, n], 5).cast(dt),
            ];
            let inputs = [&a, &at, &b, &bt, &c];
            let refs: Vec<&Var> = outs.iter().collect();
            let mut inline_opts = CompileOptions::default();
            inline_opts.jit.wide_math = false;
            let inline = compile(&inputs, &refs)
                .options(inline_opts)
                .build()
                .unwrap()
                .call(&args)
                .unwrap();
            let checked = eval_checked(&inputs, &refs, &args).unwrap();
            for (k2, (w, i)) in checked.iter().zip(&inline).enumerate() {
                assert_agree(w, i, &format!("{dt} ({m}, {k}, {n}) output {k2}"));
            }
            for level in CpuLevel::supported() {
                let mut opts = CompileOptions::default();
                opts.jit.cpu = Some(level);
                let wide = compile(&inputs, &refs)
                    .options(opts)
                    .build()
                    .unwrap()
                    .call(&args)
                    .unwrap();
                for (k2, (w, i)) in wide.iter().zip(&inline).enumerate() {
                    let same = w
                        .to_f64_vec()
                        .iter()
                        .zip(i.to_f64_vec())
                        .all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(
                        same,
                        "{dt} ({m}, {k}, {n}) output {k2} at {level:?}: wide {w} vs inline {i}"
                    );
                }
            }
        }
    }
    // Batched: draws of weights against shared inputs (the predictive path).
    let x = matrix("x");
    let wv = Tensor::randn(DType::F64, &[6, 5, 5], 9);
    let xv = Tensor::randn(DType::F64, &[23, 5], 8);
    let w3 = Var::input(
        "w3",
        TensorType::new(DType::F64, vec![None, Some(5), Some(5)]),
    );
    let y = x.matmul(&w3).unwrap();
    let r = eval_checked(&[&x, &w3], &[&y], &[xv.clone(), wv.clone()]).unwrap();
    assert_eq!(r[0].shape(), &[6, 23, 5]);
}

#[test]
fn batch_regions_run_chunk_by_chunk() {
    // A vectorized two-layer network: x (rows x 3) shared by every draw,
    // weights per draw (draws x 3 x 4, draws x 4 x 2), a bias broadcast
    // along the draws (1 x 1 x 4), an intermediate that is also an output.
    // Large rows force many chunks (one draw each); the JIT, with its
    // region, must match the interpreter for every draw count, including
    // one draw, zero draws, and a draw count equal to the row count.
    let x = matrix("x");
    let w1 = draws_of("w1", DType::F64, 3, 4);
    let w2 = draws_of("w2", DType::F64, 4, 2);
    let b = Var::input(
        "b",
        TensorType::new(DType::F64, vec![Some(1), Some(1), Some(4)]),
    );
    let h = (x.matmul(&w1).unwrap() + &b).unwrap().tanh();
    let y = h.matmul(&w2).unwrap().sigmoid();
    let inputs = [&x, &w1, &w2, &b];
    let f = function(&inputs, &[&y, &h]).unwrap();
    let only_y = function(&inputs, &[&y]).unwrap();
    // A region input computed in the arena (read by the first product
    // only): later region buffers must not take its slot, since every chunk
    // reads it again.
    let x2 = (&x * 2.0).unwrap();
    let h2 = (x2.matmul(&w1).unwrap() + &b).unwrap().tanh();
    let y2 = h2.matmul(&w2).unwrap().sigmoid();
    let via_arena = function(&inputs, &[&y2]).unwrap();
    assert!(
        !f.memory_plan().regions.is_empty(),
        "the graph has a batch region"
    );
    for (draws, rows) in [(7usize, 3000usize), (1, 3000), (0, 50), (40, 40), (5, 17)] {
        let args = [
            Tensor::randn(DType::F64, &[rows, 3], 1),
            Tensor::randn(DType::F64, &[draws, 3, 4], 2),
            Tensor::randn(DType::F64, &[draws, 4, 2], 3),
            Tensor::randn(DType::F64, &[1, 1, 4], 4),
        ];
        let r = eval_checked(&inputs, &[&y, &h], &args).unwrap();
        assert_eq!(r[0].shape(), &[draws, rows, 2]);
        // Also the same compiled function twice (tables restored after a call).
        let again = f.call(&args).unwrap();
        assert_eq!(again[0], r[0], "draws {draws} rows {rows}");
        assert_eq!(again[1], r[1]);
        // With h internal to the region, 3000 rows (96 KB per draw) run a
        // couple of draws per chunk.
        let y_only = only_y.call(&args).unwrap();
        assert_eq!(y_only[0], r[0]);
        if draws == 7 && rows == 3000 {
            let chunks = only_y.region_chunks();
            assert_eq!(chunks.len(), 1);
            assert_eq!(chunks[0].0, 7);
            assert!(chunks[0].1 < 7, "several chunks: {chunks:?}");
        }
        let r2 = eval_checked(&inputs, &[&y2], &args).unwrap();
        assert_eq!(via_arena.call(&args).unwrap()[0], r2[0]);
    }
    // The draw count known when compiling (sample_node with a number):
    // sizes counting it must still change per chunk.
    let w1s = Var::input(
        "w1",
        TensorType::new(DType::F64, vec![Some(7), Some(3), Some(4)]),
    );
    let w2s = Var::input(
        "w2",
        TensorType::new(DType::F64, vec![Some(7), Some(4), Some(2)]),
    );
    let hs = (x.matmul(&w1s).unwrap() + &b).unwrap().tanh();
    let ys = hs.matmul(&w2s).unwrap().sigmoid();
    let static_inputs = [&x, &w1s, &w2s, &b];
    let fs = function(&static_inputs, &[&ys]).unwrap();
    let args = [
        Tensor::randn(DType::F64, &[3000, 3], 1),
        Tensor::randn(DType::F64, &[7, 3, 4], 2),
        Tensor::randn(DType::F64, &[7, 4, 2], 3),
        Tensor::randn(DType::F64, &[1, 1, 4], 4),
    ];
    let r = eval_checked(&static_inputs, &[&ys], &args).unwrap();
    assert_eq!(fs.call(&args).unwrap()[0], r[0]);
    let chunks = fs.region_chunks();
    assert!(
        chunks.len() == 1 && chunks[0].1 < 7,
        "several chunks: {chunks:?}"
    );
}

/// `outputs` compiled at a CPU level for a thread count.
fn jit_at(inputs: &[&Var], outputs: &[&Var], level: CpuLevel, threads: usize) -> Function {
    let mut opts = CompileOptions::default();
    opts.jit.cpu = Some(level);
    opts.jit.threads = Some(threads);
    compile(inputs, outputs).options(opts).build().unwrap()
}

/// Batch regions split their chunks across threads, each thread with its
/// own tables and internal buffers: the results are bit for bit those of
/// one thread, at every CPU level, and agree with the interpreter.
#[test]
fn batch_regions_do_not_depend_on_the_thread_count() {
    for dtype in [DType::F64, DType::F32] {
        let x = Var::input("x", TensorType::new(dtype, vec![None, Some(3)]));
        let w1 = draws_of("w1", dtype, 3, 8);
        let w2 = draws_of("w2", dtype, 8, 2);
        let b = Var::input("b", TensorType::new(dtype, vec![None, Some(1), Some(8)]));
        let h = (x.matmul(&w1).unwrap() + &b).unwrap().tanh();
        let y = h.matmul(&w2).unwrap().sigmoid();
        let inputs = [&x, &w1, &w2, &b];
        let interp = compile(&inputs, &[&y])
            .mode(Mode::Interpret)
            .build()
            .unwrap();
        // 11 draws of 3000 rows: several chunks of a few draws (and an odd
        // split); 2 draws: fewer chunks than threads.
        for (draws, rows) in [(11usize, 3000usize), (2, 5000), (1, 100)] {
            let args = [
                Tensor::randn(DType::F64, &[rows, 3], 1).cast(dtype),
                Tensor::randn(DType::F64, &[draws, 3, 8], 2).cast(dtype),
                Tensor::randn(DType::F64, &[draws, 8, 2], 3).cast(dtype),
                Tensor::randn(DType::F64, &[draws, 1, 8], 4).cast(dtype),
            ];
            let want = interp.call(&args).unwrap();
            for level in CpuLevel::supported() {
                let run = |threads: usize| {
                    let f = jit_at(&inputs, &[&y], level, threads);
                    let out = f.call(&args).unwrap().remove(0);
                    // Twice: the tables are restored after a threaded region.
                    assert_eq!(f.call(&args).unwrap()[0], out);
                    (out, f.region_chunks())
                };
                let (one, chunks) = run(1);
                if draws == 11 {
                    assert!(chunks[0].1 < 11, "several chunks: {chunks:?}");
                }
                for threads in [2, 3] {
                    let (got, _) = run(threads);
                    let bits = |t: &Tensor| -> Vec<u64> {
                        t.to_f64_vec().iter().map(|v| v.to_bits()).collect()
                    };
                    assert_eq!(
                        bits(&got),
                        bits(&one),
                        "{dtype} {level:?} {draws} draws, {threads} threads"
                    );
                }
                assert_agree(&want[0], &one, &format!("{dtype} {level:?} {draws} draws"));
            }
        }
    }
}

/// A region input that is a view moving another axis to the front (its
/// rows are not the buffer's rows) must not be moved chunk by chunk as if
/// they were.
#[test]
fn batch_regions_read_permuted_views_whole() {
    let x = Var::input("x", TensorType::new(DType::F64, vec![None, Some(3)]));
    // Stored [4, 3, draws]; the network reads it as [draws, 3, 4].
    let w1_t = Var::input(
        "w1_t",
        TensorType::new(DType::F64, vec![Some(4), Some(3), None]),
    );
    let w2 = draws_of("w2", DType::F64, 4, 2);
    let b_t = Var::input(
        "b_t",
        TensorType::new(DType::F64, vec![Some(4), Some(1), None]),
    );
    let w1 = w1_t.permute(&[2, 1, 0]).unwrap();
    let b = b_t.permute(&[2, 1, 0]).unwrap();
    let h = (x.matmul(&w1).unwrap() + &b).unwrap().tanh();
    let y = h.matmul(&w2).unwrap().sigmoid();
    let inputs = [&x, &w1_t, &w2, &b_t];
    let f = function(&inputs, &[&y]).unwrap();
    for draws in [9usize, 40] {
        let args = [
            Tensor::randn(DType::F64, &[3000, 3], 1),
            Tensor::randn(DType::F64, &[4, 3, draws], 2),
            Tensor::randn(DType::F64, &[draws, 4, 2], 3),
            Tensor::randn(DType::F64, &[4, 1, draws], 4),
        ];
        let want = eval_checked(&inputs, &[&y], &args).unwrap();
        assert_eq!(f.call(&args).unwrap()[0], want[0], "{draws} draws");
        let chunks = f.region_chunks();
        assert!(
            chunks.iter().all(|c| c.0 == draws && c.1 < draws),
            "chunked: {chunks:?}"
        );
    }
}

/// Random graphs at every CPU level this machine supports (forced lower
/// with `JitOptions::cpu`, as `THEON_CPU` does): the JIT agrees with the
/// interpreter at each, so the AVX2 and portable paths are tested on an
/// AVX-512 machine too.
#[test]
fn random_graphs_agree_at_every_cpu_level() {
    use proptest::test_runner::{Config, TestRunner};
    for level in CpuLevel::supported() {
        let mut runner = TestRunner::new(Config {
            cases: 150,
            ..Config::default()
        });
        let evaluated = std::cell::Cell::new(0usize);
        let strategy = (
            (1u32..=4).prop_flat_map(graph),
            prop::collection::vec(1usize..40, 1..=3),
            any::<u64>(),
            any::<bool>(),
        );
        runner
            .run(&strategy, |(g, base, pick, f32_)| {
                let dtype = if f32_ { DType::F32 } else { DType::F64 };
                let Some((leaves, out, args)) = instantiate(&g, &base, pick, dtype, pick) else {
                    return Ok(());
                };
                let refs: Vec<&Var> = leaves.iter().collect();
                let mut opts = CompileOptions::default();
                opts.jit.cpu = Some(level);
                let jit = compile(&refs, &[&out]).options(opts).build().unwrap();
                let interp = compile(&refs, &[&out])
                    .mode(Mode::Interpret)
                    .build()
                    .unwrap();
                match (jit.call(&args), interp.call(&args)) {
                    (Ok(a), Ok(b)) => assert_agree(&b[0], &a[0], &format!("{level:?}")),
                    (Err(_), Err(_)) => {}
                    (a, b) => panic!("{level:?}: jit {a:?} but interpreter {b:?}"),
                }
                evaluated.set(evaluated.get() + 1);
                Ok(())
            })
            .unwrap();
        assert!(
            evaluated.get() >= 120,
            "{level:?}: {} graphs",
            evaluated.get()
        );
    }
    // Above the machine is an error, not an illegal instruction.
    if CpuLevel::detected() < CpuLevel::Avx512 {
        let x = vector("x");
        let mut opts = CompileOptions::default();
        opts.jit.cpu = Some(CpuLevel::Avx512);
        let e = compile(&[&x], &[&x.tanh()])
            .options(opts)
            .build()
            .unwrap_err();
        assert!(e.message().contains("supports up to"), "{e}");
    }
}

/// Large products (plain, transposed, scaled, accumulating into a bias,
/// tall and wide, and a long k under a small output, computed in blocks
/// of k) and large wide-math passes give the same bits with 1, 2
/// and 3 threads, at every CPU level, in both float types; the results
/// also agree with the interpreter. Each output element is computed by
/// one thread with the same operations, or from blocks of k the shape
/// alone fixes (`codegen/threads.rs`).
#[test]
fn results_do_not_depend_on_the_thread_count() {
    for dtype in [DType::F64, DType::F32] {
        let a = Var::input("a", TensorType::fixed(dtype, &[300, 200]));
        let b = Var::input("b", TensorType::fixed(dtype, &[200, 150]));
        let bias = Var::input("bias", TensorType::fixed(dtype, &[150]));
        let wide = Var::input("wide", TensorType::fixed(dtype, &[40, 300]));
        let row = Var::input("row", TensorType::new(dtype, vec![Some(1), None]));
        let long = Var::input("long", TensorType::new(dtype, vec![None]));
        // A long k under a small output: computed in blocks of k.
        let lx = Var::input("lx", TensorType::fixed(dtype, &[9000, 20]));
        let lg = Var::input("lg", TensorType::fixed(dtype, &[9000, 3]));
        let lb = Var::input("lb", TensorType::fixed(dtype, &[3]));
        let lp = lx.t().dot(&lg).unwrap();
        let p = a.dot(&b).unwrap();
        let outs = [
            (&p + &bias).unwrap().tanh(),
            (a.t().dot(&a).unwrap() * 0.37).unwrap(),
            // n > m: the split goes along the columns.
            wide.dot(&a).unwrap().sigmoid(),
            p.exp().sum().unwrap(),
            // Large elementwise loops split by rows: a row broadcast along
            // the split axis, and a vector (rows of one element).
            ((&a * &row).unwrap() - &a.sin()).unwrap(),
            ((&long * &long).unwrap() + 1.0).unwrap().sqrt(),
            (&lp * 0.37).unwrap(),
            (&lp + &lb).unwrap().tanh(),
        ];
        let refs: Vec<&Var> = outs.iter().collect();
        let small = |shape: &[usize], seed: u64| {
            let v: Vec<f64> = Tensor::randn(DType::F64, shape, seed)
                .to_f64_vec()
                .iter()
                .map(|v| v * 0.1)
                .collect();
            Tensor::new(v, shape).unwrap().cast(dtype)
        };
        let args = [
            small(&[300, 200], 1),
            small(&[200, 150], 2),
            Tensor::randn(DType::F64, &[150], 3).cast(dtype),
            small(&[40, 300], 4),
            small(&[1, 200], 5),
            small(&[40001], 6),
            small(&[9000, 20], 7),
            small(&[9000, 3], 8),
            Tensor::randn(DType::F64, &[3], 9).cast(dtype),
        ];
        let inputs = [&a, &b, &bias, &wide, &row, &long, &lx, &lg, &lb];
        let interp = compile(&inputs, &refs)
            .mode(Mode::Interpret)
            .build()
            .unwrap();
        let want = interp.call(&args).unwrap();
        for level in CpuLevel::supported() {
            let run = |threads: usize| {
                let f = jit_at(&inputs, &refs, level, threads);
                let out = f.call(&args).unwrap();
                // The large elementwise loops ran as split regions.
                let split = f.region_chunks().iter().filter(|(t, c)| c < t).count();
                assert_eq!(split >= 2, threads > 1, "{threads} threads: {split} split");
                out
            };
            let one = run(1);
            for threads in [2, 3] {
                let got = run(threads);
                for (k, (g, o)) in got.iter().zip(&one).enumerate() {
                    let bits = |t: &Tensor| -> Vec<u64> {
                        t.to_f64_vec().iter().map(|v| v.to_bits()).collect()
                    };
                    assert_eq!(
                        bits(g),
                        bits(o),
                        "{dtype} {level:?} output {k}, {threads} threads"
                    );
                }
            }
            for (k, (g, w)) in one.iter().zip(&want).enumerate() {
                assert_agree(
                    w,
                    g,
                    &format!("{dtype} {level:?} output {k} vs the interpreter"),
                );
            }
        }
    }
}

#[test]
fn thread_counts_out_of_range_are_errors() {
    let v = vector("v");
    for bad in [0, 1000] {
        let mut opts = CompileOptions::default();
        opts.jit.threads = Some(bad);
        let e = compile(&[&v], &[&v.tanh()])
            .options(opts)
            .build()
            .unwrap_err();
        assert!(e.message().contains("threads asked for"), "{e}");
    }
}

/// The GEMM epilogue (`GemmAct`, rewrite `gemm_act`): an activation of a
/// product the runtime's GEMM computes runs block by block right after it.
/// For a bias along the rows split into several epilogue blocks, a split
/// by columns (n > m), a batched product with a per-batch addend and a
/// full addend with scalings, at every CPU level and in both float types:
/// bit for bit the same values as the two steps apart (the rewrite turned
/// off), bit for bit the same for 1, 2 and 3 threads, and the
/// interpreter's values; a product small enough for the inline kernels
/// keeps its activation apart.
#[test]
fn the_gemm_epilogue_equals_the_ops_it_replaces() {
    let bits = |t: &Tensor| -> Vec<u64> { t.to_f64_vec().iter().map(|v| v.to_bits()).collect() };
    for dtype in [DType::F64, DType::F32] {
        let input = |name: &str, shape: &[usize]| Var::input(name, TensorType::fixed(dtype, shape));
        let (x, w, b) = (
            input("x", &[1500, 40]),
            input("w", &[40, 24]),
            input("b", &[24]),
        );
        let (xw, ww, bw) = (
            input("xw", &[30, 200]),
            input("ww", &[200, 700]),
            input("bw", &[700]),
        );
        let (xb, wb, cb) = (
            input("xb", &[3, 50, 16]),
            input("wb", &[3, 16, 20]),
            input("cb", &[3, 1, 20]),
        );
        let (xc, wc, cc) = (
            input("xc", &[100, 12]),
            input("wc", &[30, 12]),
            input("cc", &[100, 30]),
        );
        let (xs, ws, bs) = (
            input("xs", &[64, 2]),
            input("ws", &[2, 5]),
            input("bs", &[5]),
        );
        let outs = [
            (x.dot(&w).unwrap() + &b).unwrap().tanh(),
            (xw.dot(&ww).unwrap() + &bw).unwrap().exp(),
            (xb.matmul(&wb).unwrap() + &cb).unwrap().tanh(),
            ((xc.dot(&wc.t()).unwrap() * 0.5).unwrap() + (&cc * 2.0).unwrap())
                .unwrap()
                .softplus(),
            (xs.dot(&ws).unwrap() + &bs).unwrap().tanh(),
        ];
        let fused = [true, true, true, true, false];
        let inputs = [
            &x, &w, &b, &xw, &ww, &bw, &xb, &wb, &cb, &xc, &wc, &cc, &xs, &ws, &bs,
        ];
        let args: Vec<Tensor> = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let shape: Vec<usize> = v.ty().shape.iter().map(|d| d.unwrap()).collect();
                let t = Tensor::randn(DType::F64, &shape, 10 + i as u64).to_f64_vec();
                let t: Vec<f64> = t.iter().map(|v| v * 0.2).collect();
                Tensor::new(t, &shape).unwrap().cast(dtype)
            })
            .collect();
        let want = compile(&inputs, &outs.iter().collect::<Vec<_>>())
            .mode(Mode::Interpret)
            .rewrites(Rewrites::None)
            .build()
            .unwrap()
            .call(&args)
            .unwrap();
        for level in CpuLevel::supported() {
            for (k, out) in outs.iter().enumerate() {
                let what = format!("{dtype} {level:?} output {k}");
                let build = |threads: usize, rewrites: Rewrites| {
                    let mut opts = CompileOptions::default();
                    opts.jit.cpu = Some(level);
                    opts.jit.threads = Some(threads);
                    opts.rewrites = rewrites;
                    compile(&inputs, &[out]).options(opts).build().unwrap()
                };
                let f = build(1, Rewrites::All);
                let printed = f.debugprint(PrintOptions::default());
                assert_eq!(printed.contains("GemmAct"), fused[k], "{what}:\n{printed}");
                let one = f.call(&args).unwrap().remove(0);
                let apart = build(1, Rewrites::Except(vec!["gemm_act".into()]));
                let apart_printed = apart.debugprint(PrintOptions::default());
                assert!(
                    !apart_printed.contains("GemmAct"),
                    "{what}:\n{apart_printed}"
                );
                let apart = apart.call(&args).unwrap().remove(0);
                assert_eq!(bits(&one), bits(&apart), "{what}: fused vs apart");
                for threads in [2, 3] {
                    let got = build(threads, Rewrites::All).call(&args).unwrap().remove(0);
                    assert_eq!(bits(&got), bits(&one), "{what}: {threads} threads");
                }
                assert_agree(&want[k], &one, &format!("{what} vs the interpreter"));
            }
        }
    }
}
