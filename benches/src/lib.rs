//! Benchmarks live in this package's `[[bench]]` targets; run them with
//! `cargo bench -p theon-benches`. Models come from `theon_tests::models`
//! and `theon_examples::models`.

use std::time::Instant;

/// Median seconds per call of `f` over 9 batches of about 20 ms each
/// (after one warm-up call).
pub fn median_seconds(mut f: impl FnMut()) -> f64 {
    f();
    let t = Instant::now();
    f();
    let once = t.elapsed().as_secs_f64().max(1e-7);
    let reps = ((0.02 / once) as usize).clamp(1, 100_000);
    let mut samples: Vec<f64> = (0..9)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[4]
}
