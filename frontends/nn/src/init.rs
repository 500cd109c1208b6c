//! Initial values of a layer's weights: seeded normal draws scaled by the
//! layer's fan-in and fan-out (Glorot, He, LeCun) or by a fixed standard
//! deviation.

use theon_tensor::{DType, Error, Result, Tensor};

/// How a layer's weights start (their `init` in the model).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Normal(0, sqrt(2 / (fan_in + fan_out))): Glorot/Xavier, the default.
    Glorot,
    /// Normal(0, sqrt(2 / fan_in)): He, for ReLU layers.
    He,
    /// Normal(0, sqrt(1 / fan_in)): LeCun.
    LeCun,
    /// Normal(0, sd) whatever the layer's size (the notebook's
    /// `np.random.randn` is `Normal(1.0)`).
    Normal(f64),
}

impl Init {
    /// The standard deviation for a layer of `fan_in` inputs and `fan_out`
    /// outputs.
    pub fn sd(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::Glorot => (2.0 / (fan_in as f64 + fan_out as f64).max(1.0)).sqrt(),
            Init::He => (2.0 / (fan_in as f64).max(1.0)).sqrt(),
            Init::LeCun => (1.0 / (fan_in as f64).max(1.0)).sqrt(),
            Init::Normal(sd) => sd,
        }
    }

    pub(crate) fn check(self, layer: &str) -> Result<()> {
        match self {
            Init::Normal(sd) if !(sd >= 0.0 && sd.is_finite()) => Err(Error::value(format!(
                "{layer}: Init::Normal needs a finite sd >= 0, got {sd}"
            ))),
            _ => Ok(()),
        }
    }

    /// A draw of `shape` from stream `seed`; a size that cannot be
    /// allocated is an error before anything is drawn.
    pub(crate) fn draw(
        self,
        shape: &[usize],
        (fan_in, fan_out): (usize, usize),
        dtype: DType,
        seed: u64,
    ) -> Result<Tensor> {
        let sd = self.sd(fan_in, fan_out);
        let n = theon_runtime::alloc::try_numel(shape)?;
        theon_runtime::alloc::try_bytes(n, DType::F64)?;
        let z = Tensor::randn(DType::F64, shape, seed);
        let v: Vec<f64> = z.iter_f64().map(|v| v * sd).collect();
        Ok(Tensor::new(v, shape)?.cast(dtype))
    }
}
