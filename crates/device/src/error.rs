//! The one error type of Soma: every fallible public function returns `Result<_, Error>`.

/// The op an allocation failure names until `Device` fills in the op that asked for the memory.
const ALLOCATION: &str = "allocate";

/// What went wrong, naming the op and the shapes involved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Shapes that do not fit the op, e.g. `matmul: inner dimensions differ: [32, 784] x [128, 10]`.
    #[error("{op}: {msg}")]
    Shape { op: &'static str, msg: String },
    /// An argument the op cannot take (an axis out of range, a non-scalar loss, ...).
    #[error("{op}: {msg}")]
    Invalid { op: &'static str, msg: String },
    /// Tensors that live on different devices were combined.
    #[error("{op}: tensors are on different devices ({a} and {b}); move one with to_device")]
    DeviceMismatch { op: &'static str, a: String, b: String },
    /// A size over what the device allows (buffer size, workgroups, rank).
    #[error("{op}: {msg}")]
    Limit { op: &'static str, msg: String },
    /// No GPU adapter could be found or opened.
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    /// The device reported a failure (validation, out of memory, lost device).
    #[error("device error: {0}")]
    Device(String),
    /// A file could not be read or written.
    #[error("{path}: {msg}")]
    Io { path: String, msg: String },
    /// A file's contents are not what its format requires (corrupt, truncated, wrong magic).
    #[error("{path}: {msg}")]
    Format { path: String, msg: String },
}

impl Error {
    pub fn shape(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Shape { op, msg: msg.into() }
    }
    pub fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Invalid { op, msg: msg.into() }
    }
    pub fn limit(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Limit { op, msg: msg.into() }
    }
    /// The CPU allocator had no room for an output of `bytes`; `for_op` names the op.
    pub(crate) fn out_of_memory(bytes: u128) -> Self {
        Error::limit(ALLOCATION, format!("cannot allocate {bytes} bytes for the output"))
    }
    /// Names `op` in an allocation failure, which the allocating kernel could not.
    pub(crate) fn for_op(self, op: &'static str) -> Self {
        match self {
            Error::Limit { op: ALLOCATION, msg } => Error::Limit { op, msg },
            other => other,
        }
    }
    pub fn io(path: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        Error::Io { path: path.to_string(), msg: err.to_string() }
    }
    pub fn format(path: impl std::fmt::Display, msg: impl Into<String>) -> Self {
        Error::Format { path: path.to_string(), msg: msg.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
