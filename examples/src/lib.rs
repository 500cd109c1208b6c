//! Helpers shared by the examples (the programs are under `examples/`) and
//! the benchmarks: data sets, the examples' models, plots and timing
//! (command-line flags are each example's clap `Cli`).

pub mod calibration;
pub mod data;
pub mod flags;
pub mod models;
pub mod plot;
pub mod plot_classes;
pub mod stats;
pub mod timing;
