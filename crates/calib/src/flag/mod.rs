//! Stage 4's flagging: `contimg flag MS`. In order:
//!
//! 1. autocorrelations, the first and last integration (quack) and `edge_channels` at each
//!    end of the band — flagged by design;
//! 2. per baseline, on the time–frequency plane of its mean correlation amplitude
//!    ([`layout`]): a few iterations of a masked smooth background removed and SumThreshold
//!    over windows 1…64 in time and frequency with falling sensitivity ([`sumthreshold`]);
//! 3. across baselines: the mean normalized residual of every (time, channel) over the
//!    unflagged cross-correlations is itself thresholded (SumThreshold: it reaches far below
//!    one baseline's noise), and cells flagged on most baselines are flagged on all;
//!    antennas whose baselines are much noisier than the array's are flagged;
//! 4. the scale-invariant rank operator in both directions on every baseline.
//!
//! Existing flags are kept (OR). FLAG and FLAG_ROW are replaced atomically ([`swap`]).

pub mod layout;
mod stats;
pub mod sumthreshold;
mod swap;

use std::path::PathBuf;
use std::time::Instant;

use ms::MsReader;
use rayon::prelude::*;

use crate::CalibError;
use layout::{Layout, Planes};
use stats::{across_baselines, noisy, per_antenna, per_channel, Counts};
use sumthreshold::{background, robust_sigma, sir, sum_threshold, thresholds, Shape};

#[derive(Debug, Clone)]
pub struct FlagConfig {
    pub ms: PathBuf,
    pub autocorr: bool,
    /// Flag the first and the last integration.
    pub quack: bool,
    /// Channels flagged at each end of every spectral window.
    pub edge_channels: usize,
    /// SumThreshold, the statistics across baselines and SIR.
    pub rfi: bool,
    /// χ_1, the single-sample threshold, in units of the plane's robust σ.
    pub threshold: f32,
    /// ρ of χ_M = χ_1 / ρ^log2(M).
    pub rho: f32,
    pub max_window: usize,
    /// Iterations of background + SumThreshold; the first runs 2^(n−1) times less sensitive.
    pub iterations: usize,
    /// η of the scale-invariant rank operator (0 turns it off).
    pub sir_eta: f32,
    /// Half-widths (integrations, channels) of the box filters of the background (each applied
    /// twice: a triangle of twice the width).
    pub smooth_time: usize,
    pub smooth_chan: usize,
    /// Flag a whole antenna when the median noise of its baselines exceeds the array's median
    /// by this factor.
    pub antenna_noise_ratio: f32,
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Flag again even if the MS records a run with these settings.
    pub force: bool,
    /// Bytes of DATA per casacore read.
    pub block_bytes: usize,
}

/// MAIN's keyword recording the settings of the last flagging, written with the new FLAG in
/// the same atomic exchange: a rerun with the same settings (after success, or after a kill
/// that came after the exchange) leaves FLAG as it is, so a second run is idempotent.
pub const SETTINGS_KEYWORD: &str = "CONTIMG_FLAG";

impl FlagConfig {
    /// What [`SETTINGS_KEYWORD`] records.
    pub fn settings(&self) -> String {
        format!(
            "contimg-flag/1 autocorr={} quack={} edge_channels={} rfi={} threshold={} rho={} max_window={} iterations={} sir_eta={} smooth={}x{} antenna_noise_ratio={}",
            self.autocorr, self.quack, self.edge_channels, self.rfi, self.threshold, self.rho, self.max_window, self.iterations, self.sir_eta, self.smooth_time, self.smooth_chan, self.antenna_noise_ratio
        )
    }

    pub fn new(ms: impl Into<PathBuf>) -> Self {
        FlagConfig {
            ms: ms.into(),
            autocorr: true,
            quack: true,
            edge_channels: 0,
            rfi: true,
            threshold: 6.0,
            rho: 1.5,
            max_window: 64,
            iterations: 3,
            sir_eta: 0.2,
            smooth_time: 1,
            smooth_chan: 4,
            antenna_noise_ratio: 1.5,
            dry_run: false,
            force: false,
            block_bytes: block_bytes_default(),
        }
    }
}

/// `CONTIMG_FLAG_BLOCK_BYTES` overrides the default block size (tests and benches).
fn block_bytes_default() -> usize {
    crate::block_bytes("CONTIMG_FLAG_BLOCK_BYTES", 64 << 20)
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSummary {
    pub step: &'static str,
    /// Samples (row × channel × correlation) this step flagged that were not flagged before.
    pub newly_flagged: usize,
    pub fraction_after: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AntennaSummary {
    /// ANTENNA row.
    pub antenna: usize,
    pub fraction_before: f64,
    pub fraction_after: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagSummary {
    pub ms: PathBuf,
    pub dry_run: bool,
    /// The MS was already flagged with these settings: nothing was computed or written (the
    /// fractions are FLAG's as found).
    pub already_flagged: bool,
    pub settings: String,
    pub rows: usize,
    pub samples: usize,
    pub n_time: usize,
    pub n_baselines: usize,
    pub n_chan: usize,
    pub n_corr: usize,
    pub flagged_before: usize,
    pub flagged_after: usize,
    pub fraction_before: f64,
    pub fraction_after: f64,
    pub steps: Vec<StepSummary>,
    /// Antennas with any cross-correlation, in ANTENNA row order.
    pub per_antenna: Vec<AntennaSummary>,
    pub per_channel_before: Vec<f64>,
    pub per_channel_after: Vec<f64>,
    /// Antennas flagged whole for their noise.
    pub noisy_antennas: Vec<usize>,
    pub read_seconds: f64,
    pub flag_seconds: f64,
    pub write_seconds: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct FlagProgress {
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
}

/// Crash tests: `CONTIMG_FLAG_FAULT=<point>` SIGKILLs the process at that point ("staged":
/// the copy made, nothing written; "written": the new FLAG complete and fsynced in the copy,
/// not exchanged; "exchanged": exchanged, the old state not yet removed).
fn fault_point(point: &str) {
    if std::env::var("CONTIMG_FLAG_FAULT").is_ok_and(|v| v == point) {
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, which is the point.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// The flag state during the run: one bool per (baseline, time, channel) cell, on top of the
/// original per-correlation FLAG; `orig_count[cell]` how many correlations were flagged.
struct State<'a> {
    lay: &'a Layout,
    present: &'a [bool],
    orig_count: Vec<u8>,
    mask: Vec<bool>,
}

impl State<'_> {
    /// Samples flagged when cells in `mask` are flagged in every correlation.
    fn flagged(&self) -> usize {
        let n_chan = self.lay.n_chan;
        let counts = Counts { orig: &self.orig_count, mask: Some(&self.mask), n_corr: self.lay.n_corr };
        self.present.par_iter().enumerate().filter(|(_, &p)| p).map(|(cell, _)| counts.sum(cell * n_chan..(cell + 1) * n_chan)).sum()
    }
}

pub fn flag(
    cfg: &FlagConfig,
    progress: &(dyn Fn(FlagProgress) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<FlagSummary, CalibError> {
    let t0 = Instant::now();
    validate(cfg)?;
    if !cfg.ms.is_dir() {
        return Err(CalibError::MsNotFound { path: cfg.ms.clone() });
    }
    if !cfg.dry_run {
        swap::check_writable(&cfg.ms).map_err(|message| CalibError::MsReadOnly { path: cfg.ms.clone(), message })?;
        // A killed earlier run may have left a staged copy, or (fallback path) the MS aside.
        swap::recover(&cfg.ms)?;
    }
    let reader = MsReader::open(&cfg.ms)?;
    if !reader.has_column("DATA") {
        return Err(CalibError::NoDataColumn { path: cfg.ms.clone() });
    }
    let lay = layout::layout(&reader)?;
    let row_bytes = (lay.n_corr * lay.row_chans * 8).max(1);
    let block_rows = (cfg.block_bytes / row_bytes).max(1);
    let done_before = match reader.main_table().keyword(None, SETTINGS_KEYWORD) {
        Ok(Some(casacore_sys::KeywordValue::String(s))) => Some(s),
        _ => None,
    };
    let already_flagged = !cfg.force && done_before.as_deref() == Some(cfg.settings().as_str());
    let planes = layout::read_planes(&reader, &lay, block_rows, &|d, t| progress(FlagProgress { stage: "read", done: d, total: t }), cancelled)?;
    let read_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();

    let Planes { mut amp, orig, present } = planes;
    let (n_time, n_chan, n_corr) = (lay.n_time(), lay.n_chan, lay.n_corr);
    let per_cell = n_chan * n_corr;
    let mut st = State { lay: &lay, present: &present, mask: orig.par_iter().map(|&c| c as usize == n_corr).collect(), orig_count: orig };
    let samples = present.iter().filter(|&&p| p).count() * per_cell;
    let frac = |n: usize| n as f64 / samples.max(1) as f64;
    let flagged_before = st.flagged();
    let as_read = Counts { orig: &st.orig_count, mask: None, n_corr };
    if already_flagged {
        // Nothing to compute or write: the summary of FLAG as found, before = after.
        let now = FlagCounts { flagged: flagged_before, per_antenna: per_antenna(&lay, &present, as_read), per_channel: per_channel(&lay, &present, as_read) };
        let times = Timings { read_seconds, flag_seconds: 0.0, write_seconds: 0.0, started: t0 };
        return Ok(summarise(cfg, &lay, true, samples, now.clone(), now, Vec::new(), Vec::new(), times));
    }
    let per_antenna_before = per_antenna(&lay, &present, as_read);
    let per_channel_before = per_channel(&lay, &present, as_read);
    let mut steps = Vec::new();
    let mut last = flagged_before;
    let mut step = |name: &'static str, st: &State, t: Instant| {
        let now = st.flagged();
        steps.push(StepSummary { step: name, newly_flagged: now - last, fraction_after: frac(now), seconds: t.elapsed().as_secs_f64() });
        last = now;
    };

    // 1. By design.
    let plane = lay.plane_len();
    let ts = Instant::now();
    if cfg.autocorr {
        for (b, bl) in lay.baselines.iter().enumerate() {
            if bl.is_auto() {
                st.mask[b * plane..(b + 1) * plane].fill(true);
            }
        }
        step("autocorr", &st, ts);
    }
    let ts = Instant::now();
    if cfg.quack && n_time > 0 {
        for b in 0..lay.baselines.len() {
            for t in [0, n_time - 1] {
                st.mask[b * plane + t * n_chan..b * plane + (t + 1) * n_chan].fill(true);
            }
        }
        step("quack", &st, ts);
    }
    let ts = Instant::now();
    if cfg.edge_channels > 0 {
        let edges = lay.edge_channels(cfg.edge_channels);
        for row in st.mask.chunks_mut(n_chan) {
            for &c in &edges {
                row[c] = true;
            }
        }
        step("edges", &st, ts);
    }

    // 2–4. Interference.
    let mut noisy_antennas = Vec::new();
    if cfg.rfi && n_time > 0 && n_chan > 0 {
        let shape = Shape { n_time, n_chan };
        let ts = Instant::now();
        progress(FlagProgress { stage: "sumthreshold", done: 0, total: lay.baselines.len() });
        let sigmas: Vec<Option<f32>> = amp
            .par_chunks_mut(plane)
            .zip(st.mask.par_chunks_mut(plane))
            .zip(lay.baselines.par_iter())
            .map(|((a, m), bl)| if bl.is_auto() { None } else { flag_plane(a, m, shape, cfg) })
            .collect();
        if cancelled() {
            return Err(CalibError::Cancelled);
        }
        step("sumthreshold", &st, ts);

        let ts = Instant::now();
        let cells = across_baselines(&amp, &st.mask, &lay, &sigmas, shape, cfg);
        for (b, &s) in sigmas.iter().enumerate() {
            if s.is_some() {
                for (m, &c) in st.mask[b * plane..(b + 1) * plane].iter_mut().zip(&cells) {
                    *m |= c;
                }
            }
        }
        step("baselines", &st, ts);

        let ts = Instant::now();
        noisy_antennas = noisy(&lay, &sigmas, cfg.antenna_noise_ratio);
        let is_noisy = |b: &layout::Baseline| noisy_antennas.contains(&(b.ant1 as usize)) || noisy_antennas.contains(&(b.ant2 as usize));
        for (b, bl) in lay.baselines.iter().enumerate() {
            if is_noisy(bl) {
                st.mask[b * plane..(b + 1) * plane].fill(true);
            }
        }
        step("antennas", &st, ts);

        // SIR widens what only this baseline's SumThreshold found (faint edges of RFI below
        // its noise); flags by design (FLAG as read, quack, band edges) and those from the
        // statistics across baselines — which already reach far below one baseline's noise —
        // are not widened. (Autocorrelations have no σ and are skipped; the design flags are
        // recomputed here rather than kept: a copy of the mask is 86 MB on a full group.)
        let ts = Instant::now();
        if cfg.sir_eta > 0.0 {
            let edges = lay.edge_channels(cfg.edge_channels);
            let mut edge = vec![false; n_chan];
            for &c in edges.iter().filter(|_| cfg.edge_channels > 0) {
                edge[c] = true;
            }
            let quacked = |t: usize| cfg.quack && (t == 0 || t + 1 == n_time);
            let orig = &st.orig_count;
            st.mask
                .par_chunks_mut(plane)
                .zip(orig.par_chunks(plane))
                .zip(sigmas.par_iter())
                .for_each(|((m, o), s)| {
                    if s.is_none() {
                        return;
                    }
                    let design = |i: usize| o[i] as usize == n_corr || quacked(i / n_chan) || edge[i % n_chan];
                    let mut own: Vec<bool> = (0..plane).map(|i| m[i] && !design(i) && !cells[i]).collect();
                    sir(&mut own, shape, cfg.sir_eta);
                    for (m, o) in m.iter_mut().zip(own) {
                        *m |= o;
                    }
                });
        }
        step("sir", &st, ts);
    }
    drop(amp);
    let flagged_after = st.flagged();

    // The new FLAG is the original OR the cell mask, in every correlation (made as it is
    // written).
    let after = Counts { orig: &st.orig_count, mask: Some(&st.mask), n_corr };
    let per_antenna_after = per_antenna(&lay, &present, after);
    let per_channel_after = per_channel(&lay, &present, after);
    let flag_seconds = t1.elapsed().as_secs_f64();
    drop(reader);

    let t2 = Instant::now();
    if !cfg.dry_run {
        write(cfg, &lay, &st.mask, block_rows, progress)?;
    }
    let write_seconds = t2.elapsed().as_secs_f64();
    let before = FlagCounts { flagged: flagged_before, per_antenna: per_antenna_before, per_channel: per_channel_before };
    let after = FlagCounts { flagged: flagged_after, per_antenna: per_antenna_after, per_channel: per_channel_after };
    let times = Timings { read_seconds, flag_seconds, write_seconds, started: t0 };
    Ok(summarise(cfg, &lay, already_flagged, samples, before, after, steps, noisy_antennas, times))
}

/// FLAG counted at one moment: samples flagged, each antenna's fraction (None: no
/// cross-correlation) and each channel's.
#[derive(Clone)]
struct FlagCounts {
    flagged: usize,
    per_antenna: Vec<(usize, Option<f64>)>,
    per_channel: Vec<f64>,
}

struct Timings {
    read_seconds: f64,
    flag_seconds: f64,
    write_seconds: f64,
    started: Instant,
}

/// The one place a `FlagSummary` is built, for a run that flagged and for one that found the MS
/// already flagged with the same settings.
#[allow(clippy::too_many_arguments)]
fn summarise(
    cfg: &FlagConfig,
    lay: &Layout,
    already_flagged: bool,
    samples: usize,
    before: FlagCounts,
    after: FlagCounts,
    steps: Vec<StepSummary>,
    noisy_antennas: Vec<usize>,
    t: Timings,
) -> FlagSummary {
    let frac = |n: usize| n as f64 / samples.max(1) as f64;
    FlagSummary {
        ms: cfg.ms.clone(),
        dry_run: cfg.dry_run,
        already_flagged,
        settings: cfg.settings(),
        rows: lay.n_rows,
        samples,
        n_time: lay.n_time(),
        n_baselines: lay.baselines.len(),
        n_chan: lay.n_chan,
        n_corr: lay.n_corr,
        flagged_before: before.flagged,
        flagged_after: after.flagged,
        fraction_before: frac(before.flagged),
        fraction_after: frac(after.flagged),
        steps,
        per_antenna: before
            .per_antenna
            .into_iter()
            .zip(after.per_antenna)
            .filter_map(|((a, b), (_, f))| b.map(|b| AntennaSummary { antenna: a, fraction_before: b, fraction_after: f.unwrap_or(0.0) }))
            .collect(),
        per_channel_before: before.per_channel,
        per_channel_after: after.per_channel,
        noisy_antennas,
        read_seconds: t.read_seconds,
        flag_seconds: t.flag_seconds,
        write_seconds: t.write_seconds,
        seconds: t.started.elapsed().as_secs_f64(),
    }
}

fn validate(cfg: &FlagConfig) -> Result<(), CalibError> {
    let bad = |m: String| Err(CalibError::InvalidArgument(m));
    if !(cfg.threshold > 0.0 && cfg.threshold.is_finite()) {
        return bad(format!("threshold must be a positive number of sigma (got {})", cfg.threshold));
    }
    if !(cfg.rho >= 1.0 && cfg.rho.is_finite()) {
        return bad(format!("rho must be at least 1 (got {})", cfg.rho));
    }
    if !(0.0..1.0).contains(&cfg.sir_eta) {
        return bad(format!("SIR eta must be in [0, 1) (got {})", cfg.sir_eta));
    }
    if cfg.iterations == 0 || cfg.iterations > 8 {
        return bad(format!("iterations must be 1..8 (got {})", cfg.iterations));
    }
    if cfg.antenna_noise_ratio.is_nan() || cfg.antenna_noise_ratio <= 1.0 {
        return bad(format!("antenna noise ratio must exceed 1 (got {})", cfg.antenna_noise_ratio));
    }
    Ok(())
}

/// Background removal and SumThreshold on one cross-correlation plane, in iterations of
/// rising sensitivity. On return `amp` holds the residual in units of the plane's robust σ
/// (for the statistics across baselines); returns that σ (None: nothing left unflagged).
///
/// The work is compiled twice, for the x86-64 baseline and for AVX2 (chosen at run time):
/// twice the vector width for the box sums and window tests. Rust never contracts or
/// reorders float arithmetic, so both give the same bits.
fn flag_plane(amp: &mut [f32], mask: &mut [bool], shape: Shape, cfg: &FlagConfig) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { flag_plane_avx2(amp, mask, shape, cfg) };
    }
    flag_plane_any(amp, mask, shape, cfg)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn flag_plane_avx2(amp: &mut [f32], mask: &mut [bool], shape: Shape, cfg: &FlagConfig) -> Option<f32> {
    flag_plane_any(amp, mask, shape, cfg)
}

#[inline(always)]
fn flag_plane_any(amp: &mut [f32], mask: &mut [bool], shape: Shape, cfg: &FlagConfig) -> Option<f32> {
    let (r_time, r_chan) = (cfg.smooth_time, cfg.smooth_chan);
    let mut resid = vec![0.0f32; amp.len()];
    let mut sigma = None;
    // Each iteration starts again from the given flags: the earlier, less sensitive ones only
    // clean the background. (Kept, their windows that straddle a strong feature not yet
    // flagged at the shorter lengths would flag its clean neighbours for good.)
    let given = mask.to_vec();
    for it in 0..cfg.iterations {
        let bg = background(amp, mask, shape, r_time, r_chan);
        mask.copy_from_slice(&given);
        for ((r, &a), &b) in resid.iter_mut().zip(amp.iter()).zip(&bg) {
            *r = a - b;
        }
        let (med, s) = robust_sigma(&resid, mask)?;
        if s <= 0.0 {
            return None;
        }
        for r in resid.iter_mut() {
            *r -= med;
        }
        sigma = Some(s);
        let sensitivity = (1 << (cfg.iterations - 1 - it)) as f32;
        sum_threshold(&resid, mask, shape, &thresholds(cfg.threshold * sensitivity * s, cfg.rho, cfg.max_window));
    }
    let s = sigma?;
    for (a, r) in amp.iter_mut().zip(&resid) {
        *a = r / s;
    }
    Some(s)
}

/// FLAG and FLAG_ROW into a staged copy, exchanged with the MS.
fn write(cfg: &FlagConfig, lay: &Layout, mask: &[bool], block_rows: usize, progress: &(dyn Fn(FlagProgress) + Sync)) -> Result<(), CalibError> {
    let staged = swap::Staged::begin(&cfg.ms)?;
    fault_point("staged");
    let path = staged.path().to_path_buf();
    let io = |what: &str, e: casacore_sys::CasaError| CalibError::Io { path: path.clone(), message: format!("{what}: {}", e.message) };
    let mut table = casacore_sys::Table::open(&path, true).map_err(|e| io("open", e))?;
    // FLAG rows of `block_rows` of DATA are 8× smaller: write in bigger blocks.
    let flag_row = layout::write_flags(&mut table, &path, lay, mask, block_rows * 8, &|d, t| progress(FlagProgress { stage: "write", done: d, total: t }))?;
    if table.has_column("FLAG_ROW").map_err(|e| io("list columns", e))? {
        table.put_scalars("FLAG_ROW", 0, &flag_row).map_err(|e| io("write FLAG_ROW", e))?;
    }
    table
        .put_keyword(None, SETTINGS_KEYWORD, &casacore_sys::KeywordValue::String(cfg.settings()))
        .map_err(|e| io("record the settings", e))?;
    table.close().map_err(|e| io("close", e))?;
    staged.commit(&fault_point)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The dispatched plane (AVX2 where the CPU has it) and the baseline build agree bit for
    /// bit, on noise with a burst, a narrowband line and some flags.
    #[test]
    fn avx2_and_baseline_planes_are_identical() {
        let shape = Shape { n_time: 24, n_chan: 200 };
        let cfg = FlagConfig::new("unused.ms");
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..4 {
            let mut amp: Vec<f32> = (0..shape.len()).map(|_| 1.0 + rng.random_range(-0.3..0.3)).collect();
            for c in 0..shape.n_chan {
                amp[7 * shape.n_chan + c] += 2.0;
            }
            for t in 0..shape.n_time {
                amp[t * shape.n_chan + 42] += 0.8;
            }
            let mask: Vec<bool> = (0..shape.len()).map(|_| rng.random_bool(0.05)).collect();
            let (mut a1, mut m1) = (amp.clone(), mask.clone());
            let (mut a2, mut m2) = (amp, mask);
            let s1 = flag_plane(&mut a1, &mut m1, shape, &cfg);
            let s2 = flag_plane_any(&mut a2, &mut m2, shape, &cfg);
            assert_eq!(s1.map(f32::to_bits), s2.map(f32::to_bits));
            assert_eq!(m1, m2);
            assert!(a1.iter().zip(&a2).all(|(x, y)| x.to_bits() == y.to_bits()));
            assert!(m1.iter().filter(|&&m| m).count() > shape.n_chan + shape.n_time, "the burst and the line are flagged");
        }
    }
}
