//! `mosaicImages`: flat-noise images and their primary beams into a primary-beam-weighted
//! linear mosaic (FITS mosaic, weight and noise maps, PNG).

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;

use crate::error::{js_error, to_js, Code, Coded, Result};
use crate::job::{report, spawn, CancelToken};

impl Coded for ::mosaic::MosaicError {
    fn code(&self) -> &str {
        ::mosaic::MosaicError::code(self)
    }
}

#[napi(object)]
pub struct MosaicRequest {
    /// `<prefix>.image.fits` files and their `<prefix>.pb.fits`, in the same order.
    pub images: Vec<String>,
    pub pbs: Vec<String>,
    pub mosaic_path: String,
    pub weight_path: String,
    pub noise_path: String,
    pub png_path: String,
    pub pb_cutoff: f64,
    pub cell_arcsec: Option<f64>,
    /// [nx, ny] and [ra, dec] (deg) of an explicit grid.
    pub size: Option<Vec<u32>>,
    pub centre_deg: Option<Vec<f64>>,
    /// "cubic" (the default: cubic B-spline, as reproject's order='bicubic') or "bilinear".
    pub interpolation: Option<String>,
    pub method: String,
    pub title: String,
    pub history: Vec<String>,
}

#[napi(object)]
pub struct MosaicProgress {
    /// "read", "combine" or "write".
    pub stage: String,
    pub done: f64,
    pub total: f64,
}

fn config(r: &MosaicRequest) -> std::result::Result<::mosaic::MosaicConfig, Error<Code>> {
    let bad = |m: String| js_error("MOSAIC_INVALID_ARGUMENT", m);
    let size = match r.size.as_deref() {
        None => None,
        Some(&[nx, ny]) => Some((nx as usize, ny as usize)),
        Some(s) => return Err(bad(format!("size {s:?} is not [nx, ny]"))),
    };
    let centre_deg = match r.centre_deg.as_deref() {
        None => None,
        Some(&[ra, dec]) => Some((ra, dec)),
        Some(c) => return Err(bad(format!("centre {c:?} is not [ra, dec]"))),
    };
    let interpolation = match r.interpolation.as_deref() {
        None => ::mosaic::Interpolation::default(),
        Some(s) => s.parse().map_err(bad)?,
    };
    Ok(::mosaic::MosaicConfig {
        images: r.images.iter().map(Into::into).collect(),
        pbs: r.pbs.iter().map(Into::into).collect(),
        outputs: ::mosaic::OutputPaths { mosaic: (&r.mosaic_path).into(), weight: (&r.weight_path).into(), noise: (&r.noise_path).into(), png: (&r.png_path).into() },
        pb_cutoff: r.pb_cutoff,
        cell_arcsec: r.cell_arcsec,
        size,
        centre_deg,
        interpolation,
        method: r.method.clone(),
        title: r.title.clone(),
        history: r.history.clone(),
    })
}

/// Builds one mosaic; resolves with the summary (grid, inputs' noise, outputs, timings).
#[napi(ts_return_type = "Promise<any>")]
pub fn mosaic_images<'env>(
    env: &'env Env,
    request: MosaicRequest,
    on_progress: Option<ThreadsafeFunction<MosaicProgress, (), MosaicProgress, Status, false, true>>,
    cancel: Option<&CancelToken>,
) -> Result<Object<'env>> {
    let cfg = config(&request)?;
    let cancel = cancel.cloned().unwrap_or_default();
    spawn(env, move || {
        let flag = cancel.flag();
        let progress = |p: ::mosaic::MosaicProgress| report(&on_progress, MosaicProgress { stage: p.stage.into(), done: p.done as f64, total: p.total as f64 });
        let cancelled = || flag.load(std::sync::atomic::Ordering::Relaxed);
        let s = ::mosaic::run(&cfg, &progress, &cancelled).map_err(to_js)?;
        serde_json::to_value(&s).map_err(|e| js_error("INTERNAL", e.to_string()))
    })
}
