//! Errors of the source finder, each with a stable code for JavaScript callers.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    #[error(transparent)]
    Fits(#[from] fits::FitsError),

    #[error("{path}: no restoring beam (BMAJ, BMIN): give the beam, or use an image that records it")]
    NoBeam { path: PathBuf },

    #[error("{path}: the primary-beam image is {pb_nx}×{pb_ny} but the image is {nx}×{ny}")]
    PbShape { path: PathBuf, pb_nx: usize, pb_ny: usize, nx: usize, ny: usize },

    #[error("{path}: the noise is zero or undefined everywhere: nothing can be detected")]
    NoNoise { path: PathBuf },

    #[error("invalid {name}: {reason}")]
    InvalidArgument { name: &'static str, reason: String },

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("source finding was cancelled")]
    Cancelled,
}

impl SourcesError {
    pub fn code(&self) -> &'static str {
        match self {
            SourcesError::Fits(e) => e.code(),
            SourcesError::NoBeam { .. } => "SOURCES_NO_BEAM",
            SourcesError::PbShape { .. } => "SOURCES_PB_MISMATCH",
            SourcesError::NoNoise { .. } => "SOURCES_NO_NOISE",
            SourcesError::InvalidArgument { .. } => "SOURCES_INVALID_ARGUMENT",
            SourcesError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => "SOURCES_NO_SPACE",
                std::io::ErrorKind::ReadOnlyFilesystem => "SOURCES_READ_ONLY",
                _ => "SOURCES_IO",
            },
            SourcesError::Cancelled => "CANCELLED",
        }
    }
}
