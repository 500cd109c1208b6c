//! Lowering the schedule to Cranelift functions.
//!
//! The entry, `extern "C" fn(frame: *const Frame) -> i32`, walks the
//! schedule: fused programs and reductions become loop nests, matrix
//! products become GEMM kernels, views and leaves cost nothing, and every
//! other op calls back into Rust (`theon_rt_exec`) for its prepared step.
//! Each batch region's steps are a function of the same signature that
//! `theon_rt_region` runs once per chunk. A non-zero return is an error
//! code; the error itself waits in the call context.

mod gemm;
mod nest;
mod program;

use super::layout::{Layout, Q, ShapeOf};
use super::rt;
use crate::graph::{Graph, NodeId, Value};
use crate::op::{FusedOutput, Op};
use crate::rewrite::fuse::program_of;
use crate::types::{Dim, broadcast_shapes};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    AbiParam, Block, FuncRef, InstBuilder, MemFlagsData, Signature, UserFuncName, Value as CValue,
    types,
};
use cranelift_codegen::isa::{CallConv, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, default_libcall_names};
use gemm::{GemmStep, Kernel, Mat};
use std::sync::OnceLock;
use theon_runtime::Dims;
use theon_runtime::{Error, Result};

/// Cranelift optimization level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OptLevel {
    None,
    #[default]
    Speed,
}

/// JIT options.
#[derive(Clone, Copy, Debug)]
pub struct JitOptions {
    pub opt_level: OptLevel,
    /// Keep the Cranelift IR text (`Function::ir`).
    pub keep_ir: bool,
    /// Keep the machine-code disassembly (`Function::disassembly`).
    pub keep_disasm: bool,
    /// Time every step of every call (`Function::profile`); costs a clock
    /// read per step.
    pub profile: bool,
    /// Use the CPU's widest vectors where Cranelift's 128 bits are the
    /// limit: standalone transcendentals (tanh, exp, ...) call the
    /// AVX-512/AVX2 slice kernels, small matrix products the AVX-512/AVX2
    /// kernels. Results are bit-identical to the inline code. Off: always
    /// the inline code (as `cpu: Some(CpuLevel::Portable)`).
    pub wide_math: bool,
    /// The CPU level the wide kernels use; `None`: `THEON_CPU`, else the
    /// machine's best (see `CpuLevel::resolve`).
    pub cpu: Option<super::cpu::CpuLevel>,
    /// Threads for large products and wide-math passes; `None`:
    /// `THEON_NUM_THREADS`, else every core (`codegen/threads.rs`). Results
    /// are the same whatever the count.
    pub threads: Option<usize>,
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions {
            opt_level: OptLevel::Speed,
            keep_ir: false,
            keep_disasm: false,
            profile: false,
            wide_math: true,
            cpu: None,
            threads: None,
        }
    }
}

/// What a step of the schedule does at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Leaves and views: nothing.
    Nothing,
    /// A generated loop nest.
    Loop,
    /// A generated GEMM.
    Gemm(Kernel),
    /// A transcendental over a whole buffer with the CPU's widest vectors.
    WideMath,
    /// A call back into Rust.
    Exec,
}

/// The owner of the generated code. The code is immutable once finalized
/// and is only executed, never modified, so sharing it between threads is
/// sound; the memory is released when this is dropped (no pointer into it
/// outlives its `JitFunction`).
pub struct CodeModule(Option<JITModule>);

// SAFETY: see the type's doc: after finalization the module is read-only.
unsafe impl Send for CodeModule {}
// SAFETY: as above; no method mutates the module after construction.
unsafe impl Sync for CodeModule {}

impl Drop for CodeModule {
    fn drop(&mut self) {
        if let Some(m) = self.0.take() {
            // SAFETY: the entry pointer dies with the JitFunction that owns
            // this module; nothing calls into the code afterwards.
            unsafe { m.free_memory() };
        }
    }
}

pub type Entry = unsafe extern "C" fn(*const rt::Frame) -> i32;

pub struct Compiled {
    /// Owns the machine code `entry` points into (never read, only kept).
    #[allow(dead_code)]
    pub module: CodeModule,
    pub entry: Entry,
    pub steps: Vec<StepKind>,
    pub ir: Option<String>,
    pub disasm: Option<String>,
    /// Per-step times when profiling. Boxed: the code holds its address.
    pub profile: Option<Box<rt::Profile>>,
    /// The CPU level the code was generated for (run-time steps pick
    /// their wide-math kernels at it too).
    pub cpu: super::cpu::CpuLevel,
    /// The thread count the code was generated for (run-time steps split
    /// their work with it too).
    pub threads: usize,
}

fn isa(opt: OptLevel) -> Result<OwnedTargetIsa> {
    static SPEED: OnceLock<std::result::Result<OwnedTargetIsa, String>> = OnceLock::new();
    static NONE: OnceLock<std::result::Result<OwnedTargetIsa, String>> = OnceLock::new();
    let cell = if opt == OptLevel::Speed {
        &SPEED
    } else {
        &NONE
    };
    cell.get_or_init(|| {
        let mut flags = settings::builder();
        let set =
            |f: &mut settings::Builder, k: &str, v: &str| f.set(k, v).map_err(|e| e.to_string());
        set(&mut flags, "use_colocated_libcalls", "false")?;
        set(&mut flags, "is_pic", "false")?;
        set(
            &mut flags,
            "opt_level",
            if opt == OptLevel::Speed {
                "speed"
            } else {
                "none"
            },
        )?;
        set(
            &mut flags,
            "enable_verifier",
            if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            },
        )?;
        let builder = cranelift_native::builder().map_err(|e| e.to_string())?;
        builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|e| Error::compile(format!("cannot target this machine: {e}")))
}

/// State while emitting the function.
pub struct Emitter<'a, 'f> {
    pub fb: FunctionBuilder<'f>,
    pub layout: &'a mut Layout,
    pub call_conv: CallConv,
    /// The function's argument: the frame with the tables and the context.
    frame: CValue,
    bufs_base: CValue,
    dims_base: CValue,
    ctx_ptr: CValue,
    exec: FuncRef,
    pub gemm_f64: FuncRef,
    pub gemm_f32: FuncRef,
    fail: Block,
    /// What the wide kernels may use (`Portable`: none of them).
    pub cpu: super::cpu::CpuLevel,
    /// Threads for large products and wide-math passes.
    pub threads: usize,
    wide: FuncRef,
    /// The profile's tick function and the profile's address.
    tick: Option<(FuncRef, i64)>,
    /// Scalar transcendental math calls its out-of-line version instead
    /// of being inlined (set while emitting code that runs a few times).
    pub outline_math: bool,
}

impl Emitter<'_, '_> {
    /// Credit the time since the last tick to step `pos` (when profiling).
    fn tick(&mut self, pos: i64) {
        if let Some((f, addr)) = self.tick {
            let p = self.fb.ins().iconst(types::I64, addr);
            let at = self.fb.ins().iconst(types::I64, pos);
            self.fb.ins().call(f, &[p, at]);
        }
    }
    /// Return `rc` from the function unless it is 0.
    fn fail_unless_zero(&mut self, rc: CValue) {
        let cont = self.fb.create_block();
        self.fb.ins().brif(rc, self.fail, &[rc.into()], cont, &[]);
        self.fb.switch_to_block(cont);
        self.fb.seal_block(cont);
    }
    /// A quantity as a run-time value.
    pub fn q(&mut self, q: Q) -> CValue {
        match q {
            Q::K(k) => self.fb.ins().iconst(types::I64, k),
            Q::D(i) => self.fb.ins().load(
                types::I64,
                MemFlagsData::trusted(),
                self.dims_base,
                i as i32 * 8,
            ),
        }
    }
    /// The address of buffer `b`.
    pub fn buf_ptr(&mut self, b: usize) -> CValue {
        self.fb.ins().load(
            types::I64,
            MemFlagsData::trusted(),
            self.bufs_base,
            b as i32 * 8,
        )
    }
    /// `base + index * size`.
    pub fn addr(&mut self, base: CValue, index: CValue, size: i64) -> CValue {
        let off = self.fb.ins().imul_imm_u(index, size);
        self.fb.ins().iadd(base, off)
    }
    /// `for i in 0..count { body(i) }`.
    pub fn counted_loop(&mut self, count: CValue, step: i64, body: impl FnOnce(&mut Self, CValue)) {
        let zero = self.fb.ins().iconst(types::I64, 0);
        self.counted_loop_from(zero, count, step, body);
    }
    /// `i = start; while i + step <= count { body(i); i += step }`; returns
    /// the first `i` not run (where a tail loop starts). The test runs
    /// before the first iteration and at the bottom of each (one branch per
    /// iteration, not a test at the top and a jump back: a short fused loop
    /// ran 1.8x faster so, docs/compiler.md).
    pub fn counted_loop_from(
        &mut self,
        start: CValue,
        count: CValue,
        step: i64,
        body: impl FnOnce(&mut Self, CValue),
    ) -> CValue {
        let body_b = self.fb.create_block();
        let exit = self.fb.create_block();
        let i = self.fb.append_block_param(body_b, types::I64);
        let out = self.fb.append_block_param(exit, types::I64);
        self.run_from(start, count, step, body_b, exit);
        self.fb.switch_to_block(body_b);
        body(self, i);
        let next = self.fb.ins().iadd_imm_u(i, step);
        self.run_from(next, count, step, body_b, exit);
        self.fb.seal_block(body_b);
        self.fb.switch_to_block(exit);
        self.fb.seal_block(exit);
        out
    }
    /// Branch to `body_b(i)` when `i + step <= count`, else to `exit(i)`.
    fn run_from(&mut self, i: CValue, count: CValue, step: i64, body_b: Block, exit: Block) {
        let end = self.fb.ins().iadd_imm_u(i, step);
        let go = self.fb.ins().icmp(IntCC::SignedLessThanOrEqual, end, count);
        self.fb
            .ins()
            .brif(go, body_b, &[i.into()], exit, &[i.into()]);
    }
}

pub(crate) fn ptr_sig(cc: CallConv, params: &[types::Type], ret: Option<types::Type>) -> Signature {
    let mut s = Signature::new(cc);
    s.params.extend(params.iter().map(|t| AbiParam::new(*t)));
    if let Some(r) = ret {
        s.returns.push(AbiParam::new(r));
    }
    s
}

/// Compile the schedule. Returns the code and which steps call back into Rust.
pub fn compile(g: &Graph, layout: &mut Layout, opts: &JitOptions) -> Result<Compiled> {
    let cpu = if opts.wide_math {
        super::cpu::CpuLevel::resolve(opts.cpu)?
    } else {
        super::cpu::CpuLevel::Portable
    };
    let threads = super::threads::resolve(opts.threads)?;
    let isa = isa(opts.opt_level)?;
    let cc = isa.default_call_conv();
    let frontend_config = isa.frontend_config();
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    jb.symbol("theon_rt_exec", rt::theon_rt_exec as *const u8);
    jb.symbol("theon_rt_gemm_f64", rt::theon_rt_gemm_f64 as *const u8);
    jb.symbol("theon_rt_gemm_f32", rt::theon_rt_gemm_f32 as *const u8);
    jb.symbol("theon_rt_tick", rt::theon_rt_tick as *const u8);
    jb.symbol("theon_rt_region", rt::theon_rt_region as *const u8);
    jb.symbol("theon_rt_wide", rt::theon_rt_wide as *const u8);
    let mut module = JITModule::new(jb);
    let ce = |e: cranelift_module::ModuleError| Error::compile(e.to_string());

    let i64t = types::I64;
    let exec_id = module
        .declare_function(
            "theon_rt_exec",
            Linkage::Import,
            &ptr_sig(cc, &[i64t, types::I32], Some(types::I32)),
        )
        .map_err(ce)?;
    let gemm_sig = |ft| {
        ptr_sig(
            cc,
            &[
                i64t, i64t, i64t, ft, i64t, i64t, i64t, i64t, i64t, i64t, ft, i64t, i64t, i64t,
                i64t, i64t, i64t, i64t, i64t, i64t,
            ],
            None,
        )
    };
    let gemm64_id = module
        .declare_function("theon_rt_gemm_f64", Linkage::Import, &gemm_sig(types::F64))
        .map_err(ce)?;
    let gemm32_id = module
        .declare_function("theon_rt_gemm_f32", Linkage::Import, &gemm_sig(types::F32))
        .map_err(ce)?;
    let wide_id = module
        .declare_function(
            "theon_rt_wide",
            Linkage::Import,
            &ptr_sig(cc, &[i64t; 6], None),
        )
        .map_err(ce)?;
    let tick_id = module
        .declare_function(
            "theon_rt_tick",
            Linkage::Import,
            &ptr_sig(cc, &[i64t, i64t], None),
        )
        .map_err(ce)?;
    let region_id = module
        .declare_function(
            "theon_rt_region",
            Linkage::Import,
            &ptr_sig(cc, &[i64t, i64t, i64t, i64t], Some(types::I32)),
        )
        .map_err(ce)?;
    let imports = Imports {
        exec: exec_id,
        gemm_f64: gemm64_id,
        gemm_f32: gemm32_id,
        wide: wide_id,
    };
    let profile = opts
        .profile
        .then(|| Box::new(rt::Profile::new(layout.order.len())));
    let tick = profile
        .as_ref()
        .map(|p| (tick_id, &**p as *const rt::Profile as i64));
    let entry_sig = ptr_sig(cc, &[i64t], Some(types::I32));
    let entry_id = module
        .declare_function("theon_entry", Linkage::Export, &entry_sig)
        .map_err(ce)?;
    // Large elementwise loops outside batch regions split across threads
    // as one-step regions (before any size is lowered: `Layout::q`).
    if threads > 1 {
        for pos in 0..layout.order.len() {
            let in_region = layout.regions.iter().any(|r| r.steps.contains(&pos));
            if !in_region && splittable(g, layout.order[pos], cpu) {
                let split = super::region::RegionLayout::new(g, layout, pos..pos + 1, true);
                layout.regions.push(split);
            }
        }
    }
    // Each region's steps are a function of their own, run once per chunk
    // by `theon_rt_region` (on several threads when there are chunks
    // enough), with the tables of the chunk in its frame.
    let regions: Vec<(std::ops::Range<usize>, bool)> = layout
        .regions
        .iter()
        .map(|r| (r.steps.clone(), r.split))
        .collect();
    let body_ids = regions
        .iter()
        .enumerate()
        .map(|(r, _)| {
            module
                .declare_function(&format!("theon_region_{r}"), Linkage::Local, &entry_sig)
                .map_err(ce)
        })
        .collect::<Result<Vec<_>>>()?;

    let mut def = Definer {
        module,
        ctx: None,
        fctx: FunctionBuilderContext::new(),
        sig: entry_sig,
        imports,
        tick,
        cpu,
        threads,
        frontend_config,
        keep_ir: opts.keep_ir,
        keep_disasm: opts.keep_disasm,
        ir: String::new(),
        disasm: String::new(),
    };
    let mut steps = vec![StepKind::Nothing; layout.order.len()];
    let order = layout.order.clone();
    for (r, (range, _)) in regions.iter().enumerate() {
        def.define(body_ids[r], layout, |e, _| {
            for p in range.clone() {
                steps[p] = emit_step(e, g, p, order[p]);
            }
        })?;
        layout.regions[r].runs_exec = range.clone().any(|p| steps[p] == StepKind::Exec);
    }
    def.define(entry_id, layout, |e, module| {
        e.tick(-1);
        let region_fn = module.declare_func_in_func(region_id, e.fb.func);
        let mut pos = 0;
        while pos < order.len() {
            let Some((r, (range, split))) = regions
                .iter()
                .enumerate()
                .find(|(_, (r, _))| r.start == pos)
            else {
                steps[pos] = emit_step(e, g, pos, order[pos]);
                pos += 1;
                continue;
            };
            let body_ref = module.declare_func_in_func(body_ids[r], e.fb.func);
            let body = e.fb.ins().func_addr(i64t, body_ref);
            let rv = e.fb.ins().iconst(i64t, r as i64);
            let rc = if *split {
                // Small at run time: call the loop directly.
                let out = e.layout.vid[&Value::of(order[pos])];
                let rank = e.layout.ty[out].rank();
                let len = e.layout.value_dims(out, 0, rank);
                let len = e.q(len);
                let large = e.fb.ins().icmp_imm_s(
                    IntCC::SignedGreaterThanOrEqual,
                    len,
                    super::threads::WIDE_MIN as i64,
                );
                let (threaded, direct, join) = (
                    e.fb.create_block(),
                    e.fb.create_block(),
                    e.fb.create_block(),
                );
                let rc = e.fb.append_block_param(join, types::I32);
                e.fb.ins().brif(large, threaded, &[], direct, &[]);
                e.fb.switch_to_block(threaded);
                e.fb.seal_block(threaded);
                let inst = e.fb.ins().call(region_fn, &[e.ctx_ptr, rv, body, e.frame]);
                let got = e.fb.inst_results(inst)[0];
                e.fb.ins().jump(join, &[got.into()]);
                e.fb.switch_to_block(direct);
                e.fb.seal_block(direct);
                let inst = e.fb.ins().call(body_ref, &[e.frame]);
                let got = e.fb.inst_results(inst)[0];
                e.fb.ins().jump(join, &[got.into()]);
                e.fb.switch_to_block(join);
                e.fb.seal_block(join);
                rc
            } else {
                let inst = e.fb.ins().call(region_fn, &[e.ctx_ptr, rv, body, e.frame]);
                e.fb.inst_results(inst)[0]
            };
            e.fail_unless_zero(rc);
            pos = range.end;
        }
    })?;
    let Definer {
        mut module,
        ir,
        disasm,
        ..
    } = def;
    module.finalize_definitions().map_err(ce)?;
    let ptr = module.get_finalized_function(entry_id);
    // SAFETY: the function was defined with exactly this signature
    // (one pointer argument, an i32 result, the ISA's default C convention).
    let entry: Entry = unsafe { std::mem::transmute::<*const u8, Entry>(ptr) };
    Ok(Compiled {
        module: CodeModule(Some(module)),
        entry,
        steps,
        ir: opts.keep_ir.then_some(ir),
        disasm: opts.keep_disasm.then_some(disasm),
        profile,
        cpu,
        threads,
    })
}

/// The run-time functions every generated function may call.
struct Imports {
    exec: FuncId,
    gemm_f64: FuncId,
    gemm_f32: FuncId,
    wide: FuncId,
}

/// Defines the generated functions of one module, one after the other.
struct Definer {
    module: JITModule,
    ctx: Option<cranelift_codegen::Context>,
    fctx: FunctionBuilderContext,
    sig: Signature,
    imports: Imports,
    /// The profile's tick function and the profile's address.
    tick: Option<(FuncId, i64)>,
    cpu: super::cpu::CpuLevel,
    threads: usize,
    frontend_config: cranelift_codegen::isa::TargetFrontendConfig,
    keep_ir: bool,
    keep_disasm: bool,
    ir: String,
    disasm: String,
}

impl Definer {
    /// Define `id` as `extern "C" fn(frame: *const Frame) -> i32`: load the
    /// frame's tables, let `body` emit the steps, return 0 (or the code of
    /// the step that failed).
    fn define(
        &mut self,
        id: FuncId,
        layout: &mut Layout,
        body: impl FnOnce(&mut Emitter, &mut JITModule),
    ) -> Result<()> {
        let i64t = types::I64;
        let module = &mut self.module;
        let mut ctx = self.ctx.take().unwrap_or_else(|| module.make_context());
        ctx.func.signature = self.sig.clone();
        ctx.func.name = UserFuncName::user(0, id.as_u32());
        {
            let mut fb = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let imports = &self.imports;
            let exec = module.declare_func_in_func(imports.exec, fb.func);
            let gemm_f64 = module.declare_func_in_func(imports.gemm_f64, fb.func);
            let gemm_f32 = module.declare_func_in_func(imports.gemm_f32, fb.func);
            let wide = module.declare_func_in_func(imports.wide, fb.func);
            let tick = self
                .tick
                .map(|(f, addr)| (module.declare_func_in_func(f, fb.func), addr));
            let start = fb.create_block();
            fb.append_block_params_for_function_params(start);
            fb.switch_to_block(start);
            fb.seal_block(start);
            let frame = fb.block_params(start)[0];
            let fl = MemFlagsData::trusted();
            let bufs_base = fb.ins().load(i64t, fl, frame, 0);
            let dims_base = fb.ins().load(i64t, fl, frame, 8);
            let ctx_ptr = fb.ins().load(i64t, fl, frame, 16);
            let fail = fb.create_block();
            fb.append_block_param(fail, types::I32);
            let mut e = Emitter {
                fb,
                layout,
                call_conv: self.sig.call_conv,
                frame,
                bufs_base,
                dims_base,
                ctx_ptr,
                exec,
                gemm_f64,
                gemm_f32,
                fail,
                cpu: self.cpu,
                threads: self.threads,
                wide,
                tick,
                outline_math: false,
            };
            body(&mut e, module);
            let ok = e.fb.ins().iconst(types::I32, 0);
            e.fb.ins().return_(&[ok]);
            e.fb.switch_to_block(e.fail);
            e.fb.seal_block(e.fail);
            let code = e.fb.block_params(e.fail)[0];
            e.fb.ins().return_(&[code]);
            e.fb.seal_all_blocks();
            e.fb.finalize(self.frontend_config);
        }
        if self.keep_ir {
            self.ir.push_str(&ctx.func.display().to_string());
        }
        ctx.set_disasm(self.keep_disasm);
        module
            .define_function(id, &mut ctx)
            .map_err(|e| Error::compile(format!("{e:?}")))?;
        if let Some(d) = ctx.compiled_code().and_then(|c| c.vcode.as_ref()) {
            self.disasm.push_str(d);
        }
        module.clear_context(&mut ctx);
        self.ctx = Some(ctx);
        Ok(())
    }
}

/// Lower step `pos` and time it when profiling.
fn emit_step(e: &mut Emitter, g: &Graph, pos: usize, n: NodeId) -> StepKind {
    let kind = lower_step(e, g, pos, n);
    if kind != StepKind::Nothing {
        e.tick(pos as i64);
    }
    kind
}

fn lower_step(e: &mut Emitter, g: &Graph, pos: usize, n: NodeId) -> StepKind {
    let op = g.op(n);
    if op.is_leaf() || g.is_view(n) {
        return StepKind::Nothing;
    }
    if let Some((kernel, src, dst)) = wide_math_step(e, g, n) {
        let len = e.layout.value_dims(dst, 0, e.layout.ty[dst].rank());
        let n_el = e.q(len);
        let (sb, db) = (e.layout.buf_of[src], e.layout.buf_of[dst]);
        let (sp, dp) = (e.buf_ptr(sb), e.buf_ptr(db));
        let f = e.fb.ins().iconst(types::I64, kernel as usize as i64);
        if e.threads > 1 {
            // Through Rust, which splits large passes across threads.
            let size = e.layout.ty[dst].dtype.size_of() as i64;
            let size = e.fb.ins().iconst(types::I64, size);
            let threads = e.fb.ins().iconst(types::I64, e.threads as i64);
            e.fb.ins().call(e.wide, &[f, sp, dp, n_el, size, threads]);
        } else {
            let sig = e.fb.import_signature(ptr_sig(
                e.call_conv,
                &[types::I64, types::I64, types::I64],
                None,
            ));
            e.fb.ins().call_indirect(sig, f, &[sp, dp, n_el]);
        }
        return StepKind::WideMath;
    }
    if let Some((program, inputs)) = program_of(g, n) {
        lower_loop(e, g, pos, n, &program, &inputs);
        return StepKind::Loop;
    }
    if let Some(step) = gemm_step(e, g, n) {
        step.emit(e);
        return StepKind::Gemm(step.kernel);
    }
    // Call back into Rust; stop at the first error.
    let pos_v = e.fb.ins().iconst(types::I32, pos as i64);
    let call = e.fb.ins().call(e.exec, &[e.ctx_ptr, pos_v]);
    let rc = e.fb.inst_results(call)[0];
    e.fail_unless_zero(rc);
    StepKind::Exec
}

fn lower_loop(
    e: &mut Emitter,
    g: &Graph,
    pos: usize,
    n: NodeId,
    program: &crate::op::FusedProgram,
    inputs: &[Value],
) {
    let shapes: Vec<&[Dim]> = g
        .inputs(n)
        .iter()
        .map(|v| g.ty(*v).shape.as_slice())
        .collect();
    let dims = broadcast_shapes("", &shapes).expect("inputs of a typed node broadcast");
    let ops: Vec<nest::Operand> = inputs
        .iter()
        .map(|v| {
            let i = e.layout.vid[v];
            nest::Operand {
                buf: e.layout.buf_of[i],
                dtype: e.layout.ty[i].dtype,
                shape: &g.ty(*v).shape,
            }
        })
        .collect();
    let outs: Vec<(nest::Operand, &FusedOutput)> = program
        .outputs
        .iter()
        .enumerate()
        .map(|(port, f)| {
            let v = Value {
                node: n,
                port: port as u16,
            };
            let i = e.layout.vid[&v];
            (
                nest::Operand {
                    buf: e.layout.buf_of[i],
                    dtype: e.layout.ty[i].dtype,
                    shape: &g.ty(v).shape,
                },
                f,
            )
        })
        .collect();
    let spec = nest::build(e, program, ShapeOf::Loop(pos), &dims, &ops, &outs);
    nest::emit(e, &spec, program);
}

/// A standalone float transcendental with a slice kernel on this CPU:
/// (kernel, input value, output value).
fn wide_math_step(
    e: &Emitter,
    g: &Graph,
    n: NodeId,
) -> Option<(crate::codegen::math::slice::SliceFn, usize, usize)> {
    let kernel = wide_kernel(g, n, e.cpu)?;
    Some((
        kernel,
        e.layout.vid[&g.input(n, 0)],
        e.layout.vid[&Value::of(n)],
    ))
}

/// The slice kernel of a standalone float transcendental at this level.
fn wide_kernel(
    g: &Graph,
    n: NodeId,
    cpu: super::cpu::CpuLevel,
) -> Option<crate::codegen::math::slice::SliceFn> {
    let Op::Unary(u) = g.op(n) else { return None };
    let (input, out) = (g.input(n, 0), Value::of(n));
    let dt = g.ty(out).dtype;
    if g.ty(input).dtype != dt {
        return None;
    }
    crate::codegen::math::slice::kernel(*u, dt, cpu)
}

/// An elementwise loop worth splitting across threads when large: not a
/// wide-math pass (those split themselves), of rank >= 1, and not known
/// to be small when compiling.
fn splittable(g: &Graph, n: NodeId, cpu: super::cpu::CpuLevel) -> bool {
    let out = g.ty(Value::of(n));
    let elementwise = match program_of(g, n) {
        Some((p, _)) => p
            .outputs
            .iter()
            .all(|o| matches!(o, FusedOutput::Elementwise(_))),
        None => false,
    };
    let known_small = out
        .shape
        .iter()
        .try_fold(1usize, |acc, d| d.map(|d| acc.saturating_mul(d)))
        .is_some_and(|len| len < super::threads::WIDE_MIN);
    elementwise && out.rank() >= 1 && !known_small && wide_kernel(g, n, cpu).is_none()
}

/// A loop over a product's output `out` running `program` on one operand
/// broadcast to it: the prefill `out = beta * C` of the inline kernels,
/// or the activation `out = act(out)` where the call cannot run it.
fn output_loop(
    e: &mut Emitter,
    g: &Graph,
    program: crate::op::FusedProgram,
    input: Value,
    out: Value,
) -> (nest::Nest, crate::op::FusedProgram) {
    let operand = |v: Value| nest::Operand {
        buf: e.layout.buf_of[e.layout.vid[&v]],
        dtype: g.ty(out).dtype,
        shape: &g.ty(v).shape,
    };
    let (i_op, o_op) = (operand(input), operand(out));
    let reg = program.outputs[0].clone();
    let io = e.layout.vid[&out];
    let nest = nest::build(
        e,
        &program,
        ShapeOf::Value(io),
        &g.ty(out).shape,
        &[i_op],
        &[(o_op, &reg)],
    );
    (nest, program)
}

/// Whether a product of these static sizes goes to the runtime's GEMM
/// call (not an inline kernel): where a `GemmAct` epilogue runs.
pub(crate) fn gemm_is_call(m: Dim, k: Dim, n: Dim) -> bool {
    Kernel::choose(m, k, n) == Kernel::Call
}

/// A GEMM for float products of one dtype; `None` sends the op to Rust.
fn gemm_step(e: &mut Emitter, g: &Graph, n: NodeId) -> Option<GemmStep> {
    let (spec, act, ins) = match g.op(n) {
        Op::Gemm(s) => (*s, None, g.inputs(n)),
        Op::GemmAct { spec, act } => (*spec, Some(*act), g.inputs(n)),
        Op::MatMul => (
            crate::op::GemmSpec {
                trans_a: false,
                trans_b: false,
                alpha: crate::op::F64Key::new(1.0),
                beta: crate::op::F64Key::new(0.0),
            },
            None,
            g.inputs(n),
        ),
        _ => return None,
    };
    let out_v = Value::of(n);
    let dt = g.ty(out_v).dtype;
    if !dt.is_float() || ins.iter().any(|v| g.ty(*v).dtype != dt) || g.ty(out_v).rank() > 62 {
        return None;
    }
    let (a, b) = (ins[0], ins[1]);
    let (ia, ib, io) = (e.layout.vid[&a], e.layout.vid[&b], e.layout.vid[&out_v]);
    let (ta, tb, to) = (
        g.ty(a).shape.clone(),
        g.ty(b).shape.clone(),
        g.ty(out_v).shape.clone(),
    );
    // Promote vectors to matrices (MatMul only): (k) -> (1, k) and (k) -> (k, 1).
    let a_vec = ta.len() == 1;
    let b_vec = tb.len() == 1;
    let pa: Dims<Dim> = if a_vec {
        smallvec::smallvec![Some(1), ta[0]]
    } else {
        ta.clone()
    };
    let pb: Dims<Dim> = if b_vec {
        smallvec::smallvec![tb[0], Some(1)]
    } else {
        tb.clone()
    };
    let (ra, rb) = (pa.len(), pb.len());
    let (m_d, k_d) = if spec.trans_a {
        (pa[ra - 1], pa[ra - 2])
    } else {
        (pa[ra - 2], pa[ra - 1])
    };
    let n_d = if spec.trans_b { pb[rb - 2] } else { pb[rb - 1] };
    let nb = ra.max(rb) - 2;
    let lay = &mut *e.layout;
    // Matrix dims of a stored operand as quantities (axes of the stored value).
    let last = |lay: &mut Layout, v: usize, rank: usize, axis_from_end: usize| -> Q {
        if rank < axis_from_end {
            Q::K(1)
        } else {
            let ax = rank - axis_from_end;
            lay.value_dims(v, ax, ax + 1)
        }
    };
    let (a_rows, a_cols) = (
        if a_vec {
            Q::K(1)
        } else {
            last(lay, ia, ta.len(), 2)
        },
        last(lay, ia, ta.len(), 1),
    );
    let (b_rows, b_cols) = (
        last(lay, ib, tb.len(), if b_vec { 1 } else { 2 }),
        if b_vec {
            Q::K(1)
        } else {
            last(lay, ib, tb.len(), 1)
        },
    );
    let m = if spec.trans_a { a_cols } else { a_rows };
    let k = if spec.trans_a { a_rows } else { a_cols };
    let nq = if spec.trans_b { b_rows } else { b_cols };
    let (a_rs, a_cs) = if spec.trans_a {
        (Q::K(1), a_cols)
    } else {
        (a_cols, Q::K(1))
    };
    let (b_rs, b_cs) = if spec.trans_b {
        (Q::K(1), b_cols)
    } else {
        (b_cols, Q::K(1))
    };
    // Batch levels: one per output batch axis that is not statically 1.
    let batch_axes: Vec<usize> = (0..nb).filter(|&t| to[t] != Some(1)).collect();
    let batch_stride = |lay: &mut Layout, v: usize, shape: &[Dim], rank_p: usize, t: usize| -> Q {
        let off = nb - (rank_p - 2);
        if t < off || shape[t - off] == Some(1) {
            Q::K(0)
        } else {
            lay.value_dims(v, t - off + 1, shape.len())
        }
    };
    let a_batch: Vec<Q> = batch_axes
        .iter()
        .map(|&t| batch_stride(lay, ia, &ta, ra, t))
        .collect();
    let b_batch: Vec<Q> = batch_axes
        .iter()
        .map(|&t| batch_stride(lay, ib, &tb, rb, t))
        .collect();
    let o_batch: Vec<Q> = batch_axes
        .iter()
        .map(|&t| lay.value_dims(io, t + 1, to.len()))
        .collect();
    let counts: Vec<Q> = batch_axes
        .iter()
        .map(|&t| lay.value_dims(io, t, t + 1))
        .collect();
    // An activation runs in the call's epilogue (any shape can take the call).
    let kernel = match act {
        Some(_) => Kernel::Call,
        None => Kernel::choose(m_d, k_d, n_d),
    };
    // The level's slice kernel runs the activation in the call's epilogue.
    // At the portable level off x86 that is the portable build (FMA is
    // baseline there); on x86 the portable build would emulate FMA in
    // software, so there the activation is an inline loop over the output
    // after the call, the code a standalone one compiles to.
    let epilogue_kernel = |a| {
        use crate::codegen::math::slice;
        slice::kernel(a, dt, e.cpu).or_else(|| {
            if cfg!(target_arch = "x86_64") {
                None
            } else {
                slice::host_kernel(a, dt, e.cpu)
            }
        })
    };
    let (act, act_loop) = match act.map(|a| (a, epilogue_kernel(a))) {
        None => (None, None),
        Some((_, Some(f))) => (Some(f), None),
        Some((a, None)) => (
            None,
            Some(output_loop(e, g, gemm::act_program(dt, a), out_v, out_v)),
        ),
    };
    let c = (ins.len() == 3 && spec.beta.get() != 0.0).then(|| ins[2]);
    // The call reads C through strides (0 where it broadcasts).
    let c_in = match c {
        Some(c) if kernel == Kernel::Call => {
            let ic = e.layout.vid[&c];
            let tc = g.ty(c).shape.clone();
            let rc = tc.len();
            let lay = &mut *e.layout;
            let cs = if rc >= 1 && tc[rc - 1] != Some(1) {
                Q::K(1)
            } else {
                Q::K(0)
            };
            let rs = if rc >= 2 && tc[rc - 2] != Some(1) {
                lay.value_dims(ic, rc - 1, rc)
            } else {
                Q::K(0)
            };
            let batch = batch_axes
                .iter()
                .map(|&t| {
                    if rc < 2 {
                        Q::K(0)
                    } else {
                        batch_stride(lay, ic, &tc, rc, t)
                    }
                })
                .collect();
            Some((
                Mat {
                    buf: e.layout.buf_of[ic],
                    rs,
                    cs,
                    batch,
                },
                spec.beta.get(),
            ))
        }
        _ => None,
    };
    let prefill = match (c, &c_in) {
        (Some(c), None) => Some(output_loop(
            e,
            g,
            gemm::prefill_program(dt, spec.beta.get()),
            c,
            out_v,
        )),
        _ => None,
    };
    Some(GemmStep {
        dtype: dt,
        m,
        k,
        n: nq,
        static_mkn: (m_d, k_d, n_d),
        alpha: spec.alpha.get(),
        a: Mat {
            buf: e.layout.buf_of[ia],
            rs: a_rs,
            cs: a_cs,
            batch: a_batch,
        },
        b: Mat {
            buf: e.layout.buf_of[ib],
            rs: b_rs,
            cs: b_cs,
            batch: b_batch,
        },
        out: Mat {
            buf: e.layout.buf_of[io],
            rs: nq,
            cs: Q::K(1),
            batch: o_batch,
        },
        batch_counts: counts,
        prefill,
        c_in,
        act,
        act_loop,
        kernel,
    })
}
