//! The scalar program inside a fused elementwise node.
//!
//! A fused node runs one loop over its *loop shape* (the broadcast of all its
//! inputs). Each iteration evaluates `instrs` on scalars and produces its
//! outputs: elementwise outputs have the loop shape, reduction outputs fold
//! a register over some axes of the loop shape.

use super::{BinaryOp, ReduceOp, UnaryOp};
use theon_runtime::{DType, Dims};

/// A register: the index of the instruction that defines it.
pub type Reg = u32;

/// The exact value of a scalar constant, read according to the dtype of
/// the instruction holding it: f64 bits for floats (an f32 value widened
/// exactly), the integer for int64 (no rounding above 2^53), 0/1 for bool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScalarBits(pub u64);

impl ScalarBits {
    pub fn float(v: f64) -> ScalarBits {
        ScalarBits(v.to_bits())
    }
    pub fn int(v: i64) -> ScalarBits {
        ScalarBits(v as u64)
    }
    /// The value of a constant of `dtype` as f64 (ints may round).
    pub fn to_f64(self, dtype: DType) -> f64 {
        match dtype {
            DType::F32 | DType::F64 => f64::from_bits(self.0),
            DType::I64 | DType::Bool => self.0 as i64 as f64,
        }
    }
    /// The value of an int64 or bool constant.
    pub fn to_i64(self, dtype: DType) -> i64 {
        match dtype {
            DType::F32 | DType::F64 => f64::from_bits(self.0) as i64,
            DType::I64 | DType::Bool => self.0 as i64,
        }
    }
    /// The constant as a rank-0 tensor of `dtype`.
    pub fn tensor(self, dtype: DType) -> theon_runtime::Tensor {
        match dtype {
            DType::I64 | DType::Bool => theon_runtime::Tensor::scalar(self.0 as i64).cast(dtype),
            _ => theon_runtime::Tensor::full(f64::from_bits(self.0), dtype, &[]),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Instr {
    /// Element of input `k` (broadcast to the loop shape).
    Input(usize),
    /// A scalar constant.
    Const(ScalarBits),
    Unary(UnaryOp, Reg),
    Binary(BinaryOp, Reg, Reg),
    Where(Reg, Reg, Reg),
    Cast(DType, Reg),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FusedOutput {
    /// The register's value at every point of the loop shape.
    Elementwise(Reg),
    /// The register folded over `axes` of the loop shape.
    Reduce {
        reg: Reg,
        op: ReduceOp,
        axes: Dims<usize>,
        keepdims: bool,
    },
}

impl FusedOutput {
    pub fn reg(&self) -> Reg {
        match self {
            FusedOutput::Elementwise(r) | FusedOutput::Reduce { reg: r, .. } => *r,
        }
    }
}

/// Instructions in definition order, each with the dtype it produces.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FusedProgram {
    pub n_inputs: usize,
    pub instrs: Vec<(Instr, DType)>,
    pub outputs: Vec<FusedOutput>,
}

impl FusedProgram {
    pub fn dtype(&self, r: Reg) -> DType {
        self.instrs[r as usize].1
    }

    /// Infix text of a register's expression (`tanh(i0 * i1 + i2)`),
    /// every register expanded.
    pub fn expr(&self, r: Reg) -> String {
        self.expr_prec(r, 0, &[])
    }

    /// Registers computed from others and read more than once (printed as
    /// `rK = ...` bindings so shared work reads as shared).
    fn shared_regs(&self) -> Vec<Reg> {
        let mut uses = vec![0usize; self.instrs.len()];
        for (ins, _) in &self.instrs {
            match ins {
                Instr::Unary(_, a) | Instr::Cast(_, a) => uses[*a as usize] += 1,
                Instr::Binary(_, a, b) => {
                    uses[*a as usize] += 1;
                    uses[*b as usize] += 1;
                }
                Instr::Where(c, a, b) => {
                    uses[*c as usize] += 1;
                    uses[*a as usize] += 1;
                    uses[*b as usize] += 1;
                }
                Instr::Input(_) | Instr::Const(_) => {}
            }
        }
        for o in &self.outputs {
            uses[o.reg() as usize] += 1;
        }
        (0..self.instrs.len() as Reg)
            .filter(|&r| {
                uses[r as usize] > 1
                    && !matches!(self.instrs[r as usize].0, Instr::Input(_) | Instr::Const(_))
            })
            .collect()
    }

    fn expr_prec(&self, r: Reg, outer: u8, named: &[Reg]) -> String {
        if named.contains(&r) {
            return format!("r{r}");
        }
        let (ins, dt) = &self.instrs[r as usize];
        let (text, prec) = match ins {
            Instr::Input(k) => (format!("i{k}"), 9),
            Instr::Const(c) => {
                let (s, neg) = match dt {
                    DType::F32 | DType::F64 => {
                        (format!("{:?}", c.to_f64(*dt)), c.to_f64(*dt) < 0.0)
                    }
                    DType::Bool => ((c.0 != 0).to_string(), false),
                    DType::I64 => (c.to_i64(*dt).to_string(), c.to_i64(*dt) < 0),
                };
                (s, if neg { 1 } else { 9 })
            }
            Instr::Unary(UnaryOp::Neg, a) => (format!("-{}", self.expr_prec(*a, 8, named)), 8),
            Instr::Unary(UnaryOp::Not, a) => (format!("!{}", self.expr_prec(*a, 8, named)), 8),
            Instr::Unary(u, a) => (format!("{}({})", u.name(), self.expr_prec(*a, 0, named)), 9),
            Instr::Binary(b, x, y) => {
                let (sym, p) = match b {
                    BinaryOp::Add => ("+", 4),
                    BinaryOp::Sub => ("-", 4),
                    BinaryOp::Mul => ("*", 5),
                    BinaryOp::Div => ("/", 5),
                    BinaryOp::Lt => ("<", 3),
                    BinaryOp::Le => ("<=", 3),
                    BinaryOp::Gt => (">", 3),
                    BinaryOp::Ge => (">=", 3),
                    BinaryOp::Eq => ("==", 3),
                    BinaryOp::Ne => ("!=", 3),
                    BinaryOp::And => ("&", 2),
                    BinaryOp::Or => ("|", 1),
                    _ => ("", 0),
                };
                if sym.is_empty() {
                    (
                        format!(
                            "{}({}, {})",
                            b.name(),
                            self.expr_prec(*x, 0, named),
                            self.expr_prec(*y, 0, named)
                        ),
                        9,
                    )
                } else {
                    // Left-associative: the right operand needs parentheses at equal precedence.
                    (
                        format!(
                            "{} {sym} {}",
                            self.expr_prec(*x, p, named),
                            self.expr_prec(*y, p + 1, named)
                        ),
                        p,
                    )
                }
            }
            Instr::Where(c, a, b) => (
                format!(
                    "where({}, {}, {})",
                    self.expr_prec(*c, 0, named),
                    self.expr_prec(*a, 0, named),
                    self.expr_prec(*b, 0, named)
                ),
                9,
            ),
            Instr::Cast(d, a) => (
                format!("{}({})", d.short(), self.expr_prec(*a, 0, named)),
                9,
            ),
        };
        if prec < outer {
            format!("({text})")
        } else {
            text
        }
    }

    /// The program as statements: shared registers first (`r3 = i0 + i1`),
    /// then one per output (`o0 = tanh(r3)`, `o1 = sum[axes=[0]](...)`).
    pub fn output_exprs(&self) -> Vec<String> {
        let named = self.shared_regs();
        let mut lines: Vec<String> = Vec::new();
        for (k, &r) in named.iter().enumerate() {
            lines.push(format!("r{r} = {}", self.expr_prec(r, 0, &named[..k])));
        }
        let e = |r: Reg| self.expr_prec(r, 0, &named);
        lines.extend(self.outputs.iter().enumerate().map(|(k, o)| match o {
            FusedOutput::Elementwise(r) if named.contains(r) => format!("o{k} = r{r}"),
            FusedOutput::Elementwise(r) => format!("o{k} = {}", e(*r)),
            FusedOutput::Reduce {
                reg,
                op,
                axes,
                keepdims,
            } => format!(
                "o{k} = {}[axes={:?}{}]({})",
                op.name(),
                axes,
                if *keepdims { ", keepdims" } else { "" },
                e(*reg)
            ),
        }));
        lines
    }

    /// Short summary for the node line: the outputs' expressions.
    pub fn summary(&self) -> String {
        self.output_exprs().join("; ")
    }
}
