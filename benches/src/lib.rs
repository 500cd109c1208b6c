//! Benchmarks live in this package's `[[bench]]` targets; run them with
//! `cargo bench -p theon-benches`. Models come from `theon_tests::models`
//! and `theon_examples::models`.
