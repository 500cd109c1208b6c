//! theon in one screen: a symbolic expression with a shared variable and an
//! update, compiled and called three times (the state advances), an input
//! swapped with `clone_replace`, and the graphs printed.
//!
//! cargo run --release --example basics

use theon::prelude::*;

fn main() -> Result<()> {
    // y = w * x + b, and each call moves w by x (a toy "learning" step).
    let x = vector("x");
    let w = shared("w", Tensor::vector(vec![1.0, 1.0, 1.0]));
    let b = constant(0.5);
    let y = ((&w * &x)? + &b)?.named("y");
    let step = compile(&[&x], &[&y])
        .update(&w, &(&w + &x)?)
        .name("step")
        .build()?;

    let x0 = Tensor::vector(vec![1.0, 2.0, 3.0]);
    for call in 1..=3 {
        let out = step.call(&[&x0])?;
        println!("call {call}: y = {}", out[0]);
        println!("        w = {}", w.get_value()?);
    }

    // Swap the input x for 2 * z: a new expression, same shared w.
    let z = vector("z");
    let two_z = (&z * 2.0)?;
    let y2 = clone_replace(&[&y], &[(&x, &two_z)])?.remove(0);
    let f2 = function(&[&z], &[&y2])?;
    println!(
        "\nwith x := 2 z, z = [1, 1, 1]: y = {}",
        f2.call(&[Tensor::vector(vec![1.0, 1.0, 1.0])])?[0]
    );

    println!(
        "\nthe step function's graph (outputs, then updates):\n{}",
        step.debugprint(PrintOptions { types: true })
    );
    println!("the replaced expression:\n{}", debugprint(&[&y2], false));
    Ok(())
}
