//! One error type for everything that can go wrong with a UVH5 file.
//!
//! Every variant names the file, says what is wrong and what was expected, and maps to a
//! stable machine-readable `code()` that crosses into JavaScript unchanged.

use std::path::{Path, PathBuf};

// Serialisable so that an error found in the isolated child process (`isolate/`) reaches the
// caller exactly as it would have without isolation: same variant, code and message.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum Uvh5Error {
    #[error("{path}: not an HDF5 file ({detail})")]
    NotHdf5 { path: PathBuf, detail: String },

    #[error("{path}: file is truncated: {detail}")]
    Truncated { path: PathBuf, detail: String },

    #[error("{path}: missing dataset '{name}' ({expected})")]
    MissingDataset { path: PathBuf, name: String, expected: String },

    #[error("{path}: missing header key '{name}' ({expected})")]
    MissingKey { path: PathBuf, name: String, expected: String },

    #[error("{path}: '{name}' has shape {got:?}, expected {expected}")]
    BadShape { path: PathBuf, name: String, expected: String, got: Vec<usize> },

    #[error("{path}: header value {name} = {value} is invalid (expected {expected})")]
    BadValue { path: PathBuf, name: String, value: String, expected: String },

    #[error("{path}: inconsistent header: {detail}")]
    Inconsistent { path: PathBuf, detail: String },

    #[error("{path}: unsupported UVH5 version '{version}' (this reader supports 0.1 and 1.0 to 1.2)")]
    UnsupportedVersion { path: PathBuf, version: String },

    #[error("{path}: dataset '{name}' has unsupported type {got} (expected {expected})")]
    UnsupportedDtype { path: PathBuf, name: String, got: String, expected: String },

    #[error("{path}: requested {what} {requested} is out of range (the file has {available})")]
    OutOfRange { path: PathBuf, what: String, requested: String, available: usize },

    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: String,
        #[serde(with = "io_wire")]
        source: std::io::Error,
    },

    #[error("{path}: HDF5 error while {op}: {message}")]
    Hdf5 { path: PathBuf, op: String, message: String },

    #[error("{path}: {detail}")]
    InvalidArgument { path: PathBuf, detail: String },

    /// libhdf5 crashed, hung or aborted on the file in the isolated child process.
    #[error("{path}: corrupt file: {detail}")]
    Corrupt { path: PathBuf, detail: String },
}

/// The `path` field every variant has, borrowed as `$e` is (shared or mutable): one list of
/// variants for both accessors.
macro_rules! path_of {
    ($e:expr) => {
        match $e {
            Uvh5Error::NotHdf5 { path, .. }
            | Uvh5Error::Truncated { path, .. }
            | Uvh5Error::MissingDataset { path, .. }
            | Uvh5Error::MissingKey { path, .. }
            | Uvh5Error::BadShape { path, .. }
            | Uvh5Error::BadValue { path, .. }
            | Uvh5Error::Inconsistent { path, .. }
            | Uvh5Error::UnsupportedVersion { path, .. }
            | Uvh5Error::UnsupportedDtype { path, .. }
            | Uvh5Error::OutOfRange { path, .. }
            | Uvh5Error::Io { path, .. }
            | Uvh5Error::Hdf5 { path, .. }
            | Uvh5Error::InvalidArgument { path, .. }
            | Uvh5Error::Corrupt { path, .. } => path,
        }
    };
}

impl Uvh5Error {
    /// A stable identifier for programs (and JavaScript callers) to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Uvh5Error::NotHdf5 { .. } => "UVH5_NOT_HDF5",
            Uvh5Error::Truncated { .. } => "UVH5_TRUNCATED",
            Uvh5Error::MissingDataset { .. } => "UVH5_MISSING_DATASET",
            Uvh5Error::MissingKey { .. } => "UVH5_MISSING_KEY",
            Uvh5Error::BadShape { .. } => "UVH5_BAD_SHAPE",
            Uvh5Error::BadValue { .. } => "UVH5_BAD_VALUE",
            Uvh5Error::Inconsistent { .. } => "UVH5_INCONSISTENT",
            Uvh5Error::UnsupportedVersion { .. } => "UVH5_UNSUPPORTED_VERSION",
            Uvh5Error::UnsupportedDtype { .. } => "UVH5_UNSUPPORTED_DTYPE",
            Uvh5Error::OutOfRange { .. } => "UVH5_OUT_OF_RANGE",
            Uvh5Error::Io { .. } => "UVH5_IO",
            Uvh5Error::Hdf5 { .. } => "UVH5_HDF5",
            Uvh5Error::InvalidArgument { .. } => "UVH5_INVALID_ARGUMENT",
            Uvh5Error::Corrupt { .. } => "UVH5_CORRUPT",
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        path_of!(self)
    }

    pub(crate) fn path_mut(&mut self) -> &mut PathBuf {
        path_of!(self)
    }

    pub(crate) fn hdf5(path: &Path, op: impl Into<String>, err: hdf5::Error) -> Self {
        Uvh5Error::Hdf5 { path: path.to_owned(), op: op.into(), message: err.to_string() }
    }

    pub(crate) fn io(path: &Path, op: impl Into<String>, source: std::io::Error) -> Self {
        Uvh5Error::Io { path: path.to_owned(), op: op.into(), source }
    }
}

pub type Result<T, E = Uvh5Error> = std::result::Result<T, E>;

/// `std::io::Error` on the wire: its OS error number when it has one (rebuilt exactly), else
/// its message (rebuilt with the same text; the `ErrorKind` of such errors is not kept).
mod io_wire {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Wire {
        os: Option<i32>,
        message: String,
    }

    pub fn serialize<S: Serializer>(e: &std::io::Error, s: S) -> Result<S::Ok, S::Error> {
        Wire { os: e.raw_os_error(), message: e.to_string() }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<std::io::Error, D::Error> {
        let w = Wire::deserialize(d)?;
        Ok(match w.os {
            Some(n) => std::io::Error::from_raw_os_error(n),
            None => std::io::Error::other(w.message),
        })
    }
}
