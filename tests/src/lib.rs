//! Helpers for theon's integration tests.

use theon::compiler::Op;
use theon::prelude::*;

/// Random-stream states the outputs read (to replay the same draws).
fn random_states(outputs: &[&Var]) -> Vec<SharedVar> {
    let roots: Vec<Var> = outputs.iter().map(|v| (*v).clone()).collect();
    let mut states: Vec<SharedVar> = Var::toposort(&roots)
        .iter()
        .filter(|v| matches!(v.op(), Op::Random { .. }))
        .filter_map(|v| v.inputs()[0].as_shared().cloned())
        .collect();
    states.sort();
    states.dedup();
    states
}

/// Run a graph three ways on the same arguments (and the same random
/// draws): the interpreter on the graph as written, the interpreter on the
/// rewritten graph, and the JIT. All must agree (`assert_agree`); returns
/// the JIT's outputs. Every test that evaluates through here checks the
/// rewrites and the code generator on its graph.
pub fn eval_checked(inputs: &[&Var], outputs: &[&Var], args: &[Tensor]) -> Result<Vec<Tensor>> {
    let states = random_states(outputs);
    let saved = states
        .iter()
        .map(|s| s.rng_state())
        .collect::<Result<Vec<_>>>()?;
    let replay = || {
        for (s, v) in states.iter().zip(&saved) {
            s.set_rng_state(*v).expect("restoring a random state");
        }
    };
    let plain = compile(inputs, outputs)
        .mode(Mode::Interpret)
        .rewrites(Rewrites::None)
        .build()?
        .call(args);
    replay();
    let optimized = compile(inputs, outputs)
        .mode(Mode::Interpret)
        .build()?
        .call(args);
    replay();
    let jit = compile(inputs, outputs).mode(Mode::Jit).build()?.call(args);
    match (plain, optimized, jit) {
        (Ok(p), Ok(o), Ok(j)) => {
            for (k, ((a, b), c)) in p.iter().zip(&o).zip(&j).enumerate() {
                assert_agree(a, b, &format!("rewritten output {k}"));
                assert_agree(b, c, &format!("JIT output {k} (vs the interpreter)"));
            }
            Ok(j)
        }
        // Rewrites may remove a failing op (e.g. a folded shape).
        (Err(_), Ok(o), Ok(j)) => {
            for (k, (b, c)) in o.iter().zip(&j).enumerate() {
                assert_agree(b, c, &format!("JIT output {k} (vs the interpreter)"));
            }
            Ok(j)
        }
        (Ok(_), Err(e), _) => panic!("the rewritten graph fails where the original runs: {e}"),
        (_, Ok(_), Err(e)) => panic!("the JIT fails where the interpreter runs: {e}"),
        (_, Err(e), Ok(j)) => panic!("the JIT runs ({j:?}) where the interpreter fails: {e}"),
        (Err(e), Err(_), Err(_)) => Err(e),
    }
}

/// Per-draw weights of a vectorized network: `[draws, rows, cols]` with
/// the draw count left open (what `vectorize` gives a weight).
pub fn draws_of(name: &str, dtype: DType, rows: usize, cols: usize) -> Var {
    Var::input(
        name,
        TensorType::new(dtype, vec![None, Some(rows), Some(cols)]),
    )
}

/// Rewritten results must match the graph as written wherever the original
/// is finite; where the original over- or underflowed to inf/NaN the stable
/// form may be finite.
#[track_caller]
pub fn assert_agree(plain: &Tensor, rewritten: &Tensor, what: &str) {
    assert_eq!(
        plain.shape(),
        rewritten.shape(),
        "{what}: shape changed by rewriting"
    );
    assert_eq!(
        plain.dtype(),
        rewritten.dtype(),
        "{what}: dtype changed by rewriting"
    );
    // Transcendentals are within a few ulp; sums may associate differently.
    let tol = if plain.dtype() == DType::F32 {
        2e-5
    } else {
        1e-9
    };
    let (p, r) = (plain.to_f64_vec(), rewritten.to_f64_vec());
    for (i, (a, b)) in p.iter().zip(&r).enumerate() {
        if a.is_finite() {
            assert!(
                (a - b).abs() <= tol * (1.0 + a.abs()),
                "{what}[{i}]: original {a}, rewritten {b}"
            );
        } else if b.is_finite() {
            // A stable form fixed an overflow: fine.
        } else {
            assert!(
                a.is_nan() == b.is_nan() && (a.is_nan() || a == b),
                "{what}[{i}]: original {a}, rewritten {b}"
            );
        }
    }
}

/// Assert two tensors agree elementwise within tolerances, with a useful message.
#[track_caller]
pub fn assert_close(got: &Tensor, want: &Tensor, rtol: f64, atol: f64) {
    assert_eq!(got.shape(), want.shape(), "shape: got {got} want {want}");
    assert!(
        got.allclose(want, rtol, atol),
        "values differ:\n got  {got}\n want {want}"
    );
}

/// Models shared by tests and benchmarks.
pub mod models {
    use theon::prelude::*;

    /// The notebook's network: two tanh layers, sigmoid output, no biases.
    pub fn bnn_forward(x: &Var, w1: &Var, w2: &Var, w3: &Var) -> Result<Var> {
        Ok(x.dot(w1)?
            .tanh()
            .dot(w2)?
            .tanh()
            .dot(w3)?
            .sigmoid()
            .named("p"))
    }

    /// The ADVI step of the notebook's BNN written out by hand: mean-field
    /// Gaussian over the 40 weights (2x5 + 5x5 + 5), one reparameterized draw, the negative
    /// ELBO (Normal(0,1) priors, Bernoulli likelihood, Gaussian entropy), its
    /// gradient, and adagrad_window updates of (mu, rho).
    pub fn advi_step_graph(n: usize) -> (Vec<Var>, Var, Vec<(Var, Var)>) {
        let x = tensor_with_shape("ann_input", DType::F64, &[Some(n), Some(2)]);
        let y = tensor_with_shape("ann_output", DType::F64, &[Some(n)]);
        let d = 40;
        let mu = shared("mu", Tensor::zeros(DType::F64, &[d]));
        let rho = shared("rho", Tensor::zeros(DType::F64, &[d]));
        let rng = RandomStream::new(0);
        let eps = rng.normal([d as i64], DType::F64).unwrap();
        let sigma = rho.softplus();
        let z = (&mu + &(&sigma * &eps).unwrap()).unwrap();
        let w1 = z.slice(&[(0..10).into()]).unwrap().reshape([2, 5]).unwrap();
        let w2 = z
            .slice(&[(10..35).into()])
            .unwrap()
            .reshape([5, 5])
            .unwrap();
        let w3 = z.slice(&[(35..40).into()]).unwrap();
        let p = bnn_forward(&x, &w1, &w2, &w3).unwrap();
        let loglik = ((&y * &p.log()).unwrap()
            + ((1.0 - &y).unwrap() * (1.0 - &p).unwrap().log()).unwrap())
        .unwrap()
        .sum()
        .unwrap();
        let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let logprior = (((&z.square() * -0.5).unwrap() - half_log_2pi).unwrap())
            .sum()
            .unwrap();
        let entropy = sigma.log().sum().unwrap();
        let loss = (-((loglik + logprior).unwrap() + entropy).unwrap()).named("loss");
        let g = grad(&loss, &[&mu, &rho]).unwrap();
        // adagrad_window(lr=1e-3, eps=0.1, n_win=10)
        let mut updates = vec![];
        for (k, (param, gp)) in [(&mu, &g[0]), (&rho, &g[1])].into_iter().enumerate() {
            let win = shared(&format!("accu_{k}"), Tensor::zeros(DType::F64, &[10, d]));
            let i_t = shared(&format!("i_{k}"), Tensor::scalar(0i64));
            let row = Var::where_(&i_t.ge(10).unwrap(), (&i_t - 10).unwrap(), &i_t).unwrap();
            let new_win = win
                .inc_take(
                    &row.expand_dims(0).unwrap(),
                    0,
                    &(gp.square().expand_dims(0).unwrap()
                        - &win.take(&row.expand_dims(0).unwrap(), 0).unwrap())
                        .unwrap(),
                )
                .unwrap();
            let accu = new_win.sum_axes(&[0], false).unwrap();
            // PyMC's adagrad_window: lr g / sqrt(sum of the window + eps).
            let step = ((gp * 1e-3).unwrap() / (&accu + 0.1).unwrap().sqrt()).unwrap();
            updates.push((param.clone(), (param - &step).unwrap()));
            updates.push((win.clone(), new_win));
            updates.push((
                i_t.clone(),
                Var::where_(
                    &(&i_t + 1).unwrap().ge(10).unwrap(),
                    0i64,
                    (&i_t + 1).unwrap(),
                )
                .unwrap(),
            ));
        }
        (vec![x, y], loss, updates)
    }
}

/// Random expressions over inputs whose shapes broadcast together (for
/// property tests of the JIT and of vectorize).
pub mod random_graphs {
    use proptest::prelude::*;
    use theon::prelude::*;

    /// A random expression over inputs whose shapes broadcast to `base`.
    #[derive(Clone, Debug)]
    pub enum G {
        Leaf(usize),
        Un(u8, Box<G>),
        Bin(u8, Box<G>, Box<G>),
        Red(u8, u8, bool, Box<G>),
        Shape(u8, Box<G>),
    }

    pub fn graph(depth: u32) -> BoxedStrategy<G> {
        if depth == 0 {
            return (0usize..4).prop_map(G::Leaf).boxed();
        }
        let sub = graph(depth - 1);
        prop_oneof![
            (0u8..16, sub.clone()).prop_map(|(k, a)| G::Un(k, Box::new(a))),
            (0u8..9, sub.clone(), sub.clone()).prop_map(|(k, a, b)| G::Bin(
                k,
                Box::new(a),
                Box::new(b)
            )),
            (0u8..6, 0u8..8, any::<bool>(), sub.clone()).prop_map(|(k, m, kd, a)| G::Red(
                k,
                m,
                kd,
                Box::new(a)
            )),
            (0u8..4, sub).prop_map(|(k, a)| G::Shape(k, Box::new(a))),
        ]
        .boxed()
    }

    /// Input shapes: the base shape and versions with dims set to 1 or dropped.
    pub fn leaf_shapes(base: &[usize], pick: u64) -> Vec<Vec<Option<usize>>> {
        (0..4)
            .map(|i| {
                let bits = pick >> (i * 8);
                let mut s: Vec<Option<usize>> = base
                    .iter()
                    .enumerate()
                    .map(|(a, &d)| Some(if bits >> a & 1 == 1 { 1 } else { d }))
                    .collect();
                let drop = (bits >> 5 & 3) as usize % (s.len() + 1);
                s.drain(..drop.min(if i == 0 { 0 } else { s.len() }));
                s
            })
            .collect()
    }

    /// How many unary ops `smooth_unary` knows.
    pub const SMOOTH_UNARY: u8 = 12;

    /// Unary op `k` (< SMOOTH_UNARY): smooth everywhere, arguments mapped
    /// into the domain of log, sqrt and 1/x (shared with the gradient tests).
    pub fn smooth_unary(k: u8, a: &Var) -> Result<Var> {
        let pos = (a.square() + 0.5)?;
        Ok(match k {
            0 => a.tanh(),
            1 => a.sigmoid(),
            2 => a.softplus(),
            3 => a.log_sigmoid(),
            4 => a.tanh().exp(),
            5 => a.sin(),
            6 => a.cos(),
            7 => a.erf(),
            8 => pos.log(),
            9 => pos.sqrt(),
            10 => pos.reciprocal(),
            _ => a.tanh().expm1(),
        })
    }

    /// A random graph made concrete: leaves of the shapes `leaf_shapes`
    /// picks, the expression over them (None when its shapes do not
    /// combine, e.g. a matmul of mismatched dims) and standard normal
    /// arguments drawn from `seed`.
    pub fn instantiate(
        g: &G,
        base: &[usize],
        pick: u64,
        dtype: DType,
        seed: u64,
    ) -> Option<(Vec<Var>, Var, Vec<Tensor>)> {
        let shapes = leaf_shapes(base, pick);
        let leaves: Vec<Var> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| tensor_with_shape(&format!("x{i}"), dtype, s))
            .collect();
        let out = build(g, &leaves).ok()?;
        let args = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let dims: Vec<usize> = s.iter().map(|d| d.unwrap()).collect();
                Tensor::randn(dtype, &dims, seed.wrapping_add(i as u64))
            })
            .collect();
        Some((leaves, out, args))
    }

    pub fn build(g: &G, leaves: &[Var]) -> Result<Var> {
        Ok(match g {
            G::Leaf(i) => leaves[*i].clone(),
            G::Un(k, a) => {
                let a = build(a, leaves)?;
                let pos = (a.square() + 0.5)?;
                match k {
                    0..SMOOTH_UNARY => smooth_unary(*k, &a)?,
                    12 => pos.log1p(),
                    13 => -a.abs(),
                    14 => a.sign(),
                    _ => Var::where_(&a.gt(0.0)?, &a, (a.clone() * 0.5)?)?,
                }
            }
            G::Bin(k, a, b) => {
                let (a, b) = (build(a, leaves)?, build(b, leaves)?);
                match k {
                    0 => (a + b)?,
                    1 => (a - b)?,
                    2 => (a * b)?,
                    3 => (a / (b.square() + 1.0)?)?,
                    4 => a.maximum(&b)?,
                    5 => a.minimum(&b)?,
                    6 => (a.square() + 0.5)?.pow(b.tanh())?,
                    7 => Var::where_(&a.lt(&b)?, &a, &b)?,
                    _ => (a.gt(&b)?.cast(b.dtype()) * b)?,
                }
            }
            G::Red(k, mask, keep, a) => {
                let a = build(a, leaves)?;
                let axes: Vec<i64> = (0..a.rank() as i64)
                    .filter(|i| mask >> i & 1 == 1)
                    .collect();
                match k {
                    0 => a.sum_axes(&axes, *keep)?,
                    1 => a.mean_axes(&axes, *keep)?,
                    2 => a.max_axes(&axes, *keep)?,
                    3 => a.min_axes(&axes, *keep)?,
                    4 => a.tanh().prod_axes(&axes, *keep)?,
                    _ => a.logsumexp_axes(&axes, *keep)?,
                }
            }
            G::Shape(k, a) => {
                let a = build(a, leaves)?;
                if a.rank() < 2 {
                    return Ok(a);
                }
                let r = a.rank();
                match k {
                    0 => a.t(),
                    1 => a.slice_axis(0, SliceSpec::new(None, None, -1))?,
                    2 => a.matmul(&a.t())?,
                    _ => {
                        let mut perm: Vec<usize> = (0..r).collect();
                        perm.rotate_left(1);
                        a.permute(&perm)?
                    }
                }
            }
        })
    }
}
