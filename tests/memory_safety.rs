//! Memory safety from safe Rust: every route by which a value could reach
//! native code disagreeing with what the code was compiled or planned for
//! (issue 11) is an error or impossible, on both backends. Each test is the
//! reported reproduction, asserting the error or the correct result; run
//! under valgrind by `scripts/valgrind.sh`.

use std::sync::{Arc, OnceLock, Weak};
use theon::compiler::CustomImpl;
use theon::compiler::op::{CustomKernel, CustomOp, Op};
use theon::prelude::*;
use theon::runtime::Data;
use theon::runtime::io::npy::from_npy_bytes;
use theon::runtime::io::read_npz;

const MODES: [Mode; 2] = [Mode::Jit, Mode::Interpret];

/// A shared variable built from a value has that value's shape as its
/// static type: the JIT bakes 4096 in. Swapping in 4 elements is refused.
#[test]
fn fixed_shared_cannot_change_shape_or_dtype() {
    for mode in MODES {
        let w = shared("w", Tensor::vector(vec![1.5f64; 4096]));
        let out = ((&w * 2.0).unwrap() + 1.0).unwrap();
        let f = compile(NO_INPUTS, &[&out]).mode(mode).build().unwrap();
        let e = w.set_value(Tensor::vector(vec![1.5f64; 4])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Shape, "{e}");
        assert!(e.message().contains("'w'"), "{e}");
        let e = w.set_value(Tensor::vector(vec![0i64; 4096])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DType, "{e}");
        // The function still computes from the untouched value.
        let r = f.call::<Tensor>(&[]).unwrap();
        assert_eq!(r[0].shape(), &[4096]);
        assert!(r[0].to_f64_vec().iter().all(|&v| v == 4.0));
    }
}

/// A resizable shared variable may change size between calls: the plan
/// follows (a new plan for the new shape), including to zero elements.
#[test]
fn resizable_shared_changes_size_and_the_plan_follows() {
    for mode in MODES {
        let w = shared_resizable("w", Tensor::vector(vec![1.5f64; 4096]), &[]);
        let doubled = ((&w * 2.0).unwrap() + 1.0).unwrap();
        let total = w.sum().unwrap();
        let f = compile(NO_INPUTS, &[&doubled, &total])
            .update(&w, &(&w + 1.0).unwrap())
            .mode(mode)
            .build()
            .unwrap();
        let r = f.call::<Tensor>(&[]).unwrap();
        assert_eq!(r[1].item::<f64>().unwrap(), 1.5 * 4096.0);
        w.set_value(Tensor::vector(vec![1.0, 2.0, 3.0, 4.0]))
            .unwrap();
        let r = f.call::<Tensor>(&[]).unwrap();
        assert_eq!(r[0].to_f64_vec(), vec![3.0, 5.0, 7.0, 9.0]);
        assert_eq!(r[1].item::<f64>().unwrap(), 10.0);
        assert_eq!(
            w.get_value().unwrap().to_f64_vec(),
            vec![2.0, 3.0, 4.0, 5.0]
        );
        w.set_value(Tensor::vector(Vec::<f64>::new())).unwrap();
        let r = f.call::<Tensor>(&[]).unwrap();
        assert_eq!(r[0].shape(), &[0]);
        assert_eq!(r[1].item::<f64>().unwrap(), 0.0);
    }
}

/// A tensor's storage always holds exactly its shape's element count:
/// there is no way to build one that does not.
#[test]
fn tensors_cannot_disagree_with_their_storage() {
    let e = Tensor::from_data(Data::F64(vec![1.0, 2.0]), &[4096]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Shape);
    // 3 * 6148914691236517206 wraps to 2 in 64 bits.
    let e = Tensor::vector(vec![1.0f64, 2.0])
        .reshape(&[3, 6148914691236517206])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Memory, "{e}");
    let mut t = Tensor::vector(vec![1.0f64, 2.0]);
    // Mutation is by typed slice only: the length is fixed.
    t.as_slice_mut::<f64>().unwrap()[1] = 5.0;
    assert!(t.as_slice_mut::<i64>().is_err());
    assert_eq!(t.to_f64_vec(), vec![1.0, 5.0]);
}

/// `call_into` reuses the caller's tensors only when they fit the output;
/// any other tensor (wrong shape, dtype, size) is replaced, never trusted.
#[test]
fn call_into_replaces_caller_tensors_that_do_not_fit() {
    for mode in MODES {
        let x = vector("x");
        let f = compile(&[&x], &[&(&x * 2.0).unwrap()])
            .mode(mode)
            .build()
            .unwrap();
        for wrong in [
            Tensor::vector(vec![0.0f64; 65536]),
            Tensor::vector(vec![0i64; 4]),
            Tensor::zeros(DType::F64, &[2, 2]),
            Tensor::scalar(1.0),
        ] {
            let mut outs = vec![wrong];
            f.call_into(&[Tensor::vector(vec![1.0, 2.0, 3.0, 4.0])], &mut outs)
                .unwrap();
            assert_eq!(outs[0].shape(), &[4]);
            assert_eq!(outs[0].to_f64_vec(), vec![2.0, 4.0, 6.0, 8.0]);
        }
    }
}

/// Shapes whose element count overflows never reach a kernel.
#[test]
fn overflowing_shapes_are_errors_everywhere() {
    // A crafted .npy: shape (3, 6148914691236517206), 16 bytes of data.
    let npy = |shape: &str, body: usize| {
        let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend(std::iter::repeat_n(0u8, body));
        b
    };
    let e = from_npy_bytes(&npy("(3, 6148914691236517206)", 16)).unwrap_err();
    assert!(e.message().contains("shape"), "{e}");
    let e = from_npy_bytes(&npy("(2305843009213693952,)", 16)).unwrap_err();
    assert!(e.message().contains("truncated"), "{e}");
    assert!(from_npy_bytes(&npy("(2, 1)", 16)).is_ok());
    // A symbolic reshape whose target overflows.
    for mode in MODES {
        let x = vector("x");
        let s = Var::input("s", TensorType::new(DType::I64, vec![Some(2)]));
        let y = x.reshape(&s).unwrap().sum_axes(&[1], false).unwrap();
        let f = compile(&[&x, &s], &[&y]).mode(mode).build().unwrap();
        let e = f
            .call(&[
                Tensor::vector(vec![1.0, 2.0]),
                Tensor::vector(vec![3i64, 6148914691236517206]),
            ])
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::Shape | ErrorKind::Memory),
            "{e}"
        );
    }
}

/// Malformed archives are errors, not empty results.
#[test]
fn malformed_npz_is_an_error() {
    let dir = std::env::temp_dir().join(format!("theon-npz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in [
        ("empty.npz", vec![]),
        (
            "random.npz",
            (0..997u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        let e = read_npz(&p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Parse, "{name}: {e}");
    }
    // A real one still reads.
    let p = dir.join("ok.npz");
    let t = Tensor::vector(vec![1.0, 2.0]);
    theon::runtime::io::write_npz(&p, &[("a", &t)]).unwrap();
    assert_eq!(read_npz(&p).unwrap()[0].1, t);
    std::fs::remove_dir_all(&dir).unwrap();
    // NumPy's compressed archives read; a truncated one is an error.
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/npz");
    let got = read_npz(data.join("compressed.npz")).unwrap();
    assert_eq!(got[0].0, "a");
    assert_eq!(got[0].1, Tensor::vector(vec![1.5, 2.5]));
    assert_eq!(got[1].0, "b");
    assert_eq!(got[1].1, Tensor::new(vec![1i64, 2, 3, 4], &[2, 2]).unwrap());
    let e = read_npz(data.join("truncated.npz")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parse, "{e}");
}

/// Allocations that cannot be had are errors, not an abort.
#[test]
fn impossible_allocations_are_errors() {
    for mode in MODES {
        let z = Var::zeros([1_000_000_000_000i64], DType::F64).unwrap();
        let f = compile(NO_INPUTS, &[&z]).mode(mode).build().unwrap();
        let e = f.call::<Tensor>(&[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Memory, "{mode:?}: {e}");

        let rng = RandomStream::new(0);
        let n = rng.normal([1_000_000_000_000i64], DType::F64).unwrap();
        let s = n.sum().unwrap();
        let f = compile(NO_INPUTS, &[&s]).mode(mode).build().unwrap();
        let e = f.call::<Tensor>(&[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Memory, "{mode:?}: {e}");
    }
    let e = Tensor::arange(0.0, 1e300, 1.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Memory, "{e}");
}

/// A custom op that reads a shared variable the running call holds, or
/// calls its own function, gets an error instead of waiting forever.
struct Reentrant {
    w: Var,
    /// The function this op is part of (weak: the function owns the op).
    f: Arc<OnceLock<Weak<Function>>>,
    call_self: bool,
}

impl CustomImpl for Reentrant {}

impl CustomKernel for Reentrant {
    fn name(&self) -> &str {
        "reentrant"
    }
    fn key(&self) -> String {
        format!("{}", self.call_self)
    }
    fn infer(&self, inputs: &[&TensorType]) -> Result<TensorType> {
        Ok(inputs[0].clone())
    }
    fn eval(&self, inputs: &[&Tensor]) -> Result<Tensor> {
        if self.call_self {
            let f = self
                .f
                .get()
                .and_then(Weak::upgrade)
                .expect("set before calling");
            f.call::<Tensor>(&[])?;
        } else {
            self.w.get_value()?;
        }
        Ok(inputs[0].clone())
    }
}

#[test]
fn reentrant_calls_are_errors_not_deadlocks() {
    for mode in MODES {
        for call_self in [false, true] {
            let w = shared("w", Tensor::vector(vec![1.0f64, 2.0]));
            let cell = Arc::new(OnceLock::new());
            let op = CustomOp::new(Reentrant {
                w: w.clone(),
                f: cell.clone(),
                call_self,
            });
            let y = Var::apply(Op::Custom(op), &[&(&w * 2.0).unwrap()]).unwrap();
            let f = Arc::new(compile(NO_INPUTS, &[&y]).mode(mode).build().unwrap());
            assert!(cell.set(Arc::downgrade(&f)).is_ok());
            let e = f.call::<Tensor>(&[]).unwrap_err();
            assert!(
                e.message().contains("in use by a call on this thread"),
                "{e}"
            );
            // Nothing is left locked.
            assert_eq!(w.get_value().unwrap().to_f64_vec(), vec![1.0, 2.0]);
        }
    }
}

/// An argument whose `Borrow` answers differently each time is resolved
/// once: the tensor checked is the tensor run.
struct Flaky {
    calls: std::cell::Cell<u32>,
    first: Tensor,
    later: Tensor,
}

impl std::borrow::Borrow<Tensor> for Flaky {
    fn borrow(&self) -> &Tensor {
        let k = self.calls.get();
        self.calls.set(k + 1);
        if k == 0 { &self.first } else { &self.later }
    }
}

#[test]
fn arguments_are_resolved_once() {
    for mode in MODES {
        let x = Var::input("x", TensorType::new(DType::Bool, vec![Some(4)]));
        let f = compile(&[&x], &[&x.logical_not()])
            .mode(mode)
            .build()
            .unwrap();
        let arg = Flaky {
            calls: std::cell::Cell::new(0),
            first: Tensor::vector(vec![true, false, true, false]),
            later: Tensor::vector(vec![1.0f64, 2.0, 3.0, 4.0]),
        };
        let r = f.call(&[arg]).unwrap();
        assert_eq!(r[0].to_vec::<bool>(), vec![false, true, false, true]);
    }
}

/// An update computed in place as a view of the variable in another shape
/// (a reshape) gives the variable that shape, on both backends.
#[test]
fn in_place_updates_take_their_shape() {
    for mode in MODES {
        let x = shared_resizable(
            "x",
            Tensor::new(vec![1.0f64, 2., 3., 4., 5., 6.], &[2, 3]).unwrap(),
            &[],
        );
        let y = x.reshape([3i64, 2]).unwrap();
        let f = compile(NO_INPUTS, NO_INPUTS)
            .update(&x, &y)
            .mode(mode)
            .build()
            .unwrap();
        f.call::<Tensor>(&[]).unwrap();
        let v = x.get_value().unwrap();
        assert_eq!(v.shape(), &[3, 2], "{mode:?}");
        assert_eq!(v.to_f64_vec(), vec![1., 2., 3., 4., 5., 6.]);
    }
}

/// Shapes with a zero dim still may not have overflowing partial products.
#[test]
fn empty_shapes_with_huge_dims_are_errors() {
    let e = Tensor::from_data(Data::F64(vec![]), &[0, 1 << 40, 1 << 40]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Memory, "{e}");
    assert_eq!(
        Tensor::from_data(Data::F64(vec![]), &[0, 1 << 20, 1 << 20])
            .unwrap()
            .len(),
        0
    );
}

/// Random graphs over inputs and resizable shared variables of unknown
/// dims, then a random sequence of calls with random shapes (often ones
/// that do not broadcast), random shared swaps (valid or not) and reshaped
/// arguments: every step is Ok with the interpreter's values, or an error
/// on both backends; never a crash. `THEON_SAFETY_CASES` sets the number of
/// graphs (`scripts/safety_long.sh` runs many).
#[test]
fn random_swaps_reshapes_and_shapes_are_ok_or_errors() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use theon_tests::assert_agree;
    use theon_tests::random_graphs::{build, graph};
    let cases = std::env::var("THEON_SAFETY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let shape = || prop::collection::vec(0usize..5, 0..=3);
    let (oks, errs) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let strategy = (
        (1u32..=3).prop_flat_map(graph),
        prop::collection::vec(0usize..=3, 4),
        prop::collection::vec((0u8..4, shape(), shape(), any::<u64>()), 1..8),
        any::<bool>(),
    );
    runner
        .run(&strategy, |(g, ranks, steps, f32_)| {
            let dtype = if f32_ { DType::F32 } else { DType::F64 };
            // Leaves 0 and 1 are arguments, 2 and 3 shared variables.
            let unknown = |r: usize| TensorType::new(dtype, vec![None; r]);
            let args_vars: Vec<Var> = (0..2)
                .map(|i| Var::input(&format!("x{i}"), unknown(ranks[i])))
                .collect();
            let shared_vars: Vec<Var> = (2..4)
                .map(|i| {
                    let init = Tensor::full(0.5, dtype, &vec![1; ranks[i]]);
                    shared_resizable(&format!("s{i}"), init, &[])
                })
                .collect();
            let leaves: Vec<Var> = args_vars.iter().chain(&shared_vars).cloned().collect();
            let Ok(out) = build(&g, &leaves) else {
                return Ok(());
            };
            let ins: Vec<&Var> = args_vars.iter().collect();
            let jit = compile(&ins, &[&out]).mode(Mode::Jit).build().unwrap();
            let interp = compile(&ins, &[&out])
                .mode(Mode::Interpret)
                .build()
                .unwrap();
            let mut args: Vec<Tensor> = args_vars
                .iter()
                .map(|v| Tensor::full(0.25, dtype, &vec![1; v.rank()]))
                .collect();
            for (kind, s1, s2, seed) in steps {
                let fill = |s: &[usize], k: u64| {
                    let n: usize = s.iter().product();
                    let v: Vec<f64> = (0..n)
                        .map(|i| ((i as u64 + k) % 7) as f64 * 0.3 - 0.9)
                        .collect();
                    Tensor::new(v, s).unwrap().cast(dtype)
                };
                match kind {
                    // New argument shapes (any rank: a wrong one is an error).
                    0 => {
                        args[0] = fill(&s1, seed);
                        args[1] = fill(&s2, seed + 1);
                    }
                    // Swap a shared value: fits its type or is refused.
                    1 => {
                        let target = &shared_vars[(seed % 2) as usize];
                        let value = if seed % 5 == 0 {
                            fill(&s1, seed).cast(DType::I64)
                        } else {
                            fill(&s1, seed)
                        };
                        let fits = value.dtype() == dtype && value.rank() == target.rank();
                        prop_assert_eq!(target.set_value(value).is_ok(), fits);
                    }
                    // Reshape an argument (same elements, other shape).
                    2 => {
                        let n = args[0].len();
                        let t = args[0].clone().reshape(&[n]).unwrap();
                        args[0] = t.reshape(&[1, n]).unwrap_or_else(|_| fill(&s1, seed));
                    }
                    _ => {}
                }
                let (a, b) = (jit.call(&args), interp.call(&args));
                match (&a, &b) {
                    (Ok(a), Ok(b)) => {
                        assert_agree(&b[0], &a[0], "jit vs interpreter");
                        oks.set(oks.get() + 1);
                    }
                    (Err(_), Err(_)) => errs.set(errs.get() + 1),
                    _ => prop_assert!(false, "jit {a:?} but interpreter {b:?}"),
                }
            }
            Ok(())
        })
        .unwrap();
    // Both outcomes occur (the test exercises both the results and the errors).
    assert!(
        oks.get() >= cases as usize / 2,
        "{} successful calls",
        oks.get()
    );
    assert!(
        errs.get() >= cases as usize / 10,
        "{} refused calls",
        errs.get()
    );
}

/// Functions touching more shared variables than the call protocol locks
/// on the stack (256) lock the rest through a Vec: same results, and
/// updates of every one.
#[test]
fn many_shared_variables() {
    for mode in MODES {
        let vars: Vec<Var> = (0..300)
            .map(|k| shared(&format!("v{k}"), Tensor::scalar(k as f64)))
            .collect();
        let mut total = Var::scalar_const(0.0, DType::F64);
        for v in &vars {
            total = (&total + v).unwrap();
        }
        let ups: Vec<(Var, Var)> = vars
            .iter()
            .map(|v| (v.clone(), (v + 1.0).unwrap()))
            .collect();
        let ups: Vec<(&Var, &Var)> = ups.iter().map(|(a, b)| (a, b)).collect();
        let f = compile(NO_INPUTS, &[&total])
            .updates(&ups)
            .mode(mode)
            .build()
            .unwrap();
        let r = f.call::<Tensor>(&[]).unwrap();
        assert_eq!(r[0].item::<f64>().unwrap(), (0..300).sum::<i64>() as f64);
        let r = f.call::<Tensor>(&[]).unwrap();
        assert_eq!(
            r[0].item::<f64>().unwrap(),
            (0..300).sum::<i64>() as f64 + 300.0
        );
        assert_eq!(vars[299].get_value().unwrap().item::<f64>().unwrap(), 301.0);
    }
}
