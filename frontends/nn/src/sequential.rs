//! `Sequential`: a stack of layers on a model. Layers are declared first;
//! their weights become random variables of the model the first time the
//! network is applied, when the input's feature size is known. Applying it
//! again (to a test input, say) reuses the same weights.

use crate::activation::Activation;
use crate::init::Init;
use crate::prior::{self, Prior};
use std::sync::{Arc, Mutex};
use theon_ppl::Model;
use theon_tensor::{Error, Result, Tensor, Var};

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

/// A dense layer's random variables once built.
#[derive(Clone, Debug)]
struct Params {
    w: Var,
    b: Option<Var>,
    fan_in: usize,
}

/// A network built layer by layer on a model: weights are random
/// variables named `<net>.<layer>.w` / `.b` with the prior in force when
/// the layer was added. Settings (`prior`, `bias`, `init`, ...) apply to
/// the layers added after them.
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
    pub fn groups(mut self, g: usize) -> Sequential {
        self.groups = Some(g);
        self
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
    /// The seed of the initial values (weight tensor k draws from stream
    /// `seed * 31 + k`).
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

    fn push(mut self, kind_name: &str, kind: Kind) -> Result<Sequential> {
        if self.built.lock().map(|b| b.is_some()).unwrap_or(true) {
            return Err(Error::model(format!(
                "{}: layers cannot be added after the network has been applied",
                self.name
            )));
        }
        let name = self.layer_name(kind_name);
        self.layers.push(Layer { name, kind });
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
        self.prior.check(&name)?;
        if !(self.bias_sd > 0.0 && self.bias_sd.is_finite()) {
            return Err(Error::value(format!(
                "{name}: the bias prior's sd must be positive and finite, got {}",
                self.bias_sd
            )));
        }
        let kind = Kind::Dense {
            units,
            act,
            bias: self.bias,
            prior: self.prior.clone(),
            bias_sd: self.bias_sd,
            init: self.init,
        };
        self.push("dense", kind)
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
    /// rows, features...]` with groups). The first call creates the
    /// weights from `x`'s feature size; later calls check it.
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
                "{}: the input must have {} leading axes and features, got {}",
                self.name,
                if lead == 2 {
                    "group and row"
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
        let mut guard = self
            .built
            .lock()
            .map_err(|_| Error::model(format!("{}: a previous build panicked", self.name)))?;
        let first = guard.is_none();
        let mut params: Vec<Option<Params>> = guard
            .clone()
            .unwrap_or_else(|| vec![None; self.layers.len()]);
        let mut h = x.clone();
        let mut weight_index = 0u64;
        for (layer, slot) in self.layers.iter().zip(params.iter_mut()) {
            h = match &layer.kind {
                Kind::Activation(a) => a.apply(&h)?,
                Kind::Flatten => self.flatten_input(&h, &layer.name)?,
                Kind::Dense {
                    units,
                    act,
                    bias,
                    prior,
                    bias_sd,
                    init,
                } => {
                    let features = self.features(&h, &layer.name)?;
                    let p = match slot {
                        Some(p) => {
                            if p.fan_in != features {
                                return Err(Error::shape(format!(
                                    "{}: input has {features} features, the layer was built for {}",
                                    layer.name, p.fan_in
                                )));
                            }
                            p.clone()
                        }
                        None => {
                            let p = self.build_dense(
                                &layer.name,
                                (features, *units),
                                (*bias, prior, *bias_sd, *init),
                                self.seed.wrapping_mul(31).wrapping_add(weight_index),
                            )?;
                            *slot = Some(p.clone());
                            p
                        }
                    };
                    weight_index += 1;
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
            };
        }
        if first {
            *guard = Some(params);
        }
        Ok(h)
    }

    /// The feature size of a dense layer's input: its last axis. Without
    /// groups, axes before it are batch axes (as Keras' and PyTorch's
    /// dense layers); with groups the input is `[groups, rows, features]`.
    fn features(&self, h: &Var, layer: &str) -> Result<usize> {
        let lead = self.lead();
        let shape = h.static_shape();
        let fits = match self.groups {
            Some(_) => shape.len() == lead + 1,
            None => shape.len() > lead,
        };
        if !fits {
            return Err(Error::shape(format!(
                "{layer}: a dense layer takes {}, the input is {} (add .flatten() before it)",
                if self.groups.is_some() {
                    "[groups, rows, features]"
                } else {
                    "rows and features"
                },
                h.ty()
            )));
        }
        shape[shape.len() - 1].ok_or_else(|| {
            Error::shape(format!(
                "{layer}: the input's feature axis has no static size ({}); give the input a fixed number of features",
                h.ty()
            ))
        })
    }

    fn flatten_input(&self, h: &Var, layer: &str) -> Result<Var> {
        let lead = self.lead();
        let shape = h.static_shape();
        if shape.len() < lead + 1 {
            return Err(Error::shape(format!(
                "{layer}: nothing to flatten in {}",
                h.ty()
            )));
        }
        let mut n = 1usize;
        for d in &shape[lead..] {
            let d = d.ok_or_else(|| {
                Error::shape(format!(
                    "{layer}: the input's feature axes need static sizes, got {}",
                    h.ty()
                ))
            })?;
            n = n
                .checked_mul(d)
                .ok_or_else(|| Error::shape(format!("{layer}: {} features overflow", h.ty())))?;
        }
        let keep = h.shape().slice_axis(0, 0..lead as i64)?;
        let feat = Var::constant(Tensor::vector(vec![n as i64]));
        h.reshape(Var::concatenate(&[keep, feat], 0)?)
    }

    /// Create a dense layer's weights (and bias) in the model.
    fn build_dense(
        &self,
        layer: &str,
        (fan_in, fan_out): (usize, usize),
        (bias, prior, bias_sd, init): (bool, &Prior, f64, Init),
        seed: u64,
    ) -> Result<Params> {
        let dt = self.model.dtype();
        let shape: Vec<usize> = match self.groups {
            Some(g) => vec![g, fan_in, fan_out],
            None => vec![fan_in, fan_out],
        };
        let start = init.draw(&shape, (fan_in, fan_out), dt, seed)?;
        let w = prior::weights(
            &self.model,
            prior,
            &format!("{layer}.w"),
            &shape,
            self.groups,
            start,
        )?;
        let b = if bias {
            // Biases broadcast over the rows: [out], or [groups, 1, out].
            let b_shape: Vec<usize> = match self.groups {
                Some(g) => vec![g, 1, fan_out],
                None => vec![fan_out],
            };
            let b = self
                .model
                .normal(&format!("{layer}.b"), 0.0, bias_sd, b_shape.as_slice())?
                .init(Tensor::zeros(dt, &b_shape));
            Some(b.var().clone())
        } else {
            None
        };
        Ok(Params { w, b, fan_in })
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
