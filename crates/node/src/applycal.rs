//! `applycal`: caltables applied to one MS, written as a calibrated copy with CORRECTED_DATA.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;

use crate::error::{js_error, to_js, Coded, Result};
use crate::job::{report, spawn, CancelToken};

impl Coded for calib::CalibError {
    fn code(&self) -> &str {
        calib::CalibError::code(self)
    }
}

#[napi(object)]
pub struct ApplycalTable {
    pub path: String,
    /// "nearest" or "linear"; default nearest for B, linear for G.
    pub interp: Option<String>,
}

#[napi(object)]
pub struct ApplycalRequest {
    pub ms: String,
    /// Final path of the calibrated copy (built under a temporary name beside it).
    pub output: String,
    /// In the order they are applied.
    pub tables: Vec<ApplycalTable>,
    pub calwt: Option<bool>,
    pub overwrite: Option<bool>,
}

#[napi(object)]
pub struct ApplycalProgress {
    /// "copy" (bytes) or "apply" (rows).
    pub stage: String,
    pub done: f64,
    pub total: f64,
}

/// Applies the tables; resolves with the summary (tables and interpolation used, rows,
/// flagged samples before and after, timings).
#[napi(ts_return_type = "Promise<any>")]
pub fn applycal<'env>(
    env: &'env Env,
    request: ApplycalRequest,
    on_progress: Option<ThreadsafeFunction<ApplycalProgress, (), ApplycalProgress, Status, false, true>>,
    cancel: Option<&CancelToken>,
) -> Result<Object<'env>> {
    let mut tables = Vec::new();
    for t in &request.tables {
        let interp = match t.interp.as_deref() {
            None => None,
            Some("nearest") => Some(calib::apply::Interp::Nearest),
            Some("linear") => Some(calib::apply::Interp::Linear),
            Some(o) => return Err(js_error("INVALID_ARGUMENT", format!("interp '{o}' is not nearest or linear"))),
        };
        tables.push(calib::apply::TableSpec { path: t.path.clone().into(), interp });
    }
    let mut cfg = calib::apply::ApplyConfig::new(&request.ms, &request.output, tables);
    cfg.calwt = request.calwt.unwrap_or(true);
    cfg.overwrite = request.overwrite.unwrap_or(false);
    let cancel = cancel.cloned().unwrap_or_default();
    spawn(env, move || {
        let flag = cancel.flag();
        let progress = |p: calib::apply::ApplyProgress| {
            report(&on_progress, ApplycalProgress { stage: p.stage.into(), done: p.rows_done as f64, total: p.rows_total as f64 })
        };
        let cancelled = || flag.load(std::sync::atomic::Ordering::Relaxed);
        let s = calib::apply::applycal(&cfg, &progress, &cancelled).map_err(to_js)?;
        serde_json::to_value(&s).map_err(|e| js_error("INTERNAL", e.to_string()))
    })
}

/// The time range of an MS (MJD seconds, UTC), or null when it has no rows.
#[napi]
pub fn ms_time_range_mjd_s(ms: String) -> Result<Option<Vec<f64>>> {
    crate::error::guard(|| Ok(calib::apply::ms_time_range(std::path::Path::new(&ms)).map_err(to_js)?.map(|r| r.to_vec())))
}
