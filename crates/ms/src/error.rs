use std::path::PathBuf;

use casacore_sys::{CasaError, ErrorKind};

/// Every error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum MsError {
    /// casacore refused an operation (its exception message, caught in the shim). `op` names
    /// what we were doing, e.g. "put MAIN.DATA rows 0..4656".
    #[error("casacore error during {op}: {message}")]
    Casacore { op: String, message: String },

    /// The file system is full (or too full to finish the table safely). Nothing more is written
    /// to this MS; it is incomplete.
    #[error("no space left on device during {op}: {message}")]
    NoSpace { op: String, message: String },

    /// The file system is read-only.
    #[error("read-only file system during {op}: {message}")]
    ReadOnly { op: String, message: String },

    /// casacore could not allocate memory.
    #[error("out of memory during {op}: {message}")]
    OutOfMemory { op: String, message: String },

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

    /// The table is not a CASA calibration table (no table.info of type Calibration, or the
    /// columns a caltable must have are missing).
    #[error("{path} is not a CASA caltable: {reason}")]
    NotACalTable { path: PathBuf, reason: String },

    /// A caltable of a kind we do not apply (a Jones type other than B or G, or a ParType other
    /// than Complex).
    #[error("{path}: unsupported caltable: {reason}")]
    CalTableUnsupported { path: PathBuf, reason: String },

    /// A caltable whose cells or subtables have shapes that do not fit (e.g. a CPARAM cell with
    /// more channels than its spectral window).
    #[error("{path}: caltable has the wrong shape: {reason}")]
    CalTableShape { path: PathBuf, reason: String },

    /// A previous write failed part-way; the MS on disk is incomplete and must be discarded.
    #[error("the MS writer failed earlier ({0}); the MS is incomplete")]
    Poisoned(String),
}

impl MsError {
    /// A stable identifier for programs (and JavaScript callers) to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            MsError::Casacore { .. } => "MS_CASACORE",
            MsError::NoSpace { .. } => "MS_NO_SPACE",
            MsError::ReadOnly { .. } => "MS_READ_ONLY",
            MsError::OutOfMemory { .. } => "MS_OUT_OF_MEMORY",
            MsError::Shape { .. } => "MS_SHAPE",
            MsError::InvalidSpec(_) => "MS_INVALID_SPEC",
            MsError::InvalidRows { .. } => "MS_INVALID_ROWS",
            MsError::MissingColumn { .. } => "MS_MISSING_COLUMN",
            MsError::NotAMs { .. } => "MS_NOT_AN_MS",
            MsError::Poisoned(_) => "MS_POISONED",
            MsError::NotACalTable { .. } => "CALTABLE_NOT_A_CALTABLE",
            MsError::CalTableUnsupported { .. } => "CALTABLE_UNSUPPORTED",
            MsError::CalTableShape { .. } => "CALTABLE_SHAPE",
        }
    }
}

/// Attach the operation to a shim error.
pub(crate) trait Op<T> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T, MsError>;
}

impl<T> Op<T> for Result<T, CasaError> {
    fn op(self, op: impl FnOnce() -> String) -> Result<T, MsError> {
        self.map_err(|e| {
            let (op, message) = (op(), e.message);
            match e.kind {
                ErrorKind::NoSpace => MsError::NoSpace { op, message },
                ErrorKind::ReadOnly => MsError::ReadOnly { op, message },
                ErrorKind::OutOfMemory => MsError::OutOfMemory { op, message },
                ErrorKind::Broken => MsError::Poisoned(format!("{op}: {message}")),
                _ => MsError::Casacore { op, message },
            }
        })
    }
}
