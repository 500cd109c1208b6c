//! The op enum: every operation theon knows, in one closed type.
//!
//! Ops derive `Eq` and `Hash`, so merging equal subgraphs is structural
//! equality. Each compiler pass (type inference, gradients, vectorization,
//! the interpreter, code generation, printing) is one exhaustive `match`
//! over `Op`: adding an op makes the compiler list every place to fill in.

mod custom;
mod fused;
mod infer;

pub use custom::{CustomKernel, CustomOp};
pub use fused::{FusedOutput, FusedProgram, Instr, Reg, ScalarBits};
pub use infer::{check_runtime, infer, known_from_tensor};

use crate::shared::SharedVar;
use crate::types::TensorType;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use theon_runtime::{DType, Dims, Tensor};

/// Declares an op family once: the enum (with its variants' docs), `ALL`
/// in declaration order and `name()` (printing, rewrite patterns) all
/// derive from one table, so they cannot disagree.
macro_rules! op_family {
    (
        $(#[$meta:meta])*
        pub enum $Name:ident {
            $( $(#[$vmeta:meta])* $Variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $Name {
            $( $(#[$vmeta])* $Variant, )*
        }

        impl $Name {
            /// Every member, in declaration order.
            pub const ALL: [$Name; [$($Name::$Variant),*].len()] = [$($Name::$Variant),*];

            /// The name in printing and in rewrite patterns.
            pub fn name(self) -> &'static str {
                match self {
                    $( $Name::$Variant => $text, )*
                }
            }
        }
    };
}

mod conv;
pub use conv::{ConvCall, ConvRole, ConvSpec, PoolKind, PoolSpec};

op_family! {
    /// Elementwise functions of one argument.
    pub enum UnaryOp {
        Neg => "neg",
        Abs => "abs",
        Sign => "sign",
        /// The largest integer <= x (integers unchanged).
        Floor => "floor",
        Exp => "exp",
        Expm1 => "expm1",
        Log => "log",
        Log1p => "log1p",
        Sqrt => "sqrt",
        Square => "square",
        Reciprocal => "reciprocal",
        Tanh => "tanh",
        Sigmoid => "sigmoid",
        Softplus => "softplus",
        LogSigmoid => "log_sigmoid",
        Sin => "sin",
        Cos => "cos",
        Erf => "erf",
        /// log |Γ(x)|.
        Lgamma => "lgamma",
        /// ψ(x) = d/dx log Γ(x).
        Digamma => "digamma",
        /// ψ'(x).
        Trigamma => "trigamma",
        /// Logical not (bool only).
        Not => "not",
    }
}

impl UnaryOp {
    /// The output dtype for an input dtype.
    pub fn out_dtype(self, d: DType) -> DType {
        match self {
            UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Sign | UnaryOp::Square | UnaryOp::Floor => {
                d.arithmetic()
            }
            UnaryOp::Not => DType::Bool,
            _ => d.to_float(),
        }
    }
}

op_family! {
    /// Elementwise functions of two broadcast arguments.
    pub enum BinaryOp {
        Add => "add",
        Sub => "sub",
        Mul => "mul",
        /// True division: integer operands give float64.
        Div => "div",
        /// Always computed in floating point.
        Pow => "pow",
        Maximum => "maximum",
        Minimum => "minimum",
        Eq => "eq",
        Ne => "ne",
        Lt => "lt",
        Le => "le",
        Gt => "gt",
        Ge => "ge",
        /// Logical and / or (bool only).
        And => "and",
        Or => "or",
    }
}

impl BinaryOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
    pub fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or)
    }
    pub fn is_commutative(self) -> bool {
        matches!(
            self,
            BinaryOp::Add
                | BinaryOp::Mul
                | BinaryOp::Maximum
                | BinaryOp::Minimum
                | BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::And
                | BinaryOp::Or
        )
    }

    /// The dtype operands are converted to before computing.
    pub fn compute_dtype(self, a: DType, b: DType) -> DType {
        match self {
            BinaryOp::Div | BinaryOp::Pow => DType::promote(a, b).to_float(),
            BinaryOp::And | BinaryOp::Or => DType::Bool,
            _ if self.is_comparison() => DType::promote(a, b),
            // Promote first: bool with float32 stays float32 (bool is not int64 here).
            _ => DType::promote(a, b).arithmetic(),
        }
    }
    /// The result dtype.
    pub fn out_dtype(self, a: DType, b: DType) -> DType {
        if self.is_comparison() || self.is_logical() {
            DType::Bool
        } else {
            self.compute_dtype(a, b)
        }
    }
}

op_family! {
    /// Reductions over a set of axes.
    pub enum ReduceOp {
        Sum => "sum",
        Prod => "prod",
        Max => "max",
        Min => "min",
        Mean => "mean",
        LogSumExp => "logsumexp",
    }
}

impl ReduceOp {
    pub fn out_dtype(self, d: DType) -> DType {
        match self {
            ReduceOp::Sum | ReduceOp::Prod => d.arithmetic(),
            ReduceOp::Max | ReduceOp::Min => d,
            ReduceOp::Mean | ReduceOp::LogSumExp => d.to_float(),
        }
    }
}

/// What a random node draws. Parameters beyond the shape are inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RandomDist {
    /// Standard normal.
    Normal,
    /// Uniform on [0, 1).
    Uniform,
    /// Uniform integers in [low, high).
    Integers { low: i64, high: i64 },
    /// Poisson(rate); input: rate.
    Poisson,
    /// Gamma(alpha, scale 1); input: alpha.
    Gamma,
    /// Binomial(n, p); inputs: n, p.
    Binomial,
}

impl RandomDist {
    pub fn name(self) -> &'static str {
        match self {
            RandomDist::Normal => "normal",
            RandomDist::Uniform => "uniform",
            RandomDist::Integers { .. } => "integers",
            RandomDist::Poisson => "poisson",
            RandomDist::Gamma => "gamma",
            RandomDist::Binomial => "binomial",
        }
    }
    pub fn n_params(self) -> usize {
        match self {
            RandomDist::Normal | RandomDist::Uniform | RandomDist::Integers { .. } => 0,
            RandomDist::Poisson | RandomDist::Gamma => 1,
            RandomDist::Binomial => 2,
        }
    }
}

/// An f64 compared and hashed by its bits (so ops holding floats are Eq).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct F64Key(u64);

impl F64Key {
    pub fn new(v: f64) -> F64Key {
        F64Key(v.to_bits())
    }
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Debug for F64Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.get())
    }
}

/// A specialized matrix product: `alpha * op(A) · op(B) + beta * C`, where
/// `op` transposes the last two axes when asked, leading dims broadcast as
/// batch dims, and `C` (a third input, optional) broadcasts to the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GemmSpec {
    pub trans_a: bool,
    pub trans_b: bool,
    pub alpha: F64Key,
    pub beta: F64Key,
}

/// One axis of a static slice, Python semantics (`start:stop:step`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SliceSpec {
    pub start: Option<i64>,
    pub stop: Option<i64>,
    pub step: i64,
}

impl SliceSpec {
    pub const FULL: SliceSpec = SliceSpec {
        start: None,
        stop: None,
        step: 1,
    };
    pub fn range(start: i64, stop: i64) -> SliceSpec {
        SliceSpec {
            start: Some(start),
            stop: Some(stop),
            step: 1,
        }
    }
}

impl fmt::Display for SliceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.start {
            write!(f, "{s}")?;
        }
        write!(f, ":")?;
        if let Some(s) = self.stop {
            write!(f, "{s}")?;
        }
        if self.step != 1 {
            write!(f, ":{}", self.step)?;
        }
        Ok(())
    }
}

/// A constant tensor, compared and hashed by dtype, shape and bits.
#[derive(Clone)]
pub struct ConstValue(pub Arc<Tensor>);

impl ConstValue {
    pub fn new(t: Tensor) -> ConstValue {
        ConstValue(Arc::new(t))
    }
    pub fn tensor(&self) -> &Tensor {
        &self.0
    }
    /// The value if every element equals it (a splat constant).
    pub fn splat(&self) -> Option<f64> {
        let t = &self.0;
        if t.is_empty() {
            return None;
        }
        let first = t.data().get_f64(0);
        (0..t.len())
            .all(|i| t.data().get_f64(i).to_bits() == first.to_bits())
            .then_some(first)
    }
    /// The exact value of a splat constant (see `ScalarBits`).
    pub fn splat_bits(&self) -> Option<ScalarBits> {
        let t = &self.0;
        let mut bits = self.bits();
        let first = bits.next()?;
        if !bits.all(|b| b == first) {
            return None;
        }
        Some(match t.data() {
            theon_runtime::Data::F32(v) => ScalarBits::float(v[0] as f64),
            theon_runtime::Data::F64(v) => ScalarBits::float(v[0]),
            theon_runtime::Data::I64(v) => ScalarBits::int(v[0]),
            theon_runtime::Data::Bool(v) => ScalarBits::int(v[0] as i64),
        })
    }

    fn bits(&self) -> impl Iterator<Item = u64> + '_ {
        let t = &self.0;
        (0..t.len()).map(move |i| match t.data() {
            theon_runtime::Data::Bool(v) => v[i] as u64,
            theon_runtime::Data::I64(v) => v[i] as u64,
            theon_runtime::Data::F32(v) => v[i].to_bits() as u64,
            theon_runtime::Data::F64(v) => v[i].to_bits(),
        })
    }
}

impl PartialEq for ConstValue {
    fn eq(&self, o: &Self) -> bool {
        Arc::ptr_eq(&self.0, &o.0)
            || (self.0.dtype() == o.0.dtype()
                && self.0.shape() == o.0.shape()
                && self.bits().eq(o.bits()))
    }
}
impl Eq for ConstValue {}
impl Hash for ConstValue {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.dtype().hash(h);
        self.0.shape().hash(h);
        for b in self.bits().take(64) {
            b.hash(h);
        }
    }
}
impl fmt::Debug for ConstValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", fmt_constant(&self.0))
    }
}

/// Short text of a constant for printing: the value for scalars and splats,
/// the elements for short vectors, else dtype and shape.
pub fn fmt_constant(t: &Tensor) -> String {
    let elem = |i: usize| -> String {
        match t.data() {
            theon_runtime::Data::Bool(v) => v[i].to_string(),
            theon_runtime::Data::I64(v) => v[i].to_string(),
            theon_runtime::Data::F32(v) => format!("{:?}", v[i]),
            theon_runtime::Data::F64(v) => format!("{:?}", v[i]),
        }
    };
    if t.rank() == 0 {
        return elem(0);
    }
    if t.rank() == 1 && t.len() <= 8 {
        return format!(
            "[{}]",
            (0..t.len()).map(elem).collect::<Vec<_>>().join(", ")
        );
    }
    let ty = TensorType::fixed(t.dtype(), t.shape());
    match ConstValue::new(t.clone()).splat() {
        Some(_) => format!("{}({})", ty, elem(0)),
        None => ty.to_string(),
    }
}

/// A symbolic input's identity (inputs are leaves, never merged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InputId(pub u64);

/// Every operation. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    // ---- leaves --------------------------------------------------------
    /// A function argument.
    Input {
        id: InputId,
        ty: TensorType,
    },
    /// A literal tensor.
    Constant(ConstValue),
    /// The current value of a shared variable.
    Shared(SharedVar),

    // ---- elementwise (broadcasting) ---------------------------------------
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// `where(cond, a, b)`.
    Where,
    Cast(DType),

    // ---- reductions -----------------------------------------------------------
    /// Axes sorted and unique.
    Reduce {
        op: ReduceOp,
        axes: Dims<usize>,
        keepdims: bool,
    },
    /// Index of the maximum along `axis` (None: over the flattened tensor).
    Argmax {
        axis: Option<usize>,
        keepdims: bool,
    },

    // ---- linear algebra --------------------------------------------------------
    /// NumPy `matmul`: vectors are promoted, leading dims broadcast.
    MatMul,
    /// Specialized product, see `GemmSpec`.
    Gemm(GemmSpec),
    /// Inputs as `Gemm`'s: `act(gemm(...))` in one step, the activation
    /// applied to each block of the product while it is in cache. Made by
    /// the rewrite `gemm_act` after differentiation (it has no gradient);
    /// `act` is a wide-math op of the backend.
    GemmAct {
        spec: GemmSpec,
        act: UnaryOp,
    },
    /// Inputs: L (k x k, lower triangular; the upper triangle is not
    /// read), b (..., k). Solves L z = b (or L^T z = b when `trans`) for
    /// every vector along b's last axis.
    SolveTriangular {
        trans: bool,
    },

    // ---- convolution and pooling (see `conv`) ---------------------------------
    /// Inputs x, w (and gy for the adjoints); see `ConvRole`.
    Conv2d {
        role: ConvRole,
        spec: ConvSpec,
    },
    /// Inputs x, w and optionally b: `act(conv2d(x, w) + b)` in one step,
    /// the bias and activation applied while the product is in cache.
    /// Made by the rewrite `conv_epilogue` after differentiation (it has
    /// no gradient); b varies along the output channel (and a batch axis)
    /// only.
    Conv2dBiasAct {
        spec: ConvSpec,
        act: Option<UnaryOp>,
    },
    /// Pooling over the last two axes of x (rank >= 2).
    Pool2d {
        kind: PoolKind,
        spec: PoolSpec,
    },
    /// Inputs x, gy: the gradient of pooling's input.
    Pool2dGrad {
        kind: PoolKind,
        spec: PoolSpec,
    },

    // ---- shape and data movement ------------------------------------------------
    /// Output axis `i` is input axis `order[i]`, or a new size-1 axis for
    /// `None`; input axes left out must be statically 1 (they are dropped).
    /// Transpose, expand_dims and squeeze are all this op.
    DimShuffle(Dims<Option<usize>>),
    /// Inputs: x, shape (int64 vector; one entry may be -1).
    Reshape,
    /// Inputs: x, shape.
    BroadcastTo,
    /// Inputs: scalar value, shape. A tensor of that shape filled with value.
    Alloc,
    Concatenate(usize),
    /// Static strided slice, one spec per leading axis.
    Slice(Vec<SliceSpec>),
    /// Inputs: x, y. `x` with `y` added into the slice (adjoint of Slice).
    IncSlice(Vec<SliceSpec>),
    /// Inputs: x, indices (int64). Gather along the axis.
    Take(usize),
    /// Inputs: x, indices, y. `x` with `y` scatter-added (adjoint of Take).
    IncTake(usize),
    /// The shape of a tensor as an int64 vector.
    Shape,

    // ---- random --------------------------------------------------------------
    /// Inputs: random-stream state (shared int64\[2\]), shape, parameters.
    /// `draw` distinguishes random nodes (they are never merged).
    Random {
        dist: RandomDist,
        dtype: DType,
        draw: u64,
    },

    // ---- gradient plumbing -------------------------------------------------------
    /// Identity whose gradient is zero.
    StopGradient,
    /// Identity that checks at run time that its input has the known
    /// sizes of `dims` (PyTensor's `specify_shape`); `what` names the
    /// input in the error. Put in by `clone_replace` where a replacement
    /// leaves sizes open that the replaced value had.
    SpecifyShape {
        dims: theon_runtime::Dims<Option<usize>>,
        what: Arc<str>,
    },

    // ---- introduced by the compiler ------------------------------------------------
    /// A fused loop over elementwise ops (and consuming reductions).
    Fused(Arc<FusedProgram>),

    // ---- escape hatch ------------------------------------------------------------
    Custom(CustomOp),
}

impl Op {
    /// Leaves have no inputs and their own type.
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Input { .. } | Op::Constant(_) | Op::Shared(_))
    }

    /// Elementwise with broadcasting (candidates for fusion).
    pub fn is_elementwise(&self) -> bool {
        matches!(self, Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast(_))
    }

    /// The op's name as printed.
    pub fn name(&self) -> String {
        match self {
            Op::Input { .. } => "Input".into(),
            Op::Constant(_) => "Constant".into(),
            Op::Shared(_) => "Shared".into(),
            Op::Unary(u) => camel(u.name()),
            Op::Binary(b) => camel(b.name()),
            Op::Where => "Where".into(),
            Op::Cast(_) => "Cast".into(),
            Op::Reduce { op, .. } => camel(op.name()),
            Op::Argmax { .. } => "Argmax".into(),
            Op::MatMul => "MatMul".into(),
            Op::Gemm(_) => "Gemm".into(),
            Op::GemmAct { .. } => "GemmAct".into(),
            Op::SolveTriangular { .. } => "SolveTriangular".into(),
            Op::Conv2d { role, .. } => camel(role.name()),
            Op::Conv2dBiasAct { .. } => "Conv2dBiasAct".into(),
            Op::Pool2d { kind, .. } => format!("{}Pool2d", camel(kind.name())),
            Op::Pool2dGrad { kind, .. } => format!("{}Pool2dGrad", camel(kind.name())),
            Op::DimShuffle(order) => dimshuffle_name(order).into(),
            Op::Reshape => "Reshape".into(),
            Op::BroadcastTo => "BroadcastTo".into(),
            Op::Alloc => "Alloc".into(),
            Op::Concatenate(_) => "Concatenate".into(),
            Op::Slice(_) => "Slice".into(),
            Op::IncSlice(_) => "IncSlice".into(),
            Op::Take(_) => "Take".into(),
            Op::IncTake(_) => "IncTake".into(),
            Op::Shape => "Shape".into(),
            Op::Random { dist, .. } => format!("Random{}", camel(dist.name())),
            Op::StopGradient => "StopGradient".into(),
            Op::SpecifyShape { .. } => "SpecifyShape".into(),
            Op::Fused(_) => "Fused".into(),
            Op::Custom(c) => c.name().to_string(),
        }
    }

    /// The op's properties as printed inside `{}` (empty if none).
    pub fn props(&self) -> String {
        let list = |v: &[usize]| {
            v.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Op::Input { .. } | Op::Shared(_) => String::new(),
            Op::Constant(c) => fmt_constant(c.tensor()),
            Op::SolveTriangular { trans: false } => String::new(),
            Op::Unary(_)
            | Op::Binary(_)
            | Op::Where
            | Op::MatMul
            | Op::Reshape
            | Op::BroadcastTo => String::new(),
            Op::Alloc | Op::Shape | Op::StopGradient => String::new(),
            Op::SpecifyShape { dims, .. } => crate::types::fmt_dims(dims),
            Op::Cast(d) => d.short().into(),
            Op::Reduce { axes, keepdims, .. } => {
                format!(
                    "axes=[{}]{}",
                    list(axes),
                    if *keepdims { ", keepdims" } else { "" }
                )
            }
            Op::SolveTriangular { trans: true } => "L^T".into(),
            Op::Conv2d { spec, .. } => spec.to_string(),
            Op::Conv2dBiasAct { spec, act } => match act {
                Some(a) => format!("{spec}, act={}", a.name()),
                None => spec.to_string(),
            },
            Op::Pool2d { spec, .. } | Op::Pool2dGrad { spec, .. } => spec.to_string(),
            Op::Argmax { axis, keepdims } => format!(
                "axis={}{}",
                axis.map_or("None".into(), |a| a.to_string()),
                if *keepdims { ", keepdims" } else { "" }
            ),
            Op::GemmAct { spec, act } => {
                format!("{}, act={}", Op::Gemm(*spec).props(), act.name())
            }
            Op::Gemm(g) => {
                let mut s = String::new();
                if g.trans_a {
                    s.push_str("A^T, ");
                }
                if g.trans_b {
                    s.push_str("B^T, ");
                }
                s.push_str(&format!("alpha={:?}, beta={:?}", g.alpha, g.beta));
                s
            }
            Op::DimShuffle(order) => match dimshuffle_name(order) {
                "Transpose" => format!(
                    "axes=[{}]",
                    list(&order.iter().map(|o| o.unwrap()).collect::<Vec<_>>())
                ),
                _ => order
                    .iter()
                    .map(|o| o.map_or("x".into(), |a| a.to_string()))
                    .collect::<Vec<_>>()
                    .join(","),
            },
            Op::Concatenate(a) | Op::Take(a) | Op::IncTake(a) => format!("axis={a}"),
            Op::Slice(s) | Op::IncSlice(s) => s
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            Op::Random { dist, dtype, draw } => match dist {
                RandomDist::Integers { low, high } => {
                    format!("{low}, {high}, {}, draw={draw}", dtype.short())
                }
                _ => format!("{}, draw={draw}", dtype.short()),
            },
            Op::Fused(p) => p.summary(),
            Op::Custom(c) => c.props(),
        }
    }
}

fn camel(s: &str) -> String {
    s.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// PyTensor's naming of DimShuffle special cases.
fn dimshuffle_name(order: &[Option<usize>]) -> &'static str {
    let kept: Vec<usize> = order.iter().flatten().copied().collect();
    let sorted = kept.windows(2).all(|w| w[0] < w[1]);
    let has_new = order.iter().any(Option::is_none);
    let drops = kept.len() < order.iter().flatten().max().map_or(0, |m| m + 1);
    match (has_new, sorted) {
        (false, false) => "Transpose",
        (true, true) if !drops => "ExpandDims",
        (false, true) => "Squeeze",
        _ => "DimShuffle",
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let props = self.props();
        if props.is_empty() {
            write!(f, "{}", self.name())
        } else {
            write!(f, "{}{{{}}}", self.name(), props)
        }
    }
}
