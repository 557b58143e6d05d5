//! Stage 5: applying caltables. CORRECTED_DATA = DATA / (g_i · conj(g_j)) per correlation, for
//! a chain of tables in the order given (B, then G, then the second G), with CASA's
//! interpolation ([`interp`]), calwt and flag propagation; the output is a complete copy of the
//! input MS, written atomically ([`output`]).
//!
//! Rows go in blocks (bounded memory for a full 2 GB MS), read, corrected and written by a
//! pipeline of three threads ([`rows`]); within a block the correction of every (time, spw,
//! antenna) is formed once, in parallel, then every row is corrected in parallel.

pub mod interp;
mod output;
mod rows;

use std::path::{Path, PathBuf};
use std::time::Instant;

use casacore_sys::Table;
use ms::MsReader;

pub use interp::{Interp, TableInterp};

use crate::CalibError;

/// One table of the chain.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub path: PathBuf,
    /// `None`: nearest for B, linear for G.
    pub interp: Option<Interp>,
}

#[derive(Debug, Clone)]
pub struct ApplyConfig {
    pub ms: PathBuf,
    /// The final name of the calibrated MS; it is built under a temporary name beside it.
    pub output: PathBuf,
    pub tables: Vec<TableSpec>,
    /// Scale the weights as CASA's calwt=True does.
    pub calwt: bool,
    /// Replace an existing output.
    pub overwrite: bool,
    /// Bytes of DATA per block of rows.
    pub block_bytes: usize,
}

impl ApplyConfig {
    pub fn new(ms: impl Into<PathBuf>, output: impl Into<PathBuf>, tables: Vec<TableSpec>) -> Self {
        ApplyConfig {
            ms: ms.into(),
            output: output.into(),
            tables,
            calwt: true,
            overwrite: false,
            block_bytes: block_bytes_default(),
        }
    }
}

/// 64 MB of DATA per block; tests set `CONTIMG_APPLYCAL_BLOCK_BYTES` to run a small MS through
/// many blocks (an integration split between blocks, the pipeline's hand-offs).
fn block_bytes_default() -> usize {
    crate::block_bytes("CONTIMG_APPLYCAL_BLOCK_BYTES", 64 << 20)
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedTable {
    pub path: PathBuf,
    pub jones: String,
    pub interp: Interp,
    pub time_range_mjd_s: [f64; 2],
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplySummary {
    pub ms: PathBuf,
    pub output: PathBuf,
    pub tables: Vec<AppliedTable>,
    pub rows: usize,
    pub samples: usize,
    pub flagged_before: usize,
    pub flagged_after: usize,
    pub calwt: bool,
    pub copy_seconds: f64,
    /// Reading, correcting and writing the visibilities.
    pub apply_seconds: f64,
    /// Closing the table, fsync of the whole copy, and the rename.
    pub commit_seconds: f64,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct ApplyProgress {
    pub stage: &'static str,
    pub rows_done: usize,
    pub rows_total: usize,
}

/// Per correlation: which polarization of antenna 1 and of antenna 2 it takes.
fn corr_pols(corr_types: &[i32]) -> Result<Vec<[usize; 2]>, String> {
    corr_types
        .iter()
        .map(|&c| match c {
            5 | 9 => Ok([0, 0]),   // RR, XX
            6 | 10 => Ok([0, 1]),  // RL, XY
            7 | 11 => Ok([1, 0]),  // LR, YX
            8 | 12 => Ok([1, 1]),  // LL, YY
            other => Err(format!("correlation type {other} is not a circular or linear product")),
        })
        .collect()
}

/// Apply the chain of tables to `cfg.ms`, writing `cfg.output`.
pub fn applycal(
    cfg: &ApplyConfig,
    progress: &(dyn Fn(ApplyProgress) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<ApplySummary, CalibError> {
    let t0 = Instant::now();
    if cfg.tables.is_empty() {
        return Err(CalibError::InvalidArgument("no caltables to apply".into()));
    }
    let reader = MsReader::open(&cfg.ms)?;
    let input_err = |m: String| CalibError::Input { path: cfg.ms.clone(), message: m };
    if !reader.has_column("DATA") {
        return Err(input_err("MAIN has no DATA column".into()));
    }
    let spws = reader.spectral_windows()?;
    let ddid_spw = reader.ddid_to_spw()?;
    let ddids = reader.data_descriptions()?;
    let pols = reader.polarizations()?;
    let n_ant = reader.antennas()?.len();
    let [ncorr, nchan] = reader.cell_shape("DATA")?.ok_or_else(|| input_err("DATA has no cell shape".into()))?;
    let ms_freqs: Vec<Vec<f64>> = spws.iter().map(|s| s.chan_freq_hz.clone()).collect();
    for (s, f) in ms_freqs.iter().enumerate() {
        if f.len() != nchan {
            return Err(input_err(format!("spectral window {s} has {} channels, DATA cells {nchan}", f.len())));
        }
    }
    let ddid_corr: Vec<Vec<[usize; 2]>> = ddids
        .iter()
        .map(|d| {
            let p = pols.get(d.polarization_id as usize).ok_or_else(|| input_err(format!("no POLARIZATION row {}", d.polarization_id)))?;
            if p.corr_types.len() != ncorr {
                return Err(input_err(format!("POLARIZATION {} has {} correlations, DATA cells {ncorr}", d.polarization_id, p.corr_types.len())));
            }
            corr_pols(&p.corr_types).map_err(input_err)
        })
        .collect::<Result<_, _>>()?;

    // The tables, validated against the MS before anything is written.
    let mut tables = Vec::with_capacity(cfg.tables.len());
    for spec in &cfg.tables {
        let t = ms::caltable::read::read(&spec.path)?;
        let n_ant_table = Table::open(&spec.path, false)
            .ok()
            .and_then(|tb| tb.subtable("ANTENNA").ok())
            .and_then(|a| a.n_rows().ok());
        let interp = spec.interp.unwrap_or(Interp::default_for(t.table.jones));
        if t.table.rows.is_empty() {
            return Err(CalibError::TableShape { table: spec.path.clone(), ms: cfg.ms.clone(), message: "the table has no solutions".into() });
        }
        tables.push(TableInterp::new(t, interp, &cfg.ms, &ms_freqs, n_ant, n_ant_table)?);
    }
    let applied: Vec<AppliedTable> = tables
        .iter()
        .map(|t| AppliedTable {
            path: t.path.clone(),
            jones: t.jones.casa_name().into(),
            interp: t.interp,
            time_range_mjd_s: t.time_range_mjd_s,
        })
        .collect();

    let has_ws = reader.has_column("WEIGHT_SPECTRUM")
        && reader.main_table().cell_shape("WEIGHT_SPECTRUM", 0).ok().flatten().is_some();
    let has_weight = reader.has_column("WEIGHT");
    let n_rows = reader.n_rows();
    let data_managers = reader.main_table().data_managers().map_err(|e| input_err(e.message))?;
    // From here on the input is read by the row loop's reader thread only.
    drop(reader);
    let row_bytes = (ncorr * nchan * 8).max(1);
    let plan = rows::RowsPlan {
        input: &cfg.ms,
        n_rows,
        n_ant,
        ncorr,
        nchan,
        ddid_spw: &ddid_spw,
        ddid_corr: &ddid_corr,
        tables: &tables,
        calwt: cfg.calwt,
        has_weight,
        has_ws,
        block_rows: (cfg.block_bytes / row_bytes).clamp(1, n_rows.max(1)),
    };

    // The copy, under a temporary name.
    let fresh = output::rewritten_managers(&data_managers, &plan.rewritten_columns());
    let staged = output::Staged::begin(&cfg.ms, &cfg.output, cfg.overwrite, &fresh, &|done, total| {
        progress(ApplyProgress { stage: "copy", rows_done: done, rows_total: total })
    })?;
    fault_point("copied");
    let copy_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut out = Table::open(staged.path(), true).map_err(|e| CalibError::Io { path: staged.path().into(), message: e.message })?;
    let io = |what: &str, e: casacore_sys::CasaError| CalibError::Io { path: staged.path().to_path_buf(), message: format!("{what}: {}", e.message) };
    if !out.has_column("CORRECTED_DATA").map_err(|e| io("list columns", e))? {
        out.add_tiled_column_like("CORRECTED_DATA", "DATA").map_err(|e| io("add CORRECTED_DATA", e))?;
    }
    let staged_path = staged.path().to_path_buf();
    let counts = rows::apply_rows(
        &plan,
        &mut out,
        &staged_path,
        &|done| progress(ApplyProgress { stage: "apply", rows_done: done, rows_total: n_rows }),
        cancelled,
    )?;
    let apply_seconds = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    out.close().map_err(|e| io("close", e))?;
    fault_point("applied");
    let output = staged.commit()?;
    Ok(ApplySummary {
        ms: cfg.ms.clone(),
        output,
        tables: applied,
        rows: n_rows,
        samples: n_rows * ncorr * nchan,
        flagged_before: counts.flagged_before,
        flagged_after: counts.flagged_after,
        calwt: cfg.calwt,
        copy_seconds,
        apply_seconds,
        commit_seconds: t2.elapsed().as_secs_f64(),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Crash tests: `CONTIMG_APPLYCAL_FAULT=<point>` SIGKILLs the process at that point ("copied":
/// the copy made, nothing applied; "applied": everything written, not yet fsynced or renamed).
fn fault_point(point: &str) {
    if std::env::var("CONTIMG_APPLYCAL_FAULT").is_ok_and(|v| v == point) {
        // SAFETY: kill(2) on our own pid; SIGKILL cannot be caught, which is the point.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// The time range of `ms` (MJD seconds), for callers that choose tables.
pub fn ms_time_range(ms: &Path) -> Result<Option<[f64; 2]>, CalibError> {
    Ok(MsReader::open(ms)?.time_range()?)
}
