//! Running long native work off the JavaScript thread.
//!
//! A job runs on a dedicated OS thread (not libuv's small pool, which Node needs for file
//! I/O) and settles a promise. Panics are caught and become `INTERNAL_PANIC` errors. Progress
//! reaches JS through a non-blocking threadsafe function; cancellation through `CancelToken`.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::error::{panic_error, Code, Result};


/// A flag JS sets to ask a running job to stop at its next safe point.
#[napi]
#[derive(Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
}

#[napi]
impl CancelToken {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    #[napi]
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    #[napi(getter)]
    pub fn cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl CancelToken {
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }
}

/// A progress callback as JS passed it: `(event) => void`, never blocking the job.
pub type ProgressFn<T> = ThreadsafeFunction<T, (), T, Status, false, true>;

pub fn report<T: 'static + ToNapiValue + Send>(f: &Option<ProgressFn<T>>, event: T) {
    if let Some(f) = f {
        f.call(event, ThreadsafeFunctionCallMode::NonBlocking);
    }
}

/// Spawns `work` on its own thread and returns a promise of its result.
pub fn spawn<'env, T, F>(env: &'env Env, work: F) -> Result<Object<'env>>
where
    T: ToNapiValue + Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let (deferred, promise) = env
        .create_deferred::<T, Box<dyn FnOnce(Env) -> napi::Result<T> + Send>>()
        .map_err(|e| Error::new(Code(e.status.as_ref().into()), e.reason.clone()))?;
    std::thread::Builder::new()
        .name("contimg-job".into())
        .spawn(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|p| Err(panic_error(p)));
            match outcome {
                Ok(value) => deferred.resolve(Box::new(move |_env| Ok(value))),
                Err(e) => {
                    let mut err = napi::Error::new(Status::GenericFailure, e.reason.clone());
                    err.status = Status::GenericFailure;
                    deferred.reject(with_code(err, e.status.as_ref()));
                }
            }
        })
        .map_err(|e| Error::new(Code("INTERNAL".into()), format!("cannot start a worker thread: {e}")))?;
    Ok(promise)
}

/// napi's deferred rejects with `Error<Status>`; our codes travel in the reason's prefix and
/// are restored as `err.code` by the TypeScript loader (see ts/native.ts).
fn with_code(mut err: napi::Error, code: &str) -> napi::Error {
    err.reason = format!("[{code}] {}", err.reason);
    err
}
