//! Stage 5: applying caltables. CORRECTED_DATA = DATA / (g_i · conj(g_j)) per correlation, for
//! a chain of tables in the order given (B, then G, then the second G), with CASA's
//! interpolation ([`interp`]), calwt and flag propagation; the output is a complete copy of the
//! input MS, written atomically ([`output`]).
//!
//! Rows go in blocks (bounded memory for a full 2 GB MS); within a block the gains of every
//! (time, spw, antenna) are evaluated once, in parallel, then every row is corrected in
//! parallel.

pub mod interp;
mod output;

use std::path::{Path, PathBuf};
use std::time::Instant;

use casacore_sys::Table;
use ms::MsReader;
use num_complex::Complex32;
use rayon::prelude::*;

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
            block_bytes: 64 << 20,
        }
    }
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

    // The copy, under a temporary name.
    let staged = output::Staged::begin(&cfg.ms, &cfg.output, cfg.overwrite, &|done, total| {
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
    let has_ws = reader.has_column("WEIGHT_SPECTRUM")
        && reader.main_table().cell_shape("WEIGHT_SPECTRUM", 0).ok().flatten().is_some();
    let has_weight = reader.has_column("WEIGHT");

    let n_rows = reader.n_rows();
    let row_bytes = (ncorr * nchan * 8).max(1);
    let block = (cfg.block_bytes / row_bytes).clamp(1, n_rows.max(1));
    let cell = [ncorr, nchan];
    let inp = reader.main_table();
    let rd = |e: casacore_sys::CasaError| input_err(e.message);
    let (mut flagged_before, mut flagged_after) = (0usize, 0usize);
    let mut row0 = 0;
    while row0 < n_rows {
        if cancelled() {
            return Err(CalibError::Cancelled);
        }
        let n = block.min(n_rows - row0);
        let time: Vec<f64> = inp.get_scalars("TIME", row0, n).map_err(rd)?;
        let a1: Vec<i32> = inp.get_scalars("ANTENNA1", row0, n).map_err(rd)?;
        let a2: Vec<i32> = inp.get_scalars("ANTENNA2", row0, n).map_err(rd)?;
        let dd: Vec<i32> = inp.get_scalars("DATA_DESC_ID", row0, n).map_err(rd)?;
        let mut data: Vec<Complex32> = inp.get_arrays("DATA", row0, n, &cell).map_err(rd)?;
        let mut flag: Vec<bool> = inp.get_arrays("FLAG", row0, n, &cell).map_err(rd)?;
        let mut weight: Vec<f32> = if has_weight { inp.get_arrays("WEIGHT", row0, n, &[ncorr]).map_err(rd)? } else { Vec::new() };
        let mut wspec: Vec<f32> = if has_ws { inp.get_arrays("WEIGHT_SPECTRUM", row0, n, &cell).map_err(rd)? } else { Vec::new() };
        flagged_before += flag.iter().filter(|&&f| f).count();

        // Unique (time, ddid) of the block, and the antennas each one needs.
        let mut keys: Vec<(u64, i32)> = time.iter().zip(&dd).map(|(t, d)| (t.to_bits(), *d)).collect();
        keys.sort_unstable();
        keys.dedup();
        for (i, &d) in dd.iter().enumerate() {
            let bad = |what: &str, v: i32, lim: usize| input_err(format!("row {}: {what} {v} outside 0..{lim}", row0 + i));
            if d < 0 || d as usize >= ddid_spw.len() {
                return Err(bad("DATA_DESC_ID", d, ddid_spw.len()));
            }
            for a in [a1[i], a2[i]] {
                if a < 0 || a as usize >= n_ant {
                    return Err(bad("antenna", a, n_ant));
                }
            }
        }
        // gains[key][ant] = the chain's product for that antenna: ([chan][pol] gains, flags, wt[pol]).
        let gains: Vec<Vec<Option<interp::AntGains>>> = keys
            .par_iter()
            .map(|&(tb, d)| {
                let t = f64::from_bits(tb);
                let spw = ddid_spw[d as usize] as usize;
                let mut need = vec![false; n_ant];
                for i in 0..n {
                    if time[i].to_bits() == tb && dd[i] == d {
                        need[a1[i] as usize] = true;
                        need[a2[i] as usize] = true;
                    }
                }
                (0..n_ant)
                    .map(|a| {
                        if !need[a] {
                            return None;
                        }
                        let mut acc = interp::AntGains { gain: vec![Complex32::new(1.0, 0.0); nchan * 2], flag: vec![false; nchan * 2], wt: [1.0, 1.0] };
                        for tab in &tables {
                            let g = tab.eval(t, spw, a, nchan);
                            for k in 0..nchan * 2 {
                                acc.gain[k] *= g.gain[k];
                                acc.flag[k] |= g.flag[k];
                            }
                            acc.wt[0] *= g.wt[0];
                            acc.wt[1] *= g.wt[1];
                        }
                        Some(acc)
                    })
                    .collect()
            })
            .collect();

        let per_row = ncorr * nchan;
        let wchunk = if has_weight { ncorr } else { 0 };
        let wschunk = if has_ws { per_row } else { 0 };
        let mut wrows: Vec<&mut [f32]> = if has_weight { weight.chunks_mut(wchunk).collect() } else { (0..n).map(|_| &mut [][..]).collect() };
        let mut wsrows: Vec<&mut [f32]> = if has_ws { wspec.chunks_mut(wschunk).collect() } else { (0..n).map(|_| &mut [][..]).collect() };
        data.par_chunks_mut(per_row)
            .zip(flag.par_chunks_mut(per_row))
            .zip(wrows.par_iter_mut())
            .zip(wsrows.par_iter_mut())
            .enumerate()
            .for_each(|(i, (((d, f), w), ws))| {
                let k = keys.binary_search(&(time[i].to_bits(), dd[i])).expect("key of a row of this block");
                let gi = gains[k][a1[i] as usize].as_ref().expect("gains of a needed antenna");
                let gj = gains[k][a2[i] as usize].as_ref().expect("gains of a needed antenna");
                let cp = &ddid_corr[dd[i] as usize];
                for c in 0..nchan {
                    for (r, &[pi, pj]) in cp.iter().enumerate() {
                        let x = c * ncorr + r;
                        let g = gi.gain[c * 2 + pi] * gj.gain[c * 2 + pj].conj();
                        if gi.flag[c * 2 + pi] || gj.flag[c * 2 + pj] || g.norm_sqr() == 0.0 {
                            f[x] = true;
                        } else {
                            d[x] /= g;
                        }
                    }
                }
                if cfg.calwt {
                    for (r, &[pi, pj]) in cp.iter().enumerate() {
                        let s = gi.wt[pi] * gj.wt[pj];
                        if !w.is_empty() {
                            w[r] *= s;
                        }
                        if !ws.is_empty() {
                            for c in 0..nchan {
                                ws[c * ncorr + r] *= s;
                            }
                        }
                    }
                }
            });
        drop(wrows);
        drop(wsrows);
        flagged_after += flag.iter().filter(|&&f| f).count();
        out.put_arrays("CORRECTED_DATA", row0, n, &cell, &data).map_err(|e| io("put CORRECTED_DATA", e))?;
        out.put_arrays("FLAG", row0, n, &cell, &flag).map_err(|e| io("put FLAG", e))?;
        if cfg.calwt && has_weight {
            out.put_arrays("WEIGHT", row0, n, &[ncorr], &weight).map_err(|e| io("put WEIGHT", e))?;
        }
        if cfg.calwt && has_ws {
            out.put_arrays("WEIGHT_SPECTRUM", row0, n, &cell, &wspec).map_err(|e| io("put WEIGHT_SPECTRUM", e))?;
        }
        row0 += n;
        progress(ApplyProgress { stage: "apply", rows_done: row0, rows_total: n_rows });
    }
    let apply_seconds = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    out.close().map_err(|e| io("close", e))?;
    drop(reader);
    fault_point("applied");
    let output = staged.commit()?;
    Ok(ApplySummary {
        ms: cfg.ms.clone(),
        output,
        tables: applied,
        rows: n_rows,
        samples: n_rows * ncorr * nchan,
        flagged_before,
        flagged_after,
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
