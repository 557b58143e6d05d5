//! Errors as JS sees them: `err.code` is a stable string, `err.message` names the file and
//! what is wrong.

use napi::bindgen_prelude::*;

/// The `code` carried by every error thrown from Rust.
#[derive(Debug, Clone)]
pub struct Code(pub String);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<Status> for Code {
    fn from(s: Status) -> Self {
        Code(s.as_ref().to_owned())
    }
}

/// Named `Result` because napi-derive recognises fallible functions by that name.
pub type Result<T> = std::result::Result<T, Error<Code>>;

/// Anything with a stable code and a message.
pub trait Coded: std::fmt::Display {
    fn code(&self) -> &str;
}

impl Coded for uvh5::Uvh5Error {
    fn code(&self) -> &str {
        uvh5::Uvh5Error::code(self)
    }
}

impl Coded for ms::MsError {
    fn code(&self) -> &str {
        ms::MsError::code(self)
    }
}

pub fn to_js<E: Coded>(e: E) -> Error<Code> {
    Error::new(Code(e.code().to_owned()), e.to_string())
}

pub fn js_error(code: &str, message: impl Into<String>) -> Error<Code> {
    Error::new(Code(code.to_owned()), message.into())
}

/// Turns a caught panic payload into an error JS can handle.
pub fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error<Code> {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    js_error("INTERNAL_PANIC", format!("internal error (a bug in contimg): {msg}"))
}

/// Runs a synchronous export, turning a panic into an `INTERNAL_PANIC` error instead of
/// unwinding into Node.
pub fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_error(p)))
}
