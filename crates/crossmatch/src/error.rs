//! Errors of the cross-match, each with a stable code for JavaScript callers. Every one names
//! the file it is about.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CrossmatchError {
    #[error(transparent)]
    Fits(#[from] fits::FitsError),

    #[error("{path}: not a catalogue contimg reads ({reason}); give a FITS binary table (.fits), CSV (.csv), VOTable (.vot, .xml) or a simulated truth (.json)")]
    UnknownFormat { path: PathBuf, reason: String },

    #[error("{path}: {reason}")]
    NoColumns { path: PathBuf, reason: String },

    #[error("{path}: {reason}")]
    Unsupported { path: PathBuf, reason: String },

    #[error("{path}: {reason}")]
    BadCatalogue { path: PathBuf, reason: String },

    #[error("invalid {name}: {reason}")]
    InvalidArgument { name: &'static str, reason: String },

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl CrossmatchError {
    pub fn code(&self) -> &'static str {
        match self {
            CrossmatchError::Fits(e) => e.code(),
            CrossmatchError::UnknownFormat { .. } => "CROSSMATCH_UNKNOWN_FORMAT",
            CrossmatchError::NoColumns { .. } => "CROSSMATCH_NO_COLUMNS",
            CrossmatchError::Unsupported { .. } => "CROSSMATCH_UNSUPPORTED",
            CrossmatchError::BadCatalogue { .. } => "CROSSMATCH_BAD_CATALOGUE",
            CrossmatchError::InvalidArgument { .. } => "CROSSMATCH_INVALID_ARGUMENT",
            CrossmatchError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => "CROSSMATCH_NOT_FOUND",
                _ => "CROSSMATCH_IO",
            },
        }
    }
}
