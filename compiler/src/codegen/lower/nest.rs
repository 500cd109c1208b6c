//! Loop nests for fused programs: one pass over the loop shape computing
//! every elementwise output and folding every reduction output.
//!
//! The loop shape's axes are coalesced where every operand strides alike,
//! so a contiguous elementwise chain is one flat loop and a bias add is two.
//! The innermost level runs on SIMD lanes when the program allows, then a
//! scalar tail; operands that do not move along it are loaded once outside.

use super::Emitter;
use super::program::{Lanes, cast, constant, emit_program, reg_type, vector_precision};
use crate::codegen::layout::{Q, ShapeOf};
use crate::codegen::math::Precision;
use crate::op::{FusedOutput, FusedProgram, ReduceOp};
use crate::types::Dim;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::Variable;
use theon_runtime::DType;

/// An input of the nest.
pub struct NestIn {
    pub buf: usize,
    pub dtype: DType,
    /// Element stride per level (0: broadcast along it).
    pub strides: Vec<Q>,
}

pub enum OutKind {
    Elementwise,
    Reduce { op: ReduceOp, count: Q, len: Q },
}

pub struct NestOut {
    pub buf: usize,
    pub dtype: DType,
    pub reg: u32,
    pub kind: OutKind,
    pub strides: Vec<Q>,
}

pub struct Nest {
    pub counts: Vec<Q>,
    pub ins: Vec<NestIn>,
    pub outs: Vec<NestOut>,
    pub lanes: Lanes,
}

/// Operand description for `build`: buffer, dtype and static shape.
pub struct Operand<'a> {
    pub buf: usize,
    pub dtype: DType,
    pub shape: &'a [Dim],
}

/// Plan the nest of `program` over a loop shape with static dims `dims`
/// (concrete dims come from `of` at run time).
pub fn build(
    e: &mut Emitter,
    program: &FusedProgram,
    of: ShapeOf,
    dims: &[Dim],
    ins: &[Operand],
    outs: &[(Operand, &FusedOutput)],
) -> Nest {
    let r = dims.len();
    let full = |shape: &[Dim], a: usize| -> bool {
        let off = r - shape.len();
        a >= off && shape[a - off] != Some(1)
    };
    let kept: Vec<usize> = (0..r).filter(|&a| dims[a] != Some(1)).collect();
    // Signature of an axis: which inputs move along it, which outputs reduce it.
    let sig = |a: usize| -> Vec<bool> {
        let mut s: Vec<bool> = ins.iter().map(|o| full(o.shape, a)).collect();
        s.extend(
            outs.iter()
                .map(|(_, f)| matches!(f, FusedOutput::Reduce { axes, .. } if axes.contains(&a))),
        );
        s
    };
    let mut groups: Vec<Vec<usize>> = vec![];
    for &a in &kept {
        match groups.last_mut() {
            Some(gr) if sig(gr[0]) == sig(a) => gr.push(a),
            _ => groups.push(vec![a]),
        }
    }
    if groups.is_empty() {
        groups.push(vec![]);
    }
    let layout = &mut *e.layout;
    let counts: Vec<Q> = groups
        .iter()
        .map(|gr| layout.dims_product(of, dims, gr.iter().copied()))
        .collect();
    let after = |gr: &[usize]| -> usize { gr.last().map_or(r, |l| l + 1) };
    let in_specs: Vec<NestIn> = ins
        .iter()
        .map(|o| NestIn {
            buf: o.buf,
            dtype: o.dtype,
            strides: groups
                .iter()
                .map(|gr| {
                    if gr.first().is_some_and(|&a| !full(o.shape, a)) {
                        Q::K(0)
                    } else {
                        layout.dims_product(of, dims, (after(gr)..r).filter(|&b| full(o.shape, b)))
                    }
                })
                .collect(),
        })
        .collect();
    let out_specs: Vec<NestOut> = outs
        .iter()
        .map(|(o, f)| match f {
            FusedOutput::Elementwise(reg) => NestOut {
                buf: o.buf,
                dtype: o.dtype,
                reg: *reg,
                kind: OutKind::Elementwise,
                strides: groups
                    .iter()
                    .map(|gr| layout.dims_product(of, dims, after(gr)..r))
                    .collect(),
            },
            FusedOutput::Reduce { reg, op, axes, .. } => NestOut {
                buf: o.buf,
                dtype: o.dtype,
                reg: *reg,
                kind: OutKind::Reduce {
                    op: *op,
                    count: layout.dims_product(of, dims, axes.iter().copied()),
                    len: layout.dims_product(of, dims, (0..r).filter(|a| !axes.contains(a))),
                },
                strides: groups
                    .iter()
                    .map(|gr| {
                        if gr.first().is_some_and(|a| axes.contains(a)) {
                            Q::K(0)
                        } else {
                            layout.dims_product(
                                of,
                                dims,
                                (after(gr)..r).filter(|b| !axes.contains(b)),
                            )
                        }
                    })
                    .collect(),
            },
        })
        .collect();
    // SIMD lanes when the program has one float type, every operand in
    // memory has it too, and the innermost level is contiguous or broadcast.
    let lanes = match vector_precision(program) {
        Some(prec) => {
            let fdt = if prec == Precision::F64 {
                DType::F64
            } else {
                DType::F32
            };
            let inner_ok = |s: &[Q]| matches!(s.last(), Some(Q::K(0) | Q::K(1)));
            // Bools in memory (bytes) become lane masks on load and back on
            // store; a reduction of bools stays scalar.
            let dtype_ok = |dt: DType| dt == fdt || dt == DType::Bool;
            let ok = in_specs
                .iter()
                .all(|i| dtype_ok(i.dtype) && inner_ok(&i.strides))
                && out_specs.iter().all(|o| {
                    dtype_ok(o.dtype)
                        && inner_ok(&o.strides)
                        && !(o.dtype == DType::Bool && matches!(o.kind, OutKind::Reduce { .. }))
                })
                && program
                    .outputs
                    .iter()
                    .all(|o| dtype_ok(program.dtype(o.reg())));
            let n = if prec == Precision::F64 { 2 } else { 4 };
            // An innermost loop known to be shorter than a vector (a
            // scalar's: the optimizer's step size) gets only the scalar
            // body: the vector one would never run and doubles the code.
            let short = matches!(counts.last(), Some(Q::K(c)) if *c < n as i64);
            if ok && !short {
                Lanes { n, prec }
            } else {
                Lanes::scalar()
            }
        }
        None => Lanes::scalar(),
    };
    Nest {
        counts,
        ins: in_specs,
        outs: out_specs,
        lanes,
    }
}

fn elem_size(dt: DType) -> i64 {
    dt.size_of() as i64
}

fn mem_type(dt: DType) -> cranelift_codegen::ir::Type {
    match dt {
        DType::Bool => types::I8,
        DType::I64 => types::I64,
        DType::F32 => types::F32,
        DType::F64 => types::F64,
    }
}

/// The integer that holds one byte per lane, and the byte shuffles that
/// spread those bytes over the lanes of a mask (load) or gather them back.
fn bool_lanes(lanes: Lanes) -> (types::Type, [u8; 16], [u8; 16]) {
    match lanes.prec {
        Precision::F64 => (
            types::I16,
            [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
            [0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        Precision::F32 => (
            types::I32,
            [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3],
            [0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
    }
}

fn shuffle_bytes(e: &mut Emitter, v: Value, pattern: [u8; 16]) -> Value {
    use cranelift_codegen::ir::ConstantData;
    let bytes =
        e.fb.ins()
            .bitcast(types::I8X16, super::program::bitcast_flags(), v);
    let imm =
        e.fb.func
            .dfg
            .immediates
            .push(ConstantData::from(pattern.to_vec()));
    e.fb.ins().shuffle(bytes, bytes, imm)
}

/// `lanes.n` bools (bytes 0/1) at `addr` as a lane mask.
fn load_bool_mask(e: &mut Emitter, addr: Value, lanes: Lanes) -> Value {
    let (int, spread, _) = bool_lanes(lanes);
    let raw = e.fb.ins().load(int, scalar_flags(), addr, 0);
    let lane_ty = if int == types::I16 {
        types::I16X8
    } else {
        types::I32X4
    };
    let v = e.fb.ins().scalar_to_vector(lane_ty, raw);
    let spread = shuffle_bytes(e, v, spread);
    mask_nonzero(e, spread, lanes)
}

/// A lane mask (all ones where a byte pattern is non-zero).
fn mask_nonzero(e: &mut Emitter, bytes: Value, lanes: Lanes) -> Value {
    use cranelift_codegen::ir::condcodes::IntCC;
    let ty = reg_type(DType::Bool, lanes);
    let v =
        e.fb.ins()
            .bitcast(ty, super::program::bitcast_flags(), bytes);
    let zero = e.fb.ins().iconst(ty.lane_type(), 0);
    let zero = e.fb.ins().splat(ty, zero);
    e.fb.ins().icmp(IntCC::NotEqual, v, zero)
}

/// Store a lane mask as `lanes.n` bools (bytes 0/1) at `addr`.
fn store_bool_mask(e: &mut Emitter, mask: Value, addr: Value, lanes: Lanes) {
    let (int, _, gather) = bool_lanes(lanes);
    let bytes = shuffle_bytes(e, mask, gather);
    let one = e.fb.ins().iconst(types::I8, 1);
    let one = e.fb.ins().splat(types::I8X16, one);
    let bits = e.fb.ins().band(bytes, one);
    let lane_ty = if int == types::I16 {
        types::I16X8
    } else {
        types::I32X4
    };
    let v =
        e.fb.ins()
            .bitcast(lane_ty, super::program::bitcast_flags(), bits);
    let x = e.fb.ins().extractlane(v, 0);
    e.fb.ins().store(scalar_flags(), x, addr, 0);
}

fn scalar_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

fn vector_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap()
}

/// Identity of a reduction in `dt`.
fn identity(op: ReduceOp, dt: DType) -> f64 {
    match (op, dt) {
        (ReduceOp::Sum | ReduceOp::Mean, _) => 0.0,
        (ReduceOp::Prod, _) => 1.0,
        (ReduceOp::Max, DType::I64) => i64::MIN as f64,
        (ReduceOp::Min, DType::I64) => i64::MAX as f64,
        (ReduceOp::Max, DType::Bool) => 0.0,
        (ReduceOp::Min, DType::Bool) => 1.0,
        (ReduceOp::Max, _) => f64::NEG_INFINITY,
        (ReduceOp::Min, _) => f64::INFINITY,
        (ReduceOp::LogSumExp, _) => unreachable!("logsumexp is not fused"),
    }
}

fn identity_value(e: &mut Emitter, op: ReduceOp, dt: DType, lanes: Lanes) -> Value {
    match dt {
        DType::I64 => e.fb.ins().iconst(
            types::I64,
            match (op, identity(op, dt)) {
                (ReduceOp::Max, _) => i64::MIN,
                (ReduceOp::Min, _) => i64::MAX,
                (_, v) => v as i64,
            },
        ),
        _ => constant(e, identity(op, dt), dt, lanes),
    }
}

/// acc ⊕ v for a reduction in `dt`.
fn combine(e: &mut Emitter, op: ReduceOp, dt: DType, acc: Value, v: Value) -> Value {
    let float = dt.is_float();
    match op {
        ReduceOp::Sum | ReduceOp::Mean if float => e.fb.ins().fadd(acc, v),
        ReduceOp::Sum | ReduceOp::Mean => e.fb.ins().iadd(acc, v),
        ReduceOp::Prod if float => e.fb.ins().fmul(acc, v),
        ReduceOp::Prod => e.fb.ins().imul(acc, v),
        ReduceOp::Max if float => e.fb.ins().fmax(acc, v),
        ReduceOp::Max if dt == DType::Bool => e.fb.ins().umax(acc, v),
        ReduceOp::Max => e.fb.ins().smax(acc, v),
        ReduceOp::Min if float => e.fb.ins().fmin(acc, v),
        ReduceOp::Min if dt == DType::Bool => e.fb.ins().umin(acc, v),
        ReduceOp::Min => e.fb.ins().smin(acc, v),
        ReduceOp::LogSumExp => unreachable!("logsumexp is not fused"),
    }
}

/// Emit the nest. `program` computes registers from the inputs.
pub fn emit(e: &mut Emitter, nest: &Nest, program: &FusedProgram) {
    // A scalar nest of a few elements calls out-of-line math (same bits,
    // far less code); a large or unknown one keeps it inline.
    let few = nest
        .counts
        .iter()
        .try_fold(1i64, |n, q| match q {
            Q::K(k) => n.checked_mul(*k),
            _ => None,
        })
        .is_some_and(|n| n <= OUTLINE_MAX_ELEMENTS);
    let outer = e.outline_math;
    e.outline_math = !nest.lanes.is_vector() && few;
    emit_nest(e, nest, program);
    e.outline_math = outer;
}

/// Elements up to which a scalar nest calls out-of-line math.
const OUTLINE_MAX_ELEMENTS: i64 = 64;

fn emit_nest(e: &mut Emitter, nest: &Nest, program: &FusedProgram) {
    let in_ptrs: Vec<Value> = nest.ins.iter().map(|i| e.buf_ptr(i.buf)).collect();
    let out_ptrs: Vec<Value> = nest.outs.iter().map(|o| e.buf_ptr(o.buf)).collect();
    // Reductions start from their identity.
    for (o, &ptr) in nest.outs.iter().zip(&out_ptrs) {
        if let OutKind::Reduce { op, len, .. } = o.kind {
            let len = e.q(len);
            let id = identity_value(e, op, o.dtype, Lanes::scalar());
            let size = elem_size(o.dtype);
            e.counted_loop(len, 1, |e, i| {
                let addr = e.addr(ptr, i, size);
                e.fb.ins().store(scalar_flags(), id, addr, 0);
            });
        }
    }
    let zero = e.fb.ins().iconst(types::I64, 0);
    let n_ops = nest.ins.len() + nest.outs.len();
    level(e, nest, program, &in_ptrs, &out_ptrs, 0, vec![zero; n_ops]);
    // Means divide by the count.
    for (o, &ptr) in nest.outs.iter().zip(&out_ptrs) {
        if let OutKind::Reduce {
            op: ReduceOp::Mean,
            count,
            len,
        } = o.kind
        {
            let (count, len) = (e.q(count), e.q(len));
            let ft = reg_type(o.dtype, Lanes::scalar());
            let c = e.fb.ins().fcvt_from_sint(ft, count);
            let one = constant(e, 1.0, o.dtype, Lanes::scalar());
            let inv = e.fb.ins().fdiv(one, c);
            let size = elem_size(o.dtype);
            e.counted_loop(len, 1, |e, i| {
                let addr = e.addr(ptr, i, size);
                let v = e.fb.ins().load(ft, scalar_flags(), addr, 0);
                let v = e.fb.ins().fmul(v, inv);
                e.fb.ins().store(scalar_flags(), v, addr, 0);
            });
        }
    }
}

/// Element offsets of every operand (inputs then outputs) at this level.
fn level(
    e: &mut Emitter,
    nest: &Nest,
    program: &FusedProgram,
    in_ptrs: &[Value],
    out_ptrs: &[Value],
    l: usize,
    offs: Vec<Value>,
) {
    if l + 1 == nest.counts.len() {
        return inner(e, nest, program, in_ptrs, out_ptrs, offs);
    }
    let count = e.q(nest.counts[l]);
    let strides: Vec<Value> = nest
        .ins
        .iter()
        .map(|i| i.strides[l])
        .chain(nest.outs.iter().map(|o| o.strides[l]))
        .map(|q| e.q(q))
        .collect();
    e.counted_loop(count, 1, |e, i| {
        let next: Vec<Value> = offs
            .iter()
            .zip(&strides)
            .map(|(&o, &s)| {
                let d = e.fb.ins().imul(i, s);
                e.fb.ins().iadd(o, d)
            })
            .collect();
        level(e, nest, program, in_ptrs, out_ptrs, l + 1, next);
    });
}

/// The innermost level: SIMD body, scalar tail, reductions finished.
fn inner(
    e: &mut Emitter,
    nest: &Nest,
    program: &FusedProgram,
    in_ptrs: &[Value],
    out_ptrs: &[Value],
    offs: Vec<Value>,
) {
    let l = nest.counts.len() - 1;
    let count = e.q(nest.counts[l]);
    let lanes = nest.lanes;
    let n_in = nest.ins.len();
    // Inputs that do not move here: load once.
    let fixed: Vec<Option<(Value, Value)>> = nest
        .ins
        .iter()
        .enumerate()
        .map(|(k, i)| {
            (i.strides[l] == Q::K(0)).then(|| {
                let size = elem_size(i.dtype);
                let addr = e.addr(in_ptrs[k], offs[k], size);
                let s = e.fb.ins().load(mem_type(i.dtype), scalar_flags(), addr, 0);
                let v = match (lanes.is_vector(), i.dtype) {
                    (false, _) => s,
                    (true, DType::Bool) => {
                        let ty = reg_type(DType::Bool, lanes);
                        let wide = e.fb.ins().uextend(ty.lane_type(), s);
                        let splat = e.fb.ins().splat(ty, wide);
                        mask_nonzero(e, splat, lanes)
                    }
                    (true, _) => e.fb.ins().splat(reg_type(i.dtype, lanes), s),
                };
                (v, s)
            })
        })
        .collect();
    let strides: Vec<Value> = nest
        .ins
        .iter()
        .map(|i| i.strides[l])
        .chain(nest.outs.iter().map(|o| o.strides[l]))
        .map(|q| e.q(q))
        .collect();
    // Accumulators of reductions along this level.
    let inner_reduced: Vec<bool> = nest
        .outs
        .iter()
        .map(|o| matches!(o.kind, OutKind::Reduce { .. }) && o.strides[l] == Q::K(0))
        .collect();
    let mut accs: Vec<Option<(Variable, Option<Variable>)>> = vec![];
    for (o, &red) in nest.outs.iter().zip(&inner_reduced) {
        if let (true, OutKind::Reduce { op, .. }) = (red, &o.kind) {
            let st = reg_type(o.dtype, Lanes::scalar());
            let sv = e.fb.declare_var(st);
            let sid = identity_value(e, *op, o.dtype, Lanes::scalar());
            e.fb.def_var(sv, sid);
            let vv = lanes.is_vector().then(|| {
                let v = e.fb.declare_var(reg_type(o.dtype, lanes));
                let vid = identity_value(e, *op, o.dtype, lanes);
                e.fb.def_var(v, vid);
                v
            });
            accs.push(Some((sv, vv)));
        } else {
            accs.push(None);
        }
    }
    let body = |e: &mut Emitter, j: Value, lanes: Lanes| {
        let vector = lanes.is_vector();
        let values: Vec<Value> = nest
            .ins
            .iter()
            .enumerate()
            .map(|(k, i)| match fixed[k] {
                Some((v, s)) => {
                    if vector {
                        v
                    } else {
                        s
                    }
                }
                None => {
                    let size = elem_size(i.dtype);
                    let idx = e.fb.ins().imul(j, strides[k]);
                    let at = e.fb.ins().iadd(offs[k], idx);
                    let addr = e.addr(in_ptrs[k], at, size);
                    if vector && i.dtype == DType::Bool {
                        load_bool_mask(e, addr, lanes)
                    } else if vector {
                        e.fb.ins()
                            .load(reg_type(i.dtype, lanes), vector_flags(), addr, 0)
                    } else {
                        e.fb.ins().load(mem_type(i.dtype), scalar_flags(), addr, 0)
                    }
                }
            })
            .collect();
        let regs = emit_program(e, program, lanes, &values);
        for (k, o) in nest.outs.iter().enumerate() {
            let v = regs[o.reg as usize];
            let v = cast(e, v, program.dtype(o.reg), o.dtype, lanes);
            let size = elem_size(o.dtype);
            let idx = e.fb.ins().imul(j, strides[n_in + k]);
            let at = e.fb.ins().iadd(offs[n_in + k], idx);
            let addr = e.addr(out_ptrs[k], at, size);
            let flags = if vector {
                vector_flags()
            } else {
                scalar_flags()
            };
            match (&o.kind, &accs[k]) {
                (OutKind::Elementwise, _) if vector && o.dtype == DType::Bool => {
                    store_bool_mask(e, v, addr, lanes);
                }
                (OutKind::Elementwise, _) => {
                    e.fb.ins().store(flags, v, addr, 0);
                }
                (OutKind::Reduce { op, .. }, Some((sv, vv))) => {
                    let var = if vector {
                        vv.expect("vector accumulator")
                    } else {
                        *sv
                    };
                    let acc = e.fb.use_var(var);
                    let nv = combine(e, *op, o.dtype, acc, v);
                    e.fb.def_var(var, nv);
                }
                (OutKind::Reduce { op, .. }, None) => {
                    let ty = if vector {
                        reg_type(o.dtype, lanes)
                    } else {
                        mem_type(o.dtype)
                    };
                    let old = e.fb.ins().load(ty, flags, addr, 0);
                    let nv = combine(e, *op, o.dtype, old, v);
                    e.fb.ins().store(flags, nv, addr, 0);
                }
            }
        }
    };
    let start = e.fb.ins().iconst(types::I64, 0);
    let tail_start = if lanes.is_vector() {
        e.counted_loop_from(start, count, lanes.n as i64, |e, j| body(e, j, lanes))
    } else {
        start
    };
    // A count known to be a multiple of the lanes leaves no tail: no
    // scalar body (it would never run, and costs compile time).
    let no_tail = lanes.is_vector() && matches!(nest.counts[l], Q::K(c) if c % lanes.n as i64 == 0);
    if !no_tail {
        // Fewer than `lanes` elements per row: out-of-line math.
        let outer = e.outline_math;
        e.outline_math |= lanes.is_vector();
        e.counted_loop_from(tail_start, count, 1, |e, j| body(e, j, Lanes::scalar()));
        e.outline_math = outer;
    }
    // Fold the lanes and write the reductions of this level.
    for (k, o) in nest.outs.iter().enumerate() {
        let (Some((sv, vv)), OutKind::Reduce { op, .. }) = (&accs[k], &o.kind) else {
            continue;
        };
        let mut acc = e.fb.use_var(*sv);
        if let Some(vv) = vv {
            let v = e.fb.use_var(*vv);
            for lane in 0..lanes.n {
                let x = e.fb.ins().extractlane(v, lane);
                acc = combine(e, *op, o.dtype, acc, x);
            }
        }
        let size = elem_size(o.dtype);
        let addr = e.addr(out_ptrs[k], offs[n_in + k], size);
        let old = e.fb.ins().load(mem_type(o.dtype), scalar_flags(), addr, 0);
        let nv = combine(e, *op, o.dtype, old, acc);
        e.fb.ins().store(scalar_flags(), nv, addr, 0);
    }
}
