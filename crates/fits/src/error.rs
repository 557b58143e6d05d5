//! Errors reading or writing FITS, each with a stable code for JavaScript callers.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FitsError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}: not a FITS file: {reason}")]
    NotFits { path: PathBuf, reason: String },

    #[error("{path}: bad FITS header: {reason}")]
    BadHeader { path: PathBuf, reason: String },

    #[error("{path}: the file ends after {have} bytes but its header promises {want}")]
    Truncated { path: PathBuf, have: u64, want: u64 },

    #[error("{path}: no celestial WCS: {reason}")]
    NoWcs { path: PathBuf, reason: String },

    #[error("{path}: unsupported: {reason}")]
    Unsupported { path: PathBuf, reason: String },

    #[error("{path}: the image is empty: {reason}")]
    Empty { path: PathBuf, reason: String },
}

impl FitsError {
    pub fn code(&self) -> &'static str {
        match self {
            FitsError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => "FITS_NOT_FOUND",
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => "FITS_NO_SPACE",
                std::io::ErrorKind::ReadOnlyFilesystem => "FITS_READ_ONLY",
                _ => "FITS_IO",
            },
            FitsError::NotFits { .. } => "FITS_NOT_FITS",
            FitsError::BadHeader { .. } => "FITS_BAD_HEADER",
            FitsError::Truncated { .. } => "FITS_TRUNCATED",
            FitsError::NoWcs { .. } => "FITS_NO_WCS",
            FitsError::Unsupported { .. } => "FITS_UNSUPPORTED",
            FitsError::Empty { .. } => "FITS_EMPTY_IMAGE",
        }
    }
}
