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
}

impl CalibError {
    /// The stable code JavaScript sees as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            CalibError::Ms(e) => e.code(),
            CalibError::Input { .. } => "CALIB_BAD_INPUT",
            CalibError::InvalidArgument(_) => "INVALID_ARGUMENT",
        }
    }
}
