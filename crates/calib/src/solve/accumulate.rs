//! One pass over DATA, FLAG and the weights: per solution interval (of the shortest solint,
//! 60 s), antenna pair, channel and parallel hand, the sums `Σ w V conj(M)`, `Σ w |M|²`,
//! `Σ w |V|²` and the sample count ([`Cell`]). Every solve (B per channel over all times, G over
//! all channels and times, G per interval over channels) is a sum of these cells with the
//! earlier solutions folded in, so the visibilities are read once.
//!
//! The model is computed on the fly per row. Rows are read in blocks on the calling thread
//! while the previous block is accumulated on the others; within one integration, rows are
//! spread over threads by antenna pair, so each thread owns the cells it adds to.

use std::collections::HashMap;

use ms::{MsReader, RowData};
use num_complex::Complex32;
use rayon::prelude::*;

use super::uvrange::UvRange;
use crate::model::{SkyModel, TimeModel};
use crate::CalibError;

/// Sums of one (interval, pair, channel, hand).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub struct Cell {
    pub r: Complex32,
    pub q: f32,
    pub s: f32,
    pub n: u32,
}

/// `n` zero cells. The biggest allocation of a solve (0.7 GB for a full group): one that fails
/// is an error for the caller, not an abort of the Node process that called it.
fn zeroed_cells(n: usize) -> Result<Vec<Cell>, CalibError> {
    let mut cells = Vec::new();
    cells.try_reserve_exact(n).map_err(|_| {
        CalibError::InvalidArgument(format!("the accumulator's {n} cells ({:.1} GB) could not be allocated", n as f64 * std::mem::size_of::<Cell>() as f64 / 1e9))
    })?;
    cells.resize(n, Cell::default());
    Ok(cells)
}

/// How the MS maps onto the accumulator.
pub struct Layout {
    /// MS ANTENNA rows with cross-correlations, ascending; the compact index is the position.
    pub ants: Vec<usize>,
    /// MS ANTENNA row → compact index.
    pub slot: Vec<Option<usize>>,
    pub n_spw: usize,
    pub n_chan: usize,
    /// Channel frequencies per spectral window.
    pub freqs_hz: Vec<Vec<f64>>,
    pub uniform: Vec<bool>,
    /// DATA_DESC_ID → spectral window.
    pub ddid_spw: Vec<usize>,
    /// DATA_DESC_ID → per hand (0 = X/R, 1 = Y/L), the correlation index in a DATA cell.
    pub ddid_hands: Vec<[Option<usize>; 2]>,
    pub ncorr: usize,
    /// Solution intervals of the short G: their (sorted) integration times.
    pub intervals: Vec<Vec<f64>>,
}

impl Layout {
    pub fn n_pairs(&self) -> usize {
        let n = self.ants.len();
        n * n.saturating_sub(1) / 2
    }

    /// Index of pair (i, j), i < j, compact indices.
    pub fn pair(&self, i: usize, j: usize) -> usize {
        let n = self.ants.len();
        i * (2 * n - i - 1) / 2 + (j - i - 1)
    }

    pub fn n_gchan(&self) -> usize {
        self.n_spw * self.n_chan
    }
}

/// `[interval][pair][spw·chan][hand]` cells.
pub struct Accum {
    pub cells: Vec<Cell>,
    pub samples_total: u64,
    pub samples_used: u64,
}

impl Accum {
    pub fn index(&self, lay: &Layout, interval: usize, pair: usize, gchan: usize, hand: usize) -> usize {
        ((interval * lay.n_pairs() + pair) * lay.n_gchan() + gchan) * 2 + hand
    }
}

/// Receives `(row0, rows, model)` of every block.
pub type ModelSink<'a> = &'a mut dyn FnMut(usize, usize, &[Complex32]) -> Result<(), CalibError>;

pub struct Options<'a> {
    pub uvrange: UvRange,
    pub block_rows: usize,
    pub progress: &'a (dyn Fn(usize, usize) + Sync),
    pub cancelled: &'a (dyn Fn() -> bool + Sync),
    /// Called with every block's rows and its model, `[row][chan][corr]` (parallel hands only;
    /// cross hands 0), to write MODEL_DATA.
    pub model_sink: Option<ModelSink<'a>>,
}

/// Accumulate every row of `reader`.
pub fn accumulate(reader: &MsReader, lay: &Layout, model: &SkyModel, opts: Options) -> Result<Accum, CalibError> {
    let n_rows = reader.n_rows();
    let per_int = lay.n_pairs() * lay.n_gchan() * 2;
    let mut acc = Accum { cells: zeroed_cells(lay.intervals.len() * per_int)?, samples_total: 0, samples_used: 0 };
    let interval_of: HashMap<u64, usize> = lay.intervals.iter().enumerate().flat_map(|(k, ts)| ts.iter().map(move |t| (t.to_bits(), k))).collect();
    let Options { uvrange, block_rows, progress, cancelled, mut model_sink } = opts;
    let block_rows = block_rows.max(1);
    // Blocks are read into the buffers of the block before last, so no block's memory is
    // faulted in and zeroed anew (that cost as much as a third of the read).
    let read = |r0: usize, mut b: RowData| -> Result<RowData, CalibError> {
        reader.read_rows_into(r0..(r0 + block_rows).min(n_rows), "DATA", &mut b)?;
        Ok(b)
    };
    let mut spare = RowData::default();
    let mut row0 = 0;
    let mut current = if n_rows > 0 { Some(read(0, RowData::default())?) } else { None };
    while let Some(block) = current.take() {
        if cancelled() {
            return Err(CalibError::Cancelled);
        }
        let next_row0 = row0 + block.n_rows;
        // Accumulate this block on a scoped thread (rayon inside) while this thread reads the
        // next one: casacore's reads are single-threaded.
        let (res, next) = std::thread::scope(|s| {
            let acc_ref = &mut acc;
            let block_ref = &block;
            let interval_of = &interval_of;
            let h = s.spawn(move || add_block(acc_ref, lay, model, block_ref, interval_of, &uvrange, per_int));
            let next = if next_row0 < n_rows { Some(read(next_row0, std::mem::take(&mut spare))) } else { None };
            (h.join().unwrap_or_else(|_| Err(CalibError::InvalidArgument("accumulation thread panicked".into()))), next)
        });
        let (total, used) = res?;
        acc.samples_total += total;
        acc.samples_used += used;
        if let Some(sink) = model_sink.as_mut() {
            let m = block_model(lay, model, &block)?;
            sink(row0, block.n_rows, &m)?;
        }
        row0 = next_row0;
        progress(row0, n_rows);
        current = next.transpose()?;
        spare = block;
    }
    Ok(acc)
}

fn time_models(model: &SkyModel, lay: &Layout, block: &RowData) -> HashMap<u64, Vec<TimeModel>> {
    let mut times: Vec<u64> = block.time_mjd_s.iter().map(|t| t.to_bits()).collect();
    times.sort_unstable();
    times.dedup();
    times
        .par_iter()
        .map(|&tb| (tb, lay.freqs_hz.iter().map(|f| model.at_time(f64::from_bits(tb), f)).collect()))
        .collect()
}

fn check_row(lay: &Layout, block: &RowData, i: usize) -> Result<(), CalibError> {
    let d = block.data_desc_id[i];
    if d < 0 || d as usize >= lay.ddid_spw.len() {
        return Err(CalibError::InvalidArgument(format!("row {}: DATA_DESC_ID {d} outside 0..{}", block.row0 + i, lay.ddid_spw.len())));
    }
    for a in [block.antenna1[i], block.antenna2[i]] {
        if a < 0 || a as usize >= lay.slot.len() {
            return Err(CalibError::InvalidArgument(format!("row {}: antenna {a} outside 0..{}", block.row0 + i, lay.slot.len())));
        }
    }
    Ok(())
}

/// Adds one block; returns (parallel-hand cross-correlation samples, samples used).
fn add_block(
    acc: &mut Accum,
    lay: &Layout,
    model: &SkyModel,
    block: &RowData,
    interval_of: &HashMap<u64, usize>,
    uvrange: &UvRange,
    per_int: usize,
) -> Result<(u64, u64), CalibError> {
    let tms = time_models(model, lay, block);
    let (nchan, ncorr) = (lay.n_chan, block.ncorr);
    // Rows of the block by (interval, pair), cross-correlations only.
    let mut work: Vec<(usize, usize, usize)> = Vec::with_capacity(block.n_rows);
    for i in 0..block.n_rows {
        check_row(lay, block, i)?;
        let (a1, a2) = (block.antenna1[i] as usize, block.antenna2[i] as usize);
        if a1 == a2 {
            continue;
        }
        let (Some(s1), Some(s2)) = (lay.slot[a1], lay.slot[a2]) else { continue };
        let k = *interval_of.get(&block.time_mjd_s[i].to_bits()).ok_or_else(|| CalibError::InvalidArgument(format!("row {}: time not in the plan", block.row0 + i)))?;
        let pair = if s1 < s2 { lay.pair(s1, s2) } else { lay.pair(s2, s1) };
        work.push((k, pair, i));
    }
    work.sort_unstable();
    let per_pair = lay.n_gchan() * 2;
    let mut total = 0u64;
    let mut used = 0u64;
    for k in 0..lay.intervals.len() {
        let lo = work.partition_point(|w| w.0 < k);
        let hi = work.partition_point(|w| w.0 <= k);
        if lo == hi {
            continue;
        }
        let rows = &work[lo..hi];
        let cells = &mut acc.cells[k * per_int..(k + 1) * per_int];
        let (t, u) = cells
            .par_chunks_mut(per_pair)
            .enumerate()
            .map_init(
                || vec![Complex32::default(); nchan],
                |scratch, (pair, cells)| {
                    let a = rows.partition_point(|w| w.1 < pair);
                    let b = rows.partition_point(|w| w.1 <= pair);
                    let (mut t, mut u) = (0u64, 0u64);
                    for &(_, _, i) in &rows[a..b] {
                        let (tt, uu) = add_row(lay, model, block, &tms, uvrange, i, scratch, cells);
                        t += tt;
                        u += uu;
                    }
                    (t, u)
                },
            )
            .reduce(|| (0, 0), |x, y| (x.0 + y.0, x.1 + y.1));
        total += t;
        used += u;
    }
    let _ = ncorr;
    Ok((total, used))
}

#[allow(clippy::too_many_arguments)]
fn add_row(
    lay: &Layout,
    model: &SkyModel,
    block: &RowData,
    tms: &HashMap<u64, Vec<TimeModel>>,
    uvrange: &UvRange,
    i: usize,
    scratch: &mut [Complex32],
    cells: &mut [Cell],
) -> (u64, u64) {
    let (nchan, ncorr) = (lay.n_chan, block.ncorr);
    let d = block.data_desc_id[i] as usize;
    let spw = lay.ddid_spw[d];
    let freqs = &lay.freqs_hz[spw];
    let uvw = block.uvw_m[i];
    let tm = &tms[&block.time_mjd_s[i].to_bits()][spw];
    model.visibilities(tm, uvw, freqs, lay.uniform[spw], scratch);
    // The pair is stored as (low slot, high slot): a row with ANTENNA1 > ANTENNA2 (in compact
    // order) holds the conjugate of the stored pair's visibility.
    let swap = lay.slot[block.antenna1[i] as usize] > lay.slot[block.antenna2[i] as usize];
    let uv_m = (uvw[0] * uvw[0] + uvw[1] * uvw[1]).sqrt();
    let base = i * nchan * ncorr;
    let (mut total, mut used) = (0u64, 0u64);
    let flag_row = block.flag_row[i];
    if ncorr == 2 && lay.ddid_hands[d] == [Some(0), Some(1)] && uvrange.is_all() {
        // The common cell, [chan][XX, YY]: sample x of the row is cell x of the spw.
        let n = nchan * 2;
        let cells = &mut cells[spw * n..(spw + 1) * n];
        if flag_row {
            return (n as u64, 0);
        }
        let used = add_parallel_hands(cells, &block.data[base..base + n], &block.weight[base..base + n], &block.flag[base..base + n], &scratch[..nchan], swap);
        return (n as u64, used);
    }
    for c in 0..nchan {
        if !uvrange.is_all() && !uvrange.accepts(uv_m, freqs[c]) {
            total += lay.ddid_hands[d].iter().flatten().count() as u64;
            continue;
        }
        let m = scratch[c];
        let q = m.norm_sqr();
        for (hand, corr) in lay.ddid_hands[d].iter().enumerate() {
            let Some(corr) = *corr else { continue };
            total += 1;
            let x = base + c * ncorr + corr;
            let w = block.weight[x];
            let v = block.data[x];
            // `w > 0.0` is false for NaN weights too.
            let usable = w > 0.0 && v.re.is_finite() && v.im.is_finite();
            if flag_row || block.flag[x] || !usable {
                continue;
            }
            used += 1;
            let vm = v * m.conj();
            let cell = &mut cells[(spw * nchan + c) * 2 + hand];
            cell.r += if swap { vm.conj() } else { vm } * w;
            cell.q += w * q;
            cell.s += w * v.norm_sqr();
            cell.n += 1;
        }
    }
    (total, used)
}

/// [`add_row`] for a `[chan][XX, YY]` row without uv-range cuts: branch-free per sample.
fn add_parallel_hands(cells: &mut [Cell], data: &[Complex32], weight: &[f32], flag: &[bool], model: &[Complex32], swap: bool) -> u64 {
    let mut used = 0u64;
    for (((cells, data), (weight, flag)), &m) in cells.chunks_exact_mut(2).zip(data.chunks_exact(2)).zip(weight.chunks_exact(2).zip(flag.chunks_exact(2))).zip(model) {
        let q = m.norm_sqr();
        for h in 0..2 {
            let (v, w) = (data[h], weight[h]);
            // `w > 0.0` is false for NaN weights too; a sample left out adds exact zeros (a
            // select, not a product with 0, which NaN data would poison).
            let usable = w > 0.0 && v.re.is_finite() && v.im.is_finite() && !flag[h];
            let vm = v * m.conj();
            let vm = if swap { vm.conj() } else { vm };
            let cell = &mut cells[h];
            cell.r += if usable { vm * w } else { Complex32::default() };
            cell.q += if usable { w * q } else { 0.0 };
            cell.s += if usable { w * v.norm_sqr() } else { 0.0 };
            cell.n += usable as u32;
            used += usable as u64;
        }
    }
    used
}

/// The model of every row of a block, `[row][chan][corr]`, for MODEL_DATA (parallel hands).
fn block_model(lay: &Layout, model: &SkyModel, block: &RowData) -> Result<Vec<Complex32>, CalibError> {
    let tms = time_models(model, lay, block);
    let (nchan, ncorr) = (block.nchan, block.ncorr);
    let mut out = vec![Complex32::default(); block.n_rows * nchan * ncorr];
    for i in 0..block.n_rows {
        check_row(lay, block, i)?;
    }
    out.par_chunks_mut((nchan * ncorr).max(1)).enumerate().for_each_init(
        || vec![Complex32::default(); nchan],
        |scratch, (i, row)| {
            let d = block.data_desc_id[i] as usize;
            let spw = lay.ddid_spw[d];
            let tm = &tms[&block.time_mjd_s[i].to_bits()][spw];
            model.visibilities(tm, block.uvw_m[i], &lay.freqs_hz[spw], lay.uniform[spw], scratch);
            for c in 0..nchan {
                for corr in lay.ddid_hands[d].iter().flatten() {
                    row[c * ncorr + corr] = scratch[c];
                }
            }
        },
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_cells_are_default_cells() {
        assert!(zeroed_cells(0).unwrap().is_empty());
        let cells = zeroed_cells(100_003).unwrap();
        assert_eq!(cells.len(), 100_003);
        let d = Cell::default();
        assert!(cells.iter().all(|c| c.r == d.r && c.q == d.q && c.s == d.s && c.n == d.n));
        // An impossible size is an error, not an abort.
        assert!(zeroed_cells(usize::MAX / 8).is_err());
    }
}
