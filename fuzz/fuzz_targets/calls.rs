//! Bytes as a small program: an expression over two inputs and a resizable
//! shared variable of unknown dims, then calls with shapes and shared
//! swaps read from the bytes. Every call is Ok on both backends with the
//! same values, or an error on both: never a crash (the property test
//! `random_swaps_reshapes_and_shapes_are_ok_or_errors`, coverage-guided).
#![no_main]

use libfuzzer_sys::fuzz_target;
use theon::prelude::*;

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn shape(&mut self) -> Vec<usize> {
        let rank = (self.next() % 4) as usize;
        (0..rank).map(|_| (self.next() % 5) as usize).collect()
    }
}

fn expr(b: &mut Bytes, leaves: &[Var], depth: u32) -> Result<Var> {
    let k = b.next();
    if depth == 0 || k < 64 {
        return Ok(leaves[(k % 3) as usize].clone());
    }
    let a = expr(b, leaves, depth - 1)?;
    Ok(match k % 12 {
        0 => a.exp(),
        1 => a.tanh(),
        2 => (&a.square() + 1.0)?.log(),
        3 => a.sum()?,
        4 => a.sigmoid(),
        5 => (&a * &expr(b, leaves, depth - 1)?)?,
        6 => (&a + &expr(b, leaves, depth - 1)?)?,
        7 => (&a - &expr(b, leaves, depth - 1)?)?,
        8 if a.rank() >= 1 => a.sum_axes(&[0], false)?,
        9 => a.softplus(),
        10 if a.rank() >= 1 => a.max_axes(&[-1], true)?,
        _ => a.reshape([-1i64])?,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let dtype = if b.next() % 2 == 0 { DType::F64 } else { DType::F32 };
    let ranks: Vec<usize> = (0..3).map(|_| (b.next() % 3) as usize).collect();
    let x = Var::input("x", TensorType::new(dtype, vec![None; ranks[0]]));
    let y = Var::input("y", TensorType::new(dtype, vec![None; ranks[1]]));
    let s = shared_resizable("s", Tensor::full(0.5, dtype, &vec![1; ranks[2]]), &[]);
    let Ok(out) = expr(&mut b, &[x.clone(), y.clone(), s.clone()], 4) else {
        return;
    };
    let (Ok(jit), Ok(interp)) = (
        compile(&[&x, &y], &[&out]).mode(Mode::Jit).build(),
        compile(&[&x, &y], &[&out]).mode(Mode::Interpret).build(),
    ) else {
        return;
    };
    let fill = |shape: &[usize], k: u8| {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|i| ((i + k as usize) % 7) as f64 * 0.3 - 0.9).collect();
        Tensor::new(v, shape).unwrap().cast(dtype)
    };
    for _ in 0..(b.next() % 6) {
        if b.next() % 3 == 0 {
            let shape = b.shape();
            let _ = s.set_value(fill(&shape, b.next()));
        }
        let (sx, sy) = (b.shape(), b.shape());
        let args = [fill(&sx, b.next()), fill(&sy, b.next())];
        match (jit.call(&args), interp.call(&args)) {
            (Ok(a), Ok(c)) => {
                let (a, c) = (a[0].to_f64_vec(), c[0].to_f64_vec());
                assert_eq!(a.len(), c.len());
                for (p, q) in a.iter().zip(&c) {
                    let tol = if dtype == DType::F32 { 1e-4 } else { 1e-9 };
                    assert!(
                        (p - q).abs() <= tol * (1.0 + q.abs()) || (p.is_nan() && q.is_nan()) || p == q,
                        "jit {p} vs interpreter {q}"
                    );
                }
            }
            (Err(_), Err(_)) => {}
            (a, c) => panic!("jit {a:?} but interpreter {c:?}"),
        }
    }
});
