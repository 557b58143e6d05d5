//! Stage 4: bandpass and gain solutions of a calibrator MS, as CASA caltables.
//!
//! 1. The model ([`crate::model`]): the catalogue calibrator nearest the phase centre (or a
//!    given sky model), with the simulator's flux and beam conventions.
//! 2. One pass over the visibilities ([`accumulate`]) into per-interval, per-channel sums.
//! 3. B per channel (amplitude and phase, solnorm), G phase-only over the whole MS on the data
//!    corrected by B, G phase-only per `solint` on top of both ([`cells`], [`stefcal`]).
//! 4. Each solve is checked (more than `max_flagged_fraction` of its solutions flagged rejects
//!    the calibration) and written as a caltable (`ms::caltable::write`, atomic).

pub mod accumulate;
pub mod cells;
pub mod stefcal;
pub mod uvrange;

use std::path::{Path, PathBuf};
use std::time::Instant;

use casacore_sys::Table;
use ms::caltable::{CalRow, CalTable, Jones};
use ms::MsReader;
use num_complex::Complex32;
use serde::Serialize;

use crate::model::{self, Geometry, PointSource, SkyModel};
use crate::CalibError;
use accumulate::{Accum, Layout};
use cells::{to_c32, Solved};
pub use uvrange::UvRange;

/// Where the model's sources come from.
#[derive(Debug, Clone)]
pub enum ModelSources {
    /// The catalogue calibrator nearest the phase centre, within `radius_deg`.
    Catalogue { calibrators: Vec<PointSource>, radius_deg: f64 },
    /// A sky model, used as given.
    Sky(Vec<PointSource>),
}

#[derive(Debug, Clone)]
pub struct CalibrateConfig {
    pub ms: PathBuf,
    pub sources: ModelSources,
    /// Final paths of the B, G (solint inf) and G (solint) tables.
    pub tables: [PathBuf; 3],
    /// Reference antenna by name (DSA-110 names are station numbers, e.g. "103").
    pub refant: String,
    pub min_snr: f64,
    pub uvrange: UvRange,
    /// Solution interval of the second G (seconds).
    pub solint_s: f64,
    /// A solve with more than this fraction of its solutions flagged is rejected.
    pub max_flagged_fraction: f64,
    /// Also write the model into MODEL_DATA of the MS (in place, not atomic).
    pub write_model: bool,
    pub overwrite: bool,
    /// Bytes of DATA per block of rows (32 MB by default). Blocks of 256 MB (two full-size
    /// integrations) reused the per-pair cells from cache across integrations, but their two
    /// buffers (0.87 GB with weights and flags) were memory touched for the first time, and on a
    /// VM whose host reclaims free memory that cost more than the cache saved: 32 MB blocks
    /// took a full group's calibrate from 4.0 s to 2.6 s (medians of four, tables bit-identical).
    pub block_bytes: usize,
}

impl CalibrateConfig {
    pub fn new(ms: impl Into<PathBuf>, sources: ModelSources, tables: [PathBuf; 3]) -> Self {
        CalibrateConfig {
            ms: ms.into(),
            sources,
            tables,
            refant: "103".into(),
            min_snr: 3.0,
            uvrange: UvRange::ALL,
            solint_s: 60.0,
            max_flagged_fraction: 0.25,
            write_model: false,
            overwrite: false,
            block_bytes: block_bytes_default(),
        }
    }
}

/// `CONTIMG_CALIBRATE_BLOCK_BYTES` overrides the default block size (tests and benches).
fn block_bytes_default() -> usize {
    crate::block_bytes("CONTIMG_CALIBRATE_BLOCK_BYTES", 32 << 20)
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SolveSummary {
    pub path: PathBuf,
    pub jones: String,
    pub solutions: usize,
    pub flagged: usize,
    pub flagged_fraction: f64,
    pub median_snr: f64,
    pub iterations_max: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CalibrateSummary {
    pub ms: PathBuf,
    pub calibrator: Option<String>,
    pub calibrator_offset_deg: Option<f64>,
    pub sources: usize,
    pub refant: String,
    pub refant_index: usize,
    pub refant_requested: String,
    pub antennas: usize,
    pub channels: usize,
    pub intervals: usize,
    pub rows: usize,
    pub samples: u64,
    pub samples_used: u64,
    pub tables: Vec<SolveSummary>,
    pub model_written: bool,
    pub accumulate_seconds: f64,
    pub solve_seconds: f64,
    pub write_seconds: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct CalibrateProgress {
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
}

/// Crash tests: `CONTIMG_CALIBRATE_FAULT=<point>` SIGKILLs the process there: "accumulated"
/// (nothing written), "<table>-staged" (the table complete under its temporary name), or
/// "<table>" (that table renamed into place, the next not begun), for table bpcal, gpcal, 2gcal.
fn fault_point(point: &str) {
    if std::env::var("CONTIMG_CALIBRATE_FAULT").is_ok_and(|v| v == point) {
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, which is the point.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

fn corr_hands(corr_types: &[i32]) -> [Option<usize>; 2] {
    let mut h = [None, None];
    for (k, &c) in corr_types.iter().enumerate() {
        match c {
            5 | 9 => h[0] = Some(k),  // RR, XX
            8 | 12 => h[1] = Some(k), // LL, YY
            _ => {}
        }
    }
    h
}

/// The MS row of the antenna called `name` ("103" also matches "DSA-103", "pad103").
fn antenna_row(names: &[String], name: &str) -> Option<usize> {
    if let Some(i) = names.iter().position(|n| n == name) {
        return Some(i);
    }
    let digits = |s: &str| -> Option<u64> {
        let d: String = s.chars().rev().take_while(|c| c.is_ascii_digit()).collect::<Vec<_>>().into_iter().rev().collect();
        d.parse().ok()
    };
    let want = digits(name)?;
    names.iter().position(|n| digits(n) == Some(want))
}

/// Integration times grouped into solution intervals as CASA does: an interval starts at its
/// first integration and takes every later one less than `solint_s` after it.
fn group_times(times: &[f64], solint_s: f64) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::new();
    for &t in times {
        match out.last_mut() {
            Some(cur) if t - cur[0] < solint_s => cur.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

pub fn calibrate(
    cfg: &CalibrateConfig,
    progress: &(dyn Fn(CalibrateProgress) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<CalibrateSummary, CalibError> {
    let t0 = Instant::now();
    let input_err = |m: String| CalibError::Input { path: cfg.ms.clone(), message: m };
    if cfg.solint_s.is_nan() || cfg.solint_s <= 0.0 {
        return Err(CalibError::InvalidArgument(format!("solint {} s must be positive", cfg.solint_s)));
    }
    let reader = MsReader::open(&cfg.ms)?;
    if !reader.has_column("DATA") {
        return Err(input_err("MAIN has no DATA column".into()));
    }
    let [ncorr, nchan] = reader.cell_shape("DATA")?.ok_or_else(|| input_err("DATA has no cell shape".into()))?;
    let spws = reader.spectral_windows()?;
    let ddids = reader.data_descriptions()?;
    let pols = reader.polarizations()?;
    let antennas = reader.antennas()?;
    let fields = reader.fields()?;
    for (s, w) in spws.iter().enumerate() {
        if w.chan_freq_hz.len() != nchan {
            return Err(input_err(format!("spectral window {s} has {} channels, DATA cells {nchan}", w.chan_freq_hz.len())));
        }
    }
    let ddid_spw: Vec<usize> = ddids.iter().map(|d| d.spectral_window_id.max(0) as usize).collect();
    let ddid_hands: Vec<[Option<usize>; 2]> = ddids
        .iter()
        .map(|d| {
            let p = pols.get(d.polarization_id.max(0) as usize).ok_or_else(|| input_err(format!("no POLARIZATION row {}", d.polarization_id)))?;
            let h = corr_hands(&p.corr_types);
            if h[0].is_none() || h[1].is_none() {
                return Err(input_err(format!("POLARIZATION {} has no parallel hands (XX/YY or RR/LL)", d.polarization_id)));
            }
            Ok(h)
        })
        .collect::<Result<_, _>>()?;

    // Row metadata: which antennas have cross-correlations, the times, the field and scan.
    let main = reader.main_table();
    let n_rows = reader.n_rows();
    let rd = |e: casacore_sys::CasaError| input_err(e.message);
    let a1: Vec<i32> = main.get_scalars("ANTENNA1", 0, n_rows).map_err(rd)?;
    let a2: Vec<i32> = main.get_scalars("ANTENNA2", 0, n_rows).map_err(rd)?;
    let time: Vec<f64> = main.get_scalars("TIME", 0, n_rows).map_err(rd)?;
    let field_ids: Vec<i32> = main.get_scalars("FIELD_ID", 0, n_rows).map_err(rd)?;
    let scan: i32 = main.get_scalars::<i32>("SCAN_NUMBER", 0, n_rows.min(1)).map_err(rd)?.first().copied().unwrap_or(1);
    let field_id = field_ids.first().copied().unwrap_or(0);
    if field_ids.iter().any(|&f| f != field_id) {
        return Err(input_err("rows of more than one field: calibrate solves one field".into()));
    }
    let field = fields.get(field_id.max(0) as usize).ok_or_else(|| input_err(format!("no FIELD row {field_id}")))?;
    let mut active = vec![false; antennas.len()];
    for (&x, &y) in a1.iter().zip(&a2) {
        if x != y && x >= 0 && y >= 0 && (x as usize) < antennas.len() && (y as usize) < antennas.len() {
            active[x as usize] = true;
            active[y as usize] = true;
        }
    }
    let ants: Vec<usize> = (0..antennas.len()).filter(|&a| active[a]).collect();
    if ants.len() < 2 {
        return Err(CalibError::AllFlagged { ms: cfg.ms.clone(), message: "fewer than two antennas have cross-correlations".into() });
    }
    let mut slot = vec![None; antennas.len()];
    for (k, &a) in ants.iter().enumerate() {
        slot[a] = Some(k);
    }
    let mut times = time.clone();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let intervals = group_times(&times, cfg.solint_s);
    let freqs_hz: Vec<Vec<f64>> = spws.iter().map(|s| s.chan_freq_hz.clone()).collect();
    let lay = Layout {
        uniform: freqs_hz.iter().map(|f| model::uniform_spacing(f)).collect(),
        ants,
        slot,
        n_spw: spws.len(),
        n_chan: nchan,
        freqs_hz,
        ddid_spw,
        ddid_hands,
        ncorr,
        intervals,
    };

    // The model.
    let geometry = Geometry::new(field.phase_dir, field.time_mjd_s);
    let (sources, calibrator, offset) = match &cfg.sources {
        ModelSources::Sky(s) if s.is_empty() => return Err(CalibError::InvalidArgument("the sky model has no sources".into())),
        ModelSources::Sky(s) => (s.clone(), None, None),
        ModelSources::Catalogue { calibrators, radius_deg } => match model::nearest_calibrator(calibrators, field.phase_dir, *radius_deg) {
            Some((c, d)) => (vec![c.clone()], Some(c.name), Some(d)),
            None => {
                return Err(CalibError::NoCalibrator {
                    ms: cfg.ms.clone(),
                    message: format!(
                        "no catalogue calibrator within {radius_deg:.2} deg of the phase centre (RA {:.4}, Dec {:.4} deg) of field {:?}",
                        field.phase_dir[0].to_degrees().rem_euclid(360.0),
                        field.phase_dir[1].to_degrees(),
                        field.name
                    ),
                })
            }
        },
    };
    let n_sources = sources.len();
    let sky = SkyModel::new(sources, geometry);

    // Accumulate (and write MODEL_DATA when asked).
    let row_bytes = (ncorr * nchan * 8).max(1);
    let block_rows = (cfg.block_bytes / row_bytes).clamp(1, n_rows.max(1));
    let mut model_table = if cfg.write_model {
        let mut t = Table::open(&cfg.ms, true).map_err(|e| CalibError::Io { path: cfg.ms.clone(), message: format!("open for MODEL_DATA: {}", e.message) })?;
        if !t.has_column("MODEL_DATA").map_err(rd)? {
            t.add_tiled_column_like("MODEL_DATA", "DATA").map_err(|e| CalibError::Io { path: cfg.ms.clone(), message: format!("add MODEL_DATA: {}", e.message) })?;
        }
        Some(t)
    } else {
        None
    };
    let mut sink = |row0: usize, n: usize, m: &[Complex32]| -> Result<(), CalibError> {
        let t = model_table.as_mut().expect("MODEL_DATA table is open");
        t.put_arrays("MODEL_DATA", row0, n, &[ncorr, nchan], m).map_err(|e| CalibError::Io { path: cfg.ms.clone(), message: format!("put MODEL_DATA: {}", e.message) })
    };
    let write_model = cfg.write_model;
    let acc = accumulate::accumulate(
        &reader,
        &lay,
        &sky,
        accumulate::Options {
            uvrange: cfg.uvrange,
            block_rows,
            progress: &|d, t| progress(CalibrateProgress { stage: "accumulate", done: d, total: t }),
            cancelled,
            model_sink: if write_model { Some(&mut sink) } else { None },
        },
    )?;
    if let Some(t) = model_table.take() {
        t.close().map_err(|e| CalibError::Io { path: cfg.ms.clone(), message: format!("close after MODEL_DATA: {}", e.message) })?;
    }
    let accumulate_seconds = t0.elapsed().as_secs_f64();
    if acc.samples_used == 0 {
        return Err(CalibError::AllFlagged {
            ms: cfg.ms.clone(),
            message: format!("all {} parallel-hand cross-correlation samples are flagged or outside the uv range", acc.samples_total),
        });
    }
    fault_point("accumulated");
    if cancelled() {
        return Err(CalibError::Cancelled);
    }

    // Reference antenna: the requested one, else the next (in ANTENNA order, wrapping) with data.
    let t1 = Instant::now();
    let names: Vec<String> = antennas.iter().map(|a| a.name.clone()).collect();
    let requested = antenna_row(&names, &cfg.refant)
        .ok_or_else(|| CalibError::InvalidArgument(format!("refant {:?}: no such antenna in {}", cfg.refant, cfg.ms.display())))?;
    let weight = antenna_weights(&acc, &lay);
    let refant_row = (0..antennas.len())
        .map(|k| (requested + k) % antennas.len())
        .find(|&a| lay.slot[a].is_some_and(|s| weight[s] > 0.0))
        .ok_or_else(|| CalibError::AllFlagged { ms: cfg.ms.clone(), message: "no antenna has unflagged data".into() })?;
    let refant = lay.slot[refant_row].expect("refant has a slot");

    progress(CalibrateProgress { stage: "solve", done: 0, total: 3 });
    let b = cells::solve_b(&acc, &lay, refant, cfg.min_snr);
    check_flagged(cfg, &b, "B (bandpass)")?;
    progress(CalibrateProgress { stage: "solve", done: 1, total: 3 });
    let b_of = |a: usize, h: usize, g: usize| -> Option<num_complex::Complex64> {
        let x = b.idx(g, a, h);
        (!b.flag[x]).then(|| b.gains[x])
    };
    let prior_b = |a: usize, h: usize, g: usize, _int: usize| b_of(a, h, g);
    let g_inf = cells::solve_g(&acc, &lay, &prior_b, 1, &|_| 0, refant, cfg.min_snr);
    check_flagged(cfg, &g_inf, "G (solint inf)")?;
    progress(CalibrateProgress { stage: "solve", done: 2, total: 3 });
    let prior_bg = |a: usize, h: usize, g: usize, _int: usize| {
        let x = g_inf.idx(0, a, h);
        if g_inf.flag[x] {
            return None;
        }
        b_of(a, h, g).map(|bv| bv * g_inf.gains[x])
    };
    let g_short = cells::solve_g(&acc, &lay, &prior_bg, lay.intervals.len(), &|i| i, refant, cfg.min_snr);
    check_flagged(cfg, &g_short, &format!("G (solint {} s)", cfg.solint_s))?;
    progress(CalibrateProgress { stage: "solve", done: 3, total: 3 });
    let solve_seconds = t1.elapsed().as_secs_f64();

    // Tables.
    let t2 = Instant::now();
    let meta = TableMeta {
        ms_name: cfg.ms.display().to_string(),
        n_ant_ms: antennas.len(),
        n_spw: lay.n_spw,
        n_chan: nchan,
        field_id,
        scan,
        refant_row: refant_row as i32,
        t_int_s: median_interval(&lay),
    };
    let all_times: Vec<f64> = lay.intervals.iter().flatten().copied().collect();
    let tb = build_table(&meta, &lay, &b, Jones::B, std::slice::from_ref(&all_times));
    let tg = build_table(&meta, &lay, &g_inf, Jones::G, &[all_times]);
    let tg2 = build_table(&meta, &lay, &g_short, Jones::G, &lay.intervals);
    let mut summaries = Vec::new();
    for ((table, solved), (path, point)) in [(&tb, &b), (&tg, &g_inf), (&tg2, &g_short)].into_iter().zip(cfg.tables.iter().zip(["bpcal", "gpcal", "2gcal"])) {
        if cancelled() {
            return Err(CalibError::Cancelled);
        }
        let staged = format!("{point}-staged");
        ms::caltable::write::write(path, table, &cfg.ms, cfg.overwrite, &|| fault_point(&staged)).map_err(|e| match e {
            ms::MsError::InvalidSpec(m) => CalibError::Io { path: path.clone(), message: m },
            other => CalibError::Ms(other),
        })?;
        fault_point(point);
        summaries.push(summarize(path, table, solved));
        progress(CalibrateProgress { stage: "write", done: summaries.len(), total: 3 });
    }
    Ok(CalibrateSummary {
        ms: cfg.ms.clone(),
        calibrator,
        calibrator_offset_deg: offset,
        sources: n_sources,
        refant: names[refant_row].clone(),
        refant_index: refant_row,
        refant_requested: cfg.refant.clone(),
        antennas: lay.ants.len(),
        channels: lay.n_gchan(),
        intervals: lay.intervals.len(),
        rows: n_rows,
        samples: acc.samples_total,
        samples_used: acc.samples_used,
        tables: summaries,
        model_written: cfg.write_model,
        accumulate_seconds,
        solve_seconds,
        write_seconds: t2.elapsed().as_secs_f64(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Total weight of each antenna's cross-correlations (compact index).
fn antenna_weights(acc: &Accum, lay: &Layout) -> Vec<f64> {
    let n = lay.ants.len();
    let per_pair = lay.n_gchan() * 2;
    let mut w = vec![0.0; n];
    for i in 0..n {
        for j in i + 1..n {
            let p = lay.pair(i, j);
            let mut s = 0.0;
            for int in 0..lay.intervals.len() {
                let base = acc.index(lay, int, p, 0, 0);
                s += acc.cells[base..base + per_pair].iter().map(|c| c.q as f64).sum::<f64>();
            }
            w[i] += s;
            w[j] += s;
        }
    }
    w
}

fn check_flagged(cfg: &CalibrateConfig, s: &Solved, what: &str) -> Result<(), CalibError> {
    let f = s.flagged_fraction();
    if f >= 1.0 {
        return Err(CalibError::AllFlagged { ms: cfg.ms.clone(), message: format!("every {what} solution is flagged") });
    }
    if f > cfg.max_flagged_fraction {
        return Err(CalibError::TooManyFlagged {
            ms: cfg.ms.clone(),
            message: format!(
                "{:.1}% of the {what} solutions are flagged (no data or SNR < {}), more than the {:.0}% allowed",
                100.0 * f,
                cfg.min_snr,
                100.0 * cfg.max_flagged_fraction
            ),
        });
    }
    Ok(())
}

struct TableMeta {
    ms_name: String,
    n_ant_ms: usize,
    n_spw: usize,
    n_chan: usize,
    field_id: i32,
    scan: i32,
    refant_row: i32,
    t_int_s: f64,
}

fn median_interval(lay: &Layout) -> f64 {
    let ts: Vec<f64> = lay.intervals.iter().flatten().copied().collect();
    let mut d: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    d.sort_by(f64::total_cmp);
    d.get(d.len() / 2).copied().unwrap_or(0.0)
}

/// Caltable rows: per solution interval (`times`), spectral window and MS antenna (antennas
/// without data flagged, gain 1).
fn build_table(meta: &TableMeta, lay: &Layout, s: &Solved, jones: Jones, times: &[Vec<f64>]) -> CalTable {
    let nc = match jones {
        Jones::B => meta.n_chan,
        Jones::G => 1,
    };
    let mut rows = Vec::new();
    for (cell_t, ts) in times.iter().enumerate() {
        let mid = ts.iter().sum::<f64>() / ts.len().max(1) as f64;
        let span = ts.last().unwrap_or(&0.0) - ts.first().unwrap_or(&0.0) + meta.t_int_s;
        for spw in 0..meta.n_spw {
            for a in 0..meta.n_ant_ms {
                let mut row = CalRow {
                    time_mjd_s: mid,
                    interval_s: span,
                    field_id: meta.field_id,
                    spw_id: spw as i32,
                    antenna1: a as i32,
                    antenna2: meta.refant_row,
                    scan_number: meta.scan,
                    observation_id: 0,
                    cparam: vec![Complex32::new(1.0, 0.0); nc * 2],
                    paramerr: vec![0.0; nc * 2],
                    flag: vec![true; nc * 2],
                    snr: vec![0.0; nc * 2],
                    weight: vec![1.0; nc * 2],
                };
                if let Some(k) = lay.slot[a] {
                    for c in 0..nc {
                        let cell = match jones {
                            Jones::B => spw * meta.n_chan + c,
                            Jones::G => cell_t,
                        };
                        for h in 0..2 {
                            let x = s.idx(cell, k, h);
                            row.cparam[c * 2 + h] = to_c32(s.gains[x]);
                            row.paramerr[c * 2 + h] = s.err[x] as f32;
                            row.flag[c * 2 + h] = s.flag[x];
                            row.snr[c * 2 + h] = s.snr[x].min(f32::MAX as f64) as f32;
                        }
                    }
                }
                rows.push(row);
            }
        }
    }
    CalTable { jones, ms_name: meta.ms_name.clone(), n_pol: 2, n_chan: vec![nc; meta.n_spw], rows }
}

fn summarize(path: &Path, t: &CalTable, s: &Solved) -> SolveSummary {
    let mut snr: Vec<f64> = s.snr.iter().zip(&s.flag).filter(|(_, &f)| !f).map(|(&x, _)| x).collect();
    snr.sort_by(f64::total_cmp);
    let solutions: usize = t.rows.iter().map(|r| r.flag.len()).sum();
    let flagged: usize = t.rows.iter().map(|r| r.flag.iter().filter(|&&f| f).count()).sum();
    SolveSummary {
        path: path.to_path_buf(),
        jones: t.jones.casa_name().into(),
        solutions,
        flagged,
        flagged_fraction: s.flagged_fraction(),
        median_snr: snr.get(snr.len() / 2).copied().unwrap_or(0.0),
        iterations_max: s.iterations_max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_start_at_their_first_integration_like_casa() {
        let t: Vec<f64> = (0..24).map(|i| 1000.0 + 12.885 * i as f64).collect();
        let g = group_times(&t, 60.0);
        assert_eq!(g.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 5, 5, 5, 4]);
        assert_eq!(group_times(&t, 1e9).len(), 1);
    }

    #[test]
    fn refant_by_name_or_station_number() {
        let names: Vec<String> = ["1", "2", "103", "pad104"].iter().map(|s| s.to_string()).collect();
        assert_eq!(antenna_row(&names, "103"), Some(2));
        assert_eq!(antenna_row(&names, "104"), Some(3));
        assert_eq!(antenna_row(&names, "105"), None);
    }
}
