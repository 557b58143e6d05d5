//! `simulate`: JS options in, the simulator's summary out.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{js_error, Code, Coded, Result};
use napi::threadsafe_function::ThreadsafeFunction;

use crate::job::{report, spawn, CancelToken};

impl Coded for sim::SimError {
    fn code(&self) -> &str {
        sim::SimError::code(self)
    }
}

#[napi(object)]
pub struct SkySource {
    pub name: String,
    pub ra_deg: f64,
    pub dec_deg: f64,
    pub flux_jy: f64,
    pub spectral_index: Option<f64>,
}

/// A catalogue calibrator placed at transit (`simulate --calibrator`): TS looks it up and
/// computes the transit; the simulator adds it to the sky and records it in the truth.
#[napi(object)]
pub struct SimCalibrator {
    pub name: String,
    pub ra_deg: f64,
    pub dec_deg: f64,
    /// Catalogue flux density at `ref_freq_hz` (1.4 GHz) and spectral index.
    pub flux_jy: f64,
    pub spectral_index: f64,
    pub ref_freq_hz: f64,
    /// UTC Julian date of the transit (the first group's mid-time).
    pub transit_jd: f64,
}

#[napi(object)]
pub struct SimulateOptions {
    pub output_dir: String,
    /// UTC start of the first integration, `YYYY-MM-DDTHH:MM:SS[.fff]`.
    pub start: String,
    pub groups: u32,
    pub subbands: u32,
    pub channels: u32,
    pub integrations: u32,
    /// Number of active antennas (a realistic subset of the 117 stations).
    pub antennas: u32,
    /// Random sources per group (ignored when `sky` is given).
    pub sources: Option<u32>,
    pub sky: Option<Vec<SkySource>>,
    pub calibrator: Option<SimCalibrator>,
    pub seed: u32,
    /// Noise per real/imaginary part (Jy); default: SEFD 5800 Jy radiometer noise.
    pub noise_jy: Option<f64>,
    pub flag_fraction: f64,
    /// Inject RFI and write `<group>.rfi.npy` (its exact mask).
    pub rfi: Option<bool>,
    pub jitter_s: f64,
    pub dec_deg: f64,
    pub gains: bool,
    pub flip_uvw: bool,
    /// Record the 0.134 s sample time as `integration_time`, as files before mid-2022 do.
    pub legacy_integration_time: bool,
    pub threads: Option<u32>,
    pub overwrite: bool,
}

#[napi(object)]
pub struct SimulateProgress {
    pub files_done: u32,
    pub files_total: u32,
    pub bytes_written: f64,
    pub bytes_total: f64,
}

#[napi(object)]
pub struct SimulatedGroup {
    pub group: String,
    pub files: Vec<String>,
    pub truth: String,
    /// `<group>.gains.npy`.
    pub gains: String,
    /// `<group>.rfi.npy`, with `rfi`.
    pub rfi: Option<String>,
    pub n_sources: u32,
}

#[napi(object)]
pub struct SimulateSummary {
    pub groups: Vec<SimulatedGroup>,
    pub bytes_written: f64,
    pub seconds: f64,
}

fn config(o: SimulateOptions) -> std::result::Result<sim::SimConfig, Error<Code>> {
    let mut cfg = sim::SimConfig::new(&o.output_dir);
    cfg.start_jd = astro::parse_iso_utc(&o.start).ok_or_else(|| {
        js_error("SIM_INVALID_ARGUMENT", format!("--start '{}' is not a UTC date/time (expected YYYY-MM-DDTHH:MM:SS)", o.start))
    })?;
    cfg.n_groups = o.groups as usize;
    cfg.band.n_subbands = o.subbands as usize;
    cfg.band.channels_per_subband = o.channels as usize;
    cfg.n_integrations = o.integrations as usize;
    if o.antennas < 2 || o.antennas as usize > dsa110::N_STATIONS {
        return Err(js_error("SIM_INVALID_ARGUMENT", format!("--antennas must be 2..{} (got {})", dsa110::N_STATIONS, o.antennas)));
    }
    cfg.antennas = sim::default_antennas(o.antennas as usize);
    cfg.sky = match o.sky {
        Some(list) => sim::SkySpec::Sources(
            list.into_iter()
                .map(|s| sim::Source {
                    name: s.name,
                    ra_deg: s.ra_deg,
                    dec_deg: s.dec_deg,
                    flux_jy: s.flux_jy,
                    spectral_index: s.spectral_index.unwrap_or(0.0),
                })
                .collect(),
        ),
        None => sim::SkySpec::Random { per_group: o.sources.unwrap_or(5) as usize },
    };
    cfg.calibrator = o.calibrator.map(|c| sim::CatalogueCalibrator {
        name: c.name,
        ra_deg: c.ra_deg,
        dec_deg: c.dec_deg,
        flux_jy: c.flux_jy,
        spectral_index: c.spectral_index,
        ref_freq_hz: c.ref_freq_hz,
        transit_jd: c.transit_jd,
    });
    cfg.seed = o.seed as u64;
    cfg.noise_jy = o.noise_jy.unwrap_or_else(sim::default_noise_jy);
    cfg.flag_fraction = o.flag_fraction;
    cfg.rfi = o.rfi.unwrap_or(false);
    cfg.jitter_s = o.jitter_s;
    cfg.dec_deg = o.dec_deg;
    cfg.apply_gains = o.gains;
    cfg.flip_uvw = o.flip_uvw;
    cfg.header_integration_time_s = o.legacy_integration_time.then_some(dsa110::SAMPLE_TIME_S);
    cfg.threads = o.threads.map(|t| t as usize);
    cfg.overwrite = o.overwrite;
    Ok(cfg)
}

/// Writes simulated DSA-110 groups; resolves with what was written.
#[napi(ts_return_type = "Promise<SimulateSummary>")]
pub fn simulate<'env>(
    env: &'env Env,
    options: SimulateOptions,
    on_progress: Option<ThreadsafeFunction<SimulateProgress, (), SimulateProgress, Status, false, true>>,
    cancel: Option<&CancelToken>,
) -> Result<Object<'env>> {
    let cfg = config(options)?;
    let cancel = cancel.cloned().unwrap_or_default();
    spawn(env, move || {
        let flag = cancel.flag();
        let progress = |p: sim::SimProgress| {
            report(
                &on_progress,
                SimulateProgress {
                    files_done: p.files_done as u32,
                    files_total: p.files_total as u32,
                    bytes_written: p.bytes_written as f64,
                    bytes_total: p.bytes_total as f64,
                },
            )
        };
        let s = sim::simulate(&cfg, &progress, &flag).map_err(crate::error::to_js)?;
        Ok(SimulateSummary {
            groups: s
                .groups
                .into_iter()
                .map(|g| SimulatedGroup {
                    group: g.group,
                    files: g.files.iter().map(|f| f.display().to_string()).collect(),
                    truth: g.truth.display().to_string(),
                    gains: g.gains.display().to_string(),
                    rfi: g.rfi.map(|p| p.display().to_string()),
                    n_sources: g.n_sources as u32,
                })
                .collect(),
            bytes_written: s.bytes_written as f64,
            seconds: s.seconds,
        })
    })
}

/// The radiometer noise `simulate` uses by default (Jy per real/imaginary part).
#[napi]
pub fn default_noise_jy() -> f64 {
    sim::default_noise_jy()
}
