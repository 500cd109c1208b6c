//! Helpers shared by the examples (the programs are under `examples/`).
