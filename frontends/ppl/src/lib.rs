//! theon-ppl: probabilistic models over theon expressions.
//!
//! This crate is where `Model`, the distributions, ADVI and `sample_node`
//! live; see the crate README for what exists so far.
