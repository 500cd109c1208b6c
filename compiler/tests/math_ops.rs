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
    // every kernel is straight-line: counts must not depend on the input
    for x in [-1e300, -3.0, 0.0, 1e-310, 2.5, 1e300, f64::NAN] {
        let mut b = CountingBuilder::new(ScalarF64);
        theon_compiler::codegen::math::tanh(&mut b, x);
        assert_eq!(b.counts, rows[4].1.0);
    }
}
