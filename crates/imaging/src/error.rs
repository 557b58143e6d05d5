//! Errors of the imager, each with a stable code for JavaScript callers.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    #[error(transparent)]
    Ms(#[from] ms::MsError),

    #[error("{path}: no column {column} to image (use --column DATA, or apply calibration first)")]
    MissingColumn { path: PathBuf, column: String },

    #[error("{path}: cannot form Stokes I from correlations {corr_types:?} (need XX and YY, RR and LL, or I)")]
    NoStokesI { path: PathBuf, corr_types: Vec<String> },

    #[error("{path}: {n_fields} fields with different phase centres ({first}, {other}, …); contimg image needs one phase centre (convert with the default --phase-mode meridian)")]
    MultiplePhaseCenters { path: PathBuf, n_fields: usize, first: String, other: String },

    #[error("{path}: {reason}")]
    BadMs { path: PathBuf, reason: String },

    #[error("{path}: every cross-correlation sample of {column} is flagged or has zero weight: nothing to image")]
    NothingToImage { path: PathBuf, column: String },

    #[error("invalid size: a {size}×{size} image needs about {:.1} GB for its images and gridding buffers, but only {:.1} GB of memory is available; use --size {max_size} or less", *need_bytes as f64 / 1e9, *available_bytes as f64 / 1e9)]
    TooLarge { size: usize, need_bytes: u64, available_bytes: u64, max_size: usize },

    /// A buffer could not be allocated (reported instead of aborting the process).
    #[error("out of memory: cannot allocate {bytes} bytes for {what}")]
    OutOfMemory { what: &'static str, bytes: u64 },

    #[error("invalid {name}: {reason}")]
    InvalidArgument { name: &'static str, reason: String },

    #[error("gridder: {0}")]
    Grid(#[from] grid::GridError),

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("imaging was cancelled")]
    Cancelled,
}

impl ImagingError {
    pub fn code(&self) -> &'static str {
        match self {
            ImagingError::Ms(e) => e.code(),
            ImagingError::MissingColumn { .. } => "IMAGE_MISSING_COLUMN",
            ImagingError::NoStokesI { .. } => "IMAGE_NO_STOKES_I",
            ImagingError::MultiplePhaseCenters { .. } => "IMAGE_MULTIPLE_PHASE_CENTERS",
            ImagingError::BadMs { .. } => "IMAGE_BAD_MS",
            ImagingError::NothingToImage { .. } => "IMAGE_NOTHING_TO_IMAGE",
            ImagingError::InvalidArgument { .. } => "IMAGE_INVALID_ARGUMENT",
            ImagingError::Grid(_) => "IMAGE_GRID",
            ImagingError::TooLarge { .. } => "IMAGE_TOO_LARGE",
            ImagingError::OutOfMemory { .. } => "IMAGE_OUT_OF_MEMORY",
            ImagingError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => "IMAGE_NO_SPACE",
                std::io::ErrorKind::ReadOnlyFilesystem => "IMAGE_READ_ONLY",
                _ => "IMAGE_IO",
            },
            ImagingError::Cancelled => "CANCELLED",
        }
    }
}
