use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulation setting: {0}")]
    InvalidArgument(String),
    #[error("{path}: {op}: {source}")]
    Io { path: PathBuf, op: String, source: std::io::Error },
    #[error(transparent)]
    Uvh5(#[from] uvh5::Uvh5Error),
    #[error("simulation cancelled")]
    Cancelled,
}

impl SimError {
    pub fn code(&self) -> &str {
        match self {
            SimError::InvalidArgument(_) => "SIM_INVALID_ARGUMENT",
            SimError::Io { .. } => "SIM_IO",
            SimError::Uvh5(e) => e.code(),
            SimError::Cancelled => "CANCELLED",
        }
    }

    pub(crate) fn io(path: &std::path::Path, op: &str, source: std::io::Error) -> Self {
        SimError::Io { path: path.to_owned(), op: op.to_owned(), source }
    }
}
