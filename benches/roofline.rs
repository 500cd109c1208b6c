//! The roofline: how close an ADVI step comes to the machine's single-core
//! FMA peak. Measures the peak (independent fused multiply-adds on the
//! widest vectors of each CPU level), then times full-batch ADVI steps of
//! the notebook's network (moons, 500 points) and of `bnn_deep`'s
//! 2-H-H-3 network for H in {32, 128, 512} and N in {750, 10000}, in f64
//! and f32, at every CPU level this machine supports, and prints us per
//! step, achieved GFLOP/s and the fraction of the machine's peak (its best
//! level's: matrix products use the widest kernels at every level, so a
//! lower level's own peak would not bound them). Each step is timed on
//! one thread (the % of peak) and again with every core (`JitOptions::
//! threads`), with the speedup.
//!
//! cargo bench -p theon-benches --bench roofline [-- --quick]
//!
//! FLOPs count the matrix products only (forward, weight gradients and the
//! hidden layers' input gradients: 2 N (a b) per product of [N, a] x
//! [a, b]); elementwise work (tanh, softmax, the ELBO's sampling) is not
//! counted, so small networks read low. Matrix products go through the
//! `gemm` crate, which picks its own kernels at run time whatever theon's
//! level; the level changes theon's own loops and kernels.
//! `--quick` runs the smaller shapes only. `--profile H N [f32|f64
//! [THREADS]]` prints instead the per-step profile (`JitOptions::profile`,
//! one thread by default) of the 2-H-H-3 step on N rows: where a step's
//! time goes; `--profile moons [f32|f64]` that of the moons step.

use std::time::{Duration, Instant};
use theon::compiler::CompileOptions;
use theon::compiler::codegen::{CpuLevel, JitOptions};
use theon::ppl::*;
use theon::prelude::*;
use theon_examples::data;
use theon_examples::models::{deep_bnn, moons_bnn};

/// Single-core peak GFLOP/s of independent FMAs at `level` (`f32` doubles
/// the lanes).
fn peak_gflops(level: CpuLevel, f32: bool) -> f64 {
    let n = 200_000_000u64;
    let t = Instant::now();
    let flops = fma_loop(level, f32, n);
    flops / t.elapsed().as_secs_f64() / 1e9
}

/// Run `n` iterations of a block of independent multiply-adds; the flops.
fn fma_loop(level: CpuLevel, f32: bool, n: u64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        match level {
            CpuLevel::Avx512 if std::is_x86_feature_detected!("avx512f") => {
                // SAFETY: AVX-512F was detected on this CPU just above.
                return unsafe { x86::avx512(f32, n / 4) };
            }
            CpuLevel::Avx2
                if std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma") =>
            {
                // SAFETY: AVX2 and FMA were detected on this CPU just above.
                return unsafe { x86::avx2(f32, n / 2) };
            }
            _ => {}
        }
    }
    portable(f32, n / 2)
}

/// Twelve independent accumulators of plain mul + add, as the compiler
/// vectorizes them for the baseline target (SSE2 on x86-64).
fn portable(f32: bool, n: u64) -> f64 {
    let mut acc = [1.0f64; 12];
    let (a, b) = (
        std::hint::black_box(0.999_999f64),
        std::hint::black_box(1e-9f64),
    );
    if f32 {
        let mut acc = [1.0f32; 24];
        let (a, b) = (a as f32, b as f32);
        for _ in 0..n {
            for x in acc.iter_mut() {
                *x = *x * a + b;
            }
        }
        std::hint::black_box(acc);
        return (n * 24 * 2) as f64;
    }
    for _ in 0..n {
        for x in acc.iter_mut() {
            *x = *x * a + b;
        }
    }
    std::hint::black_box(acc);
    (n * 12 * 2) as f64
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// 12 independent 256-bit FMA chains (enough to cover the latency of
    /// two FMA ports).
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(f32: bool, n: u64) -> f64 {
        let mut acc = [_mm256_set1_pd(1.0); 12];
        let a = _mm256_set1_pd(std::hint::black_box(0.999_999));
        let b = _mm256_set1_pd(std::hint::black_box(1e-9));
        if f32 {
            let mut acc = [_mm256_set1_ps(1.0); 12];
            let (a, b) = (_mm256_castpd_ps(a), _mm256_castpd_ps(b));
            for _ in 0..n {
                for x in acc.iter_mut() {
                    *x = _mm256_fmadd_ps(*x, a, b);
                }
            }
            std::hint::black_box(acc);
            return (n * 12 * 8 * 2) as f64;
        }
        for _ in 0..n {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_pd(*x, a, b);
            }
        }
        std::hint::black_box(acc);
        (n * 12 * 4 * 2) as f64
    }

    /// 12 independent 512-bit FMA chains.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(f32: bool, n: u64) -> f64 {
        let mut acc = [_mm512_set1_pd(1.0); 12];
        let a = _mm512_set1_pd(std::hint::black_box(0.999_999));
        let b = _mm512_set1_pd(std::hint::black_box(1e-9));
        if f32 {
            let mut acc = [_mm512_set1_ps(1.0); 12];
            let (a, b) = (_mm512_castpd_ps(a), _mm512_castpd_ps(b));
            for _ in 0..n {
                for x in acc.iter_mut() {
                    *x = _mm512_fmadd_ps(*x, a, b);
                }
            }
            std::hint::black_box(acc);
            return (n * 12 * 16 * 2) as f64;
        }
        for _ in 0..n {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_pd(*x, a, b);
            }
        }
        std::hint::black_box(acc);
        (n * 12 * 8 * 2) as f64
    }
}

/// Matrix-product FLOPs of one ADVI step of an `in-h1-h2-...-out` network
/// on `n` rows: forward and weight gradient for every layer, input
/// gradient for every layer but the first.
fn step_flops(n: usize, sizes: &[usize]) -> f64 {
    sizes
        .windows(2)
        .enumerate()
        .map(|(k, w)| {
            let one = 2.0 * n as f64 * (w[0] * w[1]) as f64;
            if k == 0 { 2.0 * one } else { 3.0 * one }
        })
        .sum()
}

/// The benchmarked ADVI (Adam 0.01) of `model`, compiled with `options`.
fn adam_inference(model: &Model, options: CompileOptions) -> Result<Inference> {
    model.inference(
        Advi::new()
            .optimizer(Optimizer::adam().with_learning_rate(0.01))
            .progressbar(false)
            .compile_options(options),
    )
}

/// Median seconds per ADVI step (after warm-up steps), within about
/// `budget` of stepping.
fn time_step(model: &Model, level: CpuLevel, threads: usize, budget: Duration) -> Result<f64> {
    let options = CompileOptions {
        jit: JitOptions {
            cpu: Some(level),
            threads: Some(threads),
            ..JitOptions::default()
        },
        ..CompileOptions::default()
    };
    let mut inf = adam_inference(model, options)?;
    inf.fit(3)?;
    let step = inf.step_function();
    let none: [Tensor; 0] = [];
    let mut outs = vec![];
    let mut times = vec![];
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < budget && times.len() < 2000) {
        let t = Instant::now();
        step.call_into(&none, &mut outs)?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Peak resident memory of this process so far (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The 2-H-H-3 network of `bnn_deep` on `n` spiral points.
fn deep_model(h: usize, n: usize, dtype: DType) -> Result<Model> {
    let (mut x, y) = data::spiral(n.div_ceil(3), 3, 0.2, 7)?;
    data::standardize(&mut x);
    let x = Tensor::new(
        x.iter().take(n).flat_map(|p| *p).collect::<Vec<f64>>(),
        &[n, 2],
    )?;
    let y = Tensor::vector(y.into_iter().take(n).collect::<Vec<i64>>());
    Ok(deep_bnn(&x, &y, h, 3, None, 0, dtype)?.model)
}

/// `--profile H N [f32|f64 [THREADS]]`: the step's profile (one thread by
/// default; a profiled function runs split loops and batch regions on one
/// thread, its products and wide-math passes on all of them).
fn profile(args: &[String]) -> Result<()> {
    let bad =
        || Error::shape("usage: --profile H N [f32|f64 [THREADS]] or --profile moons [f32|f64]");
    let moons = args.first().map(String::as_str) == Some("moons");
    let (h, n, rest) = if moons {
        (5, 500, &args[1..])
    } else {
        let h: usize = args.first().and_then(|a| a.parse().ok()).ok_or_else(bad)?;
        let n: usize = args.get(1).and_then(|a| a.parse().ok()).ok_or_else(bad)?;
        (h, n, &args[2.min(args.len())..])
    };
    let dtype = match rest.first().map(String::as_str) {
        None | Some("f64") => DType::F64,
        Some("f32") => DType::F32,
        Some(_) => return Err(bad()),
    };
    let threads: usize = match rest.get(1) {
        None => 1,
        Some(t) => t.parse().map_err(|_| bad())?,
    };
    let options = CompileOptions {
        jit: JitOptions {
            threads: Some(threads),
            profile: true,
            ..JitOptions::default()
        },
        ..CompileOptions::default()
    };
    let (model, name) = if moons {
        let (mut x, y) = data::moons(1000, 0.2, 0)?;
        data::standardize(&mut x);
        let d = data::split(&x, &y, 0.5, 0)?;
        (
            moons_bnn(&d.x_train, &d.y_train, 0, dtype, None)?.model,
            "2-5-5-1".to_string(),
        )
    } else {
        (deep_model(h, n, dtype)?, format!("2-{h}-{h}-3"))
    };
    let mut inf = adam_inference(&model, options)?;
    inf.fit(if moons { 2000 } else { 20 })?;
    let report = inf.step_function().profile().ok_or_else(bad)?;
    let text = report.to_string();
    println!("{name}, N {n}, {dtype}, {threads} thread(s):");
    for line in text.lines().take(25) {
        println!("{line}");
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        // cargo bench appends `--bench`.
        let rest: Vec<String> = args[i + 1..]
            .iter()
            .filter(|a| *a != "--bench")
            .cloned()
            .collect();
        return profile(&rest);
    }
    let quick = args.iter().any(|a| a == "--quick");
    let levels = CpuLevel::supported();
    println!(
        "roofline: full-batch ADVI steps (Adam), median of repeated steps; one thread, then every core"
    );
    let mut peaks = vec![];
    for &level in levels.iter().rev() {
        let (p64, p32) = (peak_gflops(level, false), peak_gflops(level, true));
        println!(
            "peak at {:<8}: {p64:6.1} GFLOP/s f64, {p32:6.1} GFLOP/s f32",
            level.name()
        );
        peaks.push((level, p64, p32));
    }
    let moons = {
        let (mut x, y) = data::moons(1000, 0.2, 0)?;
        data::standardize(&mut x);
        data::split(&x, &y, 0.5, 0)?
    };
    let mut shapes: Vec<(usize, usize)> = vec![(32, 750), (128, 750), (32, 10_000), (128, 10_000)];
    if !quick {
        shapes.extend([(512, 750), (512, 10_000)]);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "\n{:<26} {:<8} {:>5} {:>12} {:>9} {:>7} {:>16} {:>8}",
        "network",
        "level",
        "dtype",
        "us/step",
        "GFLOP/s",
        "% peak",
        format!("us, {cores} threads"),
        "speedup"
    );
    let (_, top64, top32) = peaks[0];
    for &(level, _, _) in &peaks {
        for dtype in [DType::F64, DType::F32] {
            let peak = if dtype == DType::F64 { top64 } else { top32 };
            let row = |name: String, model: &Model, flops: f64, budget| -> Result<()> {
                let s = time_step(model, level, 1, budget)?;
                let g = flops / s / 1e9;
                let many = if cores > 1 {
                    time_step(model, level, cores, budget)?
                } else {
                    s
                };
                println!(
                    "{name:<26} {:<8} {:>5} {:>12.1} {g:>9.2} {:>6.1}% {:>16.1} {:>7.2}x",
                    level.name(),
                    dtype.to_string(),
                    s * 1e6,
                    100.0 * g / peak,
                    many * 1e6,
                    s / many
                );
                Ok(())
            };
            let m = moons_bnn(&moons.x_train, &moons.y_train, 0, dtype, None)?;
            row(
                "moons 2-5-5-1, N 500".into(),
                &m.model,
                step_flops(500, &[2, 5, 5, 1]),
                Duration::from_millis(500),
            )?;
            for &(h, n) in &shapes {
                row(
                    format!("deep 2-{h}-{h}-3, N {n}"),
                    &deep_model(h, n, dtype)?,
                    step_flops(n, &[2, h, h, 3]),
                    Duration::from_secs(1),
                )?;
            }
        }
    }
    if let Some(mib) = peak_rss_mib() {
        println!("\npeak RSS of the run: {mib:.0} MiB");
    }
    Ok(())
}
