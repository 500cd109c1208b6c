//! Element types and NumPy-style promotion.

use std::fmt;

/// The element type of a tensor. Ordered by promotion rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    I64,
    F32,
    F64,
}

impl DType {
    pub const ALL: [DType; 4] = [DType::Bool, DType::I64, DType::F32, DType::F64];

    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
    pub fn is_int(self) -> bool {
        self == DType::I64
    }
    pub fn is_bool(self) -> bool {
        self == DType::Bool
    }
    /// Bytes per element in storage.
    pub fn size_of(self) -> usize {
        match self {
            DType::Bool => 1,
            DType::I64 | DType::F64 => 8,
            DType::F32 => 4,
        }
    }
    /// NumPy's name for the dtype.
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
    /// Short name used in printed graph types (`f64[500, 2]`).
    pub fn short(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I64 => "i64",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// NumPy promotion: bool < int64 < float32 < float64, except that
    /// int64 with float32 gives float64 (float32 cannot hold every int64
    /// closely, as in NumPy and PyTensor).
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        match (a, b) {
            (I64, F32) | (F32, I64) => F64,
            _ => a.max(b),
        }
    }

    /// The float dtype that a float-valued function of this dtype returns
    /// (`exp(int)` is float64, `exp(float32)` stays float32).
    pub fn to_float(self) -> DType {
        match self {
            DType::F32 => DType::F32,
            _ => DType::F64,
        }
    }

    /// The dtype arithmetic (+, -, *) works in: bool is counted as int64.
    pub fn arithmetic(self) -> DType {
        match self {
            DType::Bool => DType::I64,
            d => d,
        }
    }

    pub fn parse(name: &str) -> Option<DType> {
        match name {
            "bool" => Some(DType::Bool),
            "int64" | "i64" => Some(DType::I64),
            "float32" | "f32" => Some(DType::F32),
            "float64" | "f64" => Some(DType::F64),
            _ => None,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
