//! One error type for the calibration stages; each variant has a stable code for the CLI.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CalibError {
    #[error(transparent)]
    Ms(#[from] ms::MsError),
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("{0}")]
    InvalidArgument(String),
    /// A caltable that does not fit the MS it is applied to (other antennas, channels or
    /// polarizations).
    #[error("{table}: does not fit {ms}: {message}")]
    TableShape { table: PathBuf, ms: PathBuf, message: String },
    /// No table has a solution valid at the MS's time.
    #[error("{ms}: no time overlap with {message}")]
    NoTimeOverlap { ms: PathBuf, message: String },
    /// A file-system operation on the output failed.
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// The caller cancelled the job.
    #[error("cancelled")]
    Cancelled,
    /// calibrate: no catalogue calibrator (or sky model source) within the primary beam.
    #[error("{ms}: {message}")]
    NoCalibrator { ms: PathBuf, message: String },
    /// calibrate: no unflagged visibility (after --uvrange) to solve from.
    #[error("{ms}: {message}")]
    AllFlagged { ms: PathBuf, message: String },
    /// calibrate: more than the allowed fraction of one solve's solutions flagged.
    #[error("{ms}: {message}")]
    TooManyFlagged { ms: PathBuf, message: String },
    /// `flag`: no MS at the path.
    #[error("{path}: no such MeasurementSet")]
    MsNotFound { path: PathBuf },
    /// `flag`: the MS (or its directory) cannot be written.
    #[error("{path}: the MeasurementSet is read-only: {message}")]
    MsReadOnly { path: PathBuf, message: String },
    /// `flag`: MAIN has no DATA column.
    #[error("{path}: MAIN has no DATA column")]
    NoDataColumn { path: PathBuf },
}

impl CalibError {
    /// The stable code JavaScript sees as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            CalibError::Ms(e) => e.code(),
            CalibError::Input { .. } => "CALIB_BAD_INPUT",
            CalibError::InvalidArgument(_) => "INVALID_ARGUMENT",
            CalibError::TableShape { .. } => "CALIB_TABLE_SHAPE",
            CalibError::NoTimeOverlap { .. } => "CALIB_NO_TIME_OVERLAP",
            CalibError::Io { .. } => "CALIB_IO",
            CalibError::Cancelled => "CANCELLED",
            CalibError::NoCalibrator { .. } => "CALIB_NO_CALIBRATOR",
            CalibError::AllFlagged { .. } => "CALIB_ALL_FLAGGED",
            CalibError::TooManyFlagged { .. } => "CALIB_TOO_MANY_FLAGGED",
            CalibError::MsNotFound { .. } => "CALIB_MS_NOT_FOUND",
            CalibError::MsReadOnly { .. } => "CALIB_MS_READ_ONLY",
            CalibError::NoDataColumn { .. } => "CALIB_NO_DATA_COLUMN",
        }
    }
}
