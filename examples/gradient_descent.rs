//! Least squares by gradient descent: `grad` builds the gradient as an
//! expression, `function(.., updates)` applies one step per call, and the
//! result is compared with the normal-equations solution.
//!
//! cargo run --release --example gradient_descent

use theon::prelude::*;

fn main() -> Result<()> {
    // Data: y = 1.5 x0 - 0.5 x1 + 2 + noise.
    let n = 200;
    let xs = Tensor::randn(DType::F64, &[n, 2], 1);
    let noise = Tensor::randn(DType::F64, &[n], 2).to_f64_vec();
    let yv: Vec<f64> = xs
        .to_f64_vec()
        .chunks(2)
        .zip(&noise)
        .map(|(r, e)| 1.5 * r[0] - 0.5 * r[1] + 2.0 + 0.1 * e)
        .collect();
    let ys = Tensor::vector(yv.clone());

    // Model and one gradient step as a compiled function.
    let x = matrix("x");
    let y = vector("y");
    let w = shared("w", Tensor::vector(vec![0.0, 0.0]));
    let b = shared("b", Tensor::scalar(0.0));
    let pred = (x.dot(&w)? + &b)?;
    let cost = (&pred - &y)?.square().mean()?.named("mse");
    let g = grad(&cost, &[&w, &b])?;
    let lr = 0.1;
    let step = compile(&[&x, &y], &[&cost])
        .update(&w, &(&w - &(&g[0] * lr)?)?)
        .update(&b, &(&b - &(&g[1] * lr)?)?)
        .name("sgd_step")
        .build()?;

    for it in 0..=500 {
        let c = step.call(&[&xs, &ys])?;
        if it % 100 == 0 {
            println!("step {it:3}: mse = {:.6}", c[0].item::<f64>()?);
        }
    }
    let w_gd = w.get_value()?.to_f64_vec();
    let b_gd = b.get_value()?.item::<f64>()?;

    // The exact optimum from the normal equations (3x3, solved by Cramer's rule).
    let rows: Vec<[f64; 3]> = xs
        .to_f64_vec()
        .chunks(2)
        .map(|r| [r[0], r[1], 1.0])
        .collect();
    let mut a = [[0.0; 3]; 3];
    let mut t = [0.0; 3];
    for (r, yi) in rows.iter().zip(&yv) {
        for i in 0..3 {
            t[i] += r[i] * yi;
            for j in 0..3 {
                a[i][j] += r[i] * r[j];
            }
        }
    }
    let det3 = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det3(a);
    let exact: Vec<f64> = (0..3)
        .map(|k| {
            let mut m = a;
            for i in 0..3 {
                m[i][k] = t[i];
            }
            det3(m) / d
        })
        .collect();
    println!(
        "gradient descent: w = [{:.6}, {:.6}], b = {:.6}",
        w_gd[0], w_gd[1], b_gd
    );
    println!(
        "normal equations: w = [{:.6}, {:.6}], b = {:.6}",
        exact[0], exact[1], exact[2]
    );
    let err = (w_gd[0] - exact[0])
        .abs()
        .max((w_gd[1] - exact[1]).abs())
        .max((b_gd - exact[2]).abs());
    println!("max difference: {err:.2e}");
    Ok(())
}
