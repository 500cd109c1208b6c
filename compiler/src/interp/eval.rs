//! Evaluate one op on concrete tensors: one `match` over every op, built
//! from runtime kernels. Slow and simple on purpose: this is the reference.

use super::scalar;
use crate::op::{
    BinaryOp, ConvRole, FusedOutput, FusedProgram, GemmSpec, Instr, Op, RandomDist, ReduceOp,
    SliceSpec, UnaryOp, check_runtime,
};
use crate::types::{OutType, TensorType};
use theon_runtime::kernels::{gemm, map, movement, reduce};
use theon_runtime::random::RngState;
use theon_runtime::{DType, Data, Element, Error, Float, Result, Tensor, random};

/// `x` with `y` (broadcast to `region`) added by `$body`, for every dtype.
/// Bools add as logical or (computed in int64).
macro_rules! inc_by_dtype {
    ($x:expr, $y:expr, $region:expr, |$dst:ident, $src:ident| $body:expr) => {{
        let x: &Tensor = $x;
        let mut out = if x.dtype() == DType::Bool {
            x.cast(DType::I64)
        } else {
            x.clone()
        };
        let y = $y.cast(out.dtype());
        macro_rules! go {
            ($t:ty) => {{
                let $src = map::broadcast_to(y.as_slice::<$t>()?, y.shape(), $region);
                let $dst = out.as_slice_mut::<$t>()?;
                $body
            }};
        }
        match out.dtype() {
            DType::F64 => go!(f64),
            DType::F32 => go!(f32),
            _ => go!(i64),
        }
        if x.dtype() == DType::Bool {
            out = binary(
                crate::op::BinaryOp::Ne,
                &out,
                &Tensor::scalar(0i64),
                x.shape(),
            );
        }
        out
    }};
}

/// Fail (instead of aborting inside the allocator) when an output of this
/// shape cannot be allocated: the count must fit, and a large buffer is
/// reserved once fallibly first (the kernels then allocate it for real).
pub fn check_alloc(label: &str, shape: &[usize], dtype: DType) -> Result<()> {
    let n = theon_runtime::alloc::try_numel(shape).map_err(|e| e.context(label))?;
    let bytes = theon_runtime::alloc::try_bytes(n, dtype).map_err(|e| e.context(label))?;
    if bytes >= 1 << 30 {
        let mut probe: Vec<u8> = Vec::new();
        theon_runtime::alloc::reserve(&mut probe, bytes).map_err(|e| e.context(label))?;
    }
    Ok(())
}

/// Evaluate `op` on `ins`. `static_ins` are the inputs' static types (for
/// the run-time broadcasting rule) and `outs` the node's output types.
pub fn eval(
    op: &Op,
    label: &str,
    static_ins: &[&TensorType],
    outs: &[OutType],
    ins: &[&Tensor],
) -> Result<Vec<Tensor>> {
    let shapes: Vec<&[usize]> = ins.iter().map(|t| t.shape()).collect();
    let values: Vec<Option<&Tensor>> = ins.iter().map(|t| Some(*t)).collect();
    let out_shapes = check_runtime(op, label, static_ins, &shapes, &values)?;
    for (s, o) in out_shapes.iter().zip(outs) {
        check_alloc(label, s, o.ty.dtype)?;
    }
    let out_dtype = outs.first().map(|o| o.ty.dtype).unwrap_or(DType::F64);
    let shape0 = out_shapes.first().cloned().unwrap_or_default();
    let one = |t: Tensor| Ok(vec![t]);
    match op {
        Op::Constant(c) => one(c.tensor().clone()),
        Op::Input { .. } | Op::Shared(_) => Err(Error::graph(format!(
            "{label}: leaves are bound by the caller, not evaluated"
        ))),
        Op::Unary(u) => one(unary(*u, ins[0])),
        Op::Binary(b) => one(binary(*b, ins[0], ins[1], &shape0)),
        Op::Where => one(select(ins[0], ins[1], ins[2], out_dtype, &shape0)?),
        Op::Cast(d) => one(ins[0].cast(*d)),
        Op::Reduce {
            op: r,
            axes,
            keepdims: _,
        } => one(reduce_tensor(*r, ins[0], axes, out_dtype, &shape0)?),
        Op::Argmax { axis, .. } => {
            let x = ins[0];
            let (flat_shape, ax) = match axis {
                Some(a) => (x.shape().to_vec(), *a),
                None => (vec![x.len()], 0),
            };
            let idx = theon_runtime::with_data!(x.data(), v => {
                reduce::argmax_axis(v, &flat_shape, ax, |e| e.to_f64().is_nan())
            });
            one(Tensor::new(idx, &shape0)?)
        }
        Op::MatMul => one(matmul(ins[0], ins[1], out_dtype, &shape0)?),
        Op::SolveTriangular { trans } => one(solve_triangular(ins[0], ins[1], *trans, out_dtype)?),
        Op::Gemm(g) => one(gemm_eval(g, ins, out_dtype, &shape0)?),
        // The ops it stands for, one after the other.
        Op::GemmAct { spec, act } => one(unary(*act, &gemm_eval(spec, ins, out_dtype, &shape0)?)),
        Op::Conv2d { role, spec } => one(super::conv::conv_eval(*role, spec, ins, &shape0)?),
        Op::Conv2dBiasAct { spec, act } => {
            // The ops it stands for, one after the other.
            let mut y = super::conv::conv_eval(ConvRole::Forward, spec, &ins[..2], &shape0)?;
            if let Some(b) = ins.get(2) {
                y = binary(BinaryOp::Add, &y, b, &shape0);
            }
            one(match act {
                Some(a) => unary(*a, &y),
                None => y,
            })
        }
        Op::Pool2d { kind, spec } => one(super::conv::pool_eval(*kind, spec, false, ins, &shape0)?),
        Op::Pool2dGrad { kind, spec } => {
            one(super::conv::pool_eval(*kind, spec, true, ins, &shape0)?)
        }
        Op::DimShuffle(order) => one(dimshuffle(ins[0], order, &shape0)?),
        Op::Reshape | Op::StopGradient => one(ins[0].clone().reshape(&shape0)?),
        // Its check is type inference at the concrete shape (check_runtime).
        Op::SpecifyShape { .. } => one(ins[0].clone()),
        Op::BroadcastTo => {
            let x = ins[0];
            let data = theon_runtime::with_data!(x.data(), v => Element::into_data(map::broadcast_to(v, x.shape(), &shape0)));
            one(Tensor::from_data(data, &shape0)?)
        }
        Op::Alloc => {
            let v = ins[0].cast(out_dtype);
            let n: usize = shape0.iter().product();
            let data = theon_runtime::with_data!(v.data(), d => Element::into_data(vec![d[0]; n]));
            one(Tensor::from_data(data, &shape0)?)
        }
        Op::Concatenate(axis) => {
            let parts: Vec<Tensor> = ins.iter().map(|t| t.cast(out_dtype)).collect();
            let data = match out_dtype {
                DType::Bool => concat_typed::<bool>(&parts, *axis),
                DType::I64 => concat_typed::<i64>(&parts, *axis),
                DType::F32 => concat_typed::<f32>(&parts, *axis),
                DType::F64 => concat_typed::<f64>(&parts, *axis),
            };
            one(Tensor::from_data(data, &shape0)?)
        }
        Op::Slice(specs) => {
            let x = ins[0];
            let sl = axis_slices(specs, x.shape());
            let data = theon_runtime::with_data!(x.data(), v => Element::into_data(movement::slice(v, x.shape(), &sl)));
            one(Tensor::from_data(data, &shape0)?)
        }
        Op::IncSlice(specs) => {
            let x = ins[0];
            let sl = axis_slices(specs, x.shape());
            let region: Vec<usize> = sl.iter().map(|s| s.len).collect();
            one(inc_by_dtype!(x, ins[1], &region, |dst, src| {
                movement::slice_assign(dst, x.shape(), &sl, &src, true)
            }))
        }
        Op::Take(axis) => {
            let x = ins[0];
            let idx = check_indices(label, ins[1], x.shape()[*axis], *axis)?;
            let data = theon_runtime::with_data!(x.data(), v => Element::into_data(movement::take(v, x.shape(), *axis, &idx)));
            one(Tensor::from_data(data, &shape0)?)
        }
        Op::IncTake(axis) => {
            let x = ins[0];
            let idx = check_indices(label, ins[1], x.shape()[*axis], *axis)?;
            let mut region = x.shape()[..*axis].to_vec();
            region.extend_from_slice(ins[1].shape());
            region.extend_from_slice(&x.shape()[axis + 1..]);
            one(inc_by_dtype!(x, ins[2], &region, |dst, src| {
                movement::take_adjoint(dst, x.shape(), *axis, &idx, &src)
            }))
        }
        Op::Shape => one(Tensor::vector(
            ins[0]
                .shape()
                .iter()
                .map(|&d| d as i64)
                .collect::<Vec<i64>>(),
        )),
        Op::Random { dist, dtype, draw } => {
            one(random_draw(label, *dist, *dtype, *draw, ins, &shape0)?)
        }
        Op::Fused(p) => fused(p, ins, &out_shapes),
        Op::Custom(c) => {
            let t = c.kernel().eval(ins).map_err(|e| e.context(label))?;
            if t.shape() != shape0.as_slice() || t.dtype() != out_dtype {
                return Err(Error::shape(format!(
                    "{label}: custom op returned {}{:?}, its type says {}{:?}",
                    t.dtype(),
                    t.shape(),
                    out_dtype,
                    shape0
                )));
            }
            one(t)
        }
    }
}

/// An elementwise unary function on a tensor.
pub fn unary(u: UnaryOp, x: &Tensor) -> Tensor {
    let x = x.cast(u.out_dtype(x.dtype()));
    let data = match x.data() {
        Data::F32(v) => Data::F32(map::unary(v, |a| scalar::unary_float(u, a))),
        Data::F64(v) => Data::F64(map::unary(v, |a| scalar::unary_float(u, a))),
        Data::I64(v) => Data::I64(map::unary(v, |a| scalar::unary_int(u, a))),
        Data::Bool(v) => Data::Bool(map::unary(v, |a| !a)),
    };
    Tensor::from_data(data, x.shape()).expect("same size")
}

/// An elementwise binary op with broadcasting to `out_shape`.
pub fn binary(b: crate::op::BinaryOp, x: &Tensor, y: &Tensor, out_shape: &[usize]) -> Tensor {
    let cd = b.compute_dtype(x.dtype(), y.dtype());
    let (x, y) = (x.cast(cd), y.cast(cd));
    let (xs, ys) = (x.shape(), y.shape());
    let boolean = b.is_comparison() || b.is_logical();
    let data = match (x.data(), y.data()) {
        (Data::F32(p), Data::F32(q)) if boolean => {
            Data::Bool(map::binary(p, xs, q, ys, out_shape, |a, c| {
                scalar::compare(b, a, c)
            }))
        }
        (Data::F64(p), Data::F64(q)) if boolean => {
            Data::Bool(map::binary(p, xs, q, ys, out_shape, |a, c| {
                scalar::compare(b, a, c)
            }))
        }
        (Data::I64(p), Data::I64(q)) if boolean => {
            Data::Bool(map::binary(p, xs, q, ys, out_shape, |a, c| {
                scalar::compare(b, a, c)
            }))
        }
        (Data::Bool(p), Data::Bool(q)) => {
            Data::Bool(map::binary(p, xs, q, ys, out_shape, |a, c| {
                scalar::logical(b, a, c)
            }))
        }
        (Data::F32(p), Data::F32(q)) => Data::F32(map::binary(p, xs, q, ys, out_shape, |a, c| {
            scalar::binary_float(b, a, c)
        })),
        (Data::F64(p), Data::F64(q)) => Data::F64(map::binary(p, xs, q, ys, out_shape, |a, c| {
            scalar::binary_float(b, a, c)
        })),
        (Data::I64(p), Data::I64(q)) => Data::I64(map::binary(p, xs, q, ys, out_shape, |a, c| {
            scalar::binary_int(b, a, c)
        })),
        _ => unreachable!("operands were cast to one dtype"),
    };
    Tensor::from_data(data, out_shape).expect("broadcast size")
}

fn reduce_float<T: Float>(op: ReduceOp, v: &[T], shape: &[usize], axes: &[usize]) -> Vec<T> {
    let count = reduce::reduced_count(shape, axes);
    match op {
        ReduceOp::Sum => reduce::fold_axes(v, shape, axes, T::ZERO, |a, x| a + x),
        ReduceOp::Prod => reduce::fold_axes(v, shape, axes, T::ONE, |a, x| a * x),
        ReduceOp::Max => reduce::fold_axes(v, shape, axes, T::NEG_INFINITY, |a, x| a.max_nan(x)),
        ReduceOp::Min => reduce::fold_axes(v, shape, axes, T::INFINITY, |a, x| a.min_nan(x)),
        ReduceOp::Mean => {
            let n = T::from_f64(count as f64);
            reduce::fold_axes(v, shape, axes, T::ZERO, |a, x| a + x)
                .into_iter()
                .map(|s| s / n)
                .collect()
        }
        ReduceOp::LogSumExp => {
            reduce::fold_axes(v, shape, axes, (T::NEG_INFINITY, T::ZERO), |(m, s), x| {
                if x.is_nan() || m.is_nan() {
                    (T::NAN, s)
                } else if x == T::NEG_INFINITY {
                    (m, s)
                } else if x > m {
                    (x, s * (m - x).exp() + T::ONE)
                } else if x == m {
                    (m, s + T::ONE)
                } else {
                    (m, s + (x - m).exp())
                }
            })
            .into_iter()
            .map(|(m, s)| {
                if m.is_nan() || m == T::NEG_INFINITY || m == T::INFINITY {
                    m
                } else {
                    m + s.ln()
                }
            })
            .collect()
        }
    }
}

fn reduce_int(op: ReduceOp, v: &[i64], shape: &[usize], axes: &[usize]) -> Vec<i64> {
    match op {
        ReduceOp::Sum => reduce::fold_axes(v, shape, axes, 0, |a: i64, x| a.wrapping_add(x)),
        ReduceOp::Prod => reduce::fold_axes(v, shape, axes, 1, |a: i64, x| a.wrapping_mul(x)),
        ReduceOp::Max => reduce::fold_axes(v, shape, axes, i64::MIN, |a, x| a.max(x)),
        ReduceOp::Min => reduce::fold_axes(v, shape, axes, i64::MAX, |a, x| a.min(x)),
        ReduceOp::Mean | ReduceOp::LogSumExp => unreachable!("computed in float"),
    }
}

/// Reduce a tensor over sorted axes into `out_dtype` / `out_shape`.
pub fn reduce_tensor(
    r: ReduceOp,
    x: &Tensor,
    axes: &[usize],
    out_dtype: DType,
    out_shape: &[usize],
) -> Result<Tensor> {
    // Sums of float32 accumulate in float64 (as the JIT's
    // `f32_reduce_in_f64` rewrite), rounded once by the final cast.
    let cd = match r {
        ReduceOp::Sum | ReduceOp::Mean | ReduceOp::LogSumExp if x.dtype() == DType::F32 => {
            DType::F64
        }
        ReduceOp::Sum | ReduceOp::Prod => x.dtype().arithmetic(),
        ReduceOp::Max | ReduceOp::Min => x.dtype().arithmetic(),
        ReduceOp::Mean | ReduceOp::LogSumExp => x.dtype().to_float(),
    };
    let xc = x.cast(cd);
    let data = match xc.data() {
        Data::F32(v) => Data::F32(reduce_float(r, v, x.shape(), axes)),
        Data::F64(v) => Data::F64(reduce_float(r, v, x.shape(), axes)),
        Data::I64(v) => Data::I64(reduce_int(r, v, x.shape(), axes)),
        Data::Bool(_) => unreachable!("bool reduces as int64"),
    };
    Ok(Tensor::from_data(data, out_shape)?.cast(out_dtype))
}

/// Forward (or, transposed, backward) substitution with a lower
/// triangular `l` for each vector along `b`'s last axis, in float64
/// (float32 results are rounded once at the end).
fn solve_triangular(l: &Tensor, b: &Tensor, trans: bool, dtype: DType) -> Result<Tensor> {
    let k = l.shape()[0];
    let lv = l.to_f64_vec();
    let mut z = b.to_f64_vec();
    for v in z.chunks_mut(k.max(1)) {
        if trans {
            // L^T z = b: the last unknown first; (L^T)_ij = L_ji.
            for i in (0..k).rev() {
                let s: f64 = (i + 1..k).map(|j| lv[j * k + i] * v[j]).sum();
                v[i] = (v[i] - s) / lv[i * k + i];
            }
        } else {
            for i in 0..k {
                let s: f64 = (0..i).map(|j| lv[i * k + j] * v[j]).sum();
                v[i] = (v[i] - s) / lv[i * k + i];
            }
        }
    }
    Ok(Tensor::new(z, b.shape())?.cast(dtype))
}

fn matmul(a: &Tensor, b: &Tensor, dtype: DType, out_shape: &[usize]) -> Result<Tensor> {
    let (a, b) = (a.cast(dtype), b.cast(dtype));
    let pa: Vec<usize> = if a.rank() == 1 {
        vec![1, a.shape()[0]]
    } else {
        a.shape().to_vec()
    };
    let pb: Vec<usize> = if b.rank() == 1 {
        vec![b.shape()[0], 1]
    } else {
        b.shape().to_vec()
    };
    let nb = pa.len().max(pb.len()) - 2;
    let batch = &out_shape[..nb];
    let data = match (a.data(), b.data()) {
        (Data::F64(x), Data::F64(y)) => Data::F64(gemm::batched_matmul(x, &pa, y, &pb, batch)),
        (Data::F32(x), Data::F32(y)) => Data::F32(gemm::batched_matmul(x, &pa, y, &pb, batch)),
        (Data::I64(x), Data::I64(y)) => Data::I64(gemm::batched_matmul(x, &pa, y, &pb, batch)),
        _ => return Err(Error::dtype(format!("matmul: unsupported dtype {dtype}"))),
    };
    Tensor::from_data(data, out_shape)
}

/// `where(cond, a, b)` broadcast to `shape`, in `dtype`.
fn select(cond: &Tensor, a: &Tensor, b: &Tensor, dtype: DType, shape: &[usize]) -> Result<Tensor> {
    let (a, b) = (a.cast(dtype), b.cast(dtype));
    let c = cond.as_slice::<bool>()?;
    macro_rules! go {
        ($t:ty) => {
            Element::into_data(map::ternary(
                c,
                cond.shape(),
                a.as_slice::<$t>()?,
                a.shape(),
                b.as_slice::<$t>()?,
                b.shape(),
                shape,
                |c, p, q| if c { p } else { q },
            ))
        };
    }
    let data = match dtype {
        DType::Bool => go!(bool),
        DType::I64 => go!(i64),
        DType::F32 => go!(f32),
        DType::F64 => go!(f64),
    };
    Tensor::from_data(data, shape)
}

/// Swap the last two axes.
fn swap_last(t: &Tensor) -> Tensor {
    let r = t.rank();
    let mut perm: Vec<usize> = (0..r).collect();
    perm.swap(r - 2, r - 1);
    let mut shape = t.shape().to_vec();
    shape.swap(r - 2, r - 1);
    let data = theon_runtime::with_data!(t.data(), v => Element::into_data(movement::permute(v, t.shape(), &perm)));
    Tensor::from_data(data, &shape).expect("same size")
}

fn gemm_eval(g: &GemmSpec, ins: &[&Tensor], dtype: DType, out_shape: &[usize]) -> Result<Tensor> {
    let a = if g.trans_a {
        swap_last(ins[0])
    } else {
        ins[0].clone()
    };
    let b = if g.trans_b {
        swap_last(ins[1])
    } else {
        ins[1].clone()
    };
    let prod = matmul(&a, &b, dtype, out_shape)?;
    let scaled = binary(
        crate::op::BinaryOp::Mul,
        &prod,
        &Tensor::full(g.alpha.get(), dtype, &[]),
        out_shape,
    );
    match ins.get(2) {
        None => Ok(scaled),
        Some(c) => {
            let c = binary(
                crate::op::BinaryOp::Mul,
                &c.cast(dtype),
                &Tensor::full(g.beta.get(), dtype, &[]),
                c.shape(),
            );
            Ok(binary(crate::op::BinaryOp::Add, &scaled, &c, out_shape))
        }
    }
}

fn dimshuffle(x: &Tensor, order: &[Option<usize>], out_shape: &[usize]) -> Result<Tensor> {
    // Dropped axes have size 1: removing them leaves the data as is. Then
    // permute the kept axes and insert the new size-1 axes by reshaping.
    let kept: Vec<usize> = order.iter().flatten().copied().collect();
    let mut rank_map = vec![usize::MAX; x.rank()];
    let mut squeezed = Vec::new();
    for (a, &d) in x.shape().iter().enumerate() {
        if kept.contains(&a) {
            rank_map[a] = squeezed.len();
            squeezed.push(d);
        }
    }
    let perm: Vec<usize> = kept.iter().map(|&a| rank_map[a]).collect();
    let data = theon_runtime::with_data!(x.data(), v => Element::into_data(movement::permute(v, &squeezed, &perm)));
    Tensor::from_data(data, out_shape)
}

fn concat_typed<T: Element>(parts: &[Tensor], axis: usize) -> Data {
    let views: Vec<(&[T], &[usize])> = parts
        .iter()
        .map(|p| (p.as_slice::<T>().expect("cast"), p.shape()))
        .collect();
    T::into_data(movement::concat(&views, axis))
}

/// Full slice specs for every axis, normalized against concrete dims.
pub fn axis_slices(specs: &[SliceSpec], shape: &[usize]) -> Vec<movement::AxisSlice> {
    shape
        .iter()
        .enumerate()
        .map(|(a, &d)| {
            let s = specs.get(a).copied().unwrap_or(SliceSpec::FULL);
            movement::normalize_slice(s.start, s.stop, s.step, d)
        })
        .collect()
}

fn check_indices(label: &str, idx: &Tensor, dim: usize, axis: usize) -> Result<Vec<usize>> {
    idx.as_slice::<i64>()?
        .iter()
        .map(|&i| {
            let n = dim as i64;
            let j = if i < 0 { i + n } else { i };
            if (0..n).contains(&j) {
                Ok(j as usize)
            } else {
                Err(Error::index(format!(
                    "{label}: index {i} is out of bounds for axis {axis} with size {dim}"
                )))
            }
        })
        .collect()
}

fn random_draw(
    label: &str,
    dist: RandomDist,
    dtype: DType,
    draw: u64,
    ins: &[&Tensor],
    shape: &[usize],
) -> Result<Tensor> {
    let RngState { seed, counter } = RngState::from_tensor(ins[0])?;
    // (`eval` checked that the output can be allocated.)
    let n: usize = shape.iter().product();
    let params: Vec<Vec<f64>> = ins[2..]
        .iter()
        .map(|p| map::broadcast_to(&p.to_f64_vec(), p.shape(), shape))
        .collect();
    let ctx = |e: Error| e.context(label);
    let t = match dist {
        RandomDist::Integers { low, high } => {
            let mut v = vec![0i64; n];
            random::fill_integers(&mut v, low, high, seed, counter, draw).map_err(ctx)?;
            Tensor::new(v, shape)?
        }
        _ if dtype == DType::F32 => {
            let mut v = vec![0f32; n];
            let p32: Vec<Vec<f32>> = params
                .iter()
                .map(|p| p.iter().map(|&x| x as f32).collect())
                .collect();
            fill_float(dist, &mut v, &p32, seed, counter, draw).map_err(ctx)?;
            Tensor::new(v, shape)?
        }
        _ => {
            let mut v = vec![0f64; n];
            fill_float(dist, &mut v, &params, seed, counter, draw).map_err(ctx)?;
            Tensor::new(v, shape)?.cast(dtype)
        }
    };
    Ok(t)
}

/// Fill a float buffer with draws of `dist`; shared by the interpreter and
/// the JIT's runtime calls so both produce the same bits.
pub fn fill_float<T: Float>(
    dist: RandomDist,
    out: &mut [T],
    params: &[Vec<T>],
    seed: u64,
    counter: u64,
    draw: u64,
) -> Result<()> {
    match dist {
        RandomDist::Normal => random::fill_normal(out, seed, counter, draw),
        RandomDist::Uniform => random::fill_uniform(out, seed, counter, draw),
        RandomDist::Poisson => random::fill_poisson(out, &params[0], seed, counter, draw)?,
        RandomDist::Gamma => random::fill_gamma(out, &params[0], seed, counter, draw)?,
        RandomDist::Binomial => {
            random::fill_binomial(out, &params[0], &params[1], seed, counter, draw)?
        }
        RandomDist::Integers { .. } => return Err(Error::dtype("integer draws are not float")),
    }
    Ok(())
}

/// Concrete NumPy broadcast of two shapes already known to be compatible.
fn broadcast2(a: &[usize], b: &[usize]) -> Vec<usize> {
    let r = a.len().max(b.len());
    (0..r)
        .map(|i| {
            let x = if i + a.len() >= r {
                a[i + a.len() - r]
            } else {
                1
            };
            let y = if i + b.len() >= r {
                b[i + b.len() - r]
            } else {
                1
            };
            if x == 1 { y } else { x }
        })
        .collect()
}

/// A fused node evaluated as the unfused ops it stands for.
fn fused(p: &FusedProgram, ins: &[&Tensor], out_shapes: &[Vec<usize>]) -> Result<Vec<Tensor>> {
    let loop_shape = ins
        .iter()
        .fold(Vec::new(), |acc, t| broadcast2(&acc, t.shape()));
    let mut regs: Vec<Tensor> = Vec::with_capacity(p.instrs.len());
    for (instr, dt) in &p.instrs {
        let r = |k: &u32| &regs[*k as usize];
        let v = match instr {
            Instr::Input(k) => ins[*k].clone(),
            Instr::Const(c) => c.tensor(*dt),
            Instr::Unary(u, a) => unary(*u, r(a)),
            Instr::Binary(b, x, y) => {
                binary(*b, r(x), r(y), &broadcast2(r(x).shape(), r(y).shape()))
            }
            Instr::Where(c, a, b) => {
                let shape = broadcast2(&broadcast2(r(c).shape(), r(a).shape()), r(b).shape());
                select(r(c), r(a), r(b), *dt, &shape)?
            }
            Instr::Cast(d, a) => r(a).cast(*d),
        };
        regs.push(v.cast(*dt));
    }
    p.outputs
        .iter()
        .zip(out_shapes)
        .map(|(o, shape)| {
            let reg = &regs[o.reg() as usize];
            let full = theon_runtime::with_data!(reg.data(), v => Element::into_data(map::broadcast_to(v, reg.shape(), &loop_shape)));
            let full = Tensor::from_data(full, &loop_shape)?;
            match o {
                FusedOutput::Elementwise(_) => Ok(full),
                FusedOutput::Reduce { op, axes, .. } => reduce_tensor(*op, &full, axes, op.out_dtype(reg.dtype()), shape),
            }
        })
        .collect()
}
