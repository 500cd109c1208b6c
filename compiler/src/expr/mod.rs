//! `Var`: a symbolic expression, as users build it.
//!
//! A `Var` is an immutable node (op + inputs + inferred type) behind an
//! `Arc`, so expressions are cheap to clone and share, need no graph
//! context, and are `Send + Sync`. `function()` copies the expression DAG
//! into a mutable `Graph` for rewriting; `grad` and `clone_replace` build new
//! `Var`s. Every builder method infers the output type at once, so shape and
//! dtype errors surface where the expression is written.

mod conv;
pub mod custom;
mod elementwise;
mod linalg;
mod random;
mod reduce;
mod shape;

pub use conv::{Conv2d, Padding, Pool2d};
pub use elementwise::Operand;
pub use random::RandomStream;
pub use shape::{DimArg, IntoShape};

use crate::op::{ConstValue, InputId, Op};
use crate::shared::SharedVar;
use crate::types::{Known, OutType, TensorType};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use theon_runtime::{DType, Error, Result, Tensor};

static NEXT_VAR: AtomicU64 = AtomicU64::new(1);

/// Unique identity of an expression node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u64);

pub struct VarNode {
    id: VarId,
    op: Op,
    inputs: Vec<Var>,
    out: OutType,
    name: Mutex<Option<Arc<str>>>,
}

/// A symbolic tensor expression.
#[derive(Clone)]
pub struct Var(Arc<VarNode>);

impl Drop for VarNode {
    /// Drop long chains without recursion (a deep expression must not
    /// overflow the stack when freed).
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.inputs);
        while let Some(v) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(v.0) {
                stack.append(&mut node.inputs);
            }
        }
    }
}

impl Var {
    fn make(op: Op, inputs: Vec<Var>, out: OutType) -> Var {
        let id = VarId(NEXT_VAR.fetch_add(1, Ordering::Relaxed));
        Var(Arc::new(VarNode {
            id,
            op,
            inputs,
            out,
            name: Mutex::new(None),
        }))
    }

    /// Apply `op` to `inputs`, inferring the type. Errors are prefixed with
    /// the op's label.
    pub fn apply(op: Op, inputs: &[&Var]) -> Result<Var> {
        let label = op_label(&op);
        Var::apply_as(&label, op, inputs)
    }

    /// `apply` with the name the user called (`dot` for a MatMul, ...) in errors.
    pub fn apply_as(label: &str, op: Op, inputs: &[&Var]) -> Result<Var> {
        let types: Vec<&OutType> = inputs.iter().map(|v| &v.0.out).collect();
        let mut outs = crate::op::infer(&op, &types).map_err(|e| e.context(label))?;
        if outs.len() != 1 {
            return Err(Error::graph(format!(
                "{label}: expressions have one output, the op has {}",
                outs.len()
            )));
        }
        Ok(Var::make(
            op,
            inputs.iter().map(|v| (*v).clone()).collect(),
            outs.remove(0),
        ))
    }

    /// A symbolic input (a function argument).
    pub fn input(name: &str, ty: TensorType) -> Var {
        let id = InputId(NEXT_VAR.fetch_add(1, Ordering::Relaxed));
        let v = Var::make(Op::Input { id, ty: ty.clone() }, vec![], OutType::new(ty));
        v.set_name(name);
        v
    }

    /// A constant tensor.
    pub fn constant(t: Tensor) -> Var {
        let op = Op::Constant(ConstValue::new(t));
        let out = crate::op::infer(&op, &[])
            .expect("constants always type")
            .remove(0);
        Var::make(op, vec![], out)
    }

    /// A scalar constant of a given dtype.
    pub fn scalar_const(v: f64, dtype: DType) -> Var {
        Var::constant(Tensor::full(v, dtype, &[]))
    }

    /// The current value of a shared variable, as an expression.
    pub fn shared(s: &SharedVar) -> Var {
        let v = Var::make(Op::Shared(s.clone()), vec![], OutType::new(s.ty().clone()));
        v.set_name(s.name());
        v
    }

    pub fn id(&self) -> VarId {
        self.0.id
    }
    pub fn op(&self) -> &Op {
        &self.0.op
    }
    pub fn inputs(&self) -> &[Var] {
        &self.0.inputs
    }
    pub fn ty(&self) -> &TensorType {
        &self.0.out.ty
    }
    pub fn out_type(&self) -> &OutType {
        &self.0.out
    }
    pub fn known(&self) -> &Known {
        &self.0.out.known
    }
    pub fn dtype(&self) -> DType {
        self.0.out.ty.dtype
    }
    pub fn rank(&self) -> usize {
        self.0.out.ty.rank()
    }
    /// Static shape (None for dims known only at run time).
    pub fn static_shape(&self) -> &[Option<usize>] {
        &self.0.out.ty.shape
    }
    pub fn name(&self) -> Option<String> {
        self.0
            .name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
            .map(str::to_string)
    }
    pub fn set_name(&self, name: &str) {
        *self.0.name.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::from(name));
    }
    /// Set the name and return the same expression (builder style).
    pub fn named(self, name: &str) -> Var {
        self.set_name(name);
        self
    }

    /// The shared variable this expression reads, if it is one.
    pub fn as_shared(&self) -> Option<&SharedVar> {
        match &self.0.op {
            Op::Shared(s) => Some(s),
            _ => None,
        }
    }
    /// The constant this expression is, if it is one.
    pub fn as_constant(&self) -> Option<&Tensor> {
        match &self.0.op {
            Op::Constant(c) => Some(c.tensor()),
            _ => None,
        }
    }
    /// The current value of the shared variable this expression reads.
    pub fn get_value(&self) -> Result<Tensor> {
        self.shared_handle()?.get_value()
    }
    /// Set the value of the shared variable this expression reads.
    pub fn set_value(&self, value: Tensor) -> Result<()> {
        self.shared_handle()?.set_value(value)
    }
    fn shared_handle(&self) -> Result<&SharedVar> {
        self.as_shared().ok_or_else(|| {
            Error::value(format!(
                "{self:?} is not a shared variable (only shared variables hold values)"
            ))
        })
    }

    pub fn is_input(&self) -> bool {
        matches!(self.0.op, Op::Input { .. })
    }

    /// Same node (identity, not structure).
    pub fn same(&self, other: &Var) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Every expression reachable from `roots`, inputs before users.
    pub fn toposort(roots: &[Var]) -> Vec<Var> {
        let mut seen = rustc_hash::FxHashSet::default();
        let mut order = Vec::new();
        // Iterative post-order DFS (expressions can be deep).
        let mut stack: Vec<(Var, usize)> = Vec::new();
        for r in roots {
            if !seen.insert(r.id()) {
                continue;
            }
            stack.push((r.clone(), 0));
            while let Some((v, i)) = stack.pop() {
                if i < v.inputs().len() {
                    let child = v.inputs()[i].clone();
                    stack.push((v, i + 1));
                    if seen.insert(child.id()) {
                        stack.push((child, 0));
                    }
                } else {
                    order.push(v);
                }
            }
        }
        order
    }
}

/// The lower-case name of an op as used in error messages (`add`, `matmul`).
pub fn op_label(op: &Op) -> String {
    match op {
        Op::Unary(u) => u.name().to_string(),
        Op::Binary(b) => b.name().to_string(),
        Op::Reduce { op, .. } => op.name().to_string(),
        Op::Random { dist, .. } => dist.name().to_string(),
        Op::Custom(c) => c.name().to_string(),
        // A GEMM is how a matmul runs; errors speak of what the user wrote.
        Op::MatMul | Op::Gemm(_) | Op::GemmAct { .. } => "matmul".into(),
        Op::Conv2d { role, .. } => role.name().into(),
        Op::Pool2d { kind, .. } => format!("{}_pool2d", kind.name()),
        Op::Pool2dGrad { kind, .. } => format!("{}_pool2d_grad", kind.name()),
        _ => {
            let mut s = String::new();
            for (i, ch) in op.name().chars().enumerate() {
                if ch.is_uppercase() {
                    if i > 0 {
                        s.push('_');
                    }
                    s.push(ch.to_ascii_lowercase());
                } else {
                    s.push(ch);
                }
            }
            s
        }
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "Var({n}: {})", self.ty()),
            None => write!(f, "Var({}: {})", self.op().name(), self.ty()),
        }
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}"),
            None => write!(f, "{}", self.op()),
        }
    }
}
