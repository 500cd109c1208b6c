//! Type inference for matrix products.

use super::*;
use theon_runtime::Dims;

pub(super) fn infer(op: &Op, ins: &[&OutType]) -> Result<Vec<OutType>> {
    let ty = |i: usize| &ins[i].ty;
    match op {
        Op::MatMul => {
            arity(op, ins, 2)?;
            let (a, b) = (ty(0), ty(1));
            if a.rank() == 0 || b.rank() == 0 {
                return Err(err(format!(
                    "{} · {}: operands must have rank >= 1",
                    fmt_dims(&a.shape),
                    fmt_dims(&b.shape)
                )));
            }
            let pa: Dims<Dim> = if a.rank() == 1 {
                smallvec::smallvec![Some(1), a.shape[0]]
            } else {
                a.shape.clone()
            };
            let pb: Dims<Dim> = if b.rank() == 1 {
                smallvec::smallvec![b.shape[0], Some(1)]
            } else {
                b.shape.clone()
            };
            let (m, k1) = (pa[pa.len() - 2], pa[pa.len() - 1]);
            let (k2, n) = (pb[pb.len() - 2], pb[pb.len() - 1]);
            let ctx = || format!("{} · {}", fmt_dims(&a.shape), fmt_dims(&b.shape));
            unify(k1, k2, || {
                format!("{}: inner dims {} != {}", ctx(), k1.unwrap(), k2.unwrap())
            })?;
            let batch = broadcast_shapes("", &[&pa[..pa.len() - 2], &pb[..pb.len() - 2]])
                .map_err(|e| err(format!("{}: batch dims: {}", ctx(), strip(&e))))?;
            let mut shape = batch;
            if a.rank() > 1 {
                shape.push(m);
            }
            if b.rank() > 1 {
                shape.push(n);
            }
            let dt = DType::promote(a.dtype, b.dtype).arithmetic();
            Ok(out(TensorType::new(dt, shape)))
        }
        Op::SolveTriangular { .. } => {
            arity(op, ins, 2)?;
            let (l, b) = (ty(0), ty(1));
            if l.rank() != 2 || b.rank() == 0 || !l.dtype.is_float() || !b.dtype.is_float() {
                return Err(err(format!(
                    "solve_triangular: needs a float matrix L and float vectors b (..., k), got {l} and {b}"
                )));
            }
            let k = b.shape[b.rank() - 1];
            for (what, d) in [("rows", l.shape[0]), ("columns", l.shape[1])] {
                unify(d, k, || {
                    format!(
                        "solve_triangular: L has {what} {} but b's last axis is {}",
                        d.unwrap(),
                        k.unwrap()
                    )
                })?;
            }
            let dt = DType::promote(l.dtype, b.dtype);
            Ok(out(TensorType::new(dt, b.shape.clone())))
        }
        Op::Gemm(g) => {
            if ins.len() != 2 && ins.len() != 3 {
                return Err(Error::graph(format!(
                    "Gemm takes 2 or 3 inputs, got {}",
                    ins.len()
                )));
            }
            let (a, b) = (ty(0), ty(1));
            if a.rank() < 2 || b.rank() < 2 {
                return Err(err(format!(
                    "gemm operands must be matrices, got {a} and {b}"
                )));
            }
            let (ra, rb) = (a.rank(), b.rank());
            let (m, k1) = if g.trans_a {
                (a.shape[ra - 1], a.shape[ra - 2])
            } else {
                (a.shape[ra - 2], a.shape[ra - 1])
            };
            let (k2, n) = if g.trans_b {
                (b.shape[rb - 1], b.shape[rb - 2])
            } else {
                (b.shape[rb - 2], b.shape[rb - 1])
            };
            let eff = |t: &TensorType, tr: bool| {
                let mut d = t.shape.clone();
                let r = d.len();
                if tr {
                    d.swap(r - 2, r - 1);
                }
                fmt_dims(&d)
            };
            unify(k1, k2, || {
                format!(
                    "{} · {}: inner dims {} != {}",
                    eff(a, g.trans_a),
                    eff(b, g.trans_b),
                    k1.unwrap(),
                    k2.unwrap()
                )
            })?;
            let mut shape = broadcast_shapes("", &[&a.shape[..ra - 2], &b.shape[..rb - 2]])
                .map_err(|e| err(strip(&e)))?;
            shape.push(m);
            shape.push(n);
            let mut dt = DType::promote(a.dtype, b.dtype).arithmetic();
            if ins.len() == 3 {
                let c = ty(2);
                let bs = broadcast_shapes("", &[&shape, &c.shape]).map_err(|e| err(strip(&e)))?;
                if bs.len() != shape.len()
                    || bs
                        .iter()
                        .zip(&shape)
                        .any(|(x, y)| x.is_some() && y.is_some() && x != y)
                {
                    return Err(err(format!(
                        "gemm addend {c} does not broadcast to the product shape {}",
                        fmt_dims(&shape)
                    )));
                }
                shape = bs;
                dt = DType::promote(dt, c.dtype.arithmetic());
            }
            Ok(out(TensorType::new(dt, shape)))
        }
        Op::GemmAct { spec, act } => {
            let y = infer(&Op::Gemm(*spec), ins)?;
            let t = super::elementwise::infer(&Op::Unary(*act), &[&y[0]])?;
            if t[0].ty.dtype != y[0].ty.dtype {
                return Err(Error::dtype(format!(
                    "the activation {} changes the dtype",
                    act.name()
                )));
            }
            Ok(y)
        }
        other => Err(Error::graph(format!(
            "{other:?} is not in the linalg family"
        ))),
    }
}
