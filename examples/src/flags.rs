//! Parsing shared by the examples' command lines (each has its own clap
//! `Cli`).

use theon::ppl::Optimizer;
use theon::prelude::{DType, Error, Result};

/// `--dtype f32|f64` as a DType.
pub fn parse_dtype(flag: &str) -> Result<DType> {
    match flag {
        "f64" => Ok(DType::F64),
        "f32" => Ok(DType::F32),
        other => Err(Error::value(format!(
            "--dtype {other}: expected f32 or f64"
        ))),
    }
}

/// Adam from `--lr` decaying exponentially to `--lr-final` at the last of
/// `steps` steps (`lr_final == lr`: a constant rate).
pub fn decayed_adam(lr: f64, lr_final: f64, steps: usize) -> Result<Optimizer> {
    if !(lr > 0.0 && lr_final > 0.0 && lr_final <= lr) {
        return Err(Error::value(format!(
            "--lr {lr} and --lr-final {lr_final}: need 0 < lr-final <= lr"
        )));
    }
    let adam = Optimizer::adam().with_learning_rate(lr);
    Ok(if lr_final == lr {
        adam
    } else {
        adam.with_decay((lr_final / lr).powf(1.0 / steps.max(1) as f64))
    })
}
