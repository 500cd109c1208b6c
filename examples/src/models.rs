//! The examples' models, shared with the benchmarks.

use theon::nn;
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

/// The notebook network's weights, as the layer API names them.
pub const MOONS_LAYERS: [&str; 3] = ["net.dense0.w", "net.dense1.w", "net.dense2.w"];

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
    // Initial weights: seeded standard normal draws (the notebook's randn).
    let net = nn::Sequential::new(&model, "net")
        .bias(false)
        .init(nn::Init::Normal(1.0))
        .seed(init_seed)
        .dense(5, nn::Tanh)?
        .dense(5, nn::Tanh)?
        .dense(1, nn::Sigmoid)?;
    let p = net.forward(&x)?.squeeze(&[-1])?.named("p");
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

/// Names of the deep network's layers' prior scales.
pub const DEEP_SCALES: [&str; 3] = [
    "net.dense0.w_scale",
    "net.dense1.w_scale",
    "net.dense2.w_scale",
];

pub fn deep_bnn(
    x_train: &Tensor,
    y_train: &Tensor,
    hidden: usize,
    classes: usize,
    batch: Option<usize>,
    seed: u64,
    dtype: DType,
) -> Result<DeepBnn> {
    let model = Model::with_dtype(dtype)?;
    let n = x_train.shape()[0];
    let x_train = &x_train.cast(dtype);
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
    // One prior scale per layer, shared by its weights: sd ~ HalfNormal(1);
    // biases ~ Normal(0, 1); weights start at LeCun-scaled normal draws.
    let net = nn::Sequential::new(&model, "net")
        .prior(nn::Prior::learned(nn::Scale::HalfNormal(1.0)).centered())
        .init(nn::Init::LeCun)
        .seed(seed)
        .dense(hidden, nn::Tanh)?
        .dense(hidden, nn::Tanh)?
        .dense(classes, nn::Identity)?;
    let act = net.forward(&x)?;
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

/// How the tasks of the hierarchical example share their networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// One independent network per task.
    Separate,
    /// One network for all tasks.
    Pooled,
    /// One network per task, tied to shared weights with learned
    /// per-layer group scales (non-centred).
    Hierarchical,
}

impl Pooling {
    pub const ALL: [Pooling; 3] = [Pooling::Separate, Pooling::Pooled, Pooling::Hierarchical];
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Separate => "separate",
            Pooling::Pooled => "pooled",
            Pooling::Hierarchical => "hierarchical",
        }
    }
}

/// The 2-5-5-1 tanh network (no biases, as in the post) over `[tasks,
/// rows, 2]` inputs, Bernoulli likelihood on the logits.
pub struct TaskBnn {
    pub model: Model,
    /// The `x` data container (`[tasks, rows, 2]`).
    pub input: Var,
    /// P(class 1), `[tasks, rows]`.
    pub p: Var,
}

pub fn task_bnn(pooling: Pooling, x: &Tensor, y: &Tensor, seed: u64) -> Result<TaskBnn> {
    let model = Model::new();
    let tasks = x.shape()[0];
    let xd = model.data("x", x.clone())?;
    let net = nn::Sequential::new(&model, "net")
        .bias(false)
        .init(nn::Init::Normal(1.0))
        .seed(seed);
    let net = match pooling {
        Pooling::Pooled => net,
        Pooling::Separate => net.groups(tasks)?,
        Pooling::Hierarchical => net
            .groups(tasks)?
            .prior(nn::Prior::hierarchical(nn::Scale::HalfNormal(1.0))),
    };
    let net = net
        .dense(5, nn::Tanh)?
        .dense(5, nn::Tanh)?
        .dense(1, nn::Identity)?;
    let logits = net.forward(&xd)?.squeeze(&[-1])?;
    model.bernoulli_logit("out", &logits)?.observed(y.clone());
    model.check()?;
    let p = logits.sigmoid().named("p");
    Ok(TaskBnn {
        model,
        input: xd,
        p,
    })
}

/// The convolutional network of `bnn_digits`, on 8x8 grayscale images:
/// conv 3x3, 8 filters, same padding, tanh -> 2x2 max pool -> conv 3x3,
/// 16 filters, same padding, tanh -> flatten (256) -> dense 10 (logits),
/// Categorical likelihood on minibatches with `total_size`.
pub struct DigitsCnn {
    pub model: Model,
    /// The minibatch of images the network reads (replace it to predict).
    pub input: Var,
    /// Class probabilities (rows x 10).
    pub probs: Var,
}

/// Build the digits network with `prior` on every layer's weights (biases
/// Normal(0, 1)), Glorot starts seeded by `seed`, minibatches of `batch`.
pub fn digits_cnn(
    x_train: &Tensor,
    y_train: &Tensor,
    batch: usize,
    prior: nn::Prior,
    seed: u64,
    dtype: DType,
) -> Result<DigitsCnn> {
    let model = Model::with_dtype(dtype)?;
    let n = x_train.shape()[0];
    let mb = minibatch(&[&x_train.cast(dtype), y_train], batch, seed ^ 0xd161)?;
    let same = Conv2d::new().padding(Padding::Same);
    let net = nn::Sequential::new(&model, "net")
        .prior(prior)
        .seed(seed)
        .conv2d_with(8, 3, same, nn::Tanh)?
        .max_pool2d(Pool2d::new(2))?
        .conv2d_with(16, 3, same, nn::Tanh)?
        .flatten()?
        .dense(10, nn::Identity)?;
    let logits = net.forward(&mb[0])?;
    model
        .categorical_logit("out", &logits)?
        .observed(&mb[1])
        .total_size(n);
    model.check()?;
    let probs = logits.softmax(-1)?.named("probs");
    Ok(DigitsCnn {
        model,
        input: mb[0].clone(),
        probs,
    })
}
