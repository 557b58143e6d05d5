use std::path::PathBuf;

use casacore_sys::CasaError;

/// Every error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum MsError {
    /// casacore refused an operation (its exception message, caught in the shim). `op` names
    /// what we were doing, e.g. "put MAIN.DATA rows 0..4656".
    #[error("casacore error during {op}: {message}")]
    Casacore { op: String, message: String },

    /// A caller buffer has the wrong number of elements for the rows and cell shape it claims.
    #[error("wrong length for {what}: expected {expected} elements, got {got}")]
    Shape {
        what: String,
        expected: usize,
        got: usize,
    },

    /// The specification of the MS to write is inconsistent (message says how).
    #[error("invalid MS specification: {0}")]
    InvalidSpec(String),

    /// A row block holds a value that cannot be written (e.g. an antenna index beyond ANTENNA).
    #[error("invalid value in {what}: {message}")]
    InvalidRows { what: String, message: String },

    /// A column the caller asked for does not exist in this MS.
    #[error("{path}: no column {column}")]
    MissingColumn { path: PathBuf, column: String },

    /// The table opened is not a MeasurementSet we can read.
    #[error("{path} is not a MeasurementSet: {reason}")]
    NotAMs { path: PathBuf, reason: String },

    /// A previous write failed part-way; the MS on disk is incomplete and must be discarded.
    #[error("the MS writer failed earlier ({0}); the MS is incomplete")]
    Poisoned(String),
}

impl MsError {
    /// A stable identifier for programs (and JavaScript callers) to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            MsError::Casacore { .. } => "MS_CASACORE",
            MsError::Shape { .. } => "MS_SHAPE",
            MsError::InvalidSpec(_) => "MS_INVALID_SPEC",
            MsError::InvalidRows { .. } => "MS_INVALID_ROWS",
            MsError::MissingColumn { .. } => "MS_MISSING_COLUMN",
            MsError::NotAMs { .. } => "MS_NOT_AN_MS",
            MsError::Poisoned(_) => "MS_POISONED",
        }
    }
}

/// Attach the operation to a shim error.
pub(crate) trait Op<T> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T, MsError>;
}

impl<T> Op<T> for Result<T, CasaError> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T, MsError> {
        self.map_err(|e| MsError::Casacore {
            op: op(),
            message: e.message,
        })
    }
}
