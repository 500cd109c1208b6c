//! theon: a symbolic tensor compiler in the line of Theano and PyTensor,
//! with a probabilistic-programming layer.
//!
//! Expressions over tensors are graphs; `grad` builds the gradient as more
//! graph; `function`/`compile` rewrite the graph and JIT-compile it with
//! Cranelift into a native function.
//!
//! ```
//! use theon::prelude::*;
//!
//! # fn main() -> Result<()> {
//! let x = vector("x");
//! let y = (x.square() * 3.0)?.sum()?;           // y = 3 Σ x²
//! let g = grad(&y, &[&x])?.remove(0);            // dy/dx = 6 x
//! let f = function(&[&x], &[&y, &g])?;
//! let out = f.call(&[Tensor::vector(vec![1.0, 2.0])])?;
//! assert_eq!(out[0].item::<f64>()?, 15.0);
//! assert_eq!(out[1].to_f64_vec(), [6.0, 12.0]);
//! # Ok(())
//! # }
//! ```
//!
//! Probabilistic models are PyMC's API over the same expressions
//! ([`ppl`]):
//!
//! ```
//! use theon::ppl::*;
//! use theon::prelude::*;
//!
//! # fn main() -> Result<()> {
//! let m = Model::new();
//! let mu = m.normal("mu", 0.0, 10.0, ())?;
//! m.normal("y", &mu, 1.0, ())?.observed(Tensor::vector(vec![1.9, 2.1, 2.0]));
//! let adam = Optimizer::adam().with_learning_rate(0.05);
//! let approx = m.fit(3_000, Advi::new().seed(0).optimizer(adam).progressbar(false))?;
//! let mean = approx.mean("mu")?.item::<f64>()?;
//! // The exact posterior is Normal(1.99, 0.58); one noisy ADVI run lands near it.
//! assert!((mean - 1.99).abs() < 0.3, "{mean}");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

/// Graph IR, type inference, `grad`, rewrites, the interpreter and the
/// Cranelift JIT (theon-compiler). Most users reach it through
/// [`prelude`]; the rewrite pipeline is here for inspection:
///
/// ```
/// use theon::compiler::rewrite::Rewrites;
/// use theon::prelude::*;
///
/// # fn main() -> Result<()> {
/// let x = vector("x");
/// let y = (x.exp().sum()?).log();                // rewritten to a stable logsumexp
/// let f = compile(&[&x], &[&y]).rewrites(Rewrites::All).build()?;
/// let big = f.call(&[Tensor::vector(vec![1000.0, 1000.0])])?;
/// assert!((big[0].item::<f64>()? - (1000.0 + 2f64.ln())).abs() < 1e-9);
/// # Ok(())
/// # }
/// ```
pub use theon_compiler as compiler;

/// Probabilistic models (theon-ppl): `Model`, distributions, transforms,
/// ADVI, `sample_node`, traces and predictive sampling.
///
/// ```
/// use theon::ppl::*;
/// use theon::prelude::*;
///
/// # fn main() -> Result<()> {
/// let m = Model::new();
/// let p = m.beta("p", 1.0, 1.0, ())?;
/// m.bernoulli("flips", &p)?.observed(Tensor::vector(vec![1.0, 1.0, 0.0, 1.0]));
/// let prior = sample_prior_predictive(&m, 100, 0)?;
/// assert_eq!(prior.get("flips")?.shape(), &[100, 4]);
/// # Ok(())
/// # }
/// ```
pub use theon_ppl as ppl;

/// Networks layer by layer on a model (theon-nn): Lasagne-style
/// `Sequential` with priors per layer, groups and hierarchical priors.
///
/// ```
/// use theon::nn;
/// use theon::ppl::*;
/// use theon::prelude::*;
///
/// # fn main() -> Result<()> {
/// let m = Model::new();
/// let x = m.data("x", Tensor::new(vec![0.5, -1.0, 2.0, 0.0], &[2, 2])?)?;
/// let net = nn::Sequential::new(&m, "net")
///     .prior(nn::Prior::learned(nn::Scale::HalfNormal(1.0)))
///     .dense(3, nn::Relu)?
///     .dense(1, nn::Sigmoid)?;
/// let p = net.forward(&x)?.squeeze(&[-1])?;
/// m.bernoulli("y", &p)?.observed(Tensor::vector(vec![1.0, 0.0]));
/// assert!(m.var("net.dense0.w_raw").is_ok() && m.var("net.dense0.w_scale").is_ok());
/// # Ok(())
/// # }
/// ```
pub use theon_nn as nn;

/// Tensors, dtypes, kernels and file formats (theon-runtime).
///
/// ```
/// use theon::runtime::{DType, Tensor};
///
/// let t = Tensor::new(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// assert_eq!(t.shape(), &[2, 2]);
/// assert_eq!(t.cast(DType::F32).dtype(), DType::F32);
/// assert_eq!(t.column(1).unwrap().to_f64_vec(), [2.0, 4.0]);
/// ```
pub use theon_runtime as runtime;

/// The tensor front end (theon-tensor): symbolic inputs, constants, shared
/// variables, random streams, `function`, `grad` and `vectorize`.
///
/// ```
/// use theon::tensor::*;
///
/// # fn main() -> Result<()> {
/// let w = shared("w", Tensor::vector(vec![0.0]));
/// let step = function(NO_INPUTS, &[&w])?;       // reads the current value
/// w.set_value(Tensor::vector(vec![3.0]))?;
/// assert_eq!(step.call::<Tensor>(&[])?[0].to_f64_vec(), [3.0]);
/// # Ok(())
/// # }
/// ```
pub use theon_tensor as tensor;

/// Everything a model or a training script usually needs: the tensor front
/// end and the file readers and writers.
///
/// ```
/// use theon::prelude::*;
///
/// # fn main() -> Result<()> {
/// let dir = std::env::temp_dir().join("theon_prelude_doc");
/// std::fs::create_dir_all(&dir).map_err(|e| Error::io(e.to_string()))?;
/// let path = dir.join("t.npy");
/// write_npy(&path, &Tensor::vector(vec![1.5, 2.5]))?;
/// assert_eq!(read_npy(&path)?.to_f64_vec(), [1.5, 2.5]);
/// # Ok(())
/// # }
/// ```
pub mod prelude {
    pub use theon_runtime::io::{read_csv, read_csv_column, read_npy, write_csv, write_npy};
    pub use theon_tensor::*;
}
