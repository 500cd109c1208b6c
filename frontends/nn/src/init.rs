//! Initial values of a layer's weights: seeded normal draws scaled by the
//! layer's fan-in and fan-out (Glorot, He, LeCun) or by a fixed standard
//! deviation.

use theon_tensor::{DType, Result, Tensor};

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
            Init::Glorot => (2.0 / (fan_in + fan_out).max(1) as f64).sqrt(),
            Init::He => (2.0 / fan_in.max(1) as f64).sqrt(),
            Init::LeCun => (1.0 / fan_in.max(1) as f64).sqrt(),
            Init::Normal(sd) => sd,
        }
    }

    /// A draw of `shape` from stream `seed`.
    pub(crate) fn draw(
        self,
        shape: &[usize],
        (fan_in, fan_out): (usize, usize),
        dtype: DType,
        seed: u64,
    ) -> Result<Tensor> {
        let sd = self.sd(fan_in, fan_out);
        let z = Tensor::randn(DType::F64, shape, seed);
        let v: Vec<f64> = z.iter_f64().map(|v| v * sd).collect();
        Ok(Tensor::new(v, shape)?.cast(dtype))
    }
}
