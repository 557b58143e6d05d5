//! File-system primitives Node does not offer.

use napi_derive::napi;

use crate::error::{js_error, Result};

/// Atomically swaps two paths on one file system (`renameat2(RENAME_EXCHANGE)`). Resolves
/// `false` where the file system or kernel cannot (the caller falls back to renames); any other
/// failure is an error naming both paths.
#[napi]
pub fn exchange_paths(a: String, b: String) -> Result<bool> {
    let c = |p: &str| std::ffi::CString::new(p).map_err(|_| js_error("LAYOUT_IO", format!("{p}: path contains a NUL byte")));
    let (ca, cb) = (c(&a)?, c(&b)?);
    // SAFETY: two valid NUL-terminated paths, relative to the working directory.
    let r = unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(js_error("LAYOUT_IO", format!("cannot exchange {a} and {b}: {e}"))),
    }
}
