//! `Sequential`: a stack of layers on a model. Layers are declared first;
//! their weights become random variables of the model the first time the
//! network is applied, when the input's feature size is known. Applying it
//! again (to a test input, say) reuses the same weights.

use crate::activation::Activation;
use crate::init::Init;
use crate::prior::{self, Prior};
use std::sync::{Arc, Mutex};
use theon_ppl::Model;
use theon_tensor::{Conv2d, Error, Pool2d, Result, Tensor, TensorType, Var};

/// A layer as declared.
#[derive(Clone, Debug)]
enum Kind {
    Dense {
        units: usize,
        act: Activation,
        bias: bool,
        prior: Prior,
        bias_sd: f64,
        init: Init,
        /// Weight tensor k of this layer starts from stream `seed * 31 + k`.
        seed: u64,
    },
    /// `filters` kernels of `kernel` over the channel axis (NCHW).
    Conv2d {
        filters: usize,
        kernel: [usize; 2],
        opts: Conv2d,
        act: Activation,
        bias: bool,
        prior: Prior,
        bias_sd: f64,
        init: Init,
        seed: u64,
    },
    Pool2d {
        max: bool,
        opts: Pool2d,
    },
    Flatten,
    Activation(Activation),
}

#[derive(Clone, Debug)]
struct Layer {
    /// `net.dense0`, `net.flatten0`, ...
    name: String,
    kind: Kind,
}

/// A dense or convolutional layer's random variables once built.
#[derive(Clone, Debug)]
struct Params {
    w: Var,
    b: Option<Var>,
    /// Input features (dense) or channels (convolution) it was built for.
    fan_in: usize,
}

/// A network built layer by layer on a model. Each dense layer's weights
/// `<net>.<layer>.w` and bias `.b` come from random variables of the model
/// with the prior in force when the layer was added (the weights are the
/// variable itself under a fixed or centred prior, an expression of
/// `.w_raw`, `.w_scale`, `.w_mean`, `.w_group_sd` otherwise). Settings
/// (`prior`, `bias`, `init`, `seed`, ...) apply to the layers added after
/// them; `groups` applies to the whole network. A clone shares the built
/// weights; adding a layer or groups to a clone makes a new network.
#[derive(Clone)]
pub struct Sequential {
    model: Model,
    name: String,
    groups: Option<usize>,
    prior: Prior,
    bias: bool,
    bias_sd: f64,
    init: Init,
    seed: u64,
    layers: Vec<Layer>,
    /// Per layer, its parameters once the network has been applied.
    built: Arc<Mutex<Option<Vec<Option<Params>>>>>,
}

impl Sequential {
    /// An empty network named `name` on `model`. Defaults: Normal(0, 1)
    /// weights, biases with a Normal(0, 1) prior, Glorot initial values,
    /// seed 0.
    pub fn new(model: &Model, name: &str) -> Sequential {
        Sequential {
            model: model.clone(),
            name: name.to_string(),
            groups: None,
            prior: Prior::Normal(1.0),
            bias: true,
            bias_sd: 1.0,
            init: Init::Glorot,
            seed: 0,
            layers: vec![],
            built: Arc::new(Mutex::new(None)),
        }
    }

    /// `g` networks of the same architecture side by side: the input is
    /// `[g, rows, features]`, every weight gets a leading axis of `g`
    /// (batched products), and `Prior::Hierarchical` ties them together.
    pub fn groups(mut self, g: usize) -> Result<Sequential> {
        if g == 0 {
            return Err(Error::value(format!(
                "{}: groups must be positive",
                self.name
            )));
        }
        self.refuse_if_built("groups")?;
        self.groups = Some(g);
        // A new architecture: a clone's built weights are not its own.
        self.built = Arc::new(Mutex::new(None));
        Ok(self)
    }
    /// The weights' prior for the layers added next.
    pub fn prior(mut self, p: Prior) -> Sequential {
        self.prior = p;
        self
    }
    /// Whether the layers added next have biases (default: yes).
    pub fn bias(mut self, on: bool) -> Sequential {
        self.bias = on;
        self
    }
    /// The biases' prior Normal(0, sd) for the layers added next.
    pub fn bias_prior(mut self, sd: f64) -> Sequential {
        self.bias_sd = sd;
        self
    }
    /// How the weights of the layers added next start.
    pub fn init(mut self, init: Init) -> Sequential {
        self.init = init;
        self
    }
    /// The seed of the initial values of the layers added next (the k-th
    /// weight tensor of the network draws from stream `seed * 31 + k`).
    pub fn seed(mut self, seed: u64) -> Sequential {
        self.seed = seed;
        self
    }

    fn layer_name(&self, kind: &str) -> String {
        let k = self
            .layers
            .iter()
            .filter(|l| {
                l.name
                    .rsplit('.')
                    .next()
                    .is_some_and(|n| n.starts_with(kind))
            })
            .count();
        format!("{}.{kind}{k}", self.name)
    }

    /// The prior, bias prior and start a new layer takes, checked.
    fn check_settings(&self, name: &str) -> Result<()> {
        self.prior.check(name)?;
        if !(self.bias_sd > 0.0 && self.bias_sd.is_finite()) {
            return Err(Error::value(format!(
                "{name}: the bias prior's sd must be positive and finite, got {}",
                self.bias_sd
            )));
        }
        self.init.check(name)
    }

    fn refuse_if_built(&self, what: &str) -> Result<()> {
        if self.built.lock().map(|b| b.is_some()).unwrap_or(true) {
            return Err(Error::model(format!(
                "{}: {what} cannot change after the network has been applied",
                self.name
            )));
        }
        Ok(())
    }

    fn push(mut self, kind_name: &str, kind: Kind) -> Result<Sequential> {
        self.refuse_if_built("the layers")?;
        let name = self.layer_name(kind_name);
        self.layers.push(Layer { name, kind });
        // A new architecture: clones taken before this share nothing with it.
        self.built = Arc::new(Mutex::new(None));
        Ok(self)
    }

    /// A fully connected layer of `units` outputs and its activation.
    pub fn dense(self, units: usize, act: Activation) -> Result<Sequential> {
        let name = self.layer_name("dense");
        if units == 0 {
            return Err(Error::value(format!(
                "{name}: a dense layer needs at least one unit"
            )));
        }
        self.check_settings(&name)?;
        let kind = Kind::Dense {
            units,
            act,
            bias: self.bias,
            prior: self.prior.clone(),
            bias_sd: self.bias_sd,
            init: self.init,
            seed: self.seed,
        };
        self.push("dense", kind)
    }

    /// A 2-d convolution of `filters` kernels of size `kernel` x `kernel`
    /// (stride 1, no padding: Keras' and Lasagne's defaults) and its
    /// activation. The input is `[rows, channels, height, width]` (with
    /// groups, `[groups, rows, ...]`); the weights `.w` are `[filters,
    /// channels, kernel, kernel]`, the bias `.b` one per filter. Priors,
    /// biases and starts follow the same settings as dense layers (a
    /// per-unit scale is one per filter).
    pub fn conv2d(self, filters: usize, kernel: usize, act: Activation) -> Result<Sequential> {
        self.conv2d_with(filters, kernel, Conv2d::new(), act)
    }

    /// `conv2d` with stride, padding, dilation (`opts.groups` must be 1:
    /// channel groups are not a layer option).
    pub fn conv2d_with(
        self,
        filters: usize,
        kernel: usize,
        opts: Conv2d,
        act: Activation,
    ) -> Result<Sequential> {
        let name = self.layer_name("conv");
        if filters == 0 || kernel == 0 {
            return Err(Error::value(format!(
                "{name}: a convolution needs at least one filter and a kernel of size >= 1"
            )));
        }
        if opts.groups != 1 {
            return Err(Error::value(format!(
                "{name}: channel groups (Conv2d::groups) are not a layer option; \
                 use Sequential::groups for networks side by side"
            )));
        }
        self.check_settings(&name)?;
        let kind = Kind::Conv2d {
            filters,
            kernel: [kernel, kernel],
            opts,
            act,
            bias: self.bias,
            prior: self.prior.clone(),
            bias_sd: self.bias_sd,
            init: self.init,
            seed: self.seed,
        };
        self.push("conv", kind)
    }

    /// Max pooling over the two spatial axes (`Pool2d::new(2)`: 2 x 2
    /// windows, stride 2).
    pub fn max_pool2d(self, opts: Pool2d) -> Result<Sequential> {
        self.push("pool", Kind::Pool2d { max: true, opts })
    }

    /// Average pooling over the two spatial axes.
    pub fn avg_pool2d(self, opts: Pool2d) -> Result<Sequential> {
        self.push("pool", Kind::Pool2d { max: false, opts })
    }

    /// Flatten every axis after the rows' into one feature axis.
    pub fn flatten(self) -> Result<Sequential> {
        self.push("flatten", Kind::Flatten)
    }

    /// An activation on its own.
    pub fn activation(self, act: Activation) -> Result<Sequential> {
        self.push("activation", Kind::Activation(act))
    }

    /// The model the weights belong to.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The built layers' weights and biases, `(layer name, w, b)`; empty
    /// before the first `forward`.
    pub fn params(&self) -> Vec<(String, Var, Option<Var>)> {
        let built = self.built.lock().ok().and_then(|b| b.clone());
        self.layers
            .iter()
            .zip(built.unwrap_or_default())
            .filter_map(|(l, p)| p.map(|p| (l.name.clone(), p.w, p.b)))
            .collect()
    }

    /// How many leading axes come before the features: rows, and groups.
    fn lead(&self) -> usize {
        1 + self.groups.is_some() as usize
    }

    /// The network applied to `x` (`[rows, features...]`, or `[groups,
    /// rows, features...]` with groups). The first call checks every layer
    /// against `x`'s static shape, then creates the weights; later calls
    /// check the feature sizes and reuse them.
    pub fn forward(&self, x: &Var) -> Result<Var> {
        if self.layers.is_empty() {
            return Err(Error::model(format!(
                "{}: the network has no layers",
                self.name
            )));
        }
        let lead = self.lead();
        if x.rank() <= lead {
            return Err(Error::shape(format!(
                "{}: the input must have {} and features, got {}",
                self.name,
                if lead == 2 {
                    "group and row axes"
                } else {
                    "a row axis"
                },
                x.ty()
            )));
        }
        if let (Some(g), Some(Some(d))) = (self.groups, x.static_shape().first())
            && g != *d
        {
            return Err(Error::shape(format!(
                "{}: the network has {g} groups, the input's first axis is {d}",
                self.name
            )));
        }
        // Every layer's input features, checked before anything is made.
        let fan_ins = self.plan(x)?;
        let mut guard = self
            .built
            .lock()
            .map_err(|_| Error::model(format!("{}: a previous build panicked", self.name)))?;
        let params: Vec<Option<Params>> = match guard.as_ref() {
            Some(p) => {
                for ((layer, p), f) in self.layers.iter().zip(p).zip(&fan_ins) {
                    if let (Some(p), Some(f)) = (p, f)
                        && p.fan_in != *f
                    {
                        let what = match layer.kind {
                            Kind::Conv2d { .. } => "channels",
                            _ => "features",
                        };
                        return Err(Error::shape(format!(
                            "{}: input has {f} {what}, the layer was built for {}",
                            layer.name, p.fan_in
                        )));
                    }
                }
                p.clone()
            }
            None => {
                let built = self.build(&fan_ins)?;
                *guard = Some(built.clone());
                built
            }
        };
        drop(guard);
        let mut h = x.clone();
        for (layer, p) in self.layers.iter().zip(&params) {
            h = match (&layer.kind, p) {
                (Kind::Activation(a), _) => a.apply(&h)?,
                (Kind::Flatten, _) => self.flatten_input(&h, &layer.name)?,
                (Kind::Dense { act, .. }, Some(p)) => {
                    let z = match self.groups {
                        Some(_) => h.matmul(&p.w)?,
                        None => h.dot(&p.w)?,
                    };
                    let z = match &p.b {
                        Some(b) => (z + b)?,
                        None => z,
                    };
                    act.apply(&z)?
                }
                (Kind::Conv2d { opts, act, .. }, Some(p)) => {
                    let z = h.conv2d(&p.w, *opts)?;
                    let z = match &p.b {
                        Some(b) => (z + b)?,
                        None => z,
                    };
                    act.apply(&z)?
                }
                (Kind::Pool2d { max: true, opts }, _) => h.max_pool2d(*opts)?,
                (Kind::Pool2d { max: false, opts }, _) => h.avg_pool2d(*opts)?,
                (Kind::Dense { .. } | Kind::Conv2d { .. }, None) => {
                    return Err(Error::model(format!(
                        "{}: the layer has no weights",
                        layer.name
                    )));
                }
            };
        }
        Ok(h)
    }

    /// Walk `x`'s static shape through the layers: each dense layer's
    /// input features (`None` for other layers), or the first error.
    fn plan(&self, x: &Var) -> Result<Vec<Option<usize>>> {
        let lead = self.lead();
        let mut shape: Vec<Option<usize>> = x.static_shape().to_vec();
        let mut out = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            match &layer.kind {
                Kind::Activation(_) => out.push(None),
                Kind::Flatten => {
                    if shape.len() <= lead {
                        return Err(Error::shape(format!(
                            "{}: nothing to flatten in a rank-{} input",
                            layer.name,
                            shape.len()
                        )));
                    }
                    let n = flat_size(&shape[lead..], &layer.name)?;
                    shape.truncate(lead);
                    shape.push(Some(n));
                    out.push(None);
                }
                Kind::Conv2d {
                    filters,
                    kernel,
                    opts,
                    prior,
                    ..
                } => {
                    self.check_grouping(prior, &layer.name)?;
                    let (c, y) = self.conv_shapes(&shape, *filters, *kernel, *opts, &layer.name)?;
                    shape = y;
                    out.push(Some(c));
                }
                Kind::Pool2d { max, opts } => {
                    let x = self.probe(&shape, &layer.name, "pooling")?;
                    let y = if *max {
                        x.max_pool2d(*opts)
                    } else {
                        x.avg_pool2d(*opts)
                    }
                    .map_err(|e| e.context(&layer.name))?;
                    shape = y.static_shape().to_vec();
                    out.push(None);
                }
                Kind::Dense { units, prior, .. } => {
                    self.check_grouping(prior, &layer.name)?;
                    let f = features(&shape, self.groups.is_some(), &layer.name)?;
                    let last = shape.len() - 1;
                    shape[last] = Some(*units);
                    out.push(Some(f));
                }
            }
        }
        Ok(out)
    }

    fn check_grouping(&self, prior: &Prior, layer: &str) -> Result<()> {
        if prior.needs_groups() && self.groups.is_none() {
            return Err(Error::model(format!(
                "{layer}.w: a hierarchical prior needs a network with groups (Sequential::groups)"
            )));
        }
        Ok(())
    }

    /// A stand-in input of static `shape` for an image layer, so that shape
    /// inference itself walks the layer (one rule, one set of messages).
    fn probe(&self, shape: &[Option<usize>], layer: &str, what: &str) -> Result<Var> {
        let want = self.lead() + 3;
        if shape.len() != want {
            return Err(Error::shape(format!(
                "{layer}: {what} takes [{}rows, channels, height, width], the input has rank {}",
                if self.groups.is_some() {
                    "groups, "
                } else {
                    ""
                },
                shape.len()
            )));
        }
        Ok(Var::input(
            layer,
            TensorType::new(self.model.dtype(), shape.to_vec()),
        ))
    }

    /// A convolution layer's input channels and output static shape.
    fn conv_shapes(
        &self,
        shape: &[Option<usize>],
        filters: usize,
        kernel: [usize; 2],
        opts: Conv2d,
        layer: &str,
    ) -> Result<(usize, Vec<Option<usize>>)> {
        let x = self.probe(shape, layer, "a convolution")?;
        let c = shape[self.lead()].ok_or_else(|| {
            Error::shape(format!(
                "{layer}: the input's channel axis needs a static size"
            ))
        })?;
        let w = Var::input(
            layer,
            TensorType::fixed(
                self.model.dtype(),
                &self.conv_weight_shape(filters, c, kernel),
            ),
        );
        let y = x.conv2d(&w, opts).map_err(|e| e.context(layer))?;
        Ok((c, y.static_shape().to_vec()))
    }

    /// `[filters, channels, kh, kw]`, with the groups first.
    fn conv_weight_shape(&self, filters: usize, c: usize, kernel: [usize; 2]) -> Vec<usize> {
        self.groups
            .into_iter()
            .chain([filters, c, kernel[0], kernel[1]])
            .collect()
    }

    /// Create every dense and convolution layer's random variables.
    fn build(&self, fan_ins: &[Option<usize>]) -> Result<Vec<Option<Params>>> {
        let mut weight_index = 0u64;
        let g: Vec<usize> = self.groups.into_iter().collect();
        let with_groups =
            |rest: &[usize]| -> Vec<usize> { g.iter().chain(rest).copied().collect() };
        self.layers
            .iter()
            .zip(fan_ins)
            .map(|(layer, f)| {
                let (Some(fan_in), Some(settings)) = (f, LayerSettings::of(&layer.kind)) else {
                    return Ok(None);
                };
                let fan_in = *fan_in;
                let spec = match &layer.kind {
                    Kind::Dense { units, .. } => WeightSpec {
                        shape: with_groups(&[fan_in, *units]),
                        fans: (fan_in, *units),
                        // Units are the last axis; biases broadcast over the rows.
                        unit_shape: match self.groups {
                            Some(_) => with_groups(&[1, *units]),
                            None => vec![*units],
                        },
                        bias_shape: match self.groups {
                            Some(_) => with_groups(&[1, *units]),
                            None => vec![*units],
                        },
                    },
                    Kind::Conv2d {
                        filters, kernel, ..
                    } => {
                        let taps = kernel[0] * kernel[1];
                        WeightSpec {
                            shape: self.conv_weight_shape(*filters, fan_in, *kernel),
                            // Keras' fans: kernel taps times channels in / out.
                            fans: (fan_in * taps, filters * taps),
                            unit_shape: with_groups(&[*filters, 1, 1, 1]),
                            // One per filter, broadcast over rows and pixels.
                            bias_shape: match self.groups {
                                Some(_) => with_groups(&[1, *filters, 1, 1]),
                                None => vec![*filters, 1, 1],
                            },
                        }
                    }
                    _ => return Ok(None),
                };
                let stream = settings.seed.wrapping_mul(31).wrapping_add(weight_index);
                weight_index += 1;
                self.build_layer(&layer.name, &spec, &settings, stream, fan_in)
                    .map(Some)
            })
            .collect()
    }

    fn flatten_input(&self, h: &Var, layer: &str) -> Result<Var> {
        let lead = self.lead();
        let n = flat_size(&h.static_shape()[lead..], layer)?;
        let keep = h.shape().slice_axis(0, 0..lead as i64)?;
        let feat = Var::constant(Tensor::vector(vec![n as i64]));
        h.reshape(Var::concatenate(&[keep, feat], 0)?)
    }

    /// Create a layer's weights (and bias) in the model.
    fn build_layer(
        &self,
        layer: &str,
        spec: &WeightSpec,
        settings: &LayerSettings,
        seed: u64,
        fan_in: usize,
    ) -> Result<Params> {
        let dt = self.model.dtype();
        let start = settings.init.draw(&spec.shape, spec.fans, dt, seed)?;
        let w = prior::weights(
            &self.model,
            settings.prior,
            &format!("{layer}.w"),
            (&spec.shape, self.groups.is_some()),
            &spec.unit_shape,
            start,
        )?;
        let b = if settings.bias {
            let b = self
                .model
                .normal(
                    &format!("{layer}.b"),
                    0.0,
                    settings.bias_sd,
                    spec.bias_shape.as_slice(),
                )?
                .init(Tensor::zeros(dt, &spec.bias_shape));
            Some(b.var().clone())
        } else {
            None
        };
        Ok(Params { w, b, fan_in })
    }
}

/// The shapes of one layer's parameters.
struct WeightSpec {
    shape: Vec<usize>,
    /// (fan-in, fan-out) for the initial values' scale.
    fans: (usize, usize),
    /// A per-unit scale's shape (units kept, other axes 1).
    unit_shape: Vec<usize>,
    bias_shape: Vec<usize>,
}

/// The settings a layer with weights took when it was added.
struct LayerSettings<'a> {
    bias: bool,
    prior: &'a Prior,
    bias_sd: f64,
    init: Init,
    seed: u64,
}

impl LayerSettings<'_> {
    fn of(kind: &Kind) -> Option<LayerSettings<'_>> {
        match kind {
            Kind::Dense {
                bias,
                prior,
                bias_sd,
                init,
                seed,
                ..
            }
            | Kind::Conv2d {
                bias,
                prior,
                bias_sd,
                init,
                seed,
                ..
            } => Some(LayerSettings {
                bias: *bias,
                prior,
                bias_sd: *bias_sd,
                init: *init,
                seed: *seed,
            }),
            _ => None,
        }
    }
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential")
            .field("name", &self.name)
            .field("groups", &self.groups)
            .field("layers", &self.layers)
            .finish()
    }
}

/// The feature size of a dense layer's input of static `shape`: its last
/// axis. Without groups, axes before it are batch axes (as Keras' and
/// PyTorch's dense layers); with groups the input is `[groups, rows,
/// features]`.
fn features(shape: &[Option<usize>], grouped: bool, layer: &str) -> Result<usize> {
    // Rows (and groups) before the features.
    let fits = if grouped {
        shape.len() == 3
    } else {
        shape.len() >= 2
    };
    let dims = || {
        shape
            .iter()
            .map(|d| d.map_or("?".to_string(), |d| d.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !fits {
        return Err(Error::shape(format!(
            "{layer}: a dense layer takes {}, the input is [{}] (add .flatten() before it)",
            if grouped {
                "[groups, rows, features]"
            } else {
                "rows and features"
            },
            dims()
        )));
    }
    shape[shape.len() - 1].ok_or_else(|| {
        Error::shape(format!(
            "{layer}: the input's feature axis has no static size ([{}]); give the input a fixed number of features",
            dims()
        ))
    })
}

/// The product of static feature sizes, checked.
fn flat_size(dims: &[Option<usize>], layer: &str) -> Result<usize> {
    dims.iter().try_fold(1usize, |n, d| {
        let d = d.ok_or_else(|| {
            Error::shape(format!(
                "{layer}: the input's feature axes need static sizes"
            ))
        })?;
        n.checked_mul(d)
            .ok_or_else(|| Error::shape(format!("{layer}: the number of features overflows")))
    })
}
