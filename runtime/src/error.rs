//! One error type for every theon crate: a kind a program can match on and a
//! message a person can act on.

use std::fmt;

/// What went wrong, coarsely. The message says the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Incompatible or invalid shapes.
    Shape,
    /// Wrong or incompatible dtypes.
    DType,
    /// An index or axis out of range.
    Index,
    /// An invalid value (a parameter, a NaN in data, a bad option).
    Value,
    /// Reading or writing files.
    Io,
    /// Malformed text or binary input.
    Parse,
    /// A graph that cannot be built or compiled as asked.
    Graph,
    /// Differentiation failed (disconnected inputs, non-scalar cost).
    Grad,
    /// Code generation failed.
    Compile,
    /// A computation produced a non-finite value where finite was required.
    NonFinite,
    /// A probabilistic-model error (unknown or duplicate names, ...).
    Model,
    /// A size too large to count or to allocate.
    Memory,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn shape(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Shape, message)
    }
    pub fn dtype(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::DType, message)
    }
    pub fn index(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Index, message)
    }
    pub fn value(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Value, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }
    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Parse, message)
    }
    pub fn graph(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Graph, message)
    }
    pub fn grad(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Grad, message)
    }
    pub fn compile(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Compile, message)
    }
    pub fn non_finite(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NonFinite, message)
    }
    pub fn model(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Model, message)
    }
    pub fn memory(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Memory, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefix the message with where it happened (`"in function f: ..."`).
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Shape => "shape error",
            ErrorKind::DType => "dtype error",
            ErrorKind::Index => "index error",
            ErrorKind::Value => "value error",
            ErrorKind::Io => "io error",
            ErrorKind::Parse => "parse error",
            ErrorKind::Graph => "graph error",
            ErrorKind::Grad => "gradient error",
            ErrorKind::Compile => "compile error",
            ErrorKind::NonFinite => "non-finite value",
            ErrorKind::Model => "model error",
            ErrorKind::Memory => "memory error",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::io(e.to_string())
    }
}
