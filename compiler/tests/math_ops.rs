//! Operation counts per kernel (the per-element cost of the emitted code).
//! Run: cargo test -p theon-compiler --test math_ops -- --nocapture ops_table
use theon_compiler::codegen::math::count::{CountingBuilder, OpCounts};
use theon_compiler::codegen::math::scalar::{ScalarF32, ScalarF64};

fn count64(f: fn(&mut CountingBuilder<ScalarF64>, f64) -> f64) -> OpCounts {
    let mut b = CountingBuilder::new(ScalarF64);
    f(&mut b, 0.7);
    b.counts
}
fn count32(f: fn(&mut CountingBuilder<ScalarF32>, f32) -> f32) -> OpCounts {
    let mut b = CountingBuilder::new(ScalarF32);
    f(&mut b, 0.7);
    b.counts
}

macro_rules! both {
    ($f:path) => {
        (count64($f), count32($f))
    };
}

fn row(name: &str, c: (OpCounts, OpCounts)) {
    let (a, b) = c;
    println!(
        "{:<12} | {:>4} {:>4} {:>4} {:>4} {:>4} {:>3} {:>4} | {:>4} {:>4} {:>4} {:>4} {:>4} {:>3} {:>4}",
        name,
        a.ops,
        a.fma,
        a.div_sqrt,
        a.int,
        a.mask_select,
        a.fallback,
        a.consts,
        b.ops,
        b.fma,
        b.div_sqrt,
        b.int,
        b.mask_select,
        b.fallback,
        b.consts
    );
}

#[test]
fn ops_table() {
    println!();
    println!("{:<12} | {:^36} | {:^36}", "function", "F64", "F32");
    println!(
        "{:<12} | {:>4} {:>4} {:>4} {:>4} {:>4} {:>3} {:>4} | {:>4} {:>4} {:>4} {:>4} {:>4} {:>3} {:>4}",
        "",
        "ops",
        "fma",
        "div",
        "int",
        "msk",
        "fb",
        "cst",
        "ops",
        "fma",
        "div",
        "int",
        "msk",
        "fb",
        "cst"
    );
    let rows: Vec<(&str, (OpCounts, OpCounts))> = vec![
        ("exp", both!(theon_compiler::codegen::math::exp)),
        ("expm1", both!(theon_compiler::codegen::math::expm1)),
        ("log", both!(theon_compiler::codegen::math::log)),
        ("log1p", both!(theon_compiler::codegen::math::log1p)),
        ("tanh", both!(theon_compiler::codegen::math::tanh)),
        ("sigmoid", both!(theon_compiler::codegen::math::sigmoid)),
        ("softplus", both!(theon_compiler::codegen::math::softplus)),
        (
            "log_sigmoid",
            both!(theon_compiler::codegen::math::log_sigmoid),
        ),
        ("erf", both!(theon_compiler::codegen::math::erf)),
        ("sin", both!(theon_compiler::codegen::math::sin)),
        ("cos", both!(theon_compiler::codegen::math::cos)),
    ];
    for (n, c) in &rows {
        row(n, *c);
    }
    let mut b = CountingBuilder::new(ScalarF64);
    theon_compiler::codegen::math::pow(&mut b, 0.7, 1.3);
    let mut c = CountingBuilder::new(ScalarF32);
    theon_compiler::codegen::math::pow(&mut c, 0.7f32, 1.3f32);
    row("pow", (b.counts, c.counts));
    println!(
        "ops = all non-constant trait calls (fma/div+sqrt/int+bitcast/mask+select/fallback are subsets); cst = hoistable constants"
    );
    // Every kernel is straight-line (what lets the JIT emit it on vector
    // lanes): its counts do not depend on the input, in either precision.
    use theon_compiler::codegen::math as m;
    type K64 = fn(&mut CountingBuilder<ScalarF64>, f64) -> f64;
    type K32 = fn(&mut CountingBuilder<ScalarF32>, f32) -> f32;
    let kernels: [(&str, K64, K32); 11] = [
        ("exp", m::exp, m::exp),
        ("expm1", m::expm1, m::expm1),
        ("log", m::log, m::log),
        ("log1p", m::log1p, m::log1p),
        ("tanh", m::tanh, m::tanh),
        ("sigmoid", m::sigmoid, m::sigmoid),
        ("softplus", m::softplus, m::softplus),
        ("log_sigmoid", m::log_sigmoid, m::log_sigmoid),
        ("erf", m::erf, m::erf),
        ("sin", m::sin, m::sin),
        ("cos", m::cos, m::cos),
    ];
    let inputs = [
        -1e300,
        -3.0,
        -0.0,
        0.0,
        1e-310,
        2.5,
        30.0,
        800.0,
        1e300,
        f64::INFINITY,
        f64::NAN,
    ];
    for ((name, k64, k32), (row_name, (c64, c32))) in kernels.iter().zip(&rows) {
        assert_eq!(name, row_name);
        for &x in &inputs {
            let mut b = CountingBuilder::new(ScalarF64);
            k64(&mut b, x);
            assert_eq!(
                b.counts, *c64,
                "{name} f64 at {x}: counts depend on the input"
            );
            let mut b = CountingBuilder::new(ScalarF32);
            k32(&mut b, x as f32);
            assert_eq!(
                b.counts, *c32,
                "{name} f32 at {x}: counts depend on the input"
            );
        }
        // The subsets of `ops` are subsets.
        for c in [c64, c32] {
            assert!(
                c.fma + c.div_sqrt + c.int + c.mask_select + c.fallback <= c.ops,
                "{name}: {c:?}"
            );
            assert!(c.ops > 0, "{name}: no operations counted");
        }
    }
}
