//! The row loop of applycal: blocks of rows read from the input MS, corrected, and written to
//! the staged copy.
//!
//! Reading and writing are both single-threaded casacore work, on different tables, so the
//! loop is a pipeline of three: one thread reads block k+2 from the input, this one corrects
//! block k+1 (rayon), and a third writes block k to the copy. casacore allows different tables
//! in different threads (its shared caches are locked; casacore#432), and each table here is
//! used by one thread only. A written block's buffers go back to the reader, so no block's
//! memory is faulted in anew.

use std::path::Path;
use std::sync::mpsc;

use casacore_sys::Table;
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;

use super::interp::{self, TableInterp};
use crate::CalibError;

/// What the loop needs to know about the MS (read before the copy).
pub struct RowsPlan<'a> {
    pub input: &'a Path,
    pub n_rows: usize,
    pub n_ant: usize,
    pub ncorr: usize,
    pub nchan: usize,
    /// DATA_DESC_ID → spectral window.
    pub ddid_spw: &'a [i32],
    /// DATA_DESC_ID → per correlation, the polarization of antenna 1 and of antenna 2.
    pub ddid_corr: &'a [Vec<[usize; 2]>],
    pub tables: &'a [TableInterp],
    pub calwt: bool,
    pub has_weight: bool,
    pub has_ws: bool,
    /// Rows per block.
    pub block_rows: usize,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RowsSummary {
    pub flagged_before: usize,
    pub flagged_after: usize,
}

/// One block of rows, as read.
#[derive(Default)]
struct Block {
    row0: usize,
    n: usize,
    time: Vec<f64>,
    a1: Vec<i32>,
    a2: Vec<i32>,
    dd: Vec<i32>,
    data: Vec<Complex32>,
    flag: Vec<bool>,
    weight: Vec<f32>,
    wspec: Vec<f32>,
}

/// The chain's correction for one antenna at one (time, ddid): per `[chan][pol]` the inverse of
/// the product of the tables' gains, or `bad` where a table flags it or the gain is 0.
struct AntCorrection {
    inv: Vec<Complex32>,
    bad: Vec<bool>,
    wt: [f32; 2],
}

/// The corrections of one block, `per_ant[key * n_ant + ant]`, kept for the next block.
#[derive(Default)]
struct Corrections {
    keys: Vec<(u64, i32)>,
    per_ant: Vec<Option<AntCorrection>>,
}

fn read_block(t: &Table, plan: &RowsPlan, row0: usize, n: usize, b: &mut Block) -> Result<(), String> {
    let cell = [plan.ncorr, plan.nchan];
    let per_row = plan.ncorr * plan.nchan;
    b.row0 = row0;
    b.n = n;
    for (col, v) in [("ANTENNA1", &mut b.a1), ("ANTENNA2", &mut b.a2), ("DATA_DESC_ID", &mut b.dd)] {
        v.resize(n, 0);
        t.get_scalars_into(col, row0, v).map_err(|e| e.message)?;
    }
    b.time.resize(n, 0.0);
    t.get_scalars_into("TIME", row0, &mut b.time).map_err(|e| e.message)?;
    b.data.resize(n * per_row, Complex32::default());
    t.get_arrays_into("DATA", row0, n, &cell, &mut b.data).map_err(|e| e.message)?;
    b.flag.resize(n * per_row, false);
    t.get_arrays_into("FLAG", row0, n, &cell, &mut b.flag).map_err(|e| e.message)?;
    b.weight.resize(if plan.has_weight { n * plan.ncorr } else { 0 }, 0.0);
    if plan.has_weight {
        t.get_arrays_into("WEIGHT", row0, n, &[plan.ncorr], &mut b.weight).map_err(|e| e.message)?;
    }
    b.wspec.resize(if plan.has_ws { n * per_row } else { 0 }, 0.0);
    if plan.has_ws {
        t.get_arrays_into("WEIGHT_SPECTRUM", row0, n, &cell, &mut b.wspec).map_err(|e| e.message)?;
    }
    Ok(())
}

/// Reads every block of the input on this thread, handing each to `full`; buffers come back
/// through `empty`. Stops when the receiver is gone (the consumer failed or was cancelled).
fn reader(plan: &RowsPlan, full: mpsc::SyncSender<Result<Block, CalibError>>, empty: mpsc::Receiver<Block>) {
    let input_err = |m: String| CalibError::Input { path: plan.input.to_path_buf(), message: m };
    let table = match Table::open(plan.input, false) {
        Ok(t) => t,
        Err(e) => {
            let _ = full.send(Err(input_err(e.message)));
            return;
        }
    };
    let mut row0 = 0;
    while row0 < plan.n_rows {
        let n = plan.block_rows.min(plan.n_rows - row0);
        let mut b = empty.try_recv().unwrap_or_default();
        let r = read_block(&table, plan, row0, n, &mut b).map(|()| b).map_err(input_err);
        let failed = r.is_err();
        if full.send(r).is_err() || failed {
            return;
        }
        row0 += n;
    }
}

/// Corrects and writes every row; `out` is the staged copy.
pub fn apply_rows(
    plan: &RowsPlan,
    out: &mut Table,
    out_path: &Path,
    progress: &(dyn Fn(usize) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<RowsSummary, CalibError> {
    let (full_tx, full_rx) = mpsc::sync_channel(0);
    let (done_tx, done_rx) = mpsc::sync_channel::<Block>(0);
    let (empty_tx, empty_rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || reader(plan, full_tx, empty_rx));
        let writer = s.spawn(move || -> Result<(), CalibError> {
            let mut behind = ms::writebehind::WriteBehind::new(out_path);
            for b in done_rx.iter() {
                if std::env::var("CONTIMG_APPLYCAL_FAULT").is_ok_and(|v| v == "write-error") {
                    // Tests: a write that fails (a full disk, an I/O error) on the writer thread.
                    return Err(CalibError::Io { path: out_path.to_path_buf(), message: "put CORRECTED_DATA: injected write failure".into() });
                }
                write_block(plan, out, out_path, &b)?;
                behind.kick();
                progress(b.row0 + b.n);
                // The reader may be gone (it stops after its last block): the buffers are
                // then simply dropped.
                let _ = empty_tx.send(b);
            }
            Ok(())
        });
        let corrected = correct_all(plan, full_rx, done_tx, cancelled);
        // The sender is gone with correct_all: the writer finishes what it holds and stops.
        let written = writer.join().unwrap_or_else(|_| Err(CalibError::InvalidArgument("applycal writer thread panicked".into())));
        // A writer failure (e.g. a full disk) is what stopped the corrections, if anything did.
        written?;
        corrected
    })
}

/// Corrects every block from the reader and hands it to the writer. Returns early when the
/// writer is gone (its error is the one to report).
fn correct_all(
    plan: &RowsPlan,
    full: mpsc::Receiver<Result<Block, CalibError>>,
    done: mpsc::SyncSender<Block>,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<RowsSummary, CalibError> {
    let mut summary = RowsSummary::default();
    let mut corrections = Corrections::default();
    for block in full.iter() {
        if cancelled() {
            return Err(CalibError::Cancelled);
        }
        let mut b = block?;
        summary.flagged_before += b.flag.iter().filter(|&&f| f).count();
        correct_block(plan, &mut b, &mut corrections)?;
        summary.flagged_after += b.flag.iter().filter(|&&f| f).count();
        if done.send(b).is_err() {
            break;
        }
    }
    Ok(summary)
}

impl RowsPlan<'_> {
    /// The columns [`write_block`] writes, every cell of them (the copy need not carry their
    /// data).
    pub fn rewritten_columns(&self) -> Vec<&'static str> {
        let mut cols = vec!["CORRECTED_DATA", "FLAG"];
        if self.calwt && self.has_weight {
            cols.push("WEIGHT");
        }
        if self.calwt && self.has_ws {
            cols.push("WEIGHT_SPECTRUM");
        }
        cols
    }
}

/// Writes what [`RowsPlan::rewritten_columns`] names.
fn write_block(plan: &RowsPlan, out: &mut Table, out_path: &Path, b: &Block) -> Result<(), CalibError> {
    let io = |what: &str, e: casacore_sys::CasaError| CalibError::Io { path: out_path.to_path_buf(), message: format!("{what}: {}", e.message) };
    let cell = [plan.ncorr, plan.nchan];
    out.put_arrays("CORRECTED_DATA", b.row0, b.n, &cell, &b.data).map_err(|e| io("put CORRECTED_DATA", e))?;
    out.put_arrays("FLAG", b.row0, b.n, &cell, &b.flag).map_err(|e| io("put FLAG", e))?;
    if plan.calwt && plan.has_weight {
        out.put_arrays("WEIGHT", b.row0, b.n, &[plan.ncorr], &b.weight).map_err(|e| io("put WEIGHT", e))?;
    }
    if plan.calwt && plan.has_ws {
        out.put_arrays("WEIGHT_SPECTRUM", b.row0, b.n, &cell, &b.wspec).map_err(|e| io("put WEIGHT_SPECTRUM", e))?;
    }
    Ok(())
}

/// The chain's product for antenna `a` at time `t` in spectral window `spw`, inverted.
fn ant_correction(tables: &[TableInterp], t: f64, spw: usize, a: usize, nchan: usize) -> AntCorrection {
    let mut acc = interp::AntGains { gain: vec![Complex32::new(1.0, 0.0); nchan * 2], flag: vec![false; nchan * 2], wt: [1.0, 1.0] };
    for tab in tables {
        let g = tab.eval(t, spw, a, nchan);
        for k in 0..nchan * 2 {
            acc.gain[k] *= g.gain[k];
            acc.flag[k] |= g.flag[k];
        }
        acc.wt[0] *= g.wt[0];
        acc.wt[1] *= g.wt[1];
    }
    // Dividing by g is multiplying by 1/g, formed once per antenna in double precision (CASA
    // also applies the inverse Jones matrices).
    let mut bad = acc.flag;
    let inv = acc
        .gain
        .iter()
        .zip(bad.iter_mut())
        .map(|(g, b)| {
            let g = Complex64::new(g.re as f64, g.im as f64);
            let n = g.norm_sqr();
            *b |= n == 0.0 || !n.is_finite();
            if *b {
                Complex32::new(0.0, 0.0)
            } else {
                let i = g.conj() / n;
                Complex32::new(i.re as f32, i.im as f32)
            }
        })
        .collect();
    AntCorrection { inv, bad, wt: acc.wt }
}

/// Whether a DATA cell holds exactly the two parallel hands, in order (XX, YY or RR, LL).
fn parallel_hands_only(cp: &[[usize; 2]]) -> bool {
    cp == [[0, 0], [1, 1]]
}

/// [`correct_block`]'s loop for a `[chan][XX, YY]` cell: branch-free, so it vectorises.
fn correct_parallel(d: &mut [Complex32], f: &mut [bool], ci: &AntCorrection, cj: &AntCorrection) {
    for ((((d, f), (ii, bi)), ij), bj) in d.iter_mut().zip(f.iter_mut()).zip(ci.inv.iter().zip(&ci.bad)).zip(&cj.inv).zip(&cj.bad) {
        let bad = *bi | *bj;
        let c = *d * (ii * ij.conj());
        *d = if bad { *d } else { c };
        *f |= bad;
    }
}

/// CORRECTED = DATA · (1/g_i) · conj(1/g_j) per correlation; samples whose correction is
/// flagged are flagged (and keep DATA); calwt scales the weights.
fn correct_block(plan: &RowsPlan, b: &mut Block, prev: &mut Corrections) -> Result<(), CalibError> {
    let (n, nchan, ncorr, n_ant) = (b.n, plan.nchan, plan.ncorr, plan.n_ant);
    let input_err = |m: String| CalibError::Input { path: plan.input.to_path_buf(), message: m };
    for i in 0..n {
        let bad = |what: &str, v: i32, lim: usize| input_err(format!("row {}: {what} {v} outside 0..{lim}", b.row0 + i));
        let d = b.dd[i];
        if d < 0 || d as usize >= plan.ddid_spw.len() {
            return Err(bad("DATA_DESC_ID", d, plan.ddid_spw.len()));
        }
        for a in [b.a1[i], b.a2[i]] {
            if a < 0 || a as usize >= n_ant {
                return Err(bad("antenna", a, n_ant));
            }
        }
    }
    // Unique (time, ddid) of the block, and the antennas each one needs.
    let mut keys: Vec<(u64, i32)> = b.time.iter().zip(&b.dd).map(|(t, d)| (t.to_bits(), *d)).collect();
    keys.sort_unstable();
    keys.dedup();
    let row_key: Vec<usize> = (0..n).map(|i| keys.binary_search(&(b.time[i].to_bits(), b.dd[i])).expect("key of a row of this block")).collect();
    let mut need = vec![false; keys.len() * n_ant];
    for (i, &k) in row_key.iter().enumerate() {
        need[k * n_ant + b.a1[i] as usize] = true;
        need[k * n_ant + b.a2[i] as usize] = true;
    }
    // Rows come in time order, so an integration split between two blocks finds most of its
    // corrections already formed by the previous block.
    let mut corrections: Vec<Option<AntCorrection>> = Vec::with_capacity(keys.len() * n_ant);
    for &key in &keys {
        match prev.keys.binary_search(&key) {
            Ok(pk) => corrections.extend(prev.per_ant[pk * n_ant..(pk + 1) * n_ant].iter_mut().map(Option::take)),
            Err(_) => corrections.extend((0..n_ant).map(|_| None)),
        }
    }
    let missing: Vec<usize> = (0..keys.len() * n_ant).filter(|&ka| need[ka] && corrections[ka].is_none()).collect();
    let formed: Vec<AntCorrection> = missing
        .par_iter()
        .map(|&ka| {
            let (tb, d) = keys[ka / n_ant];
            ant_correction(plan.tables, f64::from_bits(tb), plan.ddid_spw[d as usize] as usize, ka % n_ant, nchan)
        })
        .collect();
    for (ka, c) in missing.into_iter().zip(formed) {
        corrections[ka] = Some(c);
    }

    let per_row = ncorr * nchan;
    let (a1, a2, dd) = (&b.a1, &b.a2, &b.dd);
    let wchunk = if plan.has_weight { ncorr } else { 1 };
    let wschunk = if plan.has_ws { per_row } else { 1 };
    let mut wrows: Vec<&mut [f32]> = if plan.has_weight { b.weight.chunks_mut(wchunk).collect() } else { (0..n).map(|_| &mut [][..]).collect() };
    let mut wsrows: Vec<&mut [f32]> = if plan.has_ws { b.wspec.chunks_mut(wschunk).collect() } else { (0..n).map(|_| &mut [][..]).collect() };
    b.data
        .par_chunks_mut(per_row)
        .zip(b.flag.par_chunks_mut(per_row))
        .zip(wrows.par_iter_mut())
        .zip(wsrows.par_iter_mut())
        .enumerate()
        .for_each(|(i, (((d, f), w), ws))| {
            let k = row_key[i];
            let ci = corrections[k * n_ant + a1[i] as usize].as_ref().expect("correction of a needed antenna");
            let cj = corrections[k * n_ant + a2[i] as usize].as_ref().expect("correction of a needed antenna");
            let cp = &plan.ddid_corr[dd[i] as usize];
            if parallel_hands_only(cp) {
                // Correlation r takes polarization r of both antennas: index x of a cell is
                // index x of both corrections, and the loop vectorises.
                correct_parallel(d, f, ci, cj);
            } else {
                for c in 0..nchan {
                    for (r, &[pi, pj]) in cp.iter().enumerate() {
                        let (x, gi, gj) = (c * ncorr + r, c * 2 + pi, c * 2 + pj);
                        if ci.bad[gi] || cj.bad[gj] {
                            f[x] = true;
                        } else {
                            d[x] *= ci.inv[gi] * cj.inv[gj].conj();
                        }
                    }
                }
            }
            if plan.calwt {
                for (r, &[pi, pj]) in cp.iter().enumerate() {
                    let s = ci.wt[pi] * cj.wt[pj];
                    if !w.is_empty() {
                        w[r] *= s;
                    }
                    for c in 0..ws.len() / ncorr {
                        ws[c * ncorr + r] *= s;
                    }
                }
            }
        });
    *prev = Corrections { keys, per_ant: corrections };
    Ok(())
}
