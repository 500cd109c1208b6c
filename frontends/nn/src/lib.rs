//! Networks built layer by layer, as with Lasagne or Keras, on a
//! [`theon_ppl::Model`]: each layer's weights are random variables of the
//! model with the layer's prior, and `forward` returns an ordinary theon
//! expression, so ADVI, NUTS, `find_map`, minibatches, `sample_node` and
//! `replace` work on it unchanged.
//!
//! ```
//! use theon_nn as nn;
//! use theon_ppl::Model;
//! use theon_tensor::{Result, Tensor, TensorType, DType, Var};
//!
//! # fn main() -> Result<()> {
//! let model = Model::new();
//! let x = Var::input("x", TensorType::new(DType::F64, vec![None, Some(2)]));
//! let net = nn::Sequential::new(&model, "net")
//!     .dense(5, nn::Tanh)?
//!     .dense(5, nn::Tanh)?
//!     .dense(1, nn::Sigmoid)?;
//! let p = net.forward(&x)?;
//! assert_eq!(model.var("net.dense0.w")?.static_shape().to_vec(), [Some(2), Some(5)]);
//! assert_eq!(p.static_shape().to_vec(), [None, Some(1)]);
//! # Ok(())
//! # }
//! ```

mod activation;
mod init;
mod prior;
mod sequential;

pub use activation::Activation::{self, Identity, Relu, Sigmoid, Softmax, Softplus, Tanh};
pub use init::Init;
pub use prior::{Prior, Scale};
pub use sequential::Sequential;
