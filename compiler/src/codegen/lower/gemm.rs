//! Matrix products: `out = alpha op(A) op(B) + beta C` per batch.
//!
//! Three kernels, chosen from the static sizes (see `Kernel::choose`):
//! - rows: k and n small and known; op(B) lives in registers, every row
//!   of A becomes a row of the output (the forward layers of a small MLP);
//! - outer: m and n small and known, k long; m x n accumulators sum outer
//!   products of rows of op(A)^T and op(B) (weight gradients);
//! - call: anything else goes to the runtime's GEMM (the `gemm` crate).
//!
//! For the inline kernels C is written into the output first (a
//! broadcasting loop) and the kernels add the product to it; the call
//! adds `beta * C` and applies the activation of a `GemmAct` in its
//! epilogue, block by block while the block is in cache.

use super::Emitter;
use super::nest;
use super::program::{Lanes, constant, float_const, reg_type};
use crate::codegen::layout::Q;
use crate::codegen::math::Precision;
use crate::codegen::math::slice::SliceFn;
use crate::codegen::small_gemm;
use crate::op::{FusedOutput, FusedProgram, Instr, ScalarBits};
use crate::types::Dim;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use theon_runtime::DType;

/// Largest k*n (rows kernel) or m*n (outer kernel) generated inline.
pub const MAX_INLINE: usize = 40;
/// Largest single static dim of an inline kernel.
pub const MAX_INLINE_DIM: usize = 8;
// The wide kernels take every size the inline ones do.
const _: () = assert!(MAX_INLINE_DIM <= small_gemm::MAX_DIM);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Rows,
    Outer,
    Call,
}

impl Kernel {
    pub fn choose(m: Dim, k: Dim, n: Dim) -> Kernel {
        let small = |d: Dim| d.is_some_and(|d| d <= MAX_INLINE_DIM);
        match (m, k, n) {
            (_, Some(k), Some(n)) if small(Some(k)) && small(Some(n)) && k * n <= MAX_INLINE => {
                Kernel::Rows
            }
            (Some(m), _, Some(n)) if small(Some(m)) && small(Some(n)) && m * n <= MAX_INLINE => {
                Kernel::Outer
            }
            _ => Kernel::Call,
        }
    }
}

/// One operand matrix: buffer, element strides of op(X)'s rows and
/// columns (static when its dims are), and per-batch-level strides.
pub struct Mat {
    pub buf: usize,
    pub rs: Q,
    pub cs: Q,
    pub batch: Vec<Q>,
}

pub struct GemmStep {
    pub dtype: DType,
    pub m: Q,
    pub k: Q,
    pub n: Q,
    pub static_mkn: (Dim, Dim, Dim),
    pub alpha: f64,
    pub a: Mat,
    pub b: Mat,
    pub out: Mat,
    pub batch_counts: Vec<Q>,
    /// The C operand, prefilled into the output as `beta * C` (inline
    /// kernels).
    pub prefill: Option<(nest::Nest, FusedProgram)>,
    /// The C operand and beta, read by the call's epilogue (strides 0
    /// where C broadcasts).
    pub c_in: Option<(Mat, f64)>,
    /// The activation the call's epilogue applies (`GemmAct`).
    pub act: Option<SliceFn>,
    /// Or, where the level has no slice kernel, the loop `out = act(out)`
    /// run after the call.
    pub act_loop: Option<(nest::Nest, FusedProgram)>,
    pub kernel: Kernel,
}

/// The program `out = beta * c`.
pub fn prefill_program(dtype: DType, beta: f64) -> FusedProgram {
    let mut instrs = vec![(Instr::Input(0), dtype)];
    let mut out = 0;
    if beta != 1.0 {
        instrs.push((Instr::Const(ScalarBits::float(beta)), dtype));
        instrs.push((Instr::Binary(crate::op::BinaryOp::Mul, 0, 1), dtype));
        out = 2;
    }
    FusedProgram {
        n_inputs: 1,
        instrs,
        outputs: vec![FusedOutput::Elementwise(out)],
    }
}

/// The program `out = act(out)`.
pub fn act_program(dtype: DType, act: crate::op::UnaryOp) -> FusedProgram {
    FusedProgram {
        n_inputs: 1,
        instrs: vec![(Instr::Input(0), dtype), (Instr::Unary(act, 0), dtype)],
        outputs: vec![FusedOutput::Elementwise(1)],
    }
}

fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

impl GemmStep {
    pub fn emit(&self, e: &mut Emitter) {
        if let Some((nest, program)) = &self.prefill {
            nest::emit(e, nest, program);
        }
        let zero = e.fb.ins().iconst(types::I64, 0);
        let ptrs = [
            e.buf_ptr(self.a.buf),
            e.buf_ptr(self.b.buf),
            e.buf_ptr(self.out.buf),
            match &self.c_in {
                Some((c, _)) => e.buf_ptr(c.buf),
                None => zero,
            },
        ];
        self.batch_level(e, 0, ptrs, [zero; 4]);
        if let Some((nest, program)) = &self.act_loop {
            nest::emit(e, nest, program);
        }
    }

    fn batch_level(&self, e: &mut Emitter, l: usize, ptrs: [Value; 4], offs: [Value; 4]) {
        if l == self.batch_counts.len() {
            let size = self.dtype.size_of() as i64;
            let bases: Vec<Value> = (0..3).map(|k| e.addr(ptrs[k], offs[k], size)).collect();
            let wide = |shape| small_gemm::kernel(shape, self.dtype, e.cpu);
            return match self.kernel {
                // (k = 0 stays inline: the wide kernels read A's first column.)
                Kernel::Rows if self.static_mkn.1 == Some(0) => {
                    self.rows(e, bases[0], bases[1], bases[2])
                }
                Kernel::Rows => match wide(small_gemm::Shape::Rows) {
                    Some(f) => self.call_small(e, f, bases[0], bases[1], bases[2]),
                    None => self.rows(e, bases[0], bases[1], bases[2]),
                },
                Kernel::Outer => match wide(small_gemm::Shape::Outer) {
                    Some(f) => self.call_small(e, f, bases[0], bases[1], bases[2]),
                    None => self.outer(e, bases[0], bases[1], bases[2]),
                },
                Kernel::Call => {
                    let c = match self.c_in {
                        Some(_) => e.addr(ptrs[3], offs[3], size),
                        None => ptrs[3],
                    };
                    self.call(e, bases[0], bases[1], bases[2], c)
                }
            };
        }
        let count = e.q(self.batch_counts[l]);
        let c_batch = self.c_in.as_ref().map_or(Q::K(0), |(c, _)| c.batch[l]);
        let strides = [
            e.q(self.a.batch[l]),
            e.q(self.b.batch[l]),
            e.q(self.out.batch[l]),
            e.q(c_batch),
        ];
        e.counted_loop(count, 1, |e, i| {
            let next: [Value; 4] = std::array::from_fn(|k| {
                let d = e.fb.ins().imul(i, strides[k]);
                e.fb.ins().iadd(offs[k], d)
            });
            self.batch_level(e, l + 1, ptrs, next);
        });
    }

    fn lanes(&self) -> Lanes {
        match self.dtype {
            DType::F32 => Lanes {
                n: 4,
                prec: Precision::F32,
            },
            _ => Lanes {
                n: 2,
                prec: Precision::F64,
            },
        }
    }

    /// Address of line `idx` of a matrix whose lines are `stride` elements apart.
    fn line(&self, e: &mut Emitter, base: Value, stride: Q, idx: Value) -> Value {
        let size = self.dtype.size_of() as i64;
        match stride {
            Q::K(s) => {
                let off = e.fb.ins().imul_imm_u(idx, s * size);
                e.fb.ins().iadd(base, off)
            }
            q => {
                let s = e.q(q);
                let k = e.fb.ins().imul(idx, s);
                e.addr(base, k, size)
            }
        }
    }

    /// Element `j` of a line whose elements are `stride` apart: an
    /// immediate offset when the stride is known.
    fn at(&self, e: &mut Emitter, line: Value, stride: Q, j: usize) -> Value {
        let size = self.dtype.size_of() as i64;
        let ty = reg_type(self.dtype, Lanes::scalar());
        match stride {
            Q::K(s) => {
                e.fb.ins()
                    .load(ty, flags(), line, (j as i64 * s * size) as i32)
            }
            q => {
                let s = e.q(q);
                let jj = e.fb.ins().iconst(types::I64, j as i64);
                let k = e.fb.ins().imul(jj, s);
                let addr = e.addr(line, k, size);
                e.fb.ins().load(ty, flags(), addr, 0)
            }
        }
    }

    /// `width` consecutive elements from `j0` of a line (a vector when
    /// wider than 1): one load when the elements are contiguous.
    fn group(&self, e: &mut Emitter, line: Value, stride: Q, j0: usize, width: u8) -> Value {
        let lanes = self.lanes();
        if width > 1 && stride == Q::K(1) {
            let size = self.dtype.size_of() as i64;
            let fl = MemFlagsData::new().with_notrap();
            return e.fb.ins().load(
                reg_type(self.dtype, lanes),
                fl,
                line,
                (j0 as i64 * size) as i32,
            );
        }
        let cols: Vec<Value> = (0..width as usize)
            .map(|d| self.at(e, line, stride, j0 + d))
            .collect();
        if width == 1 {
            return cols[0];
        }
        let mut v = e.fb.ins().splat(reg_type(self.dtype, lanes), cols[0]);
        for (d, c) in cols.iter().enumerate().skip(1) {
            v = e.fb.ins().insertlane(v, *c, d as u8);
        }
        v
    }

    /// Column groups of n: (first column, width) with width = lanes or 1.
    fn groups(&self, n: usize) -> Vec<(usize, u8)> {
        let w = self.lanes().n as usize;
        let mut g = vec![];
        let mut j = 0;
        while j + w <= n {
            g.push((j, w as u8));
            j += w;
        }
        while j < n {
            g.push((j, 1));
            j += 1;
        }
        g
    }

    /// Write `alpha * acc` (plus what the prefill left) to out[line, j0..].
    fn store_group(&self, e: &mut Emitter, out_line: Value, j0: usize, width: u8, acc: Value) {
        let lanes = if width == 1 {
            Lanes::scalar()
        } else {
            self.lanes()
        };
        let mut v = acc;
        if self.alpha != 1.0 {
            let a = float_const(e, self.alpha, self.dtype, lanes);
            v = e.fb.ins().fmul(v, a);
        }
        let off = (j0 * self.dtype.size_of()) as i32;
        let fl = MemFlagsData::new().with_notrap();
        if self.prefill.is_some() {
            let old =
                e.fb.ins()
                    .load(reg_type(self.dtype, lanes), fl, out_line, off);
            v = e.fb.ins().fadd(v, old);
        }
        e.fb.ins().store(fl, v, out_line, off);
    }

    fn rows(&self, e: &mut Emitter, a: Value, b: Value, out: Value) {
        let (k, n) = (
            self.static_mkn.1.expect("rows kernel: k static"),
            self.static_mkn.2.expect("rows kernel: n static"),
        );
        let groups = self.groups(n);
        // op(B) in registers: for each p, one value per column group.
        let bregs: Vec<Vec<Value>> = (0..k)
            .map(|p| {
                let pi = e.fb.ins().iconst(types::I64, p as i64);
                let line = self.line(e, b, self.b.rs, pi);
                groups
                    .iter()
                    .map(|&(j0, w)| self.group(e, line, self.b.cs, j0, w))
                    .collect()
            })
            .collect();
        let m = e.q(self.m);
        e.counted_loop(m, 1, |e, i| {
            let a_line = self.line(e, a, self.a.rs, i);
            let mut accs: Vec<Option<Value>> = vec![None; groups.len()];
            for (p, brow) in bregs.iter().enumerate() {
                let x = self.at(e, a_line, self.a.cs, p);
                let xv = e.fb.ins().splat(reg_type(self.dtype, self.lanes()), x);
                for (g, &(_, w)) in groups.iter().enumerate() {
                    let s = if w == 1 { x } else { xv };
                    accs[g] = Some(match accs[g] {
                        None => e.fb.ins().fmul(s, brow[g]),
                        Some(acc) => e.fb.ins().fma(s, brow[g], acc),
                    });
                }
            }
            let out_line = self.line(e, out, self.out.rs, i);
            for (g, &(j0, w)) in groups.iter().enumerate() {
                let acc = accs[g].unwrap_or_else(|| {
                    constant(
                        e,
                        0.0,
                        self.dtype,
                        if w == 1 {
                            Lanes::scalar()
                        } else {
                            self.lanes()
                        },
                    )
                });
                self.store_group(e, out_line, j0, w, acc);
            }
        });
    }

    fn outer(&self, e: &mut Emitter, a: Value, b: Value, out: Value) {
        let (m, n) = (
            self.static_mkn.0.expect("outer kernel: m static"),
            self.static_mkn.2.expect("outer kernel: n static"),
        );
        let groups = self.groups(n);
        let lanes = self.lanes();
        let vars: Vec<Vec<cranelift_frontend::Variable>> = (0..m)
            .map(|_| {
                groups
                    .iter()
                    .map(|&(_, w)| {
                        let l = if w == 1 { Lanes::scalar() } else { lanes };
                        let v = e.fb.declare_var(reg_type(self.dtype, l));
                        let z = constant(e, 0.0, self.dtype, l);
                        e.fb.def_var(v, z);
                        v
                    })
                    .collect()
            })
            .collect();
        let k = e.q(self.k);
        e.counted_loop(k, 1, |e, p| {
            // Column p of op(A) and row p of op(B).
            let a_line = self.line(e, a, self.a.cs, p);
            let b_line = self.line(e, b, self.b.rs, p);
            let brow: Vec<Value> = groups
                .iter()
                .map(|&(j0, w)| self.group(e, b_line, self.b.cs, j0, w))
                .collect();
            for (i, row_vars) in vars.iter().enumerate() {
                let x = self.at(e, a_line, self.a.rs, i);
                let xv = e.fb.ins().splat(reg_type(self.dtype, lanes), x);
                for (g, &(_, w)) in groups.iter().enumerate() {
                    let s = if w == 1 { x } else { xv };
                    let acc = e.fb.use_var(row_vars[g]);
                    let nv = e.fb.ins().fma(s, brow[g], acc);
                    e.fb.def_var(row_vars[g], nv);
                }
            }
        });
        for (i, row_vars) in vars.iter().enumerate() {
            let ii = e.fb.ins().iconst(types::I64, i as i64);
            let out_line = self.line(e, out, self.out.rs, ii);
            for (g, &(j0, w)) in groups.iter().enumerate() {
                let acc = e.fb.use_var(row_vars[g]);
                self.store_group(e, out_line, j0, w, acc);
            }
        }
    }

    /// The AVX-512 or AVX2 version of the rows or outer kernel
    /// (`small_gemm.rs`).
    fn call_small(
        &self,
        e: &mut Emitter,
        f: small_gemm::SmallGemmFn,
        a: Value,
        b: Value,
        out: Value,
    ) {
        let i64t = types::I64;
        let qs = [
            self.a.rs,
            self.a.cs,
            self.b.rs,
            self.b.cs,
            self.out.rs,
            self.m,
            self.k,
            self.n,
        ];
        let [rsa, csa, rsb, csb, rso, m, k, n] = qs.map(|q| e.q(q));
        let alpha = e.fb.ins().iconst(i64t, self.alpha.to_bits() as i64);
        let acc = e.fb.ins().iconst(i64t, self.prefill.is_some() as i64);
        let sig =
            e.fb.import_signature(super::ptr_sig(e.call_conv, &[i64t; 13], None));
        let fp = e.fb.ins().iconst(i64t, f as usize as i64);
        e.fb.ins().call_indirect(
            sig,
            fp,
            &[a, rsa, csa, b, rsb, csb, out, rso, m, k, n, alpha, acc],
        );
    }

    fn call(&self, e: &mut Emitter, a: Value, b: Value, out: Value, c_in: Value) {
        let f = if self.dtype == DType::F32 {
            e.gemm_f32
        } else {
            e.gemm_f64
        };
        let (m, k, n) = (e.q(self.m), e.q(self.k), e.q(self.n));
        let (rsa, csa, rsb, csb, rsc) = (
            e.q(self.a.rs),
            e.q(self.a.cs),
            e.q(self.b.rs),
            e.q(self.b.cs),
            e.q(self.out.rs),
        );
        let csc = e.fb.ins().iconst(types::I64, 1);
        let threads = e.fb.ins().iconst(types::I64, e.threads as i64);
        let alpha = float_const(e, self.alpha, self.dtype, Lanes::scalar());
        let (rsci, csci, beta) = match &self.c_in {
            Some((c, beta)) => (e.q(c.rs), e.q(c.cs), *beta),
            None => (csc, csc, 0.0),
        };
        let beta = float_const(e, beta, self.dtype, Lanes::scalar());
        let act =
            e.fb.ins()
                .iconst(types::I64, self.act.map_or(0, |f| f as usize as i64));
        // The epilogue's addition compiled for AVX2 (same values) at the
        // levels that have it.
        let wide = (e.cpu >= crate::codegen::cpu::CpuLevel::Avx2) as i64;
        let wide = e.fb.ins().iconst(types::I64, wide);
        e.fb.ins().call(
            f,
            &[
                m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c_in, rsci, csci, out, rsc, csc,
                act, threads, wide,
            ],
        );
    }
}
