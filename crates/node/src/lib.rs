//! The JavaScript face of contimg's Rust core. This crate only converts: options objects in,
//! summaries out, and every Rust error into a JS exception whose `code` is the error's stable
//! code. Long jobs run on their own threads and settle a promise, so the event loop never
//! waits on visibility data.

// Under `cargo test` the napi exports are compiled without their registration, so they look
// unused; they are used, from JavaScript.
#![cfg_attr(test, allow(dead_code))]

mod error;
mod inspect;
mod job;
mod simulate;
mod convert;
mod image;
mod fs;
mod applycal;
mod calibrate;
mod flag;
mod sources;
mod mosaic;
mod crossmatch;

use napi_derive::napi;

/// The version of the native core (the workspace version).
#[napi]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
