//! `calibrate`: B, G and short-G solutions of a calibrator MS, written as CASA caltables.

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;

use crate::error::{js_error, to_js, Result};
use crate::job::{report, spawn, CancelToken};

#[napi(object)]
pub struct CalibrateSource {
    pub name: String,
    pub ra_deg: f64,
    pub dec_deg: f64,
    /// Stokes I at `ref_freq_hz` (XX = YY = I, the simulator's convention).
    pub flux_jy: f64,
    pub spectral_index: Option<f64>,
    pub ref_freq_hz: f64,
}

#[napi(object)]
pub struct CalibrateRequest {
    pub ms: String,
    /// Catalogue calibrators: the nearest to the phase centre within `radius_deg` is the model.
    pub calibrators: Option<Vec<CalibrateSource>>,
    pub radius_deg: Option<f64>,
    /// A sky model used as given (instead of `calibrators`).
    pub sky: Option<Vec<CalibrateSource>>,
    /// Final paths of the bandpass, gain (solint inf) and short gain tables.
    pub bpcal: String,
    pub gpcal: String,
    pub gpcal2: String,
    pub refant: Option<String>,
    pub min_snr: Option<f64>,
    pub uvrange: Option<String>,
    pub solint_s: Option<f64>,
    pub max_flagged_fraction: Option<f64>,
    pub write_model: Option<bool>,
    pub overwrite: Option<bool>,
}

#[napi(object)]
pub struct CalibrateProgress {
    /// "accumulate" (rows), "solve" (solves), "write" (tables).
    pub stage: String,
    pub done: f64,
    pub total: f64,
}

fn source(s: &CalibrateSource) -> calib::model::PointSource {
    calib::model::PointSource {
        name: s.name.clone(),
        ra_deg: s.ra_deg,
        dec_deg: s.dec_deg,
        flux_jy: s.flux_jy,
        spectral_index: s.spectral_index.unwrap_or(0.0),
        ref_freq_hz: s.ref_freq_hz,
    }
}

/// Solves and writes the three tables; resolves with the summary (calibrator, refant used,
/// per-table flagged fractions and SNR, timings).
#[napi(ts_return_type = "Promise<any>")]
pub fn calibrate<'env>(
    env: &'env Env,
    request: CalibrateRequest,
    on_progress: Option<ThreadsafeFunction<CalibrateProgress, (), CalibrateProgress, Status, false, true>>,
    cancel: Option<&CancelToken>,
) -> Result<Object<'env>> {
    let sources = match (&request.sky, &request.calibrators) {
        (Some(sky), _) => calib::solve::ModelSources::Sky(sky.iter().map(source).collect()),
        (None, Some(cat)) => calib::solve::ModelSources::Catalogue {
            calibrators: cat.iter().map(source).collect(),
            radius_deg: request.radius_deg.unwrap_or(1.58),
        },
        (None, None) => return Err(js_error("INVALID_ARGUMENT", "calibrate needs calibrators or a sky model")),
    };
    let tables = [request.bpcal.clone().into(), request.gpcal.clone().into(), request.gpcal2.clone().into()];
    let mut cfg = calib::solve::CalibrateConfig::new(&request.ms, sources, tables);
    if let Some(r) = &request.refant {
        cfg.refant = r.clone();
    }
    if let Some(s) = request.min_snr {
        cfg.min_snr = s;
    }
    if let Some(u) = &request.uvrange {
        cfg.uvrange = calib::solve::UvRange::parse(u).map_err(to_js)?;
    }
    if let Some(s) = request.solint_s {
        cfg.solint_s = s;
    }
    if let Some(f) = request.max_flagged_fraction {
        cfg.max_flagged_fraction = f;
    }
    cfg.write_model = request.write_model.unwrap_or(false);
    cfg.overwrite = request.overwrite.unwrap_or(false);
    let cancel = cancel.cloned().unwrap_or_default();
    spawn(env, move || {
        let flag = cancel.flag();
        let progress = |p: calib::solve::CalibrateProgress| {
            report(&on_progress, CalibrateProgress { stage: p.stage.into(), done: p.done as f64, total: p.total as f64 })
        };
        let cancelled = || flag.load(std::sync::atomic::Ordering::Relaxed);
        let s = calib::solve::calibrate(&cfg, &progress, &cancelled).map_err(to_js)?;
        serde_json::to_value(&s).map_err(|e| js_error("INTERNAL", e.to_string()))
    })
}
