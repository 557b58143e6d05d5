//! The MS as per-baseline time–frequency planes: DATA is read once, in blocks of rows, and
//! reduced to one amplitude per (baseline, time, channel) — the mean of the correlations'
//! amplitudes (interference hits them alike; the flags apply to all) — with the number of
//! correlations the existing FLAG flags in each (the FLAG itself is read again when the result
//! is OR-ed into it: a full group's would be 0.17 GB more memory to fault in). The spectral windows of a baseline are
//! joined into one plane, channels in ascending frequency (so the 16-subband layout gives the
//! same 768-channel planes as the single window).

use std::collections::HashMap;
use std::path::Path;

use casacore_sys::Table;
use ms::MsReader;
use num_complex::Complex32;
use rayon::prelude::*;

use crate::CalibError;

/// A baseline (all its data descriptions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Baseline {
    pub ant1: i32,
    pub ant2: i32,
}

impl Baseline {
    pub fn is_auto(&self) -> bool {
        self.ant1 == self.ant2
    }
}

/// Where each MAIN row sits: `row_cell[row] = baseline * n_time + time`, its channels at
/// `ddid_chans[row_ddid[row]]` of the plane's `n_chan`.
pub struct Layout {
    pub baselines: Vec<Baseline>,
    pub times_mjd_s: Vec<f64>,
    /// Channels of a plane (all windows).
    pub n_chan: usize,
    /// Channels of a DATA cell (one window).
    pub row_chans: usize,
    pub n_corr: usize,
    pub n_ant: usize,
    pub n_rows: usize,
    pub row_cell: Vec<usize>,
    pub row_ddid: Vec<usize>,
    /// Per DATA_DESC_ID (dense index of those in MAIN): the plane channel of each DATA channel.
    pub ddid_chans: Vec<Vec<usize>>,
}

impl Layout {
    pub fn n_time(&self) -> usize {
        self.times_mjd_s.len()
    }

    pub fn plane_len(&self) -> usize {
        self.n_time() * self.n_chan
    }

    /// Plane channels within `n` channels of either end of any window.
    pub fn edge_channels(&self, n: usize) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .ddid_chans
            .iter()
            .flat_map(|m| {
                let n = n.min(m.len());
                m[..n].iter().chain(&m[m.len() - n..]).copied().collect::<Vec<_>>()
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// The planes: `amp[(baseline * n_time + time) * n_chan + chan]`; `orig` the same, how many
/// correlations FLAG flags there (all of them where no row holds the cell);
/// `present[baseline * n_time + time]` whether a row holds that cell.
pub struct Planes {
    pub amp: Vec<f32>,
    pub orig: Vec<u8>,
    pub present: Vec<bool>,
}

fn rd(path: &Path) -> impl Fn(casacore_sys::CasaError) -> CalibError + '_ {
    move |e| CalibError::Input { path: path.to_path_buf(), message: e.message }
}

/// The row → (baseline, time) map, from TIME, ANTENNA1/2 and DATA_DESC_ID.
pub fn layout(reader: &MsReader) -> Result<Layout, CalibError> {
    let path = reader.path();
    let input = |m: String| CalibError::Input { path: path.to_path_buf(), message: m };
    let [n_corr, row_chans] = reader.cell_shape("DATA")?.ok_or_else(|| input("DATA has no cell shape".into()))?;
    let n_ant = reader.antennas()?.len();
    let n_rows = reader.n_rows();
    let t = reader.main_table();
    let time: Vec<f64> = t.get_scalars("TIME", 0, n_rows).map_err(rd(path))?;
    let a1: Vec<i32> = t.get_scalars("ANTENNA1", 0, n_rows).map_err(rd(path))?;
    let a2: Vec<i32> = t.get_scalars("ANTENNA2", 0, n_rows).map_err(rd(path))?;
    let dd: Vec<i32> = t.get_scalars("DATA_DESC_ID", 0, n_rows).map_err(rd(path))?;
    for (r, (&x, &y)) in a1.iter().zip(&a2).enumerate() {
        if x < 0 || y < 0 || x as usize >= n_ant || y as usize >= n_ant {
            return Err(input(format!("row {r}: antennas ({x}, {y}) outside the {n_ant} of the ANTENNA table")));
        }
    }
    let mut times: Vec<f64> = time.clone();
    times.sort_by(f64::total_cmp);
    times.dedup();
    // The windows in MAIN, their channels placed on one ascending frequency axis.
    let ddid_spw = reader.ddid_to_spw()?;
    let spws = reader.spectral_windows()?;
    let mut ddids: Vec<i32> = dd.clone();
    ddids.sort_unstable();
    ddids.dedup();
    let mut all: Vec<(f64, usize, usize)> = Vec::new();
    for (k, &d) in ddids.iter().enumerate() {
        let spw = usize::try_from(d).ok().and_then(|d| ddid_spw.get(d)).and_then(|&s| usize::try_from(s).ok());
        let freqs = spw.and_then(|s| spws.get(s)).map(|s| &s.chan_freq_hz).ok_or_else(|| input(format!("DATA_DESC_ID {d} has no spectral window")))?;
        if freqs.len() != row_chans {
            return Err(input(format!("DATA_DESC_ID {d}: {} channels, DATA cells {row_chans}", freqs.len())));
        }
        all.extend(freqs.iter().enumerate().map(|(c, &f)| (f, k, c)));
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut ddid_chans = vec![vec![0usize; row_chans]; ddids.len()];
    for (g, &(_, k, c)) in all.iter().enumerate() {
        ddid_chans[k][c] = g;
    }
    let mut baselines: Vec<Baseline> = (0..n_rows).map(|r| Baseline { ant1: a1[r], ant2: a2[r] }).collect();
    baselines.sort_unstable();
    baselines.dedup();
    let bl_index: HashMap<Baseline, usize> = baselines.iter().enumerate().map(|(i, b)| (*b, i)).collect();
    let n_time = times.len();
    let mut seen = vec![false; baselines.len() * n_time * ddids.len()];
    let mut row_cell = Vec::with_capacity(n_rows);
    let mut row_ddid = Vec::with_capacity(n_rows);
    for r in 0..n_rows {
        let b = bl_index[&Baseline { ant1: a1[r], ant2: a2[r] }];
        let ti = times.partition_point(|&x| x < time[r]);
        let k = ddids.binary_search(&dd[r]).expect("a DATA_DESC_ID of MAIN");
        let cell = b * n_time + ti;
        if std::mem::replace(&mut seen[cell * ddids.len() + k], true) {
            return Err(input(format!("row {r}: a second row for baseline ({}, {}), DATA_DESC_ID {} at TIME {}", a1[r], a2[r], dd[r], time[r])));
        }
        row_cell.push(cell);
        row_ddid.push(k);
    }
    Ok(Layout { baselines, times_mjd_s: times, n_chan: all.len(), row_chans, n_corr, n_ant, n_rows, row_cell, row_ddid, ddid_chans })
}

/// Reads DATA and FLAG once, `block_rows` rows per casacore call, into planes.
pub fn read_planes(
    reader: &MsReader,
    lay: &Layout,
    block_rows: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Planes, CalibError> {
    let path = reader.path();
    let (n_chan, n_corr, n_time, row_chans) = (lay.n_chan, lay.n_corr, lay.n_time(), lay.row_chans);
    let n_cells = lay.baselines.len() * n_time;
    let mut amp = vec![0.0f32; n_cells * n_chan];
    let mut orig = vec![n_corr as u8; n_cells * n_chan];
    let mut present = vec![false; n_cells];
    let t = reader.main_table();
    let cell = [n_corr, row_chans];
    let per_row = n_corr * row_chans;
    let read = |row0: usize, n: usize, (mut data, mut fl): (Vec<Complex32>, Vec<bool>)| -> Result<(Vec<Complex32>, Vec<bool>), CalibError> {
        data.resize(n * per_row, Complex32::default());
        fl.resize(n * per_row, false);
        t.get_arrays_into("DATA", row0, n, &cell, &mut data).map_err(rd(path))?;
        t.get_arrays_into("FLAG", row0, n, &cell, &mut fl).map_err(rd(path))?;
        Ok((data, fl))
    };
    // Rows of one block go to distinct cells: scattered through raw pointers in parallel, on
    // a scoped thread while this one reads the next block (casacore's reads are serial).
    let amp_ptr = SyncPtr(amp.as_mut_ptr());
    let orig_ptr = SyncPtr(orig.as_mut_ptr());
    let scatter = |row0: usize, n: usize, data: &[Complex32], fl: &[bool]| {
        (0..n).into_par_iter().for_each(|i| {
            let c = lay.row_cell[row0 + i];
            let chans = &lay.ddid_chans[lay.row_ddid[row0 + i]];
            let d = &data[i * per_row..(i + 1) * per_row];
            let f = &fl[i * per_row..(i + 1) * per_row];
            for (ch, &g) in chans.iter().enumerate() {
                // |V| in f64 (no libm hypot call; the same value to f32 rounding).
                let s: f32 = d[ch * n_corr..(ch + 1) * n_corr].iter().map(|v| ((v.re as f64).powi(2) + (v.im as f64).powi(2)).sqrt() as f32).sum();
                // SAFETY: (cell, window) is unique per row (checked in `layout`) and windows
                // map to distinct plane channels, so no two rows write the same element; the
                // indices are within the vectors' lengths.
                unsafe {
                    *amp_ptr.get().add(c * n_chan + g) = s / n_corr as f32;
                    *orig_ptr.get().add(c * n_chan + g) = f[ch * n_corr..(ch + 1) * n_corr].iter().filter(|&&x| x).count() as u8;
                }
            }
        });
    };
    let mut spare = (Vec::new(), Vec::new());
    let mut row0 = 0;
    let mut current = if lay.n_rows > 0 { Some(read(0, block_rows.min(lay.n_rows), (Vec::new(), Vec::new()))?) } else { None };
    while let Some((data, fl)) = current.take() {
        if cancelled() {
            return Err(CalibError::Cancelled);
        }
        let n = block_rows.min(lay.n_rows - row0);
        let next_row0 = row0 + n;
        let next = std::thread::scope(|s| {
            s.spawn(|| scatter(row0, n, &data, &fl));
            (next_row0 < lay.n_rows).then(|| read(next_row0, block_rows.min(lay.n_rows - next_row0), std::mem::take(&mut spare)))
        });
        for i in 0..n {
            present[lay.row_cell[row0 + i]] = true;
        }
        row0 = next_row0;
        progress(row0, lay.n_rows);
        current = next.transpose()?;
        spare = (data, fl);
    }
    Ok(Planes { amp, orig, present })
}

#[derive(Clone, Copy)]
struct SyncPtr<T>(*mut T);
// SAFETY: used only for disjoint writes (see read_planes).
unsafe impl<T> Send for SyncPtr<T> {}
unsafe impl<T> Sync for SyncPtr<T> {}
impl<T> SyncPtr<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// ORs the cell mask into FLAG of `table` (the staged copy, which holds the original FLAG),
/// `block_rows` rows at a time: a flagged cell is flagged in every correlation, and the rest
/// of FLAG is kept as it was. Returns FLAG_ROW: rows flagged in every channel.
pub fn write_flags(
    table: &mut Table,
    path: &Path,
    lay: &Layout,
    mask: &[bool],
    block_rows: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<bool>, CalibError> {
    let cell = [lay.n_corr, lay.row_chans];
    let per_row = lay.n_corr * lay.row_chans;
    let io = |what: &str, e: casacore_sys::CasaError| CalibError::Io { path: path.to_path_buf(), message: format!("{what} FLAG: {}", e.message) };
    let mut buf: Vec<bool> = Vec::new();
    let mut flag_row = Vec::with_capacity(lay.n_rows);
    let mut row0 = 0;
    while row0 < lay.n_rows {
        let n = block_rows.min(lay.n_rows - row0);
        buf.resize(n * per_row, false);
        table.get_arrays_into("FLAG", row0, n, &cell, &mut buf).map_err(|e| io("read", e))?;
        for (i, row) in buf.chunks_mut(per_row).enumerate() {
            let (c, chans) = (lay.row_cell[row0 + i], &lay.ddid_chans[lay.row_ddid[row0 + i]]);
            for (ch, &g) in chans.iter().enumerate() {
                if mask[c * lay.n_chan + g] {
                    row[ch * lay.n_corr..(ch + 1) * lay.n_corr].fill(true);
                }
            }
            flag_row.push(row.iter().all(|&f| f));
        }
        table.put_arrays("FLAG", row0, n, &cell, &buf).map_err(|e| io("write", e))?;
        row0 += n;
        progress(row0, lay.n_rows);
    }
    Ok(flag_row)
}
