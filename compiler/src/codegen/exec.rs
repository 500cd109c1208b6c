//! Steps the generated code hands back to Rust: data movement, random
//! draws, and rare ops. Each is prepared by the plan (index tables are
//! computed once per shape signature) so that running it allocates nothing.
//! Ops with no table form (custom ops, argmax, a stand-alone logsumexp,
//! integer matmul) run through the interpreter's kernels instead.

use super::layout::Layout;
use super::math::{self, slice::SliceFn};
use super::threads;
use crate::graph::{Graph, NodeId};
use crate::interp;
use crate::op::{ConvCall, ConvRole, ConvSpec, Op, PoolKind, RandomDist, SliceSpec};
use crate::types::TensorType;
use std::sync::atomic::{AtomicBool, Ordering};
use theon_runtime::kernels::conv::Epilogue;
use theon_runtime::kernels::im2col;
use theon_runtime::kernels::layout::{broadcast_strides, contiguous_strides, for_each_offset};
use theon_runtime::kernels::pool::{self, Pool2dGeom};
use theon_runtime::random::RngState;
use theon_runtime::{DType, Element, Error, Float, Result, Tensor, convert, random};

/// One prepared step.
pub struct NodeExec {
    label: String,
    /// Threads the step may split its work across (`codegen/threads.rs`).
    threads: usize,
    ins: Vec<Operand>,
    outs: Vec<Operand>,
    kind: Kind,
}

/// A buffer with its concrete shape and dtype.
#[derive(Clone, Debug)]
pub struct Operand {
    pub buf: usize,
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl Operand {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

enum Kind {
    /// out[i] = in0[table[i]] (slices, permutations, broadcasts).
    Gather(Vec<usize>),
    /// out = in0; out[table[j]] += in1[src[j]] (inc_slice).
    Scatter { table: Vec<usize>, src: Vec<usize> },
    /// Gather along an axis with run-time indices.
    Take {
        outer: usize,
        len: usize,
        inner: usize,
        axis: usize,
    },
    /// Scatter-add along an axis with run-time indices; `src` broadcasts y.
    IncTake {
        outer: usize,
        len: usize,
        inner: usize,
        axis: usize,
        src: Vec<usize>,
    },
    /// Concatenate: for each part, (block size per outer index).
    Concat { outer: usize, blocks: Vec<usize> },
    /// Fill with the scalar input.
    Fill,
    /// Write the shape of input 0.
    Shape,
    /// Random draws; params gathered through tables.
    Random {
        dist: RandomDist,
        draw: u64,
        params: Vec<Vec<usize>>,
    },
    /// A convolution op through the im2col kernels; a forward one may
    /// add a bias (batch item b's at `b · bias step`) and apply an
    /// activation kernel to its output (`Conv2dBiasAct`).
    Conv {
        role: ConvRole,
        call: ConvCall,
        bias: Option<usize>,
        act: Option<SliceFn>,
    },
    /// Pooling (`grad`: its input gradient).
    Pool {
        kind: PoolKind,
        grad: bool,
        geom: Pool2dGeom,
    },
    /// Evaluate with the interpreter (allocates).
    Interpret {
        op: Op,
        static_ins: Vec<TensorType>,
        outs: Vec<crate::types::OutType>,
    },
}

/// Pointers of every buffer for this call (as addresses).
pub struct Buffers<'a>(pub &'a [usize]);

impl Buffers<'_> {
    /// SAFETY (callers): the plan sized every buffer for its operand's
    /// concrete shape and dtype, and the call filled every pointer.
    unsafe fn slice<T: Element>(&self, o: &Operand) -> &[T] {
        // SAFETY: see the method contract.
        unsafe { std::slice::from_raw_parts(self.0[o.buf] as *const T, o.len()) }
    }
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice_mut<T: Element>(&self, o: &Operand) -> &mut [T] {
        // SAFETY: see the method contract; output buffers never alias the
        // inputs a step reads (the memory plan only aliases elementwise ops).
        unsafe { std::slice::from_raw_parts_mut(self.0[o.buf] as *mut T, o.len()) }
    }
}

/// Run `$body` with `$T` bound to the Rust type of `$dtype`.
macro_rules! by_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            DType::Bool => {
                type $T = bool;
                $body
            }
            DType::I64 => {
                type $T = i64;
                $body
            }
            DType::F32 => {
                type $T = f32;
                $body
            }
            DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// Element offsets of a strided view (a table per output element, reserved
/// fallibly: 8 bytes per element of a possibly huge output).
fn offsets_of(shape: &[usize], strides: &[usize]) -> Result<Vec<usize>> {
    let mut v = Vec::new();
    theon_runtime::alloc::reserve(&mut v, theon_runtime::alloc::try_numel(shape)?)?;
    for_each_offset(shape, [strides], |_, [o]| v.push(o));
    Ok(v)
}

/// Source offsets of `x` (shape `shape`) read by a strided slice.
fn slice_table(shape: &[usize], specs: &[SliceSpec]) -> Result<(Vec<usize>, Vec<usize>)> {
    let sl = interp::axis_slices(specs, shape);
    let cs = contiguous_strides(shape);
    let out_shape: Vec<usize> = sl.iter().map(|s| s.len).collect();
    let n = theon_runtime::alloc::try_numel(&out_shape)?;
    let mut table = Vec::new();
    theon_runtime::alloc::reserve(&mut table, n)?;
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..n {
        let off: isize = sl
            .iter()
            .zip(&cs)
            .zip(&idx)
            .map(|((s, &c), &i)| (s.start as isize + i as isize * s.step) * c as isize)
            .sum();
        table.push(off as usize);
        for a in (0..idx.len()).rev() {
            idx[a] += 1;
            if idx[a] < out_shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    Ok((table, out_shape))
}

/// The convolution's kernel call at the operands' concrete shapes.
fn conv_call(spec: &ConvSpec, ins: &[Operand]) -> Result<ConvCall> {
    spec.call(&ins[0].shape, &ins[1].shape)
        .ok_or_else(|| Error::shape("conv2d: the output size does not fit"))
}

/// How far apart the batch items' biases lie in a bias of shape `b`
/// broadcast to the output `y` (channel axis contiguous, every other axis
/// but the batch one broadcast); checked against the bias's length.
fn bias_step(b: &[usize], y: &[usize], call: &ConvCall) -> Result<usize> {
    let strides = broadcast_strides(b, y);
    let r = y.len();
    let per_channel = (0..r).all(|k| {
        y[k] <= 1
            || if k == r - 3 {
                strides[k] == 1
            } else {
                strides[k] == 0 || (r == 5 && k == 0)
            }
    });
    let step = if r == 5 { strides[0] } else { 0 };
    let need = (call.batch.max(1) - 1)
        .checked_mul(step)
        .and_then(|v| v.checked_add(call.geom.o));
    if !per_channel || need.is_none_or(|n| n > b.iter().product()) {
        return Err(Error::shape(format!(
            "conv2d: a bias of shape {b:?} does not vary along the channels of {y:?} only"
        )));
    }
    Ok(step)
}

impl NodeExec {
    /// Prepare step `pos` for concrete `shapes` (per value id); `cpu` is
    /// the code's level (for the wide-math kernels a step calls) and
    /// `threads` its thread count.
    pub fn prepare(
        g: &Graph,
        layout: &Layout,
        n: NodeId,
        shapes: &[Vec<usize>],
        cpu: super::cpu::CpuLevel,
        threads: usize,
    ) -> Result<NodeExec> {
        let operand = |v: crate::graph::Value| {
            let i = layout.vid[&v];
            Operand {
                buf: layout.buf_of[i],
                dtype: layout.ty[i].dtype,
                shape: shapes[i].clone(),
            }
        };
        let ins: Vec<Operand> = g.inputs(n).into_iter().map(operand).collect();
        let outs: Vec<Operand> = (0..g.n_outputs(n) as u16)
            .map(|p| operand(crate::graph::Value { node: n, port: p }))
            .collect();
        let op = g.op(n).clone();
        let kind = match &op {
            Op::DimShuffle(order) => {
                // Output axis i reads input axis order[i] (new axes: stride 0).
                let cs = contiguous_strides(&ins[0].shape);
                let strides: Vec<usize> = order.iter().map(|o| o.map_or(0, |a| cs[a])).collect();
                Kind::Gather(offsets_of(&outs[0].shape, &strides)?)
            }
            Op::BroadcastTo => Kind::Gather(offsets_of(
                &outs[0].shape,
                &broadcast_strides(&ins[0].shape, &outs[0].shape),
            )?),
            Op::Slice(specs) => Kind::Gather(slice_table(&ins[0].shape, specs)?.0),
            Op::IncSlice(specs) => {
                let (table, region) = slice_table(&ins[0].shape, specs)?;
                let src = offsets_of(&region, &broadcast_strides(&ins[1].shape, &region))?;
                Kind::Scatter { table, src }
            }
            Op::Take(axis) | Op::IncTake(axis) => {
                let s = &ins[0].shape;
                let (outer, len, inner) = (
                    s[..*axis].iter().product(),
                    s[*axis],
                    s[axis + 1..].iter().product(),
                );
                match op {
                    Op::Take(_) => Kind::Take {
                        outer,
                        len,
                        inner,
                        axis: *axis,
                    },
                    _ => {
                        let mut region = s[..*axis].to_vec();
                        region.extend_from_slice(&ins[1].shape);
                        region.extend_from_slice(&s[axis + 1..]);
                        let src = offsets_of(&region, &broadcast_strides(&ins[2].shape, &region))?;
                        Kind::IncTake {
                            outer,
                            len,
                            inner,
                            axis: *axis,
                            src,
                        }
                    }
                }
            }
            Op::Concatenate(axis) => Kind::Concat {
                outer: outs[0].shape[..*axis].iter().product(),
                blocks: ins
                    .iter()
                    .map(|i| i.shape[*axis..].iter().product())
                    .collect(),
            },
            Op::Alloc => Kind::Fill,
            Op::Shape => Kind::Shape,
            Op::Random { dist, draw, .. } => Kind::Random {
                dist: *dist,
                draw: *draw,
                params: ins[2..]
                    .iter()
                    .map(|p| {
                        offsets_of(&outs[0].shape, &broadcast_strides(&p.shape, &outs[0].shape))
                    })
                    .collect::<Result<_>>()?,
            },
            Op::Conv2d { role, spec } => Kind::Conv {
                role: *role,
                call: conv_call(spec, &ins)?,
                bias: None,
                act: None,
            },
            Op::Conv2dBiasAct { spec, act } => {
                let call = conv_call(spec, &ins)?;
                let act = act
                    .map(|a| {
                        math::slice::host_kernel(a, outs[0].dtype, cpu).ok_or_else(|| {
                            Error::compile(format!(
                                "conv2d: no {} kernel for its epilogue",
                                a.name()
                            ))
                        })
                    })
                    .transpose()?;
                let bias = ins
                    .get(2)
                    .map(|b| bias_step(&b.shape, &outs[0].shape, &call))
                    .transpose()?;
                Kind::Conv {
                    role: ConvRole::Forward,
                    call,
                    bias,
                    act,
                }
            }
            Op::Pool2d { kind, spec } | Op::Pool2dGrad { kind, spec } => Kind::Pool {
                kind: *kind,
                grad: matches!(op, Op::Pool2dGrad { .. }),
                geom: spec
                    .geom(&ins[0].shape)
                    .ok_or_else(|| Error::shape("pool2d: the output size does not fit"))?,
            },
            _ => Kind::Interpret {
                op: op.clone(),
                static_ins: g.inputs(n).iter().map(|v| g.ty(*v).clone()).collect(),
                outs: g.node(n).outs.clone(),
            },
        };
        Ok(NodeExec {
            label: interp::node_label(g, n),
            threads,
            ins,
            outs,
            kind,
        })
    }

    /// Run the step.
    ///
    /// # Safety
    /// Every buffer pointer in `bufs` points to memory sized by the plan for
    /// the operand shapes this step was prepared with.
    pub unsafe fn run(&self, bufs: &Buffers) -> Result<()> {
        let (ins, outs) = (&self.ins, &self.outs);
        // SAFETY: buffer sizes are the caller's contract; see `Buffers`.
        unsafe {
            match &self.kind {
                Kind::Gather(table) => by_dtype!(outs[0].dtype, T => {
                    let (x, o) = (bufs.slice::<T>(&ins[0]), bufs.slice_mut::<T>(&outs[0]));
                    for (d, &t) in o.iter_mut().zip(table) {
                        *d = x[t];
                    }
                }),
                Kind::Scatter { table, src } => by_dtype!(outs[0].dtype, T => {
                    let o = bufs.slice_mut::<T>(&outs[0]);
                    if ins[0].buf != outs[0].buf {
                        o.copy_from_slice(bufs.slice::<T>(&ins[0]));
                    }
                    scatter_add(o, table, src, bufs, &ins[1])
                }),
                Kind::Take {
                    outer,
                    len,
                    inner,
                    axis,
                } => {
                    let idx = bufs.slice::<i64>(&ins[1]);
                    check_indices(&self.label, idx, *len, *axis)?;
                    by_dtype!(outs[0].dtype, T => {
                        let (x, o) = (bufs.slice::<T>(&ins[0]), bufs.slice_mut::<T>(&outs[0]));
                        let mut k = 0;
                        for a in 0..*outer {
                            for &i in idx {
                                let i = if i < 0 { i + *len as i64 } else { i } as usize;
                                let start = (a * len + i) * inner;
                                o[k..k + inner].copy_from_slice(&x[start..start + inner]);
                                k += inner;
                            }
                        }
                    })
                }
                Kind::IncTake {
                    outer,
                    len,
                    inner,
                    axis,
                    src,
                } => {
                    let idx = bufs.slice::<i64>(&ins[1]);
                    check_indices(&self.label, idx, *len, *axis)?;
                    by_dtype!(outs[0].dtype, T => {
                        let o = bufs.slice_mut::<T>(&outs[0]);
                        if ins[0].buf != outs[0].buf {
                            o.copy_from_slice(bufs.slice::<T>(&ins[0]));
                        }
                        let mut k = 0;
                        for a in 0..*outer {
                            for &i in idx {
                                let i = if i < 0 { i + *len as i64 } else { i } as usize;
                                let start = (a * len + i) * inner;
                                for (j, t) in (start..start + inner).enumerate() {
                                    add_into(&mut o[t], bufs, &ins[2], src[k + j]);
                                }
                                k += inner;
                            }
                        }
                    })
                }
                Kind::Concat { outer, blocks } => by_dtype!(outs[0].dtype, T => {
                    let o = bufs.slice_mut::<T>(&outs[0]);
                    let mut k = 0;
                    for a in 0..*outer {
                        for (part, &b) in ins.iter().zip(blocks) {
                            copy_cast(&mut o[k..k + b], bufs, part, a * b);
                            k += b;
                        }
                    }
                }),
                Kind::Fill => by_dtype!(outs[0].dtype, T => {
                    let o = bufs.slice_mut::<T>(&outs[0]);
                    let mut v = [T::default()];
                    copy_cast(&mut v, bufs, &ins[0], 0);
                    o.fill(v[0]);
                }),
                Kind::Shape => {
                    let o = bufs.slice_mut::<i64>(&outs[0]);
                    for (d, s) in o.iter_mut().zip(&ins[0].shape) {
                        *d = *s as i64;
                    }
                }
                Kind::Random { dist, draw, params } => {
                    let state = RngState::read(bufs.slice::<i64>(&ins[0]))?;
                    let draws = Draws {
                        dist: *dist,
                        state,
                        draw: *draw,
                        params,
                        bufs,
                        ins: &ins[2..],
                    };
                    let ctx = |e: Error| e.context(&self.label);
                    match (dist, outs[0].dtype) {
                        (RandomDist::Integers { low, high }, _) => random::fill_integers(
                            bufs.slice_mut::<i64>(&outs[0]),
                            *low,
                            *high,
                            state.seed,
                            state.counter,
                            *draw,
                        )
                        .map_err(ctx)?,
                        (_, DType::F32) => draws
                            .fill::<f32>(bufs.slice_mut::<f32>(&outs[0]))
                            .map_err(ctx)?,
                        (_, DType::F64) => draws
                            .fill::<f64>(bufs.slice_mut::<f64>(&outs[0]))
                            .map_err(ctx)?,
                        (_, dt) => {
                            // Integer-valued draws (poisson, binomial as int64) go through f64.
                            let mut tmp = vec![0f64; outs[0].len()];
                            draws.fill::<f64>(&mut tmp).map_err(ctx)?;
                            let t = Tensor::vector(tmp).cast(dt);
                            by_dtype!(dt, T => bufs.slice_mut::<T>(&outs[0]).copy_from_slice(t.as_slice::<T>()?))
                        }
                    }
                }
                Kind::Conv {
                    role,
                    call,
                    bias,
                    act,
                } => by_float!(outs[0].dtype, T => {
                    let lens = call.geom.lens();
                    let out_at = match role {
                        ConvRole::Forward => 2,
                        ConvRole::GradInput => 0,
                        ConvRole::GradKernel => 1,
                    };
                    // Batch items are independent convolutions writing
                    // separate parts of the output: large batches split
                    // across threads (each has its own im2col scratch).
                    let out_base = bufs.0[outs[0].buf];
                    let ok = AtomicBool::new(true);
                    let item = |b: usize| {
                        let part = |i: usize| -> &[T] {
                            let at = b * call.step[i];
                            &bufs.slice::<T>(&ins[i])[at..at + lens[i]]
                        };
                        // Item b's part of the output, made from the address
                        // so that threads hold disjoint slices (the plan sized
                        // the buffer for `batch` items of lens[out_at]; a batch
                        // above 1 always steps the output).
                        let at = b * call.step[out_at];
                        let dst = std::slice::from_raw_parts_mut((out_base as *mut T).add(at), lens[out_at]);
                        let g = &call.geom;
                        let done = match role {
                            ConvRole::Forward => {
                                let bias = bias.map(|step| {
                                    let at = b * step;
                                    &bufs.slice::<T>(&ins[2])[at..at + g.o]
                                });
                                let act = act.map(|k| {
                                    move |z: &mut [T]| {
                                        // SAFETY (in the block above): `k` is the kernel for
                                        // the output's dtype, which is T; z holds z.len()
                                        // elements, rewritten in place (exact aliasing is
                                        // allowed).
                                        k(z.as_ptr() as *const u8, z.as_mut_ptr() as *mut u8, z.len() as u64)
                                    }
                                });
                                let ep = Epilogue {
                                    bias,
                                    act: act.as_ref().map(|f| f as &dyn Fn(&mut [T])),
                                };
                                im2col::forward_with(g, part(0), part(1), dst, &ep)
                            }
                            ConvRole::GradInput => im2col::grad_input_into(g, part(1), part(2), dst),
                            ConvRole::GradKernel => im2col::grad_kernel_into(g, part(0), part(2), dst),
                        };
                        if !done {
                            ok.store(false, Ordering::Relaxed);
                        }
                    };
                    let g = &call.geom;
                    let flops = 2usize
                        .saturating_mul(call.batch)
                        .saturating_mul(lens[2])
                        .saturating_mul(g.cg() * g.kh * g.kw);
                    let parts = threads::gemm_parts(self.threads, flops, call.batch);
                    threads::run_parts(self.threads, parts, &|p| {
                        threads::part_range(call.batch, parts, p, 1).for_each(&item)
                    });
                    if !ok.load(Ordering::Relaxed) {
                        return Err(Error::shape(format!("{}: operand sizes disagree with the plan", self.label)));
                    }
                }),
                Kind::Pool { kind, grad, geom } => by_float!(outs[0].dtype, T => {
                    let x = bufs.slice::<T>(&ins[0]);
                    let o = bufs.slice_mut::<T>(&outs[0]);
                    let ok = match (kind, grad) {
                        (PoolKind::Max, false) => pool::max_into(geom, x, o),
                        (PoolKind::Avg, false) => pool::avg_into(geom, x, o),
                        (PoolKind::Max, true) => pool::max_grad_into(geom, x, bufs.slice::<T>(&ins[1]), o),
                        (PoolKind::Avg, true) => pool::avg_grad_into(geom, bufs.slice::<T>(&ins[1]), o),
                    };
                    if !ok {
                        return Err(Error::shape(format!("{}: operand sizes disagree with the plan", self.label)));
                    }
                }),
                Kind::Interpret {
                    op,
                    static_ins,
                    outs: out_types,
                } => {
                    let tensors: Vec<Tensor> = ins
                        .iter()
                        .map(|i| by_dtype!(i.dtype, T => Tensor::new(bufs.slice::<T>(i).to_vec(), &i.shape)))
                        .collect::<Result<_>>()?;
                    let refs: Vec<&Tensor> = tensors.iter().collect();
                    let statics: Vec<&TensorType> = static_ins.iter().collect();
                    let results = interp::eval(op, &self.label, &statics, out_types, &refs)?;
                    for (o, r) in outs.iter().zip(results) {
                        by_dtype!(o.dtype, T => bufs.slice_mut::<T>(o).copy_from_slice(r.as_slice::<T>()?))
                    }
                }
            }
        }
        Ok(())
    }
}

fn check_indices(label: &str, idx: &[i64], len: usize, axis: usize) -> Result<()> {
    for &i in idx {
        let j = if i < 0 { i + len as i64 } else { i };
        if !(0..len as i64).contains(&j) {
            return Err(Error::index(format!(
                "{label}: index {i} is out of bounds for axis {axis} with size {len}"
            )));
        }
    }
    Ok(())
}

/// Element `at` of operand `src` converted to `T`.
unsafe fn read_as<T: Element>(bufs: &Buffers, src: &Operand, at: usize) -> T {
    // SAFETY: the caller's buffer contract covers `src`.
    unsafe {
        match src.dtype {
            DType::Bool => convert(bufs.slice::<bool>(src)[at]),
            DType::I64 => convert(bufs.slice::<i64>(src)[at]),
            DType::F32 => convert(bufs.slice::<f32>(src)[at]),
            DType::F64 => convert(bufs.slice::<f64>(src)[at]),
        }
    }
}

unsafe fn copy_cast<T: Element>(dst: &mut [T], bufs: &Buffers, src: &Operand, start: usize) {
    for (k, d) in dst.iter_mut().enumerate() {
        // SAFETY: the caller's buffer contract covers `src`.
        *d = unsafe { read_as::<T>(bufs, src, start + k) };
    }
}

unsafe fn add_into<T: Element>(d: &mut T, bufs: &Buffers, src: &Operand, at: usize) {
    // SAFETY: the caller's buffer contract covers `src`.
    let y: T = unsafe { read_as(bufs, src, at) };
    *d = match T::DTYPE {
        DType::Bool => convert(d.to_f64() != 0.0 || y.to_f64() != 0.0),
        DType::I64 => convert::<i64, T>(d.to_i64().wrapping_add(y.to_i64())),
        _ => T::from_f64(d.to_f64() + y.to_f64()),
    };
}

unsafe fn scatter_add<T: Element>(
    o: &mut [T],
    table: &[usize],
    src: &[usize],
    bufs: &Buffers,
    y: &Operand,
) {
    for (&t, &s) in table.iter().zip(src) {
        // SAFETY: the caller's buffer contract covers `y`.
        unsafe { add_into(&mut o[t], bufs, y, s) };
    }
}

/// One random step's draws: the stream, the node's draw id and where its
/// parameters are (already broadcast to the output by `params` tables).
struct Draws<'a> {
    dist: RandomDist,
    state: RngState,
    draw: u64,
    params: &'a [Vec<usize>],
    bufs: &'a Buffers<'a>,
    ins: &'a [Operand],
}

impl Draws<'_> {
    /// Fill `out` (the interpreter's `fill_float`, on parameters read out
    /// of the buffers: small and rare, so it allocates).
    ///
    /// # Safety
    /// The buffer contract of `run` covers the parameter operands.
    unsafe fn fill<T: Float>(&self, out: &mut [T]) -> Result<()> {
        let p: Vec<Vec<T>> = self
            .params
            .iter()
            .zip(self.ins)
            .map(|(table, op)| {
                table
                    .iter()
                    // SAFETY: the caller's buffer contract covers `op`.
                    .map(|&t| unsafe { read_as::<T>(self.bufs, op, t) })
                    .collect()
            })
            .collect();
        let RngState { seed, counter } = self.state;
        interp::fill_float(self.dist, out, &p, seed, counter, self.draw)
    }
}
