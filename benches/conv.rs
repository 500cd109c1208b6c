//! Convolution and pooling kernels at the sizes of small-image networks:
//! im2col + GEMM (what the JIT calls) against the direct loops (the
//! interpreter's reference), forward and both gradients, and the poolings.
//! The comparison behind the choice in docs/compiler.md. Then a conv
//! layer through the JIT, tanh(conv(x, w) + b) and its kernel gradient,
//! with the epilogue rewrite (bias and tanh applied to each chunk of the
//! product in cache) and without it (two more passes over the output).
//!
//! cargo bench -p theon-benches --bench conv
//!
//! Prints, per shape, microseconds per call (median of repeated runs) and
//! GFLOP/s (2 · N · O · OH · OW · C/g · kh · kw per product).

use theon::prelude::*;
use theon::runtime::kernels::conv::{self, Conv2dGeom};
use theon::runtime::kernels::im2col;
use theon::runtime::kernels::pool::{self, Pool2dGeom};

use theon_benches::median_seconds as time;

/// Same-padded, stride-1 geometry.
fn geom(n: usize, c: usize, hw: usize, o: usize, k: usize) -> Conv2dGeom {
    Conv2dGeom {
        n,
        c,
        h: hw,
        w: hw,
        o,
        kh: k,
        kw: k,
        oh: hw,
        ow: hw,
        stride: [1, 1],
        pad: [k / 2, k / 2],
        dilation: [1, 1],
        groups: 1,
    }
}

fn values(len: usize) -> Vec<f64> {
    (0..len)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0 - 0.5)
        .collect()
}

fn main() {
    println!(
        "{:<34} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11} {:>8}",
        "conv2d f64 (N, C, HxW, O, k)",
        "fwd im2col",
        "fwd direct",
        "dx im2col",
        "dx direct",
        "dw im2col",
        "dw direct",
        "GFLOP/s"
    );
    let shapes = [
        (100, 1, 8, 8, 3),
        (100, 8, 4, 16, 3),
        (500, 1, 8, 8, 3),
        (1, 1, 8, 8, 3),
        (100, 16, 16, 32, 3),
        (10, 3, 32, 16, 3),
        (10, 64, 32, 64, 3),
    ];
    for (n, c, hw, o, k) in shapes {
        let g = geom(n, c, hw, o, k);
        let [lx, lw, ly] = g.lens();
        let (x, w, gy) = (values(lx), values(lw), values(ly));
        let (mut y, mut gx, mut gw) = (vec![0.0; ly], vec![0.0; lx], vec![0.0; lw]);
        let t = [
            time(|| assert!(im2col::forward_into(&g, &x, &w, &mut y))),
            time(|| conv::forward_into(&g, &x, &w, &mut y)),
            time(|| assert!(im2col::grad_input_into(&g, &w, &gy, &mut gx))),
            time(|| conv::grad_input_into(&g, &w, &gy, &mut gx)),
            time(|| assert!(im2col::grad_kernel_into(&g, &x, &gy, &mut gw))),
            time(|| conv::grad_kernel_into(&g, &x, &gy, &mut gw)),
        ];
        let flops = 2.0 * (n * o * hw * hw * c * k * k) as f64;
        println!(
            "{:<34} {:>9.1}us {:>9.1}us {:>9.1}us {:>9.1}us {:>9.1}us {:>9.1}us {:>8.2}",
            format!("({n}, {c}, {hw}x{hw}, {o}, {k})"),
            t[0] * 1e6,
            t[1] * 1e6,
            t[2] * 1e6,
            t[3] * 1e6,
            t[4] * 1e6,
            t[5] * 1e6,
            flops / t[0] / 1e9
        );
    }
    println!(
        "\n{:<34} {:>11} {:>11} {:>11} {:>11}",
        "pool 2x2/2 f64 (planes, HxW)", "max", "max grad", "avg", "avg grad"
    );
    for (planes, hw) in [(800, 8), (1600, 4), (3200, 16)] {
        let g = Pool2dGeom {
            planes,
            h: hw,
            w: hw,
            kernel: [2, 2],
            stride: [2, 2],
            pad: [0, 0],
            oh: hw / 2,
            ow: hw / 2,
        };
        let [lx, ly] = g.lens();
        let (x, gy) = (values(lx), values(ly));
        let (mut y, mut gx) = (vec![0.0; ly], vec![0.0; lx]);
        let t = [
            time(|| assert!(pool::max_into(&g, &x, &mut y))),
            time(|| assert!(pool::max_grad_into(&g, &x, &gy, &mut gx))),
            time(|| assert!(pool::avg_into(&g, &x, &mut y))),
            time(|| assert!(pool::avg_grad_into(&g, &gy, &mut gx))),
        ];
        println!(
            "{:<34} {:>9.1}us {:>9.1}us {:>9.1}us {:>9.1}us",
            format!("({planes}, {hw}x{hw})"),
            t[0] * 1e6,
            t[1] * 1e6,
            t[2] * 1e6,
            t[3] * 1e6
        );
    }
    epilogue();
}

/// A conv layer's forward value and kernel gradient through the JIT, with
/// and without the epilogue rewrite (`conv_bias`, `conv_act`).
fn epilogue() {
    println!(
        "\n{:<34} {:>11} {:>11} {:>11} {:>11} {:>7}",
        "tanh(conv + b) (N, C, HxW, O, k)",
        "fwd fused",
        "fwd apart",
        "+grad fused",
        "+grad apart",
        "gain"
    );
    for dtype in [DType::F32, DType::F64] {
        for (n, c, hw, o, k) in [(100, 1, 8, 8, 3), (100, 8, 4, 16, 3), (100, 16, 16, 32, 3)] {
            let x = Var::input("x", TensorType::fixed(dtype, &[n, c, hw, hw]));
            let w = Var::input("w", TensorType::fixed(dtype, &[o, c, k, k]));
            let b = Var::input("b", TensorType::fixed(dtype, &[o, 1, 1]));
            let y = (x.conv2d(&w, Conv2d::new().padding(Padding::Same)).unwrap() + &b)
                .unwrap()
                .tanh();
            let loss = y.square().sum().unwrap();
            let gw = grad(&loss, &[&w]).unwrap().remove(0);
            let args = [
                Tensor::randn(DType::F64, &[n, c, hw, hw], 1).cast(dtype),
                Tensor::randn(DType::F64, &[o, c, k, k], 2).cast(dtype),
                Tensor::randn(DType::F64, &[o, 1, 1], 3).cast(dtype),
            ];
            let apart = || Rewrites::Except(vec!["conv_bias".into(), "conv_act".into()]);
            let build = |outs: &[&Var], rw: Rewrites| {
                compile(&[&x, &w, &b], outs).rewrites(rw).build().unwrap()
            };
            let mut t = vec![];
            for outs in [vec![&y], vec![&loss, &gw]] {
                for rw in [Rewrites::All, apart()] {
                    let f = build(&outs, rw);
                    let mut out = vec![];
                    t.push(time(|| f.call_into(&args, &mut out).unwrap()));
                }
            }
            println!(
                "{:<34} {:>9.1}us {:>9.1}us {:>9.1}us {:>9.1}us {:>6.2}x",
                format!("{} ({n}, {c}, {hw}x{hw}, {o}, {k})", dtype.short()),
                t[0] * 1e6,
                t[1] * 1e6,
                t[2] * 1e6,
                t[3] * 1e6,
                t[3] / t[2]
            );
        }
    }
}
