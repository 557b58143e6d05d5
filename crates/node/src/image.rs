//! `imageMs`: one MeasurementSet into a restored Stokes I image (FITS and PNG).

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;

use crate::error::{js_error, to_js, Code, Coded, Result};
use crate::job::{report, spawn, CancelToken};

impl Coded for imaging::ImagingError {
    fn code(&self) -> &str {
        imaging::ImagingError::code(self)
    }
}

#[napi(object)]
pub struct ImageRequest {
    pub ms: String,
    /// Outputs are `<prefix>.image.fits`, `.residual.fits`, `.model.fits`, `.psf.fits`,
    /// `.image.png` (and `.pb.fits`, `.image.pbcor.fits` with `pbcor`).
    pub output_prefix: String,
    pub column: String,
    pub size: u32,
    pub cell_arcsec: Option<f64>,
    /// "natural", "uniform" or "briggs".
    pub weighting: String,
    pub robust: f64,
    pub niter: u32,
    pub threshold_jy: f64,
    pub auto_threshold_sigma: f64,
    pub gain: f64,
    pub mgain: f64,
    pub max_major_cycles: u32,
    pub epsilon: f64,
    pub wgridding: bool,
    pub pbcor: bool,
    pub pb_cutoff: f64,
    pub threads: Option<u32>,
    /// "auto", "scalar", "avx2", "avx512".
    pub simd: Option<String>,
    pub history: Vec<String>,
}

#[napi(object)]
pub struct ImageProgress {
    pub stage: String,
    pub rows_done: f64,
    pub rows_total: f64,
    pub cycle: u32,
    pub peak_jy: f64,
    pub threshold_jy: f64,
    pub components: u32,
}

fn config(r: &ImageRequest) -> std::result::Result<imaging::ImageConfig, Error<Code>> {
    let bad = |m: String| js_error("IMAGE_INVALID_ARGUMENT", m);
    let mut c = imaging::ImageConfig::new(&r.ms, &r.output_prefix);
    c.column = r.column.clone();
    c.size = r.size as usize;
    c.cell_arcsec = r.cell_arcsec;
    c.weighting = match r.weighting.as_str() {
        "natural" => imaging::Weighting::Natural,
        "uniform" => imaging::Weighting::Uniform,
        "briggs" => imaging::Weighting::Briggs { robust: r.robust },
        w => return Err(bad(format!("weighting '{w}' is not natural, uniform or briggs"))),
    };
    c.niter = r.niter as usize;
    c.threshold_jy = r.threshold_jy;
    c.auto_threshold_sigma = r.auto_threshold_sigma;
    c.gain = r.gain;
    c.mgain = r.mgain;
    c.max_major_cycles = r.max_major_cycles as usize;
    c.epsilon = r.epsilon;
    c.do_wgridding = r.wgridding;
    c.pbcor = r.pbcor;
    c.pb_cutoff = r.pb_cutoff;
    c.threads = r.threads.map(|t| t as usize).filter(|&t| t > 0);
    c.simd = match r.simd.as_deref().unwrap_or("auto") {
        "auto" => grid::SimdMode::Auto,
        "scalar" => grid::SimdMode::Scalar,
        "avx2" => grid::SimdMode::Avx2,
        "avx512" => grid::SimdMode::Avx512,
        s => return Err(bad(format!("simd '{s}' is not auto, scalar, avx2 or avx512"))),
    };
    c.history = r.history.clone();
    Ok(c)
}

/// Images one MS; resolves with the summary (outputs, beam, noise, cycles, timings).
#[napi(ts_return_type = "Promise<any>")]
pub fn image_ms<'env>(
    env: &'env Env,
    request: ImageRequest,
    on_progress: Option<ThreadsafeFunction<ImageProgress, (), ImageProgress, Status, false, true>>,
    cancel: Option<&CancelToken>,
) -> Result<Object<'env>> {
    let cfg = config(&request)?;
    let cancel = cancel.cloned().unwrap_or_default();
    spawn(env, move || {
        let flag = cancel.flag();
        let progress = |p: imaging::ImageProgress| {
            report(
                &on_progress,
                ImageProgress {
                    stage: p.stage.into(),
                    rows_done: p.rows_done as f64,
                    rows_total: p.rows_total as f64,
                    cycle: p.cycle as u32,
                    peak_jy: p.peak_jy,
                    threshold_jy: p.threshold_jy,
                    components: p.components as u32,
                },
            )
        };
        let cancelled = || flag.load(std::sync::atomic::Ordering::Relaxed);
        let s = imaging::image_ms(&cfg, &progress, &cancelled).map_err(to_js)?;
        serde_json::to_value(&s).map_err(|e| js_error("INTERNAL", e.to_string()))
    })
}
