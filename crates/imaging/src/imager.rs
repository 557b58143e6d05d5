//! The imaging chain: MS → Stokes I → weights → PSF and dirty image → Cotton–Schwab CLEAN
//! (Högbom minor cycles, major cycles through the degridder) → restored image, residual,
//! model, PSF, optional primary-beam correction → FITS files and a PNG quicklook.
//!
//! Image orientation. The gridder's image is `[i][j]` with `j` fastest, `i` pairing with the
//! first uvw coordinate, and it images with the kernel `exp(+2πi(u l₁ + v l₂ − w(n−1)))`. An MS
//! written as pyuvdata and CASA write it holds `V = ∫ I exp(+2πi(u l + v m + w(n−1)))` in that
//! kernel's terms, so the gridder is handed `(−v, u, w)`: then `i` is the declination axis
//! (m, FITS y) and `j` the RA axis with RA increasing to the left (−l, FITS x). The array is
//! already in FITS order, `[y][x]`, with the phase centre at the 1-based pixel (n/2 + 1,
//! n/2 + 1). (Checked against simulated truth: every other choice of signs moves the sources
//! — mirrored, or shifted by a beam or more through the w-term.)
//!
//! Units. The dirty image and residual are divided by the PSF's peak (the sum of the weights),
//! so a point source of S Jy at the phase centre peaks at S Jy/beam; the model is in Jy per
//! pixel; the restored image in Jy/beam. Without the 1/n factor (`divide_by_n` off) the same
//! holds anywhere in the field, which is what a point-source sky needs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use grid::{GridParams, GridPlan, SimdMode};
use num_complex::Complex32;
use rayon::prelude::*;
use serde::Serialize;

use crate::beam::{fit_beam, gaussian_kernel};
use crate::clean::{Clean, MinorLimits, Stop};
use crate::error::ImagingError;
use crate::fits::{self, Beam, FitsImage, Wcs};
use crate::vis::{self, read_stokes_i, SpwVis, StokesI};
use crate::weights::{self, Weighting};
use crate::output::Partials;
use crate::{limits, pb, quicklook};

/// Sidereal rate (rad/s): how fast a meridian-transit pointing moves in RA.
const SIDEREAL_RATE_RAD_S: f64 = std::f64::consts::TAU / 86_164.090_530_8;

#[derive(Debug, Clone)]
pub struct ImageConfig {
    pub ms: PathBuf,
    /// Outputs are `<prefix>.image.fits`, `.residual.fits`, `.model.fits`, `.psf.fits`,
    /// `.image.png` (and `.pb.fits`, `.image.pbcor.fits` with `pbcor`).
    pub output_prefix: PathBuf,
    pub column: String,
    pub size: usize,
    /// Pixel size; `None`: a third of the finest fringe, 1 / (3 u_max).
    pub cell_arcsec: Option<f64>,
    pub weighting: Weighting,
    pub niter: usize,
    /// Absolute stopping threshold (Jy/beam).
    pub threshold_jy: f64,
    /// Stop at this many times the residual's robust noise (0: off).
    pub auto_threshold_sigma: f64,
    pub gain: f64,
    pub mgain: f64,
    pub max_major_cycles: usize,
    pub epsilon: f64,
    pub do_wgridding: bool,
    pub pbcor: bool,
    /// Beam level (fraction of peak) below which the corrected image is blanked.
    pub pb_cutoff: f64,
    pub threads: Option<usize>,
    pub simd: SimdMode,
    /// HISTORY lines (command line, version).
    pub history: Vec<String>,
}

impl ImageConfig {
    pub fn new(ms: impl Into<PathBuf>, output_prefix: impl Into<PathBuf>) -> Self {
        ImageConfig {
            ms: ms.into(),
            output_prefix: output_prefix.into(),
            column: "DATA".into(),
            size: 2048,
            cell_arcsec: None,
            weighting: Weighting::Briggs { robust: 0.0 },
            niter: 1000,
            threshold_jy: 0.0,
            auto_threshold_sigma: 3.0,
            gain: 0.1,
            mgain: 0.8,
            max_major_cycles: 20,
            epsilon: 1e-4,
            do_wgridding: true,
            pbcor: false,
            pb_cutoff: 0.1,
            threads: None,
            simd: SimdMode::Auto,
            history: Vec::new(),
        }
    }

    fn validate(&self) -> Result<(), ImagingError> {
        let bad = |name, reason: &str| Err(ImagingError::InvalidArgument { name, reason: reason.into() });
        if self.size < 16 || self.size % 2 != 0 {
            return bad("size", "the image size must be even and at least 16 pixels");
        }
        // Before reading anything: an image whose buffers cannot fit is refused, not aborted on.
        limits::check_size(self.size, self.pbcor, limits::available_memory_bytes())?;
        if self.cell_arcsec.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
            return bad("cell-arcsec", "the pixel size must be a positive number of arcseconds");
        }
        if !(self.gain > 0.0 && self.gain <= 1.0) {
            return bad("gain", "the loop gain must be in (0, 1]");
        }
        if !(self.mgain > 0.0 && self.mgain <= 1.0) {
            return bad("mgain", "the major-cycle gain must be in (0, 1]");
        }
        if !(self.threshold_jy >= 0.0) || !(self.auto_threshold_sigma >= 0.0) {
            return bad("threshold", "thresholds cannot be negative");
        }
        if !(self.epsilon >= 1e-6 && self.epsilon < 0.1) {
            return bad("epsilon", "the gridding accuracy must be in [1e-6, 0.1) in single precision");
        }
        if let Weighting::Briggs { robust } = self.weighting {
            if !(-5.0..=5.0).contains(&robust) {
                return bad("robust", "Briggs robustness must be between -5 and 5");
            }
        }
        if !(self.pb_cutoff > 0.0 && self.pb_cutoff < 1.0) {
            return bad("pb-cutoff", "the primary-beam cutoff must be in (0, 1)");
        }
        Ok(())
    }
}

/// What a progress callback sees.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageProgress {
    /// "read", "plan", "psf", "major", "restore", "write".
    pub stage: &'static str,
    pub rows_done: usize,
    pub rows_total: usize,
    /// Major cycle (1-based; 0 before the first).
    pub cycle: usize,
    pub peak_jy: f64,
    pub threshold_jy: f64,
    pub components: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MajorCycleSummary {
    pub cycle: usize,
    pub peak_before_jy: f64,
    pub peak_after_jy: f64,
    pub components: usize,
    pub stop: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSummary {
    pub ms: String,
    /// The visibility column imaged (`auto` resolved).
    pub column: String,
    pub outputs: Vec<String>,
    pub size: usize,
    pub cell_arcsec: f64,
    pub phase_center_deg: [f64; 2],
    pub freq_hz: f64,
    pub bandwidth_hz: f64,
    pub beam: Option<Beam>,
    pub weighting: Weighting,
    pub visibilities: usize,
    pub rows: usize,
    pub rows_flagged: usize,
    pub components: usize,
    pub model_flux_jy: f64,
    pub peak_jy: f64,
    /// Robust (MAD) noise of the residual's inner half (Jy/beam).
    pub rms_jy: f64,
    pub threshold_jy: f64,
    pub stop: String,
    pub major_cycles: Vec<MajorCycleSummary>,
    pub gridder: GridderSummary,
    pub timings_s: Timings,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GridderSummary {
    pub epsilon: f64,
    pub epsilon_estimate: f64,
    pub support: usize,
    pub oversampling: f64,
    pub grid: usize,
    pub w_planes: usize,
    pub simd: String,
    pub threads: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    pub read: f64,
    pub plan: f64,
    pub grid: f64,
    pub degrid: f64,
    pub clean: f64,
    pub write: f64,
    pub total: f64,
}

/// The gridder's coordinates for one MS uvw (see the module docs).
fn to_grid_uvw(uvw: &[[f64; 3]]) -> Vec<[f64; 3]> {
    uvw.iter().map(|&[u, v, w]| [-v, u, w]).collect()
}

struct Planned {
    plan: GridPlan<f32>,
    set: SpwVis,
}

/// Sum over spectral windows of the weighted dirty image of their visibilities, or with `ones`
/// of unit visibilities (the PSF), built in `scratch` rather than a copy of the data.
fn grid_all(planned: &[Planned], ones: bool, scratch: &mut Vec<Complex32>, n: usize) -> Result<Vec<f32>, ImagingError> {
    let mut acc = vec![0.0f32; n * n];
    let mut img = vec![0.0f32; n * n];
    for p in planned {
        let vis: &[Complex32] = if ones {
            scratch.clear();
            scratch.resize(p.set.n_vis(), Complex32::new(1.0, 0.0));
            scratch
        } else {
            &p.set.vis
        };
        p.plan.ms2dirty_into(vis, Some(&p.set.weight), &mut img)?;
        acc.iter_mut().zip(&img).for_each(|(a, b)| *a += b);
    }
    Ok(acc)
}

/// Robust noise: 1.4826 × the median absolute deviation of the inner half of the image.
pub fn robust_rms(img: &[f32], n: usize) -> f64 {
    let (a, b) = (n / 4, 3 * n / 4);
    let mut v: Vec<f32> = (a..b).flat_map(|y| img[y * n + a..y * n + b].iter().copied()).filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let med = *v.select_nth_unstable_by(mid, f32::total_cmp).1;
    let mut d: Vec<f32> = v.iter().map(|x| (x - med).abs()).collect();
    let mad = *d.select_nth_unstable_by(mid, f32::total_cmp).1;
    1.4826 * mad as f64
}

fn peak_abs(img: &[f32]) -> f32 {
    img.par_iter().map(|v| v.abs()).reduce(|| 0.0, f32::max)
}

/// Calendar date-time (UTC, ISO 8601) of MJD seconds.
fn iso_of_mjd_s(t: f64) -> String {
    let days = (t / 86_400.0).floor();
    let secs = t - days * 86_400.0;
    // Days since 1970-01-01 (MJD 40587), then the civil-from-days algorithm (H. Hinnant).
    let z = days as i64 - 40_587 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = ((secs / 3600.0).floor(), ((secs % 3600.0) / 60.0).floor(), secs % 60.0);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:06.3}", h as i64, mi as i64, s)
}

/// Images one MS. `progress` sees each stage and major cycle; `cancelled` is polled between
/// stages and cycles.
pub fn image_ms(cfg: &ImageConfig, progress: &(dyn Fn(ImageProgress) + Sync), cancelled: &(dyn Fn() -> bool + Sync)) -> Result<ImageSummary, ImagingError> {
    let resolved;
    let cfg = if cfg.column.eq_ignore_ascii_case("auto") {
        // `auto`: the calibrated visibilities when the MS has them (applycal's output), else DATA.
        let has_corrected = ms::MsReader::open(&cfg.ms)?.has_column("CORRECTED_DATA");
        resolved = ImageConfig { column: if has_corrected { "CORRECTED_DATA" } else { "DATA" }.into(), ..cfg.clone() };
        &resolved
    } else {
        cfg
    };
    cfg.validate()?;
    let threads = cfg.threads.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("contimg-image-{i}"))
        .build()
        .map_err(|e| ImagingError::InvalidArgument { name: "threads", reason: e.to_string() })?;
    pool.install(|| run(cfg, progress, cancelled, pool.current_num_threads()))
}

fn run(cfg: &ImageConfig, progress: &(dyn Fn(ImageProgress) + Sync), cancelled: &(dyn Fn() -> bool + Sync), nthreads: usize) -> Result<ImageSummary, ImagingError> {
    let t_start = Instant::now();
    let mut timings = Timings::default();
    let mut warnings = Vec::new();
    let n = cfg.size;
    let event = |stage, cycle, peak: f64, thr: f64, comps| ImageProgress {
        stage,
        rows_done: 0,
        rows_total: 0,
        cycle,
        peak_jy: peak,
        threshold_jy: thr,
        components: comps,
    };
    let check = || if cancelled() { Err(ImagingError::Cancelled) } else { Ok(()) };

    // Read.
    let t = Instant::now();
    let read_progress = |done, total| progress(ImageProgress { rows_done: done, rows_total: total, ..event("read", 0, 0.0, 0.0, 0) });
    let StokesI { mut spws, phase_center, field_name, times_mjd_s, rows_read, rows_flagged, telescope, array_itrf_m } =
        read_stokes_i(&cfg.ms, &cfg.column, &read_progress, cancelled)?;
    timings.read = t.elapsed().as_secs_f64();
    let max_uv = vis::max_uv_lambda(&spws);
    let (freq_hz, bandwidth_hz) = vis::band(&spws);
    let nvis: usize = spws.iter().map(SpwVis::n_vis).sum();
    if !(max_uv > 0.0) {
        return Err(ImagingError::NothingToImage { path: cfg.ms.clone(), column: cfg.column.clone() });
    }
    let cell_rad = match cfg.cell_arcsec {
        Some(c) => {
            let cell = (c / 3600.0).to_radians();
            limits::check_cell(n, cell, max_uv, limits::min_uv_lambda(&spws), freq_hz)?;
            cell
        }
        None => limits::default_cell_rad(max_uv),
    };
    let cell_arcsec = cell_rad.to_degrees() * 3600.0;
    if max_uv * cell_rad > 0.5 {
        warnings.push(format!(
            "pixels of {cell_arcsec:.2}\" undersample the longest baseline ({:.0} wavelengths): baselines beyond {:.0} wavelengths are dropped",
            max_uv,
            0.5 / cell_rad
        ));
    }

    // Weights, then one gridding plan per spectral window (reused by every major cycle).
    check()?;
    let t = Instant::now();
    progress(event("plan", 0, 0.0, 0.0, 0));
    weights::apply(cfg.weighting, &mut spws, n, cell_rad);
    let mut params = GridParams::new(n, n, cell_rad, cell_rad, cfg.epsilon);
    params.do_wgridding = cfg.do_wgridding;
    params.divide_by_n = false;
    params.nthreads = nthreads;
    params.simd = cfg.simd;
    let mut planned = Vec::with_capacity(spws.len());
    for set in spws {
        let mask: Vec<u8> = set.weight.iter().map(|&w| u8::from(w > 0.0)).collect();
        if !mask.contains(&1) {
            continue;
        }
        let plan = GridPlan::<f32>::new(&to_grid_uvw(&set.uvw_m), &set.freq_hz, Some(&mask), &params)?;
        planned.push(Planned { plan, set });
    }
    if planned.is_empty() {
        return Err(ImagingError::NothingToImage { path: cfg.ms.clone(), column: cfg.column.clone() });
    }
    timings.plan = t.elapsed().as_secs_f64();
    let info = planned[0].plan.info().clone();

    // PSF and dirty image.
    check()?;
    let t = Instant::now();
    progress(event("psf", 0, 0.0, 0.0, 0));
    // One scratch buffer serves the PSF's unit visibilities and then each major cycle's model
    // visibilities: the data are never copied.
    let mut scratch: Vec<Complex32> = Vec::new();
    let mut psf = grid_all(&planned, true, &mut scratch, n)?;
    let norm = psf[(n / 2) * n + n / 2];
    if !(norm > 0.0) {
        return Err(ImagingError::NothingToImage { path: cfg.ms.clone(), column: cfg.column.clone() });
    }
    psf.iter_mut().for_each(|v| *v /= norm);
    let mut residual = grid_all(&planned, false, &mut scratch, n)?;
    residual.iter_mut().for_each(|v| *v /= norm);
    timings.grid += t.elapsed().as_secs_f64();
    let beam = fit_beam(&psf, n, cell_rad);
    if beam.is_none() {
        warnings.push("could not fit a restoring beam to the PSF (its main lobe is not resolved): the restored image is the residual plus the unconvolved model".into());
    }

    // Cotton–Schwab: minor cycles on the image, major cycles through the visibilities.
    let mut clean = Clean::new(n);
    let mut predicted = vec![0.0f32; n * n]; // the model whose visibilities were subtracted
    let mut cycles = Vec::new();
    let mut stop = String::from("no-components");
    let mut threshold = cfg.threshold_jy;
    let patch_half = (n / 4).max(32);
    for cycle in 1..=cfg.max_major_cycles {
        check()?;
        let rms = robust_rms(&residual, n);
        threshold = cfg.threshold_jy.max(cfg.auto_threshold_sigma * rms);
        let peak = peak_abs(&residual) as f64;
        progress(event("major", cycle, peak, threshold, clean.components));
        if clean.components >= cfg.niter {
            stop = "niter".into();
            break;
        }
        if peak <= threshold {
            stop = "threshold".into();
            break;
        }
        let t = Instant::now();
        let lim = MinorLimits {
            gain: cfg.gain as f32,
            threshold: threshold as f32,
            niter: cfg.niter,
            mgain: cfg.mgain as f32,
            patch_half,
        };
        let mc = clean.minor_cycle(&mut residual, &psf, &lim, None);
        timings.clean += t.elapsed().as_secs_f64();
        if mc.components == 0 {
            stop = "threshold".into();
            break;
        }
        // Major cycle: subtract the new components' visibilities exactly, re-grid the residual.
        let t = Instant::now();
        let delta: Vec<f32> = clean.model.iter().zip(&predicted).map(|(m, p)| m - p).collect();
        predicted.copy_from_slice(&clean.model);
        for p in planned.iter_mut() {
            scratch.resize(p.set.n_vis(), Complex32::new(0.0, 0.0));
            p.plan.dirty2ms_into(&delta, None, &mut scratch)?;
            p.set.vis.par_iter_mut().zip(scratch.par_iter()).for_each(|(v, m)| *v -= m);
        }
        timings.degrid += t.elapsed().as_secs_f64();
        let t = Instant::now();
        residual = grid_all(&planned, false, &mut scratch, n)?;
        residual.iter_mut().for_each(|v| *v /= norm);
        timings.grid += t.elapsed().as_secs_f64();
        let after = peak_abs(&residual) as f64;
        cycles.push(MajorCycleSummary {
            cycle,
            peak_before_jy: peak,
            peak_after_jy: after,
            components: mc.components,
            stop: format!("{:?}", mc.stop).to_lowercase(),
            seconds: t.elapsed().as_secs_f64(),
        });
        stop = match mc.stop {
            Stop::Niter => "niter".into(),
            Stop::Threshold => "threshold".into(),
            Stop::MajorCycle => "major-cycle-limit".into(),
        };
    }
    drop(scratch);
    drop(planned);

    // Restore.
    check()?;
    let t = Instant::now();
    progress(event("restore", cycles.len(), peak_abs(&residual) as f64, threshold, clean.components));
    let mut restored = residual.clone();
    if let Some(b) = beam {
        let sig_pix = b.bmaj_deg.to_radians() / cell_rad / 2.3548;
        let half = ((5.0 * sig_pix).ceil() as usize).clamp(3, n / 2);
        let (kern, kn) = gaussian_kernel(&b, cell_rad, half);
        for (i, &f) in clean.model.iter().enumerate() {
            if f == 0.0 {
                continue;
            }
            let (py, px) = ((i / n) as i64, (i % n) as i64);
            for ky in 0..kn as i64 {
                let y = py + ky - half as i64;
                if y < 0 || y >= n as i64 {
                    continue;
                }
                for kx in 0..kn as i64 {
                    let x = px + kx - half as i64;
                    if x < 0 || x >= n as i64 {
                        continue;
                    }
                    restored[y as usize * n + x as usize] += f * kern[ky as usize * kn + kx as usize];
                }
            }
        }
    } else {
        restored.iter_mut().zip(&clean.model).for_each(|(r, m)| *r += m);
    }
    let rms = robust_rms(&residual, n);
    let peak = restored.iter().copied().fold(0.0f32, |a, b| if b.abs() > a.abs() { b } else { a }) as f64;

    timings.clean += t.elapsed().as_secs_f64();

    // Write: every file under a temporary name first, the restored image renamed last, so its
    // presence means the set is complete.
    let t_write = Instant::now();
    progress(event("write", cycles.len(), peak, threshold, clean.components));
    let wcs = Wcs {
        ra_deg: phase_center[0].to_degrees().rem_euclid(360.0),
        dec_deg: phase_center[1].to_degrees(),
        crpix_x: (n / 2 + 1) as f64,
        crpix_y: (n / 2 + 1) as f64,
        cell_deg: cell_rad.to_degrees(),
        freq_hz,
        bandwidth_hz,
    };
    let date_obs = times_mjd_s.first().map(|&t| iso_of_mjd_s(t)).unwrap_or_default();
    let mut history = cfg.history.clone();
    history.push(format!(
        "contimg image: {n}x{n} pixels of {cell_arcsec:.3} arcsec, {} weighting, niter {}, gain {}, mgain {}, threshold {threshold:.3e} Jy, epsilon {:e}, w-gridding {}",
        match cfg.weighting {
            Weighting::Natural => "natural".to_string(),
            Weighting::Uniform => "uniform".to_string(),
            Weighting::Briggs { robust } => format!("Briggs robust {robust}"),
        },
        cfg.niter,
        cfg.gain,
        cfg.mgain,
        cfg.epsilon,
        cfg.do_wgridding
    ));
    history.push(format!("input {} column {}", cfg.ms.display(), cfg.column));
    let extra = vec![
        ("NITER".to_string(), clean.components.to_string(), "CLEAN components".to_string()),
        ("NMAJOR".to_string(), cycles.len().to_string(), "major cycles".to_string()),
        ("RMS".to_string(), format!("{rms:.6E}"), "residual robust rms (Jy/beam)".to_string()),
    ];
    let object = if field_name.is_empty() { "DRIFT".to_string() } else { field_name.clone() };
    // A DSA-110 MS names a CASA observatory (dsa110::MS_TELESCOPE_NAME), not the instrument.
    let tel = if telescope.is_empty() || telescope == dsa110::MS_TELESCOPE_NAME || telescope == dsa110::TELESCOPE_NAME {
        "DSA-110".to_string()
    } else {
        telescope.clone()
    };
    // Every file under a temporary name; a failure anywhere below removes them all (output.rs).
    let mut files = Partials::new(&cfg.output_prefix);
    let write_fits = |files: &mut Partials, suffix: &str, data: &[f32], bunit: &str, with_beam: bool| {
        files.write(suffix, |p| {
            fits::write_to(
                p,
                &FitsImage {
                    data,
                    nx: n,
                    ny: n,
                    wcs: &wcs,
                    beam: if with_beam { beam } else { None },
                    bunit,
                    object: &object,
                    telescope: &tel,
                    obsgeo_m: array_itrf_m,
                    date_obs: &date_obs,
                    history: &history,
                    extra: &extra,
                },
            )
        })
    };
    write_fits(&mut files, ".residual.fits", &residual, "Jy/beam", true)?;
    write_fits(&mut files, ".model.fits", &clean.model, "Jy/pixel", false)?;
    write_fits(&mut files, ".psf.fits", &psf, "", true)?;
    if cfg.pbcor {
        let tmid = 0.5 * (times_mjd_s.first().copied().unwrap_or(0.0) + times_mjd_s.last().copied().unwrap_or(0.0));
        // The FIELD is the meridian at mid-time; the dishes stay on the meridian, so at time t
        // they point at the FIELD's declination, ahead in RA by the sidereal rotation.
        let pointings: Vec<(f64, f64)> =
            times_mjd_s.iter().map(|&t| (phase_center[0] + (t - tmid) * SIDEREAL_RATE_RAD_S, phase_center[1])).collect();
        let freqs: Vec<f64> = (0..16).map(|k| freq_hz - 0.5 * bandwidth_hz + (k as f64 + 0.5) * bandwidth_hz / 16.0).collect();
        let pbimg = pb::beam_image(n, &wcs, &pointings, &freqs);
        let corrected = pb::correct(&restored, &pbimg, cfg.pb_cutoff as f32);
        write_fits(&mut files, ".pb.fits", &pbimg, "", false)?;
        write_fits(&mut files, ".image.pbcor.fits", &corrected, "Jy/beam", true)?;
    }
    {
        let title = format!("{} {}", cfg.ms.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(), date_obs);
        files.write(".image.png", |p| quicklook::write_to(p, &restored, n, &wcs, &title, "Jy/beam"))?;
    }
    write_fits(&mut files, ".image.fits", &restored, "Jy/beam", true)?;
    let outputs = files.commit()?;
    if let Some(dir) = cfg.output_prefix.parent() {
        fsync_dir(dir);
    }
    timings.write = t_write.elapsed().as_secs_f64();
    timings.total = t_start.elapsed().as_secs_f64();

    Ok(ImageSummary {
        ms: cfg.ms.display().to_string(),
        column: cfg.column.clone(),
        outputs: outputs.iter().map(|p| p.display().to_string()).collect(),
        size: n,
        cell_arcsec,
        phase_center_deg: [wcs.ra_deg, wcs.dec_deg],
        freq_hz,
        bandwidth_hz,
        beam,
        weighting: cfg.weighting,
        visibilities: nvis,
        rows: rows_read,
        rows_flagged,
        components: clean.components,
        model_flux_jy: clean.model.iter().map(|&v| v as f64).sum(),
        peak_jy: peak,
        rms_jy: rms,
        threshold_jy: threshold,
        stop,
        major_cycles: cycles,
        gridder: GridderSummary {
            epsilon: cfg.epsilon,
            epsilon_estimate: info.epsilon_estimate,
            support: info.support,
            oversampling: info.sigma,
            grid: info.nu,
            w_planes: info.nplanes,
            simd: format!("{:?}", info.simd),
            threads: info.nthreads,
        },
        timings_s: timings,
        warnings,
    })
}

fn fsync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        // MJD 60950 = 2025-10-02.
        assert_eq!(iso_of_mjd_s(60_950.0 * 86_400.0 + 3_723.5), "2025-10-02T01:02:03.500");
        assert_eq!(iso_of_mjd_s(51_544.0 * 86_400.0), "2000-01-01T00:00:00.000");
    }
}
