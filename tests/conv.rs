//! Convolution and pooling: values against loops written here from the
//! definition (explicitly padded arrays), the JIT against the interpreter,
//! gradients (first and second order) against finite differences, batching
//! by `vectorize` against a loop over the batch, and shape errors.

use theon::prelude::*;
use theon_tests::eval_checked;

/// A convolution configuration: shapes and options.
#[derive(Clone, Copy, Debug)]
struct Case {
    n: usize,
    c: usize,
    hw: [usize; 2],
    o: usize,
    k: [usize; 2],
    stride: usize,
    pad: [[usize; 2]; 2],
    dilation: usize,
    groups: usize,
}

impl Case {
    fn opts(&self) -> Conv2d {
        Conv2d::new()
            .stride(self.stride)
            .padding(Padding::Explicit(self.pad))
            .dilation(self.dilation)
            .groups(self.groups)
    }
    fn x_shape(&self) -> [usize; 4] {
        [self.n, self.c, self.hw[0], self.hw[1]]
    }
    fn w_shape(&self) -> [usize; 4] {
        [self.o, self.c / self.groups, self.k[0], self.k[1]]
    }
}

/// Small configurations covering stride, dilation, uneven padding, groups,
/// 1x1 kernels and non-square images.
fn cases() -> Vec<Case> {
    let c = |n, c, hw, o, k, stride, pad, dilation, groups| Case {
        n,
        c,
        hw,
        o,
        k,
        stride,
        pad,
        dilation,
        groups,
    };
    vec![
        c(2, 1, [6, 6], 3, [3, 3], 1, [[1, 1], [1, 1]], 1, 1),
        c(3, 2, [5, 7], 4, [3, 2], 2, [[0, 1], [2, 0]], 1, 1),
        c(1, 4, [7, 6], 6, [2, 2], 1, [[1, 0], [0, 1]], 2, 2),
        c(2, 3, [4, 4], 3, [1, 1], 1, [[0, 0], [0, 0]], 1, 3),
        c(2, 2, [8, 5], 2, [3, 3], 3, [[2, 2], [1, 1]], 1, 1),
    ]
}

/// y[n, o, oy, ox] = Σ xp[n, g·C/g + c, oy·s + i·d, ox·s + j·d] w[o, c, i, j]
/// over an explicitly zero-padded copy xp of x.
fn conv_by_definition(case: &Case, x: &[f64], w: &[f64]) -> (Vec<f64>, [usize; 4]) {
    let [n, c, h, wd] = case.x_shape();
    let [o, cg, kh, kw] = case.w_shape();
    let (ph, pw) = (
        h + case.pad[0][0] + case.pad[0][1],
        wd + case.pad[1][0] + case.pad[1][1],
    );
    let mut xp = vec![0.0; n * c * ph * pw];
    for a in 0..n * c {
        for r in 0..h {
            for col in 0..wd {
                xp[(a * ph + r + case.pad[0][0]) * pw + col + case.pad[1][0]] =
                    x[(a * h + r) * wd + col];
            }
        }
    }
    let (s, d) = (case.stride, case.dilation);
    let oh = (ph - d * (kh - 1) - 1) / s + 1;
    let ow = (pw - d * (kw - 1) - 1) / s + 1;
    let og = o / case.groups;
    let mut y = vec![0.0; n * o * oh * ow];
    for b in 0..n {
        for oc in 0..o {
            let g = oc / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0;
                    for ci in 0..cg {
                        for i in 0..kh {
                            for j in 0..kw {
                                let xv = xp[((b * c + g * cg + ci) * ph + oy * s + i * d) * pw
                                    + ox * s
                                    + j * d];
                                acc += xv * w[((oc * cg + ci) * kh + i) * kw + j];
                            }
                        }
                    }
                    y[((b * o + oc) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
    (y, [n, o, oh, ow])
}

fn input4(name: &str, shape: [usize; 4]) -> Var {
    Var::input(name, TensorType::fixed(DType::F64, &shape))
}

#[track_caller]
fn close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}: element {i}: {x} vs {y}"
        );
    }
}

#[test]
fn conv2d_matches_the_definition_in_the_interpreter_and_the_jit() {
    for (k, case) in cases().into_iter().enumerate() {
        let x = input4("x", case.x_shape());
        let w = input4("w", case.w_shape());
        let y = x.conv2d(&w, case.opts()).unwrap();
        let xv = Tensor::randn(DType::F64, &case.x_shape(), 10 + k as u64);
        let wv = Tensor::randn(DType::F64, &case.w_shape(), 20 + k as u64);
        let (want, shape) = conv_by_definition(&case, &xv.to_f64_vec(), &wv.to_f64_vec());
        let out = eval_checked(&[&x, &w], &[&y], &[xv, wv]).unwrap();
        assert_eq!(out[0].shape(), &shape, "{case:?}");
        close(&out[0].to_f64_vec(), &want, 1e-12, &format!("{case:?}"));
    }
}

#[test]
fn a_convolution_by_hand() {
    // x = 1..16 on a 4x4 image, w = [[1, 0], [0, -1]], stride 2: each
    // output is x[r, c] - x[r+1, c+1] = -5.
    let x = Var::constant(
        Tensor::new((1..=16).map(f64::from).collect::<Vec<_>>(), &[1, 1, 4, 4]).unwrap(),
    );
    let w = Var::constant(Tensor::new(vec![1.0, 0.0, 0.0, -1.0], &[1, 1, 2, 2]).unwrap());
    let y = x.conv2d(&w, Conv2d::new().stride(2)).unwrap();
    let out = function(NO_INPUTS, &[&y])
        .unwrap()
        .call::<Tensor>(&[])
        .unwrap();
    assert_eq!(out[0].shape(), &[1, 1, 2, 2]);
    assert_eq!(out[0].to_f64_vec(), vec![-5.0; 4]);
}

#[test]
fn same_padding_keeps_the_size_and_float32_works() {
    let x = Var::input("x", TensorType::fixed(DType::F32, &[2, 3, 8, 8]));
    let w = Var::input("w", TensorType::fixed(DType::F32, &[5, 3, 3, 3]));
    let y = x.conv2d(&w, Conv2d::new().padding(Padding::Same)).unwrap();
    assert_eq!(y.static_shape(), &[Some(2), Some(5), Some(8), Some(8)]);
    let y2 = x
        .conv2d(&w, Conv2d::new().padding(Padding::Same).stride(3))
        .unwrap();
    assert_eq!(y2.static_shape(), &[Some(2), Some(5), Some(3), Some(3)]);
    let xv = Tensor::randn(DType::F32, &[2, 3, 8, 8], 1);
    let wv = Tensor::randn(DType::F32, &[5, 3, 3, 3], 2);
    let out = eval_checked(&[&x, &w], &[&y], &[xv.clone(), wv.clone()]).unwrap();
    let case = Case {
        n: 2,
        c: 3,
        hw: [8, 8],
        o: 5,
        k: [3, 3],
        stride: 1,
        pad: [[1, 1], [1, 1]],
        dilation: 1,
        groups: 1,
    };
    let (want, _) = conv_by_definition(&case, &xv.to_f64_vec(), &wv.to_f64_vec());
    assert_eq!(out[0].dtype(), DType::F32);
    close(&out[0].to_f64_vec(), &want, 1e-5, "float32");
}

#[test]
fn shape_errors_name_the_mismatch() {
    let x = input4("x", [2, 3, 8, 8]);
    let w = input4("w", [4, 1, 3, 3]);
    let e = x.conv2d(&w, Conv2d::new()).unwrap_err();
    assert!(
        e.message()
            .contains("conv2d: input has 3 channels, the kernel expects 1"),
        "{e}"
    );
    let big = input4("w", [4, 3, 9, 3]);
    let e = x.conv2d(&big, Conv2d::new()).unwrap_err();
    assert!(e.message().contains("larger than the padded input"), "{e}");
    let e = x
        .conv2d(&input4("w", [4, 3, 3, 3]), Conv2d::new().stride(0))
        .unwrap_err();
    assert!(e.message().contains(">= 1"), "{e}");
    let e = x
        .conv2d(
            &input4("w", [4, 1, 3, 3]),
            Conv2d::new().groups(3).groups(2),
        )
        .unwrap_err();
    assert!(e.message().contains("per group"), "{e}");
    let e = x
        .max_pool2d(Pool2d::new(2).padding(Padding::all(2)))
        .unwrap_err();
    assert!(e.message().contains("smaller than the window"), "{e}");
    // A run-time shape that breaks the geometry is an error, not a crash.
    let xs = Var::input(
        "x",
        TensorType::new(DType::F64, vec![None, Some(1), None, None]),
    );
    let w1 = Var::constant(Tensor::ones(DType::F64, &[1, 1, 3, 3]));
    let y = xs.conv2d(&w1, Conv2d::new()).unwrap();
    let f = function(&[&xs], &[&y]).unwrap();
    let e = f
        .call(&[Tensor::zeros(DType::F64, &[1, 1, 2, 2])])
        .unwrap_err();
    assert!(e.message().contains("larger than the padded input"), "{e}");
    // Padding so large the output cannot exist: an error from either
    // engine, not an abort in the allocator; sizes that overflow too.
    for (pad, says) in [
        (1usize << 40, "too many elements"),
        (usize::MAX / 2, "overflows"),
    ] {
        let y = xs
            .conv2d(&w1, Conv2d::new().padding(Padding::all(pad)))
            .unwrap();
        for mode in [Mode::Interpret, Mode::Jit] {
            let f = compile(&[&xs], &[&y]).mode(mode).build().unwrap();
            let e = f
                .call(&[Tensor::zeros(DType::F64, &[1, 1, 4, 4])])
                .unwrap_err();
            assert!(
                e.message().contains(says) && !e.message().contains("conv2d: conv2d"),
                "{mode:?}: {e}"
            );
        }
    }
}

/// Max and average pooling by definition: windows clipped to the image.
fn pool_by_definition(
    x: &[f64],
    planes: usize,
    hw: [usize; 2],
    k: usize,
    s: usize,
    p: usize,
    max: bool,
) -> Vec<f64> {
    pool_padded_by_definition(x, planes, hw, k, s, [[p, p], [p, p]], max)
}

/// `pool_by_definition` with (before, after) padding per axis.
fn pool_padded_by_definition(
    x: &[f64],
    planes: usize,
    hw: [usize; 2],
    k: usize,
    s: usize,
    pad: [[usize; 2]; 2],
    max: bool,
) -> Vec<f64> {
    let (h, w) = (hw[0], hw[1]);
    let oh = (h + pad[0][0] + pad[0][1] - k) / s + 1;
    let ow = (w + pad[1][0] + pad[1][1] - k) / s + 1;
    let mut y = Vec::new();
    for a in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut vals = Vec::new();
                for i in 0..k {
                    for j in 0..k {
                        let (r, c) = (
                            (oy * s + i) as i64 - pad[0][0] as i64,
                            (ox * s + j) as i64 - pad[1][0] as i64,
                        );
                        if r >= 0 && c >= 0 && (r as usize) < h && (c as usize) < w {
                            vals.push(x[(a * h + r as usize) * w + c as usize]);
                        }
                    }
                }
                y.push(if max {
                    vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
                } else {
                    vals.iter().sum::<f64>() / vals.len() as f64
                });
            }
        }
    }
    y
}

#[test]
fn pooling_matches_the_definition() {
    for (k, s, p) in [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0)] {
        let x = Var::input("x", TensorType::fixed(DType::F64, &[2, 3, 7, 6]));
        let opts = Pool2d::new(k).stride(s).padding(Padding::all(p));
        let ym = x.max_pool2d(opts).unwrap();
        let ya = x.avg_pool2d(opts).unwrap();
        let xv = Tensor::randn(DType::F64, &[2, 3, 7, 6], 5);
        let out = eval_checked(&[&x], &[&ym, &ya], std::slice::from_ref(&xv)).unwrap();
        let v = xv.to_f64_vec();
        close(
            &out[0].to_f64_vec(),
            &pool_by_definition(&v, 6, [7, 6], k, s, p, true),
            0.0,
            "max",
        );
        close(
            &out[1].to_f64_vec(),
            &pool_by_definition(&v, 6, [7, 6], k, s, p, false),
            1e-14,
            "avg",
        );
    }
}

fn grad_opts() -> VerifyGrad {
    VerifyGrad {
        eps: 1e-6,
        rtol: 1e-6,
        atol: 1e-8,
        seed: 3,
        mode: Mode::Jit,
    }
}

#[test]
fn conv2d_gradients_match_finite_differences() {
    for (k, case) in cases().into_iter().enumerate() {
        let xv = Tensor::randn(DType::F64, &case.x_shape(), 30 + k as u64);
        let wv = Tensor::randn(DType::F64, &case.w_shape(), 40 + k as u64);
        let opts = case.opts();
        // A non-linear scalar so every output element's gradient differs.
        let f = |v: &[Var]| v[0].conv2d(&v[1], opts)?.tanh().sum();
        let r = verify_grad(f, &[xv, wv], &grad_opts()).unwrap_or_else(|e| panic!("{case:?}: {e}"));
        assert!(r.n_checked > 0);
    }
}

#[test]
fn second_derivatives_of_conv2d_match_finite_differences() {
    // The gradient graph contains both adjoint ops; differentiating it
    // again exercises their pullbacks.
    let case = cases()[1];
    let xv = Tensor::randn(DType::F64, &case.x_shape(), 50);
    let wv = Tensor::randn(DType::F64, &case.w_shape(), 51);
    let opts = case.opts();
    let f = |v: &[Var]| {
        let loss = v[0].conv2d(&v[1], opts)?.tanh().sum()?;
        let g = grad(&loss, &[&v[0], &v[1]])?;
        g[0].square().sum()? + g[1].square().sum()?
    };
    // The squared gradients are large (~70): at eps 1e-6 rounding dominates
    // the central difference; at 1e-4 its error (~eps^2, measured up to
    // 5e-6 absolute) is below the tolerance 1e-5, and far below what a
    // wrong pullback gives.
    let o = VerifyGrad {
        eps: 1e-4,
        rtol: 1e-5,
        atol: 1e-5,
        ..grad_opts()
    };
    let r = verify_grad(f, &[xv, wv], &o).unwrap();
    assert!(r.n_checked > 0);
}

#[test]
fn pooling_gradients_match_finite_differences() {
    // Distinct values one apart: no ties, and finite differences stay inside a window's argmax.
    let mut v: Vec<f64> = (0..2 * 2 * 6 * 5)
        .map(|i| ((i * 37) % 60) as f64 * 0.1)
        .collect();
    v.rotate_left(7);
    let xv = Tensor::new(v, &[2, 2, 6, 5]).unwrap();
    for (k, s, p) in [(2, 2, 0), (3, 2, 1), (3, 1, 1)] {
        let opts = Pool2d::new(k).stride(s).padding(Padding::all(p));
        for max in [true, false] {
            let f = |v: &[Var]| {
                let y = if max {
                    v[0].max_pool2d(opts)?
                } else {
                    v[0].avg_pool2d(opts)?
                };
                y.square().sum()
            };
            verify_grad(f, std::slice::from_ref(&xv), &grad_opts()).unwrap();
        }
    }
    // Average pooling's second derivative (its gradient is linear in gy).
    let opts = Pool2d::new(3).stride(2).padding(Padding::all(1));
    let f = |v: &[Var]| {
        let l = v[0].avg_pool2d(opts)?.tanh().sum()?;
        grad(&l, &[&v[0]])?.remove(0).square().sum()
    };
    verify_grad(f, std::slice::from_ref(&xv), &grad_opts()).unwrap();
}

#[test]
fn pad_matches_numpy() {
    // np.pad(np.arange(6).reshape(2, 3), ((1, 0), (0, 2)), constant_values=9)
    let x = Var::constant(Tensor::new((0..6).map(f64::from).collect::<Vec<_>>(), &[2, 3]).unwrap());
    let y = x.pad(&[(1, 0), (0, 2)], 9.0).unwrap();
    let out = function(NO_INPUTS, &[&y])
        .unwrap()
        .call::<Tensor>(&[])
        .unwrap();
    assert_eq!(out[0].shape(), &[3, 5]);
    assert_eq!(
        out[0].to_f64_vec(),
        vec![9., 9., 9., 9., 9., 0., 1., 2., 9., 9., 3., 4., 5., 9., 9.]
    );
    // The gradient is the inner slice of the output's: weights 0..15 give
    // rows 1-2, columns 0-2 of that 3x5 grid.
    let xi = matrix("x");
    let yi = xi.pad(&[(1, 0), (0, 2)], 9.0);
    assert!(yi.is_err(), "unknown sizes cannot be padded");
    let xi = Var::input("x", TensorType::fixed(DType::F64, &[2, 3]));
    let wts =
        Var::constant(Tensor::new((0..15).map(f64::from).collect::<Vec<_>>(), &[3, 5]).unwrap());
    let loss = (xi.pad(&[(1, 0), (0, 2)], 9.0).unwrap() * &wts)
        .unwrap()
        .sum()
        .unwrap();
    let g = grad(&loss, &[&xi]).unwrap().remove(0);
    let out = function(&[&xi], &[&g])
        .unwrap()
        .call(&[Tensor::zeros(DType::F64, &[2, 3])])
        .unwrap();
    assert_eq!(out[0].to_f64_vec(), vec![5., 6., 7., 10., 11., 12.]);
}

#[test]
fn vectorized_convolutions_equal_a_loop_over_the_batch() {
    // A draws axis on the image batch, on the kernels, and on both; then
    // the gradient graph (both adjoints) vectorized too.
    let case = cases()[2];
    let x = input4("x", case.x_shape());
    let w = input4("w", case.w_shape());
    let y = x
        .conv2d(&w, case.opts())
        .unwrap()
        .tanh()
        .max_pool2d(Pool2d::new(2))
        .unwrap();
    let loss = y.square().sum().unwrap();
    let gw = grad(&loss, &[&w]).unwrap().remove(0);
    let d = 3usize;
    let xs: Vec<Tensor> = (0..d)
        .map(|i| Tensor::randn(DType::F64, &case.x_shape(), 60 + i as u64))
        .collect();
    let ws: Vec<Tensor> = (0..d)
        .map(|i| Tensor::randn(DType::F64, &case.w_shape(), 70 + i as u64))
        .collect();
    let per = function(&[&x, &w], &[&y, &gw]).unwrap();
    let stack = |ts: &[Tensor], shape: [usize; 4]| {
        let v: Vec<f64> = ts.iter().flat_map(|t| t.to_f64_vec()).collect();
        Tensor::new(v, &[d, shape[0], shape[1], shape[2], shape[3]]).unwrap()
    };
    let bx = Var::input(
        "bx",
        TensorType::fixed(DType::F64, &[d, case.n, case.c, case.hw[0], case.hw[1]]),
    );
    let bw = Var::input(
        "bw",
        TensorType::fixed(DType::F64, &{
            let s = case.w_shape();
            [d, s[0], s[1], s[2], s[3]]
        }),
    );
    let size = Var::constant(Tensor::scalar(d as i64));
    for (bx_on, bw_on) in [(true, false), (false, true), (true, true)] {
        let mut repl = Vec::new();
        if bx_on {
            repl.push((x.clone(), bx.clone()));
        }
        if bw_on {
            repl.push((w.clone(), bw.clone()));
        }
        let outs = vectorize(&[y.clone(), gw.clone()], &repl, &size).unwrap();
        let mut ins = vec![];
        let mut args = vec![];
        if bx_on {
            ins.push(&bx);
            args.push(stack(&xs, case.x_shape()));
        } else {
            ins.push(&x);
            args.push(xs[0].clone());
        }
        if bw_on {
            ins.push(&bw);
            args.push(stack(&ws, case.w_shape()));
        } else {
            ins.push(&w);
            args.push(ws[0].clone());
        }
        let got = eval_checked(&ins, &[&outs[0], &outs[1]], &args).unwrap();
        for b in 0..d {
            let xi = if bx_on { &xs[b] } else { &xs[0] };
            let wi = if bw_on { &ws[b] } else { &ws[0] };
            let want = per.call(&[xi.clone(), wi.clone()]).unwrap();
            for (k, (g, w_)) in got.iter().zip(&want).enumerate() {
                let len = w_.len();
                close(
                    &g.to_f64_vec()[b * len..(b + 1) * len],
                    &w_.to_f64_vec(),
                    1e-12,
                    &format!("output {k}, draw {b}, x batched {bx_on}, w batched {bw_on}"),
                );
            }
        }
    }
}

/// The conv epilogue rewrite: act(conv(x, w) + b) is one `Conv2dBiasAct`
/// step at every CPU level and in both float types, with the values of the
/// ops it stands for (the interpreter running them as written); biases
/// shaped (O, 1, 1), (1, O, 1, 1), per batch item (B, 1, O, 1, 1) and
/// none; a bias that varies along the pixels and an activation without a
/// wide kernel (relu) stay separate ops, with the same values.
#[test]
fn the_conv_epilogue_equals_the_ops_it_replaces() {
    type Act = fn(&Var) -> Var;
    let acts: [(&str, Act, bool); 4] = [
        ("tanh", |v| v.tanh(), true),
        ("sigmoid", |v| v.sigmoid(), true),
        ("identity", |v| v.clone(), true), // fuses the bias alone
        ("relu", |v| v.maximum(0.0).unwrap(), false),
    ];
    // (x, w, bias shape or none, whether the whole epilogue fuses)
    type Shapes = (Vec<usize>, Vec<usize>, Option<Vec<usize>>, bool);
    let shapes: Vec<Shapes> = vec![
        (
            vec![5, 3, 8, 8],
            vec![4, 3, 3, 3],
            Some(vec![4, 1, 1]),
            true,
        ),
        (
            vec![2, 4, 6, 7],
            vec![6, 2, 3, 2],
            Some(vec![1, 6, 1, 1]),
            true,
        ),
        (
            vec![3, 2, 1, 6, 6],
            vec![3, 4, 1, 3, 3],
            Some(vec![3, 1, 4, 1, 1]),
            true,
        ),
        (
            vec![3, 2, 1, 6, 6],
            vec![4, 1, 3, 3],
            Some(vec![4, 1, 1]),
            true,
        ),
        (vec![5, 3, 8, 8], vec![4, 3, 3, 3], None, true),
        (
            vec![2, 1, 6, 6],
            vec![2, 1, 3, 3],
            Some(vec![2, 6, 6]),
            false,
        ),
    ];
    for level in CpuLevel::supported() {
        for dtype in [DType::F64, DType::F32] {
            for (k, (xs, ws, bs, fuses)) in shapes.iter().enumerate() {
                for (name, act, wide) in acts {
                    let what = format!("{level:?} {dtype} case {k} {name}");
                    let x = Var::input("x", TensorType::fixed(dtype, xs));
                    let w = Var::input("w", TensorType::fixed(dtype, ws));
                    let b =
                        Var::input("b", TensorType::fixed(dtype, bs.as_deref().unwrap_or(&[1])));
                    let opts = Conv2d::new()
                        .padding(Padding::Same)
                        .groups(xs[xs.len() - 3] / ws[ws.len() - 3]);
                    let z = x.conv2d(&w, opts).unwrap();
                    let z = if bs.is_some() { (z + &b).unwrap() } else { z };
                    let y = act(&z);
                    let args = [
                        Tensor::randn(DType::F64, xs, 1).cast(dtype),
                        Tensor::randn(DType::F64, ws, 2).cast(dtype),
                        Tensor::randn(DType::F64, bs.as_deref().unwrap_or(&[1]), 3).cast(dtype),
                    ];
                    let mut jit_opts = CompileOptions::default();
                    jit_opts.jit.cpu = Some(level);
                    let jit = compile(&[&x, &w, &b], &[&y])
                        .options(jit_opts)
                        .build()
                        .unwrap();
                    let reference = compile(&[&x, &w, &b], &[&y])
                        .mode(Mode::Interpret)
                        .rewrites(Rewrites::None)
                        .build()
                        .unwrap();
                    let printed = jit.debugprint(PrintOptions::default());
                    let fused_all = !printed.contains("Add")
                        && if name == "identity" {
                            printed.contains("Conv2dBiasAct")
                        } else {
                            printed.contains(&format!("act={name}"))
                        };
                    let expect = *fuses && wide && (bs.is_some() || name != "identity");
                    assert_eq!(fused_all, expect, "{what}:\n{printed}");
                    let got = jit.call(&args).unwrap().remove(0).to_f64_vec();
                    let want = reference.call(&args).unwrap().remove(0).to_f64_vec();
                    let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
                    close(&got, &want, tol, &what);
                }
            }
        }
    }
}

#[test]
fn an_optimized_conv_layer_graph() {
    // tanh(conv(x, w) + b), pooled, and the gradient of a loss on it: the
    // bias add and tanh join the convolution as its epilogue (applied to
    // each chunk of the product while it is in cache); the gradient is
    // the pooling's adjoint, the fused tanh' and the kernel adjoint (x is
    // data: no input adjoint).
    let x = Var::input("x", TensorType::fixed(DType::F64, &[10, 1, 8, 8]));
    let w = Var::input("w", TensorType::fixed(DType::F64, &[4, 1, 3, 3]));
    let b = Var::input("b", TensorType::fixed(DType::F64, &[4, 1, 1]));
    let h = (x.conv2d(&w, Conv2d::new().padding(Padding::Same)).unwrap() + &b)
        .unwrap()
        .tanh()
        .max_pool2d(Pool2d::new(2))
        .unwrap();
    let loss = h.square().sum().unwrap();
    let gw = grad(&loss, &[&w]).unwrap().remove(0);
    let f = compile(&[&x, &w, &b], &[&loss, &gw]).build().unwrap();
    insta::assert_snapshot!(f.debugprint(PrintOptions { types: true }));
}

mod random {
    //! Random geometries: every combination the generators reach runs in
    //! the interpreter and the JIT (agreeing), matches the definition, and
    //! has finite-difference gradients.
    use super::*;
    use proptest::prelude::*;

    /// Sums over up to ~400 terms: at eps 1e-6 rounding in the central
    /// difference reaches 1e-7; eps 1e-5 and these tolerances sit above
    /// both rounding and truncation, far below a wrong adjoint's error.
    fn random_grad_opts() -> VerifyGrad {
        VerifyGrad {
            eps: 1e-5,
            rtol: 1e-5,
            atol: 1e-6,
            ..grad_opts()
        }
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            1usize..3,
            1usize..3,
            1usize..3,
            (3usize..8, 3usize..8),
            (1usize..4, 1usize..4),
            1usize..3,
            (0usize..3, 0usize..3, 0usize..3, 0usize..3),
            1usize..3,
        )
            .prop_filter_map(
                "the kernel must fit",
                |(n, cpg, groups, hw, k, stride, p, d)| {
                    let case = Case {
                        n,
                        c: cpg * groups,
                        hw: [hw.0, hw.1],
                        o: groups * (1 + (hw.0 + k.0) % 2),
                        k: [k.0, k.1],
                        stride,
                        pad: [[p.0, p.1], [p.2, p.3]],
                        dilation: d,
                        groups,
                    };
                    let fits = (0..2).all(|a| {
                        case.hw[a] + case.pad[a][0] + case.pad[a][1] > d * (case.k[a] - 1)
                    });
                    fits.then_some(case)
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

        #[test]
        fn random_convolutions_agree_everywhere(case in case(), seed in 0u64..1000) {
            let x = input4("x", case.x_shape());
            let w = input4("w", case.w_shape());
            let y = x.conv2d(&w, case.opts()).unwrap();
            let loss = y.tanh().square().sum().unwrap();
            let g = grad(&loss, &[&x, &w]).unwrap();
            let xv = Tensor::randn(DType::F64, &case.x_shape(), seed);
            let wv = Tensor::randn(DType::F64, &case.w_shape(), seed + 1);
            let out = eval_checked(&[&x, &w], &[&y, &g[0], &g[1]], &[xv.clone(), wv.clone()]).unwrap();
            let (want, shape) = conv_by_definition(&case, &xv.to_f64_vec(), &wv.to_f64_vec());
            prop_assert_eq!(out[0].shape(), &shape[..]);
            close(&out[0].to_f64_vec(), &want, 1e-12, &format!("{case:?}"));
            let opts = case.opts();
            let f = |v: &[Var]| v[0].conv2d(&v[1], opts)?.tanh().square().sum();
            verify_grad(f, &[xv, wv], &random_grad_opts()).unwrap();
        }

        #[test]
        fn random_poolings_agree_everywhere(
            (planes, h, w) in (1usize..4, 2usize..9, 2usize..9),
            (k, s) in (1usize..4, 1usize..4),
            p in 0usize..3,
            max in any::<bool>(),
            seed in 0u64..1000,
        ) {
            prop_assume!(p < k && h + 2 * p >= k && w + 2 * p >= k);
            let x = Var::input("x", TensorType::fixed(DType::F64, &[planes, h, w]));
            let opts = Pool2d::new(k).stride(s).padding(Padding::all(p));
            let y = if max { x.max_pool2d(opts) } else { x.avg_pool2d(opts) }.unwrap();
            let gx = grad(&y.square().sum().unwrap(), &[&x]).unwrap().remove(0);
            let xv = Tensor::randn(DType::F64, &[planes, h, w], seed);
            let out = eval_checked(&[&x], &[&y, &gx], std::slice::from_ref(&xv)).unwrap();
            let want = pool_by_definition(&xv.to_f64_vec(), planes, [h, w], k, s, p, max);
            close(&out[0].to_f64_vec(), &want, 1e-14, "pool");
            // Random normals have no ties: the maximum is differentiable.
            let f = |v: &[Var]| {
                let y = if max { v[0].max_pool2d(opts)? } else { v[0].avg_pool2d(opts)? };
                y.square().sum()
            };
            verify_grad(f, std::slice::from_ref(&xv), &random_grad_opts()).unwrap();
        }
    }
}

#[test]
fn padding_after_only_and_odd_same_pooling() {
    // Same pooling of odd sizes pads after only: the last windows hang over
    // the image's edge (the tiled fast paths must not take them).
    for (hw, pad, same) in [
        ([3, 3], [[0, 1], [0, 1]], true),
        ([7, 5], [[0, 1], [0, 1]], true),
        ([4, 4], [[0, 1], [0, 1]], false),
        ([5, 6], [[1, 0], [0, 1]], false),
    ] {
        let x = Var::input("x", TensorType::fixed(DType::F64, &[2, hw[0], hw[1]]));
        let padding = if same {
            Padding::Same
        } else {
            Padding::Explicit(pad)
        };
        let opts = Pool2d::new(2).padding(padding);
        let ym = x.max_pool2d(opts).unwrap();
        let ya = x.avg_pool2d(opts).unwrap();
        let gm = grad(&ym.square().sum().unwrap(), &[&x]).unwrap().remove(0);
        let xv = Tensor::randn(DType::F64, &[2, hw[0], hw[1]], 9);
        let out = eval_checked(&[&x], &[&ym, &ya, &gm], std::slice::from_ref(&xv)).unwrap();
        let v = xv.to_f64_vec();
        let what = format!("{hw:?} {pad:?}");
        close(
            &out[0].to_f64_vec(),
            &pool_padded_by_definition(&v, 2, hw, 2, 2, pad, true),
            0.0,
            &what,
        );
        close(
            &out[1].to_f64_vec(),
            &pool_padded_by_definition(&v, 2, hw, 2, 2, pad, false),
            1e-14,
            &what,
        );
        let f = |v: &[Var]| v[0].max_pool2d(opts)?.square().sum();
        verify_grad(f, std::slice::from_ref(&xv), &grad_opts()).unwrap();
    }
}

#[test]
fn gradients_through_a_batch_on_one_operand_only() {
    // Kernels with a draws axis on unbatched images (what ADVI with several
    // draws per step builds), and the other way round: both gradients by
    // finite differences.
    let xv = Tensor::randn(DType::F64, &[2, 1, 5, 5], 1);
    let wv = Tensor::randn(DType::F64, &[3, 4, 1, 2, 2], 2);
    let f = |v: &[Var]| v[0].conv2d(&v[1], Conv2d::new())?.tanh().sum();
    verify_grad(f, &[xv, wv], &grad_opts()).unwrap();
    let xv = Tensor::randn(DType::F64, &[3, 2, 1, 5, 5], 3);
    let wv = Tensor::randn(DType::F64, &[4, 1, 2, 2], 4);
    verify_grad(f, &[xv, wv], &grad_opts()).unwrap();
    // Vectorizing a kernel gradient whose output gradient does not depend
    // on the draws (a constant weighting of y).
    let x = input4("x", [2, 1, 5, 5]);
    let w = input4("w", [4, 1, 2, 2]);
    let c = Var::constant(Tensor::randn(DType::F64, &[2, 4, 4, 4], 5));
    let gw = grad(
        &(x.conv2d(&w, Conv2d::new()).unwrap() * &c)
            .unwrap()
            .sum()
            .unwrap(),
        &[&w],
    )
    .unwrap()
    .remove(0);
    let bw = Var::input("bw", TensorType::fixed(DType::F64, &[3, 4, 1, 2, 2]));
    let size = Var::constant(Tensor::scalar(3i64));
    let out = vectorize(std::slice::from_ref(&gw), &[(w.clone(), bw.clone())], &size).unwrap();
    let xv = Tensor::randn(DType::F64, &[2, 1, 5, 5], 6);
    let got = eval_checked(
        &[&x, &bw],
        &[&out[0]],
        &[xv.clone(), Tensor::randn(DType::F64, &[3, 4, 1, 2, 2], 7)],
    )
    .unwrap();
    let once = function(&[&x, &w], &[&gw])
        .unwrap()
        .call(&[xv, Tensor::zeros(DType::F64, &[4, 1, 2, 2])])
        .unwrap();
    // Linear in the loss: the kernel gradient does not depend on w, so every draw's equals it.
    for b in 0..3 {
        close(
            &got[0].to_f64_vec()[b * 16..(b + 1) * 16],
            &once[0].to_f64_vec(),
            1e-12,
            "draw",
        );
    }
}

#[test]
fn pad_with_infinity_keeps_the_input_and_bad_windows_are_errors() {
    let x = Var::constant(Tensor::vector(vec![1.0, -2.0]));
    let y = x.pad(&[(1, 1)], f64::NEG_INFINITY).unwrap();
    let out = function(NO_INPUTS, &[&y])
        .unwrap()
        .call::<Tensor>(&[])
        .unwrap();
    assert_eq!(
        out[0].to_f64_vec(),
        vec![f64::NEG_INFINITY, 1.0, -2.0, f64::NEG_INFINITY]
    );
    let img = input4("x", [1, 1, 4, 4]);
    let w = input4("w", [1, 1, 3, 3]);
    for e in [
        img.conv2d(&w, Conv2d::new().stride(0).padding(Padding::Same))
            .unwrap_err(),
        img.max_pool2d(Pool2d::new(0).padding(Padding::Same))
            .unwrap_err(),
        img.max_pool2d(Pool2d::new(2).stride(0)).unwrap_err(),
        Var::input("e", TensorType::fixed(DType::F64, &[1, 1, 0, 3]))
            .max_pool2d(Pool2d::new(2).padding(Padding::all(1)))
            .unwrap_err(),
    ] {
        assert!(
            e.message().contains(">= 1") || e.message().contains("empty"),
            "{e}"
        );
    }
}

/// A batch of convolutions (a leading axis on images and kernels, as
/// `vectorize` makes for posterior draws) splits across threads by batch
/// item: the value and both gradients have the same bits with 1, 2 and 3
/// threads, and agree with the interpreter.
#[test]
fn batched_convolutions_do_not_depend_on_the_thread_count() {
    let (b, n, c, hw, o) = (8, 20, 4, 16, 8);
    let x = Var::input("x", TensorType::fixed(DType::F64, &[b, n, c, hw, hw]));
    let w = Var::input("w", TensorType::fixed(DType::F64, &[b, o, c, 3, 3]));
    let y = x
        .conv2d(&w, Conv2d::new().padding(Padding::Same))
        .unwrap()
        .tanh();
    let loss = y.square().sum().unwrap();
    let g = grad(&loss, &[&x, &w]).unwrap();
    let outs = [&y, &g[0], &g[1]];
    let args = [
        Tensor::randn(DType::F64, &[b, n, c, hw, hw], 1),
        Tensor::randn(DType::F64, &[b, o, c, 3, 3], 2),
    ];
    let run = |threads: usize| {
        let mut opts = CompileOptions::default();
        opts.jit.threads = Some(threads);
        compile(&[&x, &w], &outs)
            .options(opts)
            .build()
            .unwrap()
            .call(&args)
            .unwrap()
    };
    let one = run(1);
    let bits = |t: &Tensor| -> Vec<u64> { t.to_f64_vec().iter().map(|v| v.to_bits()).collect() };
    for threads in [2, 3] {
        for (k, (a, b)) in run(threads).iter().zip(&one).enumerate() {
            assert_eq!(bits(a), bits(b), "output {k} with {threads} threads");
        }
    }
    let want = compile(&[&x, &w], &outs)
        .mode(Mode::Interpret)
        .build()
        .unwrap()
        .call(&args)
        .unwrap();
    for (k, (got, want)) in one.iter().zip(&want).enumerate() {
        close(
            &got.to_f64_vec(),
            &want.to_f64_vec(),
            1e-10,
            &format!("output {k}"),
        );
    }
}
