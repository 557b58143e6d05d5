//! Synthetic DSA-110 subband groups with known truth.
//!
//! The visibilities are what the correlator would write for a sky of point sources:
//!
//! ```text
//! V_ab(ν, t) = conj(g_a) g_b Σ_k S_k(ν) A(θ_k(t), ν) exp(+2πi ν (x_b − x_a)·(s_k(t) − s_pc) / c) + n
//! ```
//!
//! - `x` are the antennas' ECEF offsets (`antenna_positions`), `s_k` the direction of source k
//!   and `s_pc` the correlator's fringe-stopping centre, HA = 0 at the pointing declination,
//!   both in the Earth-fixed frame pyuvdata's `calc_uvw` uses (so that `(x_b − x_a)·s` is
//!   exactly the w pyuvdata would compute toward that direction). This is the dsa110-calib
//!   fringe-stopping model: data are divided by `exp(2πi ν (w_src − w_meridian)/c)` for a
//!   source at the centre.
//! - `uvw_array` holds `(x_b − x_a)` projected toward `s_pc` (constant in time, float32).
//! - `A` is the dish power pattern (`dsa110::beam`), `g` per-antenna gains (`gains`), `n`
//!   complex Gaussian noise of `noise_jy` per real/imaginary part; autocorrelations are
//!   `|g_a|² (SEFD + Σ S A)` with real noise, imaginary part zero.
//!
//! Work is spread over (group, subband) files with rayon; each file is generated a few
//! integrations at a time, so memory stays bounded, and written under a temporary
//! `_incomplete` name that is renamed when the file is complete.

mod error;
pub mod gains;
mod output;
pub mod rfi;
pub mod sky;
pub mod truth;

use std::f64::consts::TAU;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use num_complex::{Complex32, Complex64};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

use astro::{EopTable, Site};
use dsa110::{band::Band, beam::primary_beam_power};
use uvh5::{Dsa110Header, Dsa110Writer};

pub use error::SimError;
pub use gains::{AntennaGains, GainParams};
pub use sky::{CatalogueCalibrator, Source};

const C_M_S: f64 = astro::SPEED_OF_LIGHT_M_S;

/// The system equivalent flux density of a DSA-110 dish (Tsys ≈ 25 K, 70% aperture
/// efficiency on 4.65 m): sets the level of the autocorrelations.
pub const SEFD_JY: f64 = 5800.0;

/// Radiometer noise per real/imaginary part of one 244 kHz, 12.9 s visibility at SEFD_JY:
/// SEFD / sqrt(2 Δν τ).
pub fn default_noise_jy() -> f64 {
    SEFD_JY / (2.0 * dsa110::band::CHANNEL_WIDTH_HZ * dsa110::INTEGRATION_TIME_S).sqrt()
}

/// Which sky to simulate.
#[derive(Debug, Clone)]
pub enum SkySpec {
    /// `n` random sources per group, drawn near the group's pointing.
    Random { per_group: usize },
    /// An explicit list (ICRS).
    Sources(Vec<Source>),
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub output_dir: PathBuf,
    /// UTC JD of the first integration's start.
    pub start_jd: f64,
    pub n_groups: usize,
    pub band: Band,
    pub n_integrations: usize,
    /// UVH5 antenna numbers (station number − 1) with data, ascending.
    pub antennas: Vec<i64>,
    pub sky: SkySpec,
    /// A calibrator added to the sky (`--calibrator`), recorded in the truth.
    pub calibrator: Option<CatalogueCalibrator>,
    pub seed: u64,
    pub noise_jy: f64,
    pub flag_fraction: f64,
    /// Inject RFI (`--rfi`, see [`rfi`]) and write its mask `<group>.rfi.npy`.
    pub rfi: bool,
    /// Each subband file's name is stamped up to this many seconds after the group start.
    pub jitter_s: f64,
    pub dec_deg: f64,
    pub apply_gains: bool,
    /// Write uvw as pos(ant1) − pos(ant2) with conjugated data (an older writer's convention).
    pub flip_uvw: bool,
    /// What `integration_time` records; `None` writes the true 12.885 s, `Some(0.134…)`
    /// reproduces legacy files that stored the sample time.
    pub header_integration_time_s: Option<f64>,
    pub threads: Option<usize>,
    pub overwrite: bool,
}

impl SimConfig {
    /// DSA-110 defaults: 96 antennas, 16 × 48 channels, 24 integrations.
    pub fn new(output_dir: impl Into<PathBuf>) -> Self {
        SimConfig {
            output_dir: output_dir.into(),
            start_jd: 2_460_950.5, // 2025-10-02T00:00:00
            n_groups: 1,
            band: Band::default(),
            n_integrations: 24,
            antennas: default_antennas(96),
            sky: SkySpec::Random { per_group: 5 },
            calibrator: None,
            seed: 1,
            noise_jy: default_noise_jy(),
            flag_fraction: 0.0,
            rfi: false,
            jitter_s: 0.0,
            dec_deg: 54.57,
            apply_gains: true,
            flip_uvw: false,
            header_integration_time_s: None,
            threads: None,
            overwrite: false,
        }
    }
}

/// A realistic set of `n` active antennas: the 81 core stations DSA-001…DSA-081 and the 15
/// outriggers DSA-103…DSA-117 make the default 96; fewer are picked evenly from that list so
/// short and long baselines both remain.
pub fn default_antennas(n: usize) -> Vec<i64> {
    let pool: Vec<i64> = (1..=81).chain(103..=117).map(|s| s - 1).chain((82..=102).map(|s| s - 1)).collect();
    let n = n.min(pool.len());
    let preferred = 96.min(pool.len());
    let mut out: Vec<i64> = if n <= preferred {
        (0..n).map(|i| pool[(i * preferred) / n]).collect()
    } else {
        pool[..n].to_vec()
    };
    out.sort_unstable();
    out.dedup();
    out
}

/// What happened, per group.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupSummary {
    pub group: String,
    pub files: Vec<PathBuf>,
    pub truth: PathBuf,
    /// `<group>.gains.npy`: the true gains, [antenna][integration][channel][pol].
    pub gains: PathBuf,
    /// `<group>.rfi.npy` with `--rfi`: the exact RFI mask, [integration][baseline][channel][pol].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rfi: Option<PathBuf>,
    pub n_sources: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SimSummary {
    pub groups: Vec<GroupSummary>,
    pub bytes_written: u64,
    pub seconds: f64,
}

/// Progress after each written block: files finished and bytes written so far.
#[derive(Debug, Clone, Copy)]
pub struct SimProgress {
    pub files_done: usize,
    pub files_total: usize,
    pub bytes_written: u64,
    pub bytes_total: u64,
}

/// The geometry of one group, shared by its 16 files.
struct GroupPlan {
    index: usize,
    id: String,
    timestamps: Vec<String>,
    times_jd: Vec<f64>,
    lst_rad: Vec<f64>,
    /// Sources that matter for this group, with per-integration direction offsets.
    sources: Vec<PlannedSource>,
    mid_jd: f64,
    meridian_icrs: Vec<(f64, f64)>,
    meridian_icrs_mid: (f64, f64),
    rfi: Option<rfi::RfiPlan>,
}

struct PlannedSource {
    source: Source,
    /// s_k(t) − s_pc for each integration (Earth-fixed frame).
    delta: Vec<[f64; 3]>,
    /// Angular distance from the pointing at each integration.
    theta_rad: Vec<f64>,
}

/// Everything fixed for the whole run.
struct Run<'a> {
    cfg: &'a SimConfig,
    positions: Vec<[f64; 3]>,
    bl: Vec<(usize, usize)>,
    bl_uvw: Vec<[f32; 3]>,
    gains: Vec<AntennaGains>,
    band_coord: gains::BandCoordinate,
    cancel: &'a AtomicBool,
}

pub fn simulate(
    cfg: &SimConfig,
    progress: &(dyn Fn(SimProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<SimSummary, SimError> {
    let started = std::time::Instant::now();
    validate(cfg)?;
    std::fs::create_dir_all(&cfg.output_dir).map_err(|e| SimError::io(&cfg.output_dir, "create directory", e))?;

    let site = dsa110::site();
    let table = EopTable::get();
    let positions = dsa110::station_offsets_ecef_m();
    let dec0 = cfg.dec_deg.to_radians();
    // The fringe-stopping centre, HA = 0 at dec0: calc_uvw's direction for g = −λ.
    let s_pc = direction(-site.lon_rad, dec0);

    // The correlator's triangle: for each antenna i of the antenna order, baselines to every
    // earlier antenna j ≤ i, ant_1 being the earlier one: (0,0) (0,1) (1,1) (0,2) (1,2) (2,2) ...
    let mut bl = Vec::new();
    for (i, &a2) in cfg.antennas.iter().enumerate() {
        for &a1 in &cfg.antennas[..=i] {
            bl.push((a1 as usize, a2 as usize));
        }
    }
    let sign = if cfg.flip_uvw { -1.0 } else { 1.0 };
    let bl_uvw: Vec<[f32; 3]> = bl
        .iter()
        .map(|&(a, b)| {
            let d = sub(positions[b], positions[a]);
            let uvw = astro::uvw_toward_hadec(d, 0.0, dec0, site.lon_rad);
            [(sign * uvw[0]) as f32, (sign * uvw[1]) as f32, (sign * uvw[2]) as f32]
        })
        .collect();

    let gains: Vec<AntennaGains> = cfg
        .antennas
        .iter()
        .map(|&a| {
            let (xx, yy) = if cfg.apply_gains {
                (GainParams::for_antenna(cfg.seed, a, 0), GainParams::for_antenna(cfg.seed, a, 1))
            } else {
                (GainParams::UNITY, GainParams::UNITY)
            };
            AntennaGains { antenna: a, xx, yy }
        })
        .collect();
    let band_coord = gains::BandCoordinate::DSA110;

    let plans = plan_groups(cfg, &site, table, s_pc)?;
    let run = Run { cfg, positions, bl, bl_uvw, gains, band_coord, cancel };

    // Refuse before writing anything, so a refused run leaves an existing group untouched.
    if !cfg.overwrite {
        for plan in &plans {
            for sb in 0..cfg.band.n_subbands {
                let f = cfg.output_dir.join(dsa110::names::subband_file_name(&plan.timestamps[sb], sb));
                if f.exists() {
                    return Err(SimError::InvalidArgument(format!("{} already exists (use --overwrite to replace it)", f.display())));
                }
            }
        }
    }

    // Truth first, so a reader that sees the data can always find it.
    let mut summaries = Vec::new();
    for plan in &plans {
        let truth_path = cfg.output_dir.join(format!("{}.truth.json", plan.id));
        let gains_path = cfg.output_dir.join(format!("{}.gains.npy", plan.id));
        output::write_gains_npy(&run, plan, &gains_path)?;
        let mut truth = make_truth(&run, plan);
        truth.gains.npy = Some(output::gains_npy_truth(&run, plan, &gains_path));
        let rfi_path = plan.rfi.as_ref().map(|_| cfg.output_dir.join(format!("{}.rfi.npy", plan.id)));
        if let (Some(p), Some(path)) = (&plan.rfi, &rfi_path) {
            truth.rfi = Some(output::write_rfi_npy(&run, plan, p, path)?);
        }
        output::write_atomically(&truth_path, &serde_json::to_vec_pretty(&truth).expect("truth serialises"))?;
        summaries.push(GroupSummary {
            gains: gains_path,
            group: plan.id.clone(),
            files: (0..cfg.band.n_subbands)
                .map(|sb| cfg.output_dir.join(dsa110::names::subband_file_name(&plan.timestamps[sb], sb)))
                .collect(),
            truth: truth_path,
            rfi: rfi_path,
            n_sources: plan.sources.len(),
        });
    }

    let tasks: Vec<(usize, usize)> =
        (0..plans.len()).flat_map(|g| (0..cfg.band.n_subbands).map(move |sb| (g, sb))).collect();
    let per_file_bytes = (run.bl.len() * cfg.n_integrations * cfg.band.channels_per_subband * 2 * (8 + 1 + 4)) as u64;
    let bytes_total = per_file_bytes * tasks.len() as u64;
    let bytes = AtomicU64::new(0);
    let files_done = AtomicU64::new(0);
    let report = |b: u64, done: bool| {
        let written = bytes.fetch_add(b, Ordering::Relaxed) + b;
        let files = if done { files_done.fetch_add(1, Ordering::Relaxed) + 1 } else { files_done.load(Ordering::Relaxed) };
        progress(SimProgress { files_done: files as usize, files_total: tasks.len(), bytes_written: written, bytes_total });
    };

    let work = || -> Result<(), SimError> {
        tasks.par_iter().try_for_each(|&(g, sb)| write_file(&run, &plans[g], sb, &report))
    };
    match cfg.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| SimError::InvalidArgument(format!("cannot start {n} threads: {e}")))?
            .install(work)?,
        None => work()?,
    }

    Ok(SimSummary { groups: summaries, bytes_written: bytes.load(Ordering::Relaxed), seconds: started.elapsed().as_secs_f64() })
}

fn validate(cfg: &SimConfig) -> Result<(), SimError> {
    let bad = |m: String| Err(SimError::InvalidArgument(m));
    if cfg.n_groups == 0 {
        return bad("--groups must be at least 1".into());
    }
    if cfg.band.n_subbands == 0 || cfg.band.n_subbands > dsa110::band::N_SUBBANDS {
        return bad(format!("--subbands must be 1..{} (got {})", dsa110::band::N_SUBBANDS, cfg.band.n_subbands));
    }
    if cfg.band.native_per_channel().is_none() {
        return bad(format!(
            "--channels must divide the 384 native channels of a subband (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192 or 384; got {})",
            cfg.band.channels_per_subband
        ));
    }
    if cfg.n_integrations == 0 {
        return bad("--integrations must be at least 1".into());
    }
    if cfg.antennas.len() < 2 {
        return bad(format!("at least 2 antennas are needed (got {})", cfg.antennas.len()));
    }
    if let Some(a) = cfg.antennas.iter().find(|&&a| a < 0 || a as usize >= dsa110::N_STATIONS) {
        return bad(format!("antenna number {a} is outside 0..{}", dsa110::N_STATIONS - 1));
    }
    if !(0.0..=1.0).contains(&cfg.flag_fraction) {
        return bad(format!("--flag-fraction must be in [0, 1] (got {})", cfg.flag_fraction));
    }
    if !(cfg.noise_jy >= 0.0 && cfg.noise_jy.is_finite()) {
        return bad(format!("--noise-jy must be a non-negative number (got {})", cfg.noise_jy));
    }
    if !(0.0..=120.0).contains(&cfg.jitter_s) {
        return bad(format!("--jitter-s must be in [0, 120] (got {})", cfg.jitter_s));
    }
    let lat = dsa110::SITE_LATITUDE_DEG;
    if !(lat - 90.0 + 1.0..=90.0).contains(&cfg.dec_deg) {
        return bad(format!("--dec {} is below the horizon at the meridian (must be above {:.1})", cfg.dec_deg, lat - 89.0));
    }
    if let Some(c) = &cfg.calibrator {
        let valid = (-90.0..=90.0).contains(&c.dec_deg)
            && c.flux_jy.is_finite()
            && c.flux_jy >= 0.0
            && c.spectral_index.is_finite()
            && c.ref_freq_hz.is_finite()
            && c.ref_freq_hz > 0.0;
        if !valid {
            return bad(format!("calibrator '{}' has an invalid declination, flux, spectral index or reference frequency", c.name));
        }
    }
    if let SkySpec::Sources(s) = &cfg.sky {
        if let Some(bad_src) = s.iter().find(|s| !(-90.0..=90.0).contains(&s.dec_deg) || !s.flux_jy.is_finite() || s.flux_jy < 0.0) {
            return bad(format!("sky source '{}' has an invalid declination or flux", bad_src.name));
        }
    }
    Ok(())
}

/// The direction pyuvdata's `calc_uvw` projects onto for Greenwich hour angle `g` and
/// declination `dec`: w = b · s.
fn direction(g: f64, dec: f64) -> [f64; 3] {
    let (sg, cg) = g.sin_cos();
    let (sd, cd) = dec.sin_cos();
    [cd * cg, -cd * sg, sd]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn angle_between(a: [f64; 3], b: [f64; 3]) -> f64 {
    let c = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
    dot(c, c).sqrt().atan2(dot(a, b))
}

/// A well-mixed 64-bit seed for one random stream (SplitMix64 finaliser).
pub(crate) fn mix(seed: u64, a: u64, b: u64, c: u64) -> u64 {
    let mut z = seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.rotate_left(21) ^ c.rotate_left(42);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn plan_groups(cfg: &SimConfig, site: &Site, table: &EopTable, s_pc: [f64; 3]) -> Result<Vec<GroupPlan>, SimError> {
    let t_int_d = dsa110::INTEGRATION_TIME_S / astro::SECONDS_PER_DAY;
    let dec0 = cfg.dec_deg.to_radians();
    let mut jitter_rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, 0x71, 0, 0));
    let mut sky_rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, 0x5c, 0, 0));

    // The ICRS position of the meridian at the pointing declination, at an instant.
    let meridian_icrs = |jd: f64| {
        let lst = astro::lst_rad(jd, site, table);
        astro::app_to_icrs(astro::Apparent { ra_rad: lst, dec_rad: dec0 }, jd, site, table)
    };

    let mut skeleton = Vec::new();
    for g in 0..cfg.n_groups {
        let start = cfg.start_jd + (g * cfg.n_integrations) as f64 * t_int_d;
        let times_jd: Vec<f64> = (0..cfg.n_integrations).map(|i| start + (i as f64 + 0.5) * t_int_d).collect();
        let timestamps: Vec<String> = (0..cfg.band.n_subbands)
            .map(|_| {
                let j = if cfg.jitter_s > 0.0 { jitter_rng.random_range(0.0..cfg.jitter_s) } else { 0.0 };
                astro::format_iso_utc(start + j / astro::SECONDS_PER_DAY)
            })
            .collect();
        let id = timestamps.iter().min().expect("at least one subband").clone();
        let mid_jd = start + 0.5 * cfg.n_integrations as f64 * t_int_d;
        skeleton.push((g, id, timestamps, times_jd, mid_jd));
    }

    // One sky for the whole run, so neighbouring groups see the same sources drift by.
    let mut sky: Vec<Source> = match &cfg.sky {
        SkySpec::Sources(s) => s.clone(),
        SkySpec::Random { per_group } => skeleton
            .iter()
            .flat_map(|(g, _, _, _, mid)| {
                let (ra, dec) = meridian_icrs(*mid);
                sky::random_sources(&mut sky_rng, *per_group, ra.to_degrees(), dec.to_degrees(), 1.5, &format!("G{g:03}S"))
            })
            .collect(),
    };
    sky.extend(cfg.calibrator.iter().map(CatalogueCalibrator::source));

    skeleton
        .into_iter()
        .map(|(index, id, timestamps, times_jd, mid_jd)| {
            let lst_rad: Vec<f64> = times_jd.iter().map(|&t| astro::lst_rad(t, site, table)).collect();
            let sources = sky
                .iter()
                .filter_map(|src| {
                    let (ra, dec) = (src.ra_deg.to_radians(), src.dec_deg.to_radians());
                    let mut delta = Vec::with_capacity(times_jd.len());
                    let mut theta_rad = Vec::with_capacity(times_jd.len());
                    for (&t, &lst) in times_jd.iter().zip(&lst_rad) {
                        let app = astro::icrs_to_app(ra, dec, t, site, table);
                        let s = direction(astro::greenwich_hour_angle(lst, app.ra_rad, site.lon_rad), app.dec_rad);
                        delta.push(sub(s, s_pc));
                        theta_rad.push(angle_between(s, s_pc));
                    }
                    // Beyond ~12° the beam's sidelobes are below 1e-4: leave the source out.
                    let nearest = theta_rad.iter().copied().fold(f64::INFINITY, f64::min);
                    (nearest < 12f64.to_radians()).then(|| PlannedSource { source: src.clone(), delta, theta_rad })
                })
                .collect();
            let meridian: Vec<(f64, f64)> = times_jd.iter().map(|&t| meridian_icrs(t)).collect();
            Ok(GroupPlan {
                index,
                id,
                timestamps,
                times_jd,
                lst_rad,
                sources,
                mid_jd,
                meridian_icrs: meridian,
                meridian_icrs_mid: meridian_icrs(mid_jd),
                rfi: cfg.rfi.then(|| {
                    let mut f: Vec<f64> = (0..cfg.band.n_subbands).flat_map(|sb| cfg.band.subband_freqs_hz(sb)).collect();
                    f.sort_by(f64::total_cmp);
                    rfi::RfiPlan::draw(cfg.seed, index, cfg.n_integrations, &f, &cfg.antennas, cfg.noise_jy)
                }),
            })
        })
        .collect()
}

fn make_truth(run: &Run, plan: &GroupPlan) -> truth::Truth {
    let cfg = run.cfg;
    let all_freqs: Vec<f64> = (0..cfg.band.n_subbands).flat_map(|sb| cfg.band.subband_freqs_hz(sb)).collect();
    let (f_lo, f_hi) = cfg.band.freq_range_hz();
    let rad = |(ra, dec): (f64, f64)| truth::RaDec { ra_deg: ra.to_degrees().rem_euclid(360.0), dec_deg: dec.to_degrees() };
    let n_int = plan.times_jd.len();
    let sources = plan
        .sources
        .iter()
        .map(|p| {
            let mut flux_sum = 0.0;
            let mut beam_sum = 0.0;
            for &theta in &p.theta_rad {
                for &f in &all_freqs {
                    let a = primary_beam_power(theta, f);
                    flux_sum += p.source.flux_at(f) * a;
                    beam_sum += a;
                }
            }
            let n = (n_int * all_freqs.len()) as f64;
            truth::SourceTruth {
                source: p.source.clone(),
                ref_freq_hz: sky::REF_FREQ_HZ,
                apparent_flux_jy: flux_sum / n,
                beam_mean: beam_sum / n,
                offset_mid_deg: p.theta_rad[n_int / 2].to_degrees(),
            }
        })
        .collect();
    truth::Truth {
        format: truth::TRUTH_FORMAT,
        group: plan.id.clone(),
        generator: format!("contimg simulate {}", env!("CARGO_PKG_VERSION")),
        seed: cfg.seed,
        files: (0..cfg.band.n_subbands)
            .map(|sb| {
                let f = cfg.band.subband_freqs_hz(sb);
                truth::TruthFile {
                    subband: sb,
                    file: dsa110::names::subband_file_name(&plan.timestamps[sb], sb),
                    timestamp: plan.timestamps[sb].clone(),
                    freq_hz_first: f[0],
                    freq_hz_last: *f.last().expect("channels"),
                }
            })
            .collect(),
        times_jd: plan.times_jd.clone(),
        lst_rad: plan.lst_rad.clone(),
        integration_time_s: dsa110::INTEGRATION_TIME_S,
        pointing: truth::Pointing {
            dec_deg: cfg.dec_deg,
            ha_deg: 0.0,
            mid_jd: plan.mid_jd,
            meridian_icrs_mid: rad(plan.meridian_icrs_mid),
            meridian_icrs: plan.meridian_icrs.iter().copied().map(rad).collect(),
        },
        array: truth::Array {
            telescope: dsa110::TELESCOPE_NAME,
            latitude_deg: dsa110::SITE_LATITUDE_DEG,
            longitude_deg: dsa110::SITE_LONGITUDE_DEG,
            altitude_m: dsa110::SITE_ALTITUDE_M,
            dish_diameter_m: dsa110::DISH_DIAMETER_M,
            active_antennas: cfg.antennas.clone(),
            n_baselines: run.bl.len(),
        },
        band: truth::BandTruth {
            n_subbands: cfg.band.n_subbands,
            channels_per_subband: cfg.band.channels_per_subband,
            channel_width_hz: cfg.band.channel_width_hz(),
            freq_min_hz: f_lo,
            freq_max_hz: f_hi,
        },
        noise_jy: cfg.noise_jy,
        sefd_jy: SEFD_JY,
        flag_fraction: cfg.flag_fraction,
        uvw_convention: if cfg.flip_uvw { "ant1-ant2" } else { "ant2-ant1" },
        sources,
        calibrator: cfg.calibrator.clone(),
        gains: truth::GainsTruth {
            applied: cfg.apply_gains,
            convention: "visdata[ant_1, ant_2] = conj(g[ant_1]) * g[ant_2] * model (so MS DATA = g[ANTENNA1] conj(g[ANTENNA2]) model, the CASA convention)",
            model: gains::MODEL,
            band_coordinate: run.band_coord,
            epoch_jd: gains::EPOCH_JD,
            antennas: run.gains.clone(),
            npy: None,
        },
        rfi: None,
    }
}

/// Generates and writes one subband file of one group.
fn write_file(run: &Run, plan: &GroupPlan, sb: usize, report: &(dyn Fn(u64, bool) + Sync)) -> Result<(), SimError> {
    let cfg = run.cfg;
    let freqs = cfg.band.subband_freqs_hz(sb);
    let n_chan = freqs.len();
    let n_bls = run.bl.len();
    let ts = &plan.timestamps[sb];
    let final_path = cfg.output_dir.join(dsa110::names::subband_file_name(ts, sb));
    let tmp_path = cfg.output_dir.join(dsa110::names::incomplete_file_name(ts, sb));
    if final_path.exists() && !cfg.overwrite {
        return Err(SimError::InvalidArgument(format!(
            "{} already exists (use --overwrite to replace it)",
            final_path.display()
        )));
    }

    let header = Dsa110Header {
        latitude_deg: dsa110::SITE_LATITUDE_DEG,
        longitude_deg: dsa110::SITE_LONGITUDE_DEG,
        altitude_m: dsa110::SITE_ALTITUDE_M,
        antenna_names: dsa110::stations().iter().map(|s| s.number.to_string()).collect(),
        antenna_numbers: (0..dsa110::N_STATIONS as i64).collect(),
        antenna_positions_m: run.positions.clone(),
        antenna_diameter_m: dsa110::DISH_DIAMETER_M,
        bl_ant_1: run.bl.iter().map(|b| b.0 as i64).collect(),
        bl_ant_2: run.bl.iter().map(|b| b.1 as i64).collect(),
        bl_uvw_m: run.bl_uvw.clone(),
        times_jd: plan.times_jd.clone(),
        // The writer multiplies a float32 array by the integration time, so the file holds
        // 12.884901888 s rounded to float32.
        integration_time_s: cfg.header_integration_time_s.unwrap_or(dsa110::INTEGRATION_TIME_S as f32 as f64),
        freq_hz: freqs.clone(),
        channel_width_hz: cfg.band.channel_width_hz(),
        polarization: dsa110::POLARIZATIONS.to_vec(),
        phase_center_dec_rad: cfg.dec_deg.to_radians(),
        fs_table: Some(format!("fringestopping_table_dec{:.1}deg_{}ant.npz", cfg.dec_deg, cfg.antennas.len())),
        applied_delays_ns: applied_delays(),
        object_name: "search".into(),
        history: format!("written by contimg simulate {} (seed {})", env!("CARGO_PKG_VERSION"), cfg.seed),
    };
    let mut writer = Dsa110Writer::create(&tmp_path, &header)?;

    // Integrations per block: ~8 MB of visibilities, at least one.
    let per_int = n_bls * n_chan * 2;
    let block = (1_000_000 / per_int).clamp(1, cfg.n_integrations);
    let mut vis = Vec::new();
    let mut flags = Vec::new();
    let mut nsamples = Vec::new();
    let mut t = 0;
    while t < cfg.n_integrations {
        if run.cancel.load(Ordering::Relaxed) {
            drop(writer);
            let _ = std::fs::remove_file(&tmp_path);
            return Err(SimError::Cancelled);
        }
        let n = block.min(cfg.n_integrations - t);
        vis.clear();
        flags.clear();
        nsamples.clear();
        for i in t..t + n {
            model_integration(run, plan, sb, i, &freqs, &mut vis, &mut flags, &mut nsamples);
        }
        writer.write_integrations(t..t + n, &vis, &flags, &nsamples)?;
        report((vis.len() * (8 + 1 + 4)) as u64, false);
        t += n;
    }
    writer.finish()?;
    std::fs::rename(&tmp_path, &final_path).map_err(|e| SimError::io(&final_path, "rename into place", e))?;
    report(0, true);
    Ok(())
}

/// Appends one integration's [baseline][chan][pol] visibilities, flags and sample counts.
#[allow(clippy::too_many_arguments)]
fn model_integration(
    run: &Run,
    plan: &GroupPlan,
    sb: usize,
    i: usize,
    freqs: &[f64],
    vis: &mut Vec<Complex32>,
    flags: &mut Vec<bool>,
    nsamples: &mut Vec<f32>,
) {
    let cfg = run.cfg;
    let n_chan = freqs.len();
    let n_src = plan.sources.len();
    let ants = &cfg.antennas;
    let n_ant = ants.len();
    let slot: std::collections::HashMap<usize, usize> = ants.iter().enumerate().map(|(k, &a)| (a as usize, k)).collect();

    // p[ch][ant][src] = sqrt(S A) exp(2πi ν x·Δs / c): a visibility is Σ_src conj(p_a) p_b.
    let mut p = vec![Complex32::default(); n_chan * n_ant * n_src];
    let mut auto_power = vec![0.0f64; n_chan];
    for (k, src) in plan.sources.iter().enumerate() {
        let d = src.delta[i];
        let delays: Vec<f64> = ants.iter().map(|&a| dot(run.positions[a as usize], d)).collect();
        for (c, &f) in freqs.iter().enumerate() {
            let sa = src.source.flux_at(f) * primary_beam_power(src.theta_rad[i], f);
            auto_power[c] += sa;
            let amp = sa.sqrt();
            let k_f = TAU * f / C_M_S;
            for (ai, &tau) in delays.iter().enumerate() {
                let (s, co) = (k_f * tau).sin_cos();
                p[(c * n_ant + ai) * n_src + k] = Complex32::new((amp * co) as f32, (amp * s) as f32);
            }
        }
    }

    // Gains per [ch][ant][pol].
    let t_h = gains::hours_since_epoch(plan.times_jd[i]);
    let mut g = vec![Complex64::new(1.0, 0.0); n_chan * n_ant * 2];
    if cfg.apply_gains {
        for (c, &f) in freqs.iter().enumerate() {
            let x = run.band_coord.x(f);
            for (ai, ag) in run.gains.iter().enumerate() {
                g[(c * n_ant + ai) * 2] = ag.xx.eval(x, t_h);
                g[(c * n_ant + ai) * 2 + 1] = ag.yy.eval(x, t_h);
            }
        }
    }

    let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, plan.index as u64 + 1, sb as u64, i as u64));
    let sigma = cfg.noise_jy;
    let auto_sigma = sigma * std::f64::consts::SQRT_2;
    let flip = cfg.flip_uvw;
    // RFI from its own stream, so the data without it are the same bytes as without --rfi.
    let mut rfi_rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, 0x4f2 + plan.index as u64, sb as u64, i as u64));
    let n_total = cfg.band.total_channels();
    let rfi_nb = plan.rfi.as_ref().map(|r| r.narrowband_by_channel(n_total));
    for &(a, b) in &run.bl {
        let (sa, sb_) = (slot[&a], slot[&b]);
        for c in 0..n_chan {
            let flagged = cfg.flag_fraction > 0.0 && rng.random::<f64>() < cfg.flag_fraction;
            let model = if a == b {
                Complex64::new(SEFD_JY + auto_power[c], 0.0)
            } else {
                let pa = &p[(c * n_ant + sa) * n_src..(c * n_ant + sa + 1) * n_src];
                let pb = &p[(c * n_ant + sb_) * n_src..(c * n_ant + sb_ + 1) * n_src];
                let mut acc = Complex32::default();
                for (x, y) in pa.iter().zip(pb) {
                    acc += x.conj() * y;
                }
                Complex64::new(acc.re as f64, acc.im as f64)
            };
            for pol in 0..2 {
                let ga = g[(c * n_ant + sa) * 2 + pol];
                let gb = g[(c * n_ant + sb_) * 2 + pol];
                let mut v = if a == b {
                    let nr: f64 = StandardNormal.sample(&mut rng);
                    Complex64::new(ga.norm_sqr() * model.re + auto_sigma * nr, 0.0)
                } else {
                    let nr: f64 = StandardNormal.sample(&mut rng);
                    let ni: f64 = StandardNormal.sample(&mut rng);
                    ga.conj() * gb * model + Complex64::new(sigma * nr, sigma * ni)
                };
                if let (Some(r), Some(nb)) = (&plan.rfi, &rfi_nb) {
                    // Subband channels run down in frequency from sb00, the highest.
                    let asc = n_total - 1 - (sb * n_chan + c);
                    if r.hits(i, a as i64, b as i64, asc, nb) {
                        v += r.sample(&mut rfi_rng, i, a as i64, b as i64, asc, nb);
                    }
                }
                if flip {
                    v = v.conj();
                }
                vis.push(Complex32::new(v.re as f32, v.im as f32));
                flags.push(flagged);
                nsamples.push(if flagged { 0.0 } else { dsa110::SAMPLES_PER_INTEGRATION as f32 });
            }
        }
    }
}

/// The correlator records the delays applied to every station and polarisation (117 × 2
/// integers, ns); the simulator applies none.
fn applied_delays() -> String {
    vec!["0"; 2 * dsa110::N_STATIONS].join(" ")
}
