use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("invalid conversion setting: {0}")]
    InvalidArgument(String),

    #[error("group {group}: missing subband(s) {missing} (expected {expected}; use --allow-missing to convert with their channels flagged)")]
    MissingSubbands { group: String, missing: String, expected: usize },

    #[error("{path}: {what} differs from {reference}: {detail}")]
    Inconsistent { path: PathBuf, reference: PathBuf, what: String, detail: String },

    #[error("{path}: {detail}")]
    Unsupported { path: PathBuf, detail: String },

    #[error(transparent)]
    Uvh5(#[from] uvh5::Uvh5Error),

    #[error("{path}: {source}")]
    Ms { path: PathBuf, source: ms::MsError },

    #[error("{path}: {op}: {source}")]
    Io { path: PathBuf, op: String, source: std::io::Error },

    #[error("conversion cancelled")]
    Cancelled,
}

impl ConvertError {
    pub fn code(&self) -> &str {
        match self {
            ConvertError::InvalidArgument(_) => "CONVERT_INVALID_ARGUMENT",
            ConvertError::MissingSubbands { .. } => "CONVERT_MISSING_SUBBANDS",
            ConvertError::Inconsistent { .. } => "CONVERT_INCONSISTENT_GROUP",
            ConvertError::Unsupported { .. } => "CONVERT_UNSUPPORTED",
            ConvertError::Uvh5(e) => e.code(),
            ConvertError::Ms { source, .. } => source.code(),
            ConvertError::Io { .. } => "CONVERT_IO",
            ConvertError::Cancelled => "CANCELLED",
        }
    }

    pub(crate) fn io(path: &std::path::Path, op: &str, source: std::io::Error) -> Self {
        ConvertError::Io { path: path.to_owned(), op: op.to_owned(), source }
    }

    pub(crate) fn ms(path: &std::path::Path, source: ms::MsError) -> Self {
        ConvertError::Ms { path: path.to_owned(), source }
    }
}
