//! Type inference for elementwise ops: unary, binary, where, cast, fused programs.

use super::*;

pub(super) fn infer(op: &Op, ins: &[&OutType]) -> Result<Vec<OutType>> {
    let ty = |i: usize| &ins[i].ty;
    match op {
        Op::Unary(u) => {
            arity(op, ins, 1)?;
            let x = ty(0);
            if *u == UnaryOp::Not && x.dtype != DType::Bool {
                return Err(Error::dtype(format!("needs a bool tensor, got {x}")));
            }
            let t = x.with_dtype(u.out_dtype(x.dtype));
            let known = match u {
                UnaryOp::Neg => ins[0]
                    .known
                    .as_ref()
                    .map(|k| k.iter().map(|v| v.map(i64::wrapping_neg)).collect()),
                _ => None,
            };
            Ok(with_known(t, known))
        }
        Op::Binary(b) => {
            arity(op, ins, 2)?;
            let (x, y) = (ty(0), ty(1));
            if b.is_logical() && (x.dtype != DType::Bool || y.dtype != DType::Bool) {
                return Err(Error::dtype(format!("needs bool tensors, got {x} and {y}")));
            }
            let shape = broadcast_shapes("", &[&x.shape, &y.shape]).map_err(|e| err(strip(&e)))?;
            let t = TensorType::new(b.out_dtype(x.dtype, y.dtype), shape);
            let (ka, kb) = (&ins[0].known, &ins[1].known);
            let known = match b {
                BinaryOp::Add => known_binary(ka, kb, i64::wrapping_add),
                BinaryOp::Sub => known_binary(ka, kb, i64::wrapping_sub),
                BinaryOp::Mul => known_binary(ka, kb, i64::wrapping_mul),
                BinaryOp::Maximum => known_binary(ka, kb, i64::max),
                BinaryOp::Minimum => known_binary(ka, kb, i64::min),
                _ => None,
            };
            Ok(with_known(t, known))
        }
        Op::Where => {
            arity(op, ins, 3)?;
            let (c, a, b) = (ty(0), ty(1), ty(2));
            if c.dtype != DType::Bool {
                return Err(Error::dtype(format!("condition must be bool, got {c}")));
            }
            let shape = broadcast_shapes("", &[&c.shape, &a.shape, &b.shape])
                .map_err(|e| err(strip(&e)))?;
            Ok(out(TensorType::new(
                DType::promote(a.dtype, b.dtype),
                shape,
            )))
        }
        Op::Cast(d) => {
            arity(op, ins, 1)?;
            let known = if *d == DType::I64 {
                ins[0].known.as_ref().map(|k| k.to_vec())
            } else {
                None
            };
            Ok(with_known(ty(0).with_dtype(*d), known))
        }
        Op::Fused(p) => infer_fused(p, ins),
        other => Err(Error::graph(format!(
            "{other:?} is not in the elementwise family"
        ))),
    }
}

fn infer_fused(p: &FusedProgram, ins: &[&OutType]) -> Result<Vec<OutType>> {
    if ins.len() != p.n_inputs {
        return Err(Error::graph(format!(
            "fused program takes {} inputs, got {}",
            p.n_inputs,
            ins.len()
        )));
    }
    let shapes: Vec<&[Dim]> = ins.iter().map(|t| t.ty.shape.as_slice()).collect();
    let loop_shape = broadcast_shapes("", &shapes).map_err(|e| err(strip(&e)))?;
    for (r, (ins_, dt)) in p.instrs.iter().enumerate() {
        if let Instr::Input(k) = ins_
            && (*k >= ins.len() || ins[*k].ty.dtype != *dt)
        {
            return Err(Error::graph(format!(
                "fused program register {r} reads input {k} with the wrong dtype"
            )));
        }
    }
    p.outputs
        .iter()
        .map(|o| {
            let dt = p.dtype(o.reg());
            Ok(match o {
                FusedOutput::Elementwise(_) => {
                    OutType::new(TensorType::new(dt, loop_shape.clone()))
                }
                FusedOutput::Reduce {
                    op, axes, keepdims, ..
                } => {
                    let lt = TensorType::new(dt, loop_shape.clone());
                    check_axes(axes, &lt)?;
                    OutType::new(TensorType::new(
                        op.out_dtype(dt),
                        reduce_dims(&loop_shape, axes, *keepdims),
                    ))
                }
            })
        })
        .collect()
}
