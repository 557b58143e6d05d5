//! Stage 7 of the pipeline: a primary-beam-weighted linear mosaic of flat-noise images.
//!
//! [`run`] reads each image and its primary beam ([`inputs`]), measures each image's robust
//! noise ([`noise`]), lays a TAN grid over the union of their footprints ([`grid`]),
//! reprojects them onto it ([`reproject`]; cubic B-spline or bilinear, [`interp`]), combines them by inverse variance
//! ([`combine`]) and writes the mosaic, its weight and effective-noise maps (FITS, atomically)
//! and a PNG quicklook — the mosaic last, so that its presence means the set is whole.

pub mod combine;
pub mod error;
pub mod grid;
pub mod inputs;
pub mod interp;
pub mod noise;
pub mod reproject;
mod output;

use std::path::PathBuf;
use std::time::Instant;

pub use error::MosaicError;
pub use interp::Interpolation;

/// What to mosaic and where the outputs go.
#[derive(Debug, Clone)]
pub struct MosaicConfig {
    /// Flat-noise images (`<prefix>.image.fits`) and their primary beams (`<prefix>.pb.fits`).
    pub images: Vec<PathBuf>,
    pub pbs: Vec<PathBuf>,
    pub outputs: OutputPaths,
    /// An input counts only where its beam is at least this.
    pub pb_cutoff: f64,
    /// Output pixel size; default the finest input's.
    pub cell_arcsec: Option<f64>,
    /// An explicit grid: `nx`×`ny` pixels centred on (ra, dec) in degrees; default the union.
    pub size: Option<(usize, usize)>,
    pub centre_deg: Option<(f64, f64)>,
    /// How inputs are sampled between their pixel centres; default cubic B-spline.
    pub interpolation: Interpolation,
    pub method: String,
    pub title: String,
    pub history: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputPaths {
    pub mosaic: PathBuf,
    pub weight: PathBuf,
    pub noise: PathBuf,
    pub png: PathBuf,
}

#[derive(Debug, Clone, Copy)]
pub struct MosaicProgress {
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputSummary {
    pub image: PathBuf,
    pub pb: PathBuf,
    pub nx: usize,
    pub ny: usize,
    pub cell_arcsec: f64,
    pub centre_deg: (f64, f64),
    /// Robust (MAD) noise of the flat-noise image, Jy/beam.
    pub sigma_jy: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MosaicSummary {
    pub method: String,
    /// "cubic" or "bilinear".
    pub interpolation: &'static str,
    pub outputs: OutputPaths,
    pub nx: usize,
    pub ny: usize,
    pub cell_arcsec: f64,
    /// The grid's reference point (CRVAL), degrees.
    pub centre_deg: (f64, f64),
    pub pb_cutoff: f64,
    pub inputs: Vec<InputSummary>,
    /// Fraction of the grid with data.
    pub covered_fraction: f64,
    pub peak_jy: f64,
    /// The least and the median effective noise over the covered pixels, Jy/beam.
    pub min_noise_jy: f64,
    pub median_noise_jy: f64,
    pub timings_s: Timings,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Timings {
    pub read: f64,
    /// Placing the inputs on the grid: for cubic, their spline prefilters.
    pub prepare: f64,
    pub combine: f64,
    pub write: f64,
    pub total: f64,
}

/// Builds the mosaic and writes its outputs.
pub fn run(cfg: &MosaicConfig, progress: &dyn Fn(MosaicProgress), cancelled: &dyn Fn() -> bool) -> Result<MosaicSummary, MosaicError> {
    let t0 = Instant::now();
    check_config(cfg)?;
    progress(MosaicProgress { stage: "read", done: 0, total: cfg.images.len() });
    let read = inputs::read_all(&cfg.images, &cfg.pbs, cfg.pb_cutoff)?;
    let t_read = t0.elapsed().as_secs_f64();

    let cell_deg = match cfg.cell_arcsec {
        Some(c) => c / 3600.0,
        None => read.iter().map(|r| grid::cell_deg(&r.wcs)).fold(f64::INFINITY, f64::min),
    };
    let grid = match (cfg.size, cfg.centre_deg) {
        (Some((nx, ny)), Some((ra, dec))) => grid::explicit(ra, dec, cell_deg, nx, ny),
        (Some((nx, ny)), None) => {
            let (ra, dec) = grid::centre_deg(&read.iter().map(|r| r.footprint.clone()).collect::<Vec<_>>());
            grid::explicit(ra, dec, cell_deg, nx, ny)
        }
        _ => {
            let fps: Vec<_> = read.iter().map(|r| r.footprint.clone()).collect();
            inputs::check_overlap(&read, &fps)?;
            let mut g = grid::covering(&fps, cell_deg).map_err(|reason| MosaicError::TooLarge { reason })?;
            if let Some((ra, dec)) = cfg.centre_deg {
                g = grid::explicit(ra, dec, cell_deg, g.nx, g.ny);
            }
            g
        }
    };
    let summaries: Vec<InputSummary> = read.iter().map(|r| r.summary()).collect();
    let beam = inputs::typical_beam(&read);
    let t_prep = Instant::now();
    let prepared = inputs::prepare(read, &grid, cfg.interpolation);
    let t_prepare = t_prep.elapsed().as_secs_f64();
    if cancelled() {
        return Err(MosaicError::Cancelled);
    }

    let t1 = Instant::now();
    let planes = combine::combine(&prepared, &grid, cfg.pb_cutoff, &|done, total| progress(MosaicProgress { stage: "combine", done, total }), cancelled)?;
    drop(prepared);
    let t_combine = t1.elapsed().as_secs_f64();

    progress(MosaicProgress { stage: "write", done: 0, total: 4 });
    let t2 = Instant::now();
    let stats = output::Stats::of(&planes);
    output::write_all(cfg, &grid, &planes, &summaries, beam)?;
    let t_write = t2.elapsed().as_secs_f64();

    Ok(MosaicSummary {
        method: cfg.method.clone(),
        interpolation: cfg.interpolation.name(),
        outputs: cfg.outputs.clone(),
        nx: grid.nx,
        ny: grid.ny,
        cell_arcsec: cell_deg * 3600.0,
        centre_deg: (grid.wcs.ref_ra_deg, grid.wcs.ref_dec_deg),
        pb_cutoff: cfg.pb_cutoff,
        inputs: summaries,
        covered_fraction: stats.covered_fraction,
        peak_jy: stats.peak_jy,
        min_noise_jy: stats.min_noise_jy,
        median_noise_jy: stats.median_noise_jy,
        timings_s: Timings { read: t_read, prepare: t_prepare, combine: t_combine, write: t_write, total: t0.elapsed().as_secs_f64() },
    })
}

fn check_config(cfg: &MosaicConfig) -> Result<(), MosaicError> {
    let bad = |m: String| Err(MosaicError::InvalidArgument(m));
    if cfg.images.is_empty() {
        return bad("no images to mosaic".into());
    }
    if cfg.images.len() != cfg.pbs.len() {
        return bad(format!("{} images but {} primary beams", cfg.images.len(), cfg.pbs.len()));
    }
    if !(cfg.pb_cutoff > 0.0 && cfg.pb_cutoff <= 1.0) {
        return bad(format!("the primary-beam cutoff {} is not in (0, 1]", cfg.pb_cutoff));
    }
    if let Some(c) = cfg.cell_arcsec {
        if !(c > 0.0 && c.is_finite()) {
            return bad(format!("cell {c}″ is not a positive size"));
        }
    }
    if let Some((nx, ny)) = cfg.size {
        if nx == 0 || ny == 0 || nx.saturating_mul(ny) > grid::MAX_PIXELS {
            return bad(format!("size {nx}×{ny} is empty or larger than {} pixels", grid::MAX_PIXELS));
        }
    }
    if let Some((ra, dec)) = cfg.centre_deg {
        if !(ra.is_finite() && (-90.0..=90.0).contains(&dec)) {
            return bad(format!("centre ({ra}, {dec}) is not a sky position"));
        }
    }
    Ok(())
}
