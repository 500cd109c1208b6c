//! Parsing shared by the examples' command lines (each has its own clap
//! `Cli`).

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
