//! Errors of mosaicking, each with a stable code for JavaScript callers: the FITS crate's own
//! codes for unreadable inputs, `MOSAIC_*` for what is wrong with the set of images.

use std::path::PathBuf;

use fits::FitsError;

#[derive(Debug, thiserror::Error)]
pub enum MosaicError {
    #[error(transparent)]
    Fits(#[from] FitsError),

    #[error("{image}: no primary beam beside it ({pb} is missing; image with `contimg image --pbcor`)")]
    MissingPb { image: PathBuf, pb: PathBuf },

    #[error("{pb}: the primary beam is not on the grid of {image}: {reason}")]
    PbMismatch { image: PathBuf, pb: PathBuf, reason: String },

    #[error("{pb}: the primary beam is below the cutoff {cutoff} everywhere")]
    PbBelowCutoff { pb: PathBuf, cutoff: f64 },

    #[error("{image}: the noise is not measurable ({reason})")]
    NoNoise { image: PathBuf, reason: String },

    #[error("the images do not overlap: {reason}")]
    NoOverlap { reason: String },

    #[error("the mosaic grid would be too large: {reason}")]
    TooLarge { reason: String },

    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("cancelled")]
    Cancelled,
}

impl MosaicError {
    pub fn code(&self) -> &'static str {
        match self {
            MosaicError::Fits(e) => e.code(),
            MosaicError::MissingPb { .. } => "MOSAIC_MISSING_PB",
            MosaicError::PbMismatch { .. } => "MOSAIC_PB_MISMATCH",
            MosaicError::PbBelowCutoff { .. } => "MOSAIC_PB_BELOW_CUTOFF",
            MosaicError::NoNoise { .. } => "MOSAIC_NO_NOISE",
            MosaicError::NoOverlap { .. } => "MOSAIC_NO_OVERLAP",
            MosaicError::TooLarge { .. } => "MOSAIC_TOO_LARGE",
            MosaicError::InvalidArgument(_) => "MOSAIC_INVALID_ARGUMENT",
            MosaicError::Cancelled => "MOSAIC_CANCELLED",
        }
    }
}
