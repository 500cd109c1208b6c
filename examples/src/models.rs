//! The examples' models, shared with the benchmarks.

use theon::ppl::*;
use theon::prelude::*;

/// The notebook's network: inputs → 5 tanh → 5 tanh → sigmoid, no biases,
/// Normal(0, 1) weights, Bernoulli likelihood with `total_size`.
pub struct MoonsBnn {
    pub model: Model,
    /// The network's input: the `ann_input` data container, or a minibatch.
    pub input: Var,
    /// The output probability, an expression of `input` and the weights.
    pub p: Var,
}

/// Weight shapes of the notebook's 2-5-5-1 network.
pub const MOONS_LAYERS: [(&str, &[usize]); 3] =
    [("w_in_1", &[2, 5]), ("w_1_2", &[5, 5]), ("w_2_out", &[5])];

/// Build the notebook's model. Initial weights are seeded standard normal
/// draws (the notebook's `np.random.randn`). With `batch`, the data enter as
/// minibatches of that size instead of `Data` containers.
pub fn moons_bnn(
    x_train: &Tensor,
    y_train: &Tensor,
    init_seed: u64,
    dtype: DType,
    batch: Option<usize>,
) -> Result<MoonsBnn> {
    let model = Model::with_dtype(dtype)?;
    let n = x_train.shape()[0];
    let x_train = x_train.cast(dtype);
    let y_train = y_train.cast(dtype);
    let (x, y) = match batch {
        None => (
            model.data("ann_input", x_train)?,
            model.data("ann_output", y_train)?,
        ),
        Some(b) => {
            let mb = minibatch(&[&x_train, &y_train], b, init_seed ^ 0xb47c)?;
            (mb[0].clone(), mb[1].clone())
        }
    };
    let mut w = vec![];
    for (k, (name, shape)) in MOONS_LAYERS.iter().enumerate() {
        let init = Tensor::randn(
            dtype,
            shape,
            init_seed.wrapping_mul(31).wrapping_add(k as u64),
        );
        w.push(model.normal(name, 0.0, 1.0, *shape)?.init(init));
    }
    let p = x
        .dot(&w[0])?
        .tanh()
        .dot(&w[1])?
        .tanh()
        .dot(&w[2])?
        .sigmoid()
        .named("p");
    model.bernoulli("out", &p)?.observed(&y).total_size(n);
    model.check()?;
    Ok(MoonsBnn { model, input: x, p })
}

/// A deeper network with biases and per-layer hierarchical prior scales:
/// inputs -> h tanh -> h tanh -> k logits, Categorical likelihood. The data
/// enter as `Data` containers (`x`, `y`), or as minibatches of `batch` rows.
pub struct DeepBnn {
    pub model: Model,
    /// The network's input (the `x` container or the minibatch).
    pub input: Var,
    /// Class probabilities (rows x k).
    pub probs: Var,
}

/// Names of the deep network's layers' weights.
pub const DEEP_LAYERS: [&str; 3] = ["w0", "w1", "w2"];

pub fn deep_bnn(
    x_train: &Tensor,
    y_train: &Tensor,
    hidden: usize,
    classes: usize,
    batch: Option<usize>,
    seed: u64,
) -> Result<DeepBnn> {
    let model = Model::new();
    let n = x_train.shape()[0];
    let (x, y) = match batch {
        None => (
            model.data("x", x_train.clone())?,
            model.data("y", y_train.clone())?,
        ),
        Some(b) => {
            let mb = minibatch(&[x_train, y_train], b, seed ^ 0xdee9)?;
            (mb[0].clone(), mb[1].clone())
        }
    };
    let sizes = [x_train.shape()[1], hidden, hidden, classes];
    let mut act = x.clone();
    for (layer, name) in DEEP_LAYERS.iter().enumerate() {
        let (fan_in, fan_out) = (sizes[layer], sizes[layer + 1]);
        // One prior scale per layer, shared by its weights: sd ~ HalfNormal(1).
        let scale = model.half_normal(&format!("sd_{name}"), 1.0, ())?;
        // Initial weights: seeded normal draws scaled by 1/sqrt(fan_in).
        let init = Tensor::randn(
            DType::F64,
            &[fan_in, fan_out],
            seed.wrapping_mul(97).wrapping_add(layer as u64),
        );
        let init = Tensor::new(
            init.to_f64_vec()
                .iter()
                .map(|v| v / (fan_in as f64).sqrt())
                .collect::<Vec<_>>(),
            &[fan_in, fan_out],
        )?;
        let w = model
            .normal(name, 0.0, &scale, [fan_in, fan_out])?
            .init(init);
        let b = model.normal(&format!("b{layer}"), 0.0, 1.0, [fan_out])?;
        let z = (act.dot(&w)? + &*b)?;
        act = if layer < 2 { z.tanh() } else { z };
    }
    let logits = act;
    model
        .categorical_logit("out", &logits)?
        .observed(&y)
        .total_size(n);
    model.check()?;
    let probs = logits.softmax(-1)?.named("probs");
    Ok(DeepBnn {
        model,
        input: x,
        probs,
    })
}
