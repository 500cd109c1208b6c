//! Accuracy tests: max ulp error per function and precision over ~1e6 random
//! inputs (log-uniform over the whole domain + uniform over the interesting
//! ranges) plus edge inputs. Fails if F64 > 4 ulp or F32 > 2 ulp anywhere.
//! Run: cargo test -p theon-compiler --test math_ulp -- --nocapture
#![allow(clippy::approx_constant, clippy::excessive_precision)]
mod common;
use common::*;
use theon_compiler::codegen::math::scalar::{ScalarF32, ScalarF64};

/// The documented bounds (docs/math-kernels.md): the largest error seen
/// on the sampled and edge inputs, for every kernel.
const BOUND64: f64 = 2.25;
const BOUND32: f64 = 1.61;
/// Random inputs per function and precision: 200k in the normal test run
/// (debug build), `THEON_ULP_SAMPLES=1000000` for the full tables.
fn n_random() -> usize {
    std::env::var("THEON_ULP_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000)
}

type K64 = fn(&mut ScalarF64, f64) -> f64;
type K32 = fn(&mut ScalarF32, f32) -> f32;
type Ref = fn(f64) -> DD;

#[derive(Clone, Copy)]
enum Dist {
    /// |x| log-uniform, binary exponents [e0, e1), optional random sign
    LogU(f64, f64, bool),
    /// uniform [a, b)
    Uni(f64, f64),
    /// random bit patterns (all finite values, both signs)
    Bits,
}

struct Func {
    name: &'static str,
    k64: K64,
    k32: K32,
    r64: Ref,
    r32: Ref,
    /// (weight, distribution) for the random inputs
    dists: &'static [(f64, Dist)],
    edges: &'static [f64],
}

macro_rules! r {
    ($e:expr) => {{
        fn g(x: f64) -> DD {
            DD($e(x), 0.0)
        }
        g as Ref
    }};
}

const COMMON_EDGES: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -0.5,
    2.0,
    -2.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    f64::MIN_POSITIVE,
    -f64::MIN_POSITIVE,
    4.9e-324,
    -4.9e-324,
    2.2250738585072009e-308,
    -2.2250738585072009e-308,
    f64::MAX,
    -f64::MAX,
    f64::EPSILON,
    -f64::EPSILON,
    1e-300,
    -1e-300,
    1.1754943508222875e-38,
    1.401298464324817e-45,
    -1.401298464324817e-45,
    3.4028234663852886e38,
    -3.4028234663852886e38,
    1e-20,
    -1e-20,
    1e-10,
    -1e-10,
];

fn funcs() -> Vec<Func> {
    use theon_compiler::codegen::math as m;
    vec![
        Func {
            name: "exp",
            k64: m::exp::<ScalarF64>,
            k32: m::exp::<ScalarF32>,
            r64: r!(f64::exp),
            r32: r!(f64::exp),
            dists: &[
                (0.2, Dist::Bits),
                (0.2, Dist::LogU(-60.0, 10.0, true)),
                (0.4, Dist::Uni(-745.2, 709.8)),
                (0.1, Dist::Uni(-104.0, 89.0)),
                (0.1, Dist::Uni(-1.0, 1.0)),
            ],
            edges: &[
                709.78,
                709.782712893384,
                709.7827128933841,
                709.79,
                710.0,
                -708.39,
                -708.4,
                -745.13,
                -745.1332191019411,
                -745.1332191019412,
                -745.14,
                -745.2,
                -746.0,
                -800.0,
                88.72,
                88.7228,
                88.7229,
                88.73,
                -87.33,
                -87.34,
                -103.27,
                -103.97,
                -103.98,
                -104.0,
                0.34657359027997264,
                -0.34657359027997264,
                1e-17,
                -1e-17,
            ],
        },
        Func {
            name: "expm1",
            k64: m::expm1::<ScalarF64>,
            k32: m::expm1::<ScalarF32>,
            r64: r!(f64::exp_m1),
            r32: r!(f64::exp_m1),
            dists: &[
                (0.2, Dist::Bits),
                (0.3, Dist::LogU(-60.0, 10.0, true)),
                (0.3, Dist::Uni(-40.0, 709.8)),
                (0.2, Dist::Uni(-1.0, 1.0)),
            ],
            edges: &[
                709.78,
                709.79,
                -37.0,
                -38.0,
                -40.0,
                -50.0,
                88.72,
                88.73,
                -17.0,
                -18.0,
                1e-17,
                -1e-17,
                0.34657359027997264,
                -0.34657359027997264,
                0.35,
                -0.35,
            ],
        },
        Func {
            name: "log",
            k64: m::log::<ScalarF64>,
            k32: m::log::<ScalarF32>,
            r64: r!(f64::ln),
            r32: r!(f64::ln),
            dists: &[
                (0.4, Dist::Bits),
                (0.3, Dist::Uni(0.5, 2.0)),
                (0.3, Dist::Uni(0.0, 100.0)),
            ],
            edges: &[
                0.7071067811865476,
                0.7071067811865475,
                1.4142135623730951,
                1.0000000000000002,
                0.9999999999999999,
                1.0000001,
                0.99999994,
            ],
        },
        Func {
            name: "log1p",
            k64: m::log1p::<ScalarF64>,
            k32: m::log1p::<ScalarF32>,
            r64: r!(f64::ln_1p),
            r32: r!(f64::ln_1p),
            dists: &[
                (0.3, Dist::Bits),
                (0.2, Dist::LogU(-60.0, 0.0, true)),
                (0.3, Dist::Uni(-1.0, 1.0)),
                (0.2, Dist::Uni(-1.0, 100.0)),
            ],
            edges: &[
                -0.9999999999999999,
                -0.99999994,
                -0.29289321881345254,
                0.41421356237309503,
                1e300,
                1.7e308,
                3e38,
                -1.5,
                1e-17,
                -1e-17,
            ],
        },
        Func {
            name: "tanh",
            k64: m::tanh::<ScalarF64>,
            k32: m::tanh::<ScalarF32>,
            // glibc's tanh is off by up to ~2 ulp (e.g. x = -0.2516557875052393):
            // use a double-double reference so its error does not mask ours.
            r64: ref_tanh,
            r32: ref_tanh,
            dists: &[
                (0.2, Dist::Bits),
                (0.2, Dist::LogU(-60.0, 6.0, true)),
                (0.4, Dist::Uni(-50.0, 50.0)),
                (0.2, Dist::Uni(-1.0, 1.0)),
            ],
            edges: &[
                19.0,
                19.1,
                -19.06,
                20.0,
                21.0,
                9.0,
                9.01,
                10.0,
                0.17328679513998632,
                0.5493061443340549,
                0.55,
                -0.55,
                1e-17,
            ],
        },
        Func {
            name: "sigmoid",
            k64: m::sigmoid::<ScalarF64>,
            k32: m::sigmoid::<ScalarF32>,
            r64: ref_sigmoid,
            r32: ref_sigmoid,
            dists: &[
                (0.2, Dist::Bits),
                (0.2, Dist::LogU(-60.0, 10.0, true)),
                (0.4, Dist::Uni(-50.0, 50.0)),
                (0.2, Dist::Uni(-800.0, 800.0)),
            ],
            edges: &[
                36.7, 37.0, 38.0, -708.39, -708.4, -720.0, -744.4, -745.13, -745.14, -746.0,
                -87.33, -88.0, -103.9, -104.0, 16.6, 17.0, 1e-17,
            ],
        },
        Func {
            name: "softplus",
            k64: m::softplus::<ScalarF64>,
            k32: m::softplus::<ScalarF32>,
            r64: ref_softplus,
            r32: ref_softplus,
            dists: &[
                (0.2, Dist::Bits),
                (0.2, Dist::LogU(-60.0, 10.0, true)),
                (0.4, Dist::Uni(-50.0, 50.0)),
                (0.2, Dist::Uni(-800.0, 800.0)),
            ],
            edges: &[
                36.7, 37.0, -37.0, -708.39, -708.4, -720.0, -744.4, -745.13, -745.14, -746.0,
                -87.33, -88.0, -103.9, -104.0, 1e-17,
            ],
        },
        Func {
            name: "log_sigmoid",
            k64: m::log_sigmoid::<ScalarF64>,
            k32: m::log_sigmoid::<ScalarF32>,
            r64: ref_log_sigmoid,
            r32: ref_log_sigmoid,
            dists: &[
                (0.2, Dist::Bits),
                (0.2, Dist::LogU(-60.0, 10.0, true)),
                (0.4, Dist::Uni(-50.0, 50.0)),
                (0.2, Dist::Uni(-800.0, 800.0)),
            ],
            edges: &[
                36.7, 37.0, -37.0, 708.39, 708.4, 720.0, 744.4, 745.13, 745.14, 746.0, 87.33, 88.0,
                103.9, 104.0, 1e-17,
            ],
        },
        Func {
            name: "erf",
            k64: m::erf::<ScalarF64>,
            k32: m::erf::<ScalarF32>,
            r64: r!(libm::erf),
            r32: r!(libm::erf),
            dists: &[
                (0.2, Dist::Bits),
                (0.2, Dist::LogU(-60.0, 3.0, true)),
                (0.4, Dist::Uni(-7.0, 7.0)),
                (0.2, Dist::Uni(-1.5, 1.5)),
            ],
            edges: &[
                0.75,
                0.7499999999999999,
                1.0,
                0.9999999999999999,
                5.8,
                5.9,
                5.99,
                6.0,
                6.01,
                3.9,
                3.92,
                4.0,
                1e-17,
            ],
        },
        Func {
            name: "sin",
            k64: m::sin::<ScalarF64>,
            k32: m::sin::<ScalarF32>,
            r64: r!(f64::sin),
            r32: r!(f64::sin),
            dists: &[
                (0.2, Dist::Bits),
                (0.2, Dist::LogU(-60.0, 40.0, true)),
                (0.3, Dist::Uni(-10.0, 10.0)),
                (0.2, Dist::Uni(-1e4, 1e4)),
                (0.1, Dist::LogU(10.0, 29.0, true)),
            ],
            edges: &[
                3.141592653589793,
                6.283185307179586,
                1.5707963267948966,
                355.0,
                103993.0,
                268435456.0,
                268435457.0,
                65536.0,
                65537.0,
                1e6,
                1e8,
                1e22,
                3.14159274,
                1.57079637,
            ],
        },
        Func {
            name: "cos",
            k64: m::cos::<ScalarF64>,
            k32: m::cos::<ScalarF32>,
            r64: r!(f64::cos),
            r32: r!(f64::cos),
            dists: &[
                (0.2, Dist::Bits),
                (0.2, Dist::LogU(-60.0, 40.0, true)),
                (0.3, Dist::Uni(-10.0, 10.0)),
                (0.2, Dist::Uni(-1e4, 1e4)),
                (0.1, Dist::LogU(10.0, 29.0, true)),
            ],
            edges: &[
                3.141592653589793,
                6.283185307179586,
                1.5707963267948966,
                4.71238898038469,
                355.0,
                103993.0,
                268435456.0,
                268435457.0,
                65536.0,
                65537.0,
                1e6,
                1e8,
                1e22,
                3.14159274,
                1.57079637,
            ],
        },
    ]
}

#[derive(Clone, Copy, Default)]
struct Stat {
    max: f64,
    at: f64,
    n: usize,
}
impl Stat {
    fn add(&mut self, e: f64, x: f64) {
        self.n += 1;
        if e > self.max || (e.is_nan() && !self.max.is_nan()) {
            self.max = e;
            self.at = x;
        }
    }
}

fn sample(rng: &mut Rng, d: Dist, f32mode: bool) -> f64 {
    match d {
        Dist::LogU(a, b, s) => {
            let (a, b) = if f32mode {
                (a.max(-149.0), b.min(128.0))
            } else {
                (a, b)
            };
            rng.log_uniform(a, b, s)
        }
        Dist::Uni(a, b) => rng.uniform(a, b),
        Dist::Bits => {
            if f32mode {
                rng.bits_f32(0, 254, true) as f64
            } else {
                rng.bits_f64(0, 2046, true)
            }
        }
    }
}

/// Hard cases for the trig reductions: doubles nearest to multiples of pi/2.
fn trig_hard(n: usize) -> Vec<f64> {
    let mut v = Vec::new();
    let mut rng = Rng(7);
    for _ in 0..n {
        let k = (rng.unit() * 2f64.powi(28) / 1.6).floor()
            * if rng.next_u64() & 1 == 1 { 1.0 } else { -1.0 };
        let k = if rng.next_u64().is_multiple_of(4) {
            (rng.unit() * 2000.0).floor()
        } else {
            k
        };
        let x = k * std::f64::consts::FRAC_PI_2;
        v.push(x);
        v.push(f64::from_bits(x.to_bits().wrapping_add(1)));
        v.push(f64::from_bits(x.to_bits().wrapping_sub(1)));
        let x32 = (k * std::f64::consts::FRAC_PI_2) as f32;
        v.push(x32 as f64);
        v.push(f32::from_bits(x32.to_bits().wrapping_add(1)) as f64);
    }
    v
}

struct Row {
    name: &'static str,
    s64: Stat,
    s32: Stat,
    e64: Stat,
    e32: Stat,
}

fn run(f: &Func, seed: u64) -> Row {
    let mut b64 = ScalarF64;
    let mut b32 = ScalarF32;
    let mut row = Row {
        name: f.name,
        s64: Stat::default(),
        s32: Stat::default(),
        e64: Stat::default(),
        e32: Stat::default(),
    };
    let tw: f64 = f.dists.iter().map(|d| d.0).sum();
    let mut rng = Rng(seed);
    for (w, d) in f.dists {
        let n = (n_random() as f64 * w / tw) as usize;
        for _ in 0..n {
            let x = sample(&mut rng, *d, false);
            let r = (f.r64)(x);
            row.s64.add(err64((f.k64)(&mut b64, x), r.0, r.1), x);
            let x32 = sample(&mut rng, *d, true) as f32;
            let r = (f.r32)(x32 as f64);
            row.s32
                .add(err32((f.k32)(&mut b32, x32), r.0, r.1), x32 as f64);
        }
    }
    let mut edges: Vec<f64> = COMMON_EDGES.iter().chain(f.edges.iter()).copied().collect();
    // neighbours and negations of the edges
    for &e in COMMON_EDGES.iter().chain(f.edges.iter()) {
        if e.is_finite() {
            edges.push(-e);
            edges.push(f64::from_bits(e.to_bits().wrapping_add(1)));
            edges.push(f64::from_bits(e.to_bits().wrapping_sub(1)));
            let e32 = e as f32;
            edges.push(f32::from_bits(e32.to_bits().wrapping_add(1)) as f64);
            edges.push(f32::from_bits(e32.to_bits().wrapping_sub(1)) as f64);
        }
    }
    if f.name == "sin" || f.name == "cos" {
        edges.extend(trig_hard(20000));
    }
    // subnormal sweep
    for i in 0..64 {
        edges.push(f64::from_bits(1u64 << i));
        edges.push(f32::from_bits(1u32 << (i % 32)) as f64);
    }
    for &x in &edges {
        if x.is_nan() || x.is_finite() || x.is_infinite() {
            let r = (f.r64)(x);
            row.e64.add(err64((f.k64)(&mut b64, x), r.0, r.1), x);
            let x32 = x as f32;
            let r = (f.r32)(x32 as f64);
            row.e32
                .add(err32((f.k32)(&mut b32, x32), r.0, r.1), x32 as f64);
        }
    }
    row
}

// ------------------------------------------------------------------ pow
fn pow_inputs(rng: &mut Rng, f32mode: bool) -> (f64, f64) {
    let lim = if f32mode { 125.0 } else { 1020.0 };
    match rng.next_u64() % 6 {
        // x log-uniform positive, y log-uniform signed
        0 => (
            rng.log_uniform(-lim, lim, false),
            rng.log_uniform(-30.0, 12.0, true),
        ),
        // |y log x| spread up to the overflow / underflow thresholds
        1 | 2 => {
            let x = if rng.next_u64() & 1 == 0 {
                rng.uniform(0.0, 4.0)
            } else {
                rng.log_uniform(-lim, lim, false)
            };
            let t = rng.uniform(
                -if f32mode { 104.0 } else { 746.0 },
                if f32mode { 89.0 } else { 710.0 },
            );
            let l = x.ln();
            let y = if l != 0.0 { t / l } else { 1.0 };
            let y = if f32mode { y as f32 as f64 } else { y };
            (x, y)
        }
        // x near 1, large y
        3 => {
            let x = 1.0 + rng.log_uniform(-50.0, -1.0, true);
            let y = rng.log_uniform(0.0, 50.0, true);
            (x, y)
        }
        // negative x, integer y
        4 => {
            let x = -rng.log_uniform(-10.0, 10.0, false);
            let y = (rng.uniform(-300.0, 300.0)).round();
            (x, y)
        }
        // uniform box
        _ => (rng.uniform(0.0, 10.0), rng.uniform(-10.0, 10.0)),
    }
}

fn pow_row() -> Row {
    let mut b64 = ScalarF64;
    let mut b32 = ScalarF32;
    let mut row = Row {
        name: "pow",
        s64: Stat::default(),
        s32: Stat::default(),
        e64: Stat::default(),
        e32: Stat::default(),
    };
    let mut rng = Rng(99);
    let mut worst64 = (0.0, 0.0, 0.0);
    let mut worst32 = (0.0, 0.0, 0.0);
    for _ in 0..n_random() {
        let (x, y) = pow_inputs(&mut rng, false);
        let e = err64(
            theon_compiler::codegen::math::pow(&mut b64, x, y),
            x.powf(y),
            0.0,
        );
        if e > worst64.0 || e.is_nan() {
            worst64 = (e, x, y);
        }
        row.s64.add(e, x);
        let (x, y) = pow_inputs(&mut rng, true);
        let (x, y) = (x as f32, y as f32);
        let e = err32(
            theon_compiler::codegen::math::pow(&mut b32, x, y),
            (x as f64).powf(y as f64),
            0.0,
        );
        if e > worst32.0 || e.is_nan() {
            worst32 = (e, x as f64, y as f64);
        }
        row.s32.add(e, x as f64);
    }
    println!("pow worst random: f64 {:?}  f32 {:?}", worst64, worst32);
    // special grid
    let sp: Vec<f64> = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -0.5,
        2.0,
        -2.0,
        3.0,
        -3.0,
        1.5,
        -1.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        4.9e-324,
        -4.9e-324,
        f64::MAX,
        -f64::MAX,
        f64::MIN_POSITIVE,
        1e-310,
        1024.0,
        -1074.0,
        -1075.0,
        1023.0,
        0.1,
        1e10,
        2f64.powi(53),
        2f64.powi(53) + 2.0,
        2f64.powi(52) + 1.0,
        -(2f64.powi(52) + 1.0),
        1e300,
    ];
    let mut worst = (0.0, 0.0, 0.0);
    for &x in &sp {
        for &y in &sp {
            let e = err64(
                theon_compiler::codegen::math::pow(&mut b64, x, y),
                x.powf(y),
                0.0,
            );
            if e > worst.0 || e.is_nan() {
                worst = (e, x, y);
            }
            row.e64.add(e, x);
            let (x32, y32) = (x as f32, y as f32);
            let e = err32(
                theon_compiler::codegen::math::pow(&mut b32, x32, y32),
                (x32 as f64).powf(y32 as f64),
                0.0,
            );
            if e > worst32.0 || e.is_nan() {
                worst32 = (e, x32 as f64, y32 as f64);
            }
            row.e32.add(e, x32 as f64);
        }
    }
    // exact powers of two into the subnormal range, and integer powers
    for k in -1080..1030 {
        let x = 2.0f64;
        let y = k as f64;
        let e = err64(
            theon_compiler::codegen::math::pow(&mut b64, x, y),
            x.powf(y),
            0.0,
        );
        if e > worst.0 {
            worst = (e, x, y);
        }
        row.e64.add(e, x);
        let e = err32(
            theon_compiler::codegen::math::pow(&mut b32, 2.0f32, k as f32),
            2f64.powf(k as f64),
            0.0,
        );
        row.e32.add(e, 2.0);
    }
    println!("pow worst special: f64 {:?} f32 {:?}", worst, worst32);
    row
}

fn fmt_stat(s: &Stat) -> String {
    format!("{:>9.3} @ {:<24}", s.max, format!("{:e}", s.at))
}

#[test]
fn ulp_table() {
    let fs = funcs();
    let mut rows: Vec<Row> = Vec::new();
    for (i, f) in fs.iter().enumerate() {
        rows.push(run(f, 1000 + i as u64));
    }
    rows.push(pow_row());
    println!();
    println!(
        "{:<12} | {:^36} | {:^36} | {:^36} | {:^36}",
        "function", "F64 random (max ulp @ x)", "F64 edges", "F32 random", "F32 edges"
    );
    let mut fails = Vec::new();
    for r in &rows {
        println!(
            "{:<12} | {} | {} | {} | {}",
            r.name,
            fmt_stat(&r.s64),
            fmt_stat(&r.e64),
            fmt_stat(&r.s32),
            fmt_stat(&r.e32)
        );
        for (s, bound, what) in [
            (&r.s64, BOUND64, "F64 random"),
            (&r.e64, BOUND64, "F64 edges"),
            (&r.s32, BOUND32, "F32 random"),
            (&r.e32, BOUND32, "F32 edges"),
        ] {
            if !(s.max <= bound) {
                fails.push(format!(
                    "{} {}: {} ulp at x = {:e}",
                    r.name, what, s.max, s.at
                ));
            }
        }
    }
    println!(
        "({} random inputs per function and precision; bounds: F64 {} ulp, F32 {} ulp)",
        n_random(),
        BOUND64,
        BOUND32
    );
    assert!(
        fails.is_empty(),
        "ulp bound exceeded:\n{}",
        fails.join("\n")
    );
}
