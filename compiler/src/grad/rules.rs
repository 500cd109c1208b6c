//! Pullbacks: for each op, the gradients of its inputs given the gradient
//! `g` of its output. One exhaustive `match`; `None` = no gradient flows.
//! Gradients of broadcast inputs are returned at the output's shape; the
//! caller sums them back (`fit_to`).

use crate::expr::Var;
use crate::op::{BinaryOp, ConvRole, Op, PoolKind, ReduceOp, UnaryOp};
use theon_runtime::{DType, Error, Result, Tensor};

/// `g * d` where a zero `g` gives exactly zero even if `d` is inf or NaN:
/// an unselected `where` branch sends zeros, and they must stay zeros
/// through derivatives that are singular there (log, sqrt, 1/x at 0).
fn strong_mul(g: &Var, d: &Var) -> Result<Var> {
    let zero = g.equal(0.0)?;
    Var::where_(&zero, 0.0, (g * d)?)
}

/// `g / d` with the same strong zero as `strong_mul`. Dividing (rather
/// than multiplying by 1/d) keeps a subnormal d exact: 1/d overflows.
fn strong_div(g: &Var, d: &Var) -> Result<Var> {
    let zero = g.equal(0.0)?;
    Var::where_(&zero, 0.0, (g / d)?)
}

fn scalar_like(v: f64, like: &Var) -> Var {
    Var::scalar_const(v, like.dtype())
}

/// Swap the last two axes.
fn swap_last(x: &Var) -> Result<Var> {
    let r = x.rank();
    let mut perm: Vec<usize> = (0..r).collect();
    perm.swap(r - 2, r - 1);
    x.permute(&perm)
}

/// `g` with reduced axes re-inserted (size 1) and broadcast back to `x`.
fn spread(g: &Var, x: &Var, axes: &[usize], keepdims: bool) -> Result<Var> {
    let mut g = g.clone();
    if !keepdims {
        for &a in axes {
            g = g.expand_dims(a as i64)?;
        }
    }
    match x.ty().static_shape() {
        Some(s) => g.broadcast_to(s.as_slice()),
        None => g.broadcast_to(x.shape()),
    }
}

/// Number of elements reduced into each output (symbolic if dims are unknown).
fn reduced_count(x: &Var, axes: &[usize]) -> Result<Var> {
    let dims: Vec<Option<usize>> = axes.iter().map(|&a| x.static_shape()[a]).collect();
    if let Some(known) = dims.iter().copied().collect::<Option<Vec<usize>>>() {
        return Ok(scalar_like(known.iter().product::<usize>() as f64, x));
    }
    let mut n = Var::constant(Tensor::scalar(1i64));
    for &a in axes {
        n = (n * x.dim(a as i64)?)?;
    }
    Ok(n.cast(x.dtype()))
}

/// `x` repeated along a new leading axis as long as `like`'s first axis.
fn batch_like(x: &Var, like: &Var) -> Result<Var> {
    let shape = Var::concatenate(&[like.dim(0)?.expand_dims(0)?, x.shape()], 0)?;
    x.expand_dims(0)?.broadcast_to(shape)
}

pub fn pullback(v: &Var, g: &Var) -> Result<Vec<Option<Var>>> {
    let ins = v.inputs();
    let x = |i: usize| &ins[i];
    let some = |r: Result<Var>| r.map(Some);
    Ok(match v.op() {
        Op::Input { .. } | Op::Constant(_) | Op::Shared(_) => vec![],
        Op::Unary(u) => {
            let a = x(0);
            let d = match u {
                UnaryOp::Neg => Some(-g),
                UnaryOp::Abs => Some((g * a.sign())?),
                // Piecewise constant: no gradient (as PyTensor's floor).
                UnaryOp::Sign | UnaryOp::Floor | UnaryOp::Not => None,
                UnaryOp::Exp => Some((g * v)?),
                // exp(a), not expm1(a) + 1: that rounds to 0 for a < -37.
                UnaryOp::Expm1 => Some((g * a.exp())?),
                UnaryOp::Log => Some(strong_div(g, a)?),
                UnaryOp::Log1p => Some(strong_div(g, &(a + 1.0)?)?),
                UnaryOp::Sqrt => Some(strong_mul(g, &(v * 2.0)?.reciprocal())?),
                UnaryOp::Square => Some((g * (a * 2.0)?)?),
                UnaryOp::Reciprocal => Some(strong_mul(g, &(-v.square()))?),
                UnaryOp::Tanh => Some((g * (1.0 - v.square())?)?),
                UnaryOp::Sigmoid => Some((g * (v * (1.0 - v)?)?)?),
                UnaryOp::Softplus => Some((g * a.sigmoid())?),
                UnaryOp::LogSigmoid => Some((g * (-a).sigmoid())?),
                UnaryOp::Sin => Some((g * a.cos())?),
                UnaryOp::Cos => Some((g * (-a.sin()))?),
                UnaryOp::Lgamma => Some((g * a.unary(UnaryOp::Digamma))?),
                UnaryOp::Digamma => Some((g * a.unary(UnaryOp::Trigamma))?),
                UnaryOp::Trigamma => {
                    return Err(Error::grad(
                        "the derivative of trigamma (tetragamma) is not available",
                    ));
                }
                UnaryOp::Erf => {
                    let c = 2.0 / std::f64::consts::PI.sqrt();
                    Some((g * ((-a.square()).exp() * c)?)?)
                }
            };
            vec![d]
        }
        Op::Binary(b) => {
            let (a, c) = (x(0), x(1));
            match b {
                BinaryOp::Add => vec![Some(g.clone()), Some(g.clone())],
                BinaryOp::Sub => vec![Some(g.clone()), Some(-g)],
                BinaryOp::Mul => vec![some(g * c)?, some(g * a)?],
                BinaryOp::Div => {
                    let inv = c.reciprocal();
                    vec![
                        Some(strong_mul(g, &inv)?),
                        Some(strong_mul(g, &(-(v * &inv)?))?),
                    ]
                }
                BinaryOp::Pow => {
                    // d/da a^c = c a^(c-1); d/dc a^c = a^c log a (0 where a = 0).
                    let da = (c * a.pow((c - 1.0)?)?)?;
                    let log_a = Var::where_(&a.equal(0.0)?, 0.0, a.log())?;
                    let dc = (v * log_a)?;
                    vec![Some(strong_mul(g, &da)?), Some(strong_mul(g, &dc)?)]
                }
                BinaryOp::Maximum | BinaryOp::Minimum => {
                    // The gradient goes to the selected operand (the first on ties).
                    let pick_a = if *b == BinaryOp::Maximum {
                        a.ge(c)?
                    } else {
                        a.le(c)?
                    };
                    vec![
                        some(Var::where_(&pick_a, g, 0.0))?,
                        some(Var::where_(&pick_a, 0.0, g))?,
                    ]
                }
                _ => vec![None, None],
            }
        }
        Op::Where => {
            let c = x(0);
            vec![
                None,
                some(Var::where_(c, g, 0.0))?,
                some(Var::where_(c, 0.0, g))?,
            ]
        }
        Op::Cast(_) => {
            let a = x(0);
            vec![if a.dtype().is_float() {
                Some(g.cast(a.dtype()))
            } else {
                None
            }]
        }
        Op::Reduce { op, axes, keepdims } => {
            let a = x(0);
            let gs = spread(g, a, axes, *keepdims)?;
            let ys = spread(v, a, axes, *keepdims)?;
            let d = match op {
                ReduceOp::Sum => gs,
                ReduceOp::Mean => (gs / reduced_count(a, axes)?)?,
                ReduceOp::LogSumExp => {
                    // softmax(a) = e / sum(e) with e = exp(a - max a), the
                    // same nodes the forward expansion builds (so they are
                    // shared). exp(a - logsumexp(a)) would be wrong where
                    // logsumexp absorbs log(sum) (|a| ~ 1e308: gives 1, 1).
                    let ax: Vec<i64> = axes.iter().map(|&a| a as i64).collect();
                    let e = (a - &a.max_axes(&ax, true)?)?.exp();
                    let s = e.sum_axes(&ax, true)?;
                    (gs * (e / s)?)?
                }
                ReduceOp::Max | ReduceOp::Min => {
                    // Split evenly among ties (as JAX does).
                    let hit = a.equal(&ys)?.cast(a.dtype());
                    let ax: Vec<i64> = axes.iter().map(|&a| a as i64).collect();
                    let n = spread(&hit.sum_axes(&ax, *keepdims)?, a, axes, *keepdims)?;
                    ((gs * hit)? / n)?
                }
                ReduceOp::Prod => {
                    // Exact with zeros: product of the others, by counting zeros.
                    let ax: Vec<i64> = axes.iter().map(|&a| a as i64).collect();
                    let is_zero = a.equal(0.0)?;
                    let nz = spread(
                        &is_zero.cast(DType::I64).sum_axes(&ax, *keepdims)?,
                        a,
                        axes,
                        *keepdims,
                    )?;
                    let nonzero = Var::where_(&is_zero, 1.0, a)?;
                    let p = spread(&nonzero.prod_axes(&ax, *keepdims)?, a, axes, *keepdims)?;
                    let no_zero = (&p / a)?;
                    let one_zero = Var::where_(&is_zero, &p, 0.0)?;
                    let others = Var::where_(
                        &nz.equal(0i64)?,
                        no_zero,
                        Var::where_(&nz.equal(1i64)?, one_zero, 0.0)?,
                    )?;
                    (gs * others)?
                }
            };
            vec![Some(d)]
        }
        Op::Argmax { .. } => vec![None],
        Op::MatMul => {
            let (a, b) = (x(0), x(1));
            let ap = if a.rank() == 1 {
                a.expand_dims(0)?
            } else {
                a.clone()
            };
            let bp = if b.rank() == 1 {
                b.expand_dims(-1)?
            } else {
                b.clone()
            };
            let mut gp = g.clone();
            if b.rank() == 1 {
                gp = gp.expand_dims(-1)?;
            }
            if a.rank() == 1 {
                gp = gp.expand_dims(-2)?;
            }
            let ga = super::fit_to(&gp.matmul(&swap_last(&bp)?)?, ap.ty())?;
            let gb = super::fit_to(&swap_last(&ap)?.matmul(&gp)?, bp.ty())?;
            let ga = if a.rank() == 1 { ga.squeeze(&[0])? } else { ga };
            let gb = if b.rank() == 1 {
                gb.squeeze(&[-1])?
            } else {
                gb
            };
            vec![Some(ga), Some(gb)]
        }
        Op::Conv2d { role, spec } => {
            // All three ops are bilinear in their two read operands, so each
            // pullback is another of the three (the shape-only operand gets none).
            let conv =
                |role: ConvRole, ins: &[&Var]| Var::apply(Op::Conv2d { role, spec: *spec }, ins);
            // An adjoint's result has its shape operand's shape; when the
            // others carry a batch axis (draws of w, images of x) the shape
            // operand is lifted to it, and `fit_to` sums the batch back.
            let adjoint = |role: ConvRole, like: usize, ins: [&Var; 3]| -> Result<Var> {
                let lifted = match ins.iter().find(|v| v.rank() == 5) {
                    Some(b) if ins[like].rank() == 4 => Some(batch_like(ins[like], b)?),
                    _ => None,
                };
                let mut ins = ins;
                if let Some(l) = &lifted {
                    ins[like] = l;
                }
                conv(role, &ins)
            };
            match role {
                ConvRole::Forward => vec![
                    Some(adjoint(ConvRole::GradInput, 0, [x(0), x(1), g])?),
                    Some(adjoint(ConvRole::GradKernel, 1, [x(0), x(1), g])?),
                ],
                ConvRole::GradInput => vec![
                    None,
                    Some(adjoint(ConvRole::GradKernel, 1, [g, x(1), x(2)])?),
                    Some(conv(ConvRole::Forward, &[g, x(1)])?),
                ],
                ConvRole::GradKernel => vec![
                    Some(adjoint(ConvRole::GradInput, 0, [x(0), g, x(2)])?),
                    None,
                    Some(conv(ConvRole::Forward, &[x(0), g])?),
                ],
            }
        }
        Op::Pool2d { kind, spec } => vec![Some(Var::apply(
            Op::Pool2dGrad {
                kind: *kind,
                spec: *spec,
            },
            &[x(0), g],
        )?)],
        // Average pooling's gradient is linear in gy; its adjoint is the pooling.
        Op::Pool2dGrad {
            kind: PoolKind::Avg,
            spec,
        } => vec![
            None,
            Some(Var::apply(
                Op::Pool2d {
                    kind: PoolKind::Avg,
                    spec: *spec,
                },
                &[g],
            )?),
        ],
        Op::Pool2dGrad {
            kind: PoolKind::Max,
            ..
        } => {
            return Err(Error::graph(
                "the second derivative of max_pool2d is not implemented (use avg_pool2d, or a strided conv2d)",
            ));
        }
        Op::SolveTriangular { trans } => {
            // z = L^-1 b: gb = L^-T g and gL = -tril(gb z^T) (transposed:
            // gb = L^-1 g, gL = -tril(z gb^T)), summed over b's vectors.
            let (l, b) = (x(0), x(1));
            let k = l.static_shape()[0].ok_or_else(|| {
                Error::shape(
                    "the gradient of solve_triangular needs L's size known when the graph is built",
                )
            })?;
            let gb = l.solve_triangular(g, !trans)?;
            let rows = |t: &Var| t.reshape([-1, k as i64]);
            let (gb2, z2) = (rows(&gb)?, rows(v)?);
            let outer = if *trans {
                swap_last(&z2)?.matmul(&gb2)?
            } else {
                swap_last(&gb2)?.matmul(&z2)?
            };
            let lower: Vec<bool> = (0..k * k).map(|i| i / k >= i % k).collect();
            let mask = Var::constant(Tensor::new(lower, &[k, k])?);
            let gl = Var::where_(&mask, -outer, 0.0)?;
            vec![Some(gl.cast(l.dtype())), Some(gb.cast(b.dtype()))]
        }
        Op::Gemm(spec) => {
            // out = alpha op(A) op(B) + beta C
            let (a, b) = (x(0), x(1));
            let alpha = spec.alpha.get();
            let opa = if spec.trans_a {
                swap_last(a)?
            } else {
                a.clone()
            };
            let opb = if spec.trans_b {
                swap_last(b)?
            } else {
                b.clone()
            };
            let g_opa = (g.matmul(&swap_last(&opb)?)? * alpha)?;
            let g_opb = (swap_last(&opa)?.matmul(g)? * alpha)?;
            let ga = if spec.trans_a {
                swap_last(&g_opa)?
            } else {
                g_opa
            };
            let gb = if spec.trans_b {
                swap_last(&g_opb)?
            } else {
                g_opb
            };
            let mut out = vec![
                Some(super::fit_to(&ga, a.ty())?),
                Some(super::fit_to(&gb, b.ty())?),
            ];
            if ins.len() == 3 {
                out.push(Some((g * spec.beta.get())?));
            }
            out
        }
        Op::DimShuffle(order) => {
            // Inverse: each input axis comes from its output position; axes
            // the op dropped come back as new size-1 axes; new axes go.
            let inv: Vec<Option<usize>> = (0..x(0).rank())
                .map(|a| order.iter().position(|o| *o == Some(a)))
                .collect();
            vec![Some(g.dimshuffle(&inv)?)]
        }
        Op::Reshape => {
            let a = x(0);
            let back = match a.ty().static_shape() {
                Some(s) => g.reshape(s.as_slice())?,
                None => g.reshape(a.shape())?,
            };
            vec![Some(back), None]
        }
        Op::BroadcastTo => vec![Some(g.clone()), None],
        Op::Alloc => vec![Some(g.sum()?), None],
        Op::Concatenate(axis) => {
            let mut start = 0i64;
            let mut out = Vec::new();
            for (k, part) in ins.iter().enumerate() {
                let n = part.static_shape()[*axis].ok_or_else(|| {
                    Error::grad(format!(
                        "concatenate: input {k} has an unknown size along axis {axis}; its gradient needs it known"
                    ))
                })? as i64;
                out.push(Some(g.slice_axis(*axis as i64, start..start + n)?));
                start += n;
            }
            out
        }
        Op::Slice(specs) => vec![Some(x(0).zeros_like().inc_slice(specs, g)?)],
        Op::IncSlice(specs) => vec![Some(g.clone()), Some(g.slice(specs)?)],
        Op::Take(axis) => vec![
            Some(x(0).zeros_like().inc_take(x(1), *axis as i64, g)?),
            None,
        ],
        Op::IncTake(axis) => vec![Some(g.clone()), None, Some(g.take(x(1), *axis as i64)?)],
        Op::Shape => vec![None],
        Op::Random { .. } => vec![None; ins.len()],
        Op::StopGradient => vec![None],
        Op::SpecifyShape { .. } => vec![Some(g.clone())],
        Op::Fused(_) | Op::Conv2dBiasAct { .. } | Op::GemmAct { .. } => {
            return Err(Error::grad(
                "fused nodes exist only in compiled graphs; differentiate before compiling",
            ));
        }
        Op::Custom(c) => c.grad(ins, v, g)?,
    })
}
