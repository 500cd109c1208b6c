//! Helpers shared by the examples (the programs are under `examples/`) and
//! the benchmarks: data sets, the examples' models, command-line flags,
//! plots and timing.

pub mod args;
pub mod data;
pub mod models;
pub mod plot;
pub mod stats;
pub mod timing;
