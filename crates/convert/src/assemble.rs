//! Stage 2 of a conversion, for one block of rows: read every file straight into the output
//! rows, then finish each row (cross hands, rotation, conjugation, flags, weights).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use num_complex::Complex32;
use phasing::Phasor;
use rayon::prelude::*;

use crate::{ConvertError, Plan, StageTimes};

/// One block of output rows, ready for the writer.
#[derive(Default)]
pub(crate) struct Assembled {
    pub(crate) block: usize,
    pub(crate) data: Vec<Complex32>,
    pub(crate) flag: Vec<bool>,
    pub(crate) weight_spectrum: Vec<f32>,
    pub(crate) weight: Vec<f32>,
    pub(crate) sigma: Vec<f32>,
    pub(crate) flag_row: Vec<bool>,
    /// NaN/Inf samples found (and flagged) in this block.
    pub(crate) non_finite: u64,
    /// NaN/Inf nsamples found (flagged, weight 0) in this block.
    pub(crate) non_finite_nsamples: u64,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn produce(
    plan: &Plan,
    phasor: &Phasor,
    spw: usize,
    rows: std::ops::Range<usize>,
    out: &mut Assembled,
    times: &mut StageTimes,
    bytes_read: &AtomicU64,
) -> Result<(), ConvertError> {
    let spw_plan = &plan.spws[spw];
    let n = rows.len();
    let nchan = spw_plan.freqs_hz.len();
    let ncorr = plan.pol_perm.len();
    let cell = nchan * ncorr;

    // Where each file's channels and polarisations go in the output rows (MS polarisation
    // order, ascending channels); files this window does not use are skipped.
    let inv_perm: Vec<usize> = {
        let mut v = vec![0; ncorr];
        for (k, &p) in plan.pol_perm.iter().enumerate() {
            v[p] = k;
        }
        v
    };
    let mut chan_offsets: Vec<Option<Vec<usize>>> = plan.files.iter().map(|_| None).collect();
    for (j, src) in spw_plan.sources.iter().enumerate() {
        if let Some((f, c)) = src {
            let offs = chan_offsets[*f].get_or_insert_with(|| vec![uvh5::SKIP; plan.files[*f].header().n_freqs]);
            offs[*c] = j * ncorr;
        }
    }

    out.data.resize(n * cell, Complex32::default());
    out.flag.resize(n * cell, false);
    out.weight_spectrum.resize(n * cell, 0.0);
    out.weight.resize(n * ncorr, 0.0);
    out.sigma.resize(n * ncorr, 0.0);
    out.flag_row.resize(n, false);

    let missing: Vec<(usize, usize)> =
        spw_plan.segments().iter().filter(|s| s.source.is_none()).map(|s| (s.out_start * ncorr, s.len * ncorr)).collect();
    let files: Vec<(usize, &Vec<usize>)> = chan_offsets.iter().enumerate().filter_map(|(f, o)| o.as_ref().map(|o| (f, o))).collect();
    let slice_rows = slice_rows(plan, &files);

    // Slices of rows, each read from every file and then finished while it is still in the
    // core's cache: a whole block (160 MB) read first and finished in a second pass came back
    // from memory for that pass, which on a 2-core machine cost more than the arithmetic.
    let t = Instant::now();
    let [non_finite_vis, non_finite_nsamples, read_ns] = out
        .data
        .par_chunks_mut(slice_rows * cell)
        .zip(out.flag.par_chunks_mut(slice_rows * cell))
        .zip(out.weight_spectrum.par_chunks_mut(slice_rows * cell))
        .zip(out.weight.par_chunks_mut(slice_rows * ncorr))
        .zip(out.sigma.par_chunks_mut(slice_rows * ncorr))
        .zip(out.flag_row.par_chunks_mut(slice_rows))
        .enumerate()
        .map_init(
            || (Vec::with_capacity(nchan), Vec::with_capacity(nchan)),
            |(phases, scratch), (s, (((((data, flag), wspec), weight), sigma), flag_row))| -> Result<[u64; 3], ConvertError> {
                let r0 = rows.start + s * slice_rows;
                let slice = r0..r0 + flag_row.len();
                let t_read = Instant::now();
                {
                    let (vis, flags, ns) = (uvh5::Sink::new(data), uvh5::Sink::new(flag), uvh5::Sink::new(wspec));
                    for &(f, offs) in &files {
                        let place = uvh5::Placement { row_stride: cell, chan_offset: offs, pol_offset: &inv_perm };
                        plan.files[f].read_block_placed(slice.clone(), &place, &vis, &flags, &ns)?;
                        bytes_read.fetch_add((slice.len() * offs.len() * ncorr * 13) as u64, Ordering::Relaxed);
                    }
                }
                let read_ns = t_read.elapsed().as_nanos() as u64;
                let mut counts = [0u64, 0, read_ns];
                for (i, r) in slice.enumerate() {
                    let row = RowCells {
                        data: &mut data[i * cell..(i + 1) * cell],
                        flag: &mut flag[i * cell..(i + 1) * cell],
                        wspec: &mut wspec[i * cell..(i + 1) * cell],
                        weight: &mut weight[i * ncorr..(i + 1) * ncorr],
                        sigma: &mut sigma[i * ncorr..(i + 1) * ncorr],
                        flag_row: &mut flag_row[i],
                    };
                    let [a, b] = finish_row(plan, phasor, r, row, &missing, phases, scratch);
                    counts[0] += a;
                    counts[1] += b;
                }
                Ok(counts)
            },
        )
        .try_reduce(|| [0, 0, 0], |a, b| Ok([a[0] + b[0], a[1] + b[1], a[2] + b[2]]))?;
    let elapsed = t.elapsed().as_secs_f64();
    // Reading and finishing interleave per slice; split the wall time by their measured share
    // of thread time, and the finishing by its measured cost ratio (assembly ~1 : rotation ~2).
    let threads = rayon::current_num_threads().min(n.div_ceil(slice_rows)).max(1) as f64;
    let read_share = (read_ns as f64 / 1e9 / threads / elapsed.max(1e-9)).min(1.0);
    times.read += elapsed * read_share;
    times.assemble += elapsed * (1.0 - read_share) / 3.0;
    times.phase += elapsed * (1.0 - read_share) * 2.0 / 3.0;
    out.non_finite = non_finite_vis;
    out.non_finite_nsamples = non_finite_nsamples;
    Ok(())
}

/// Rows per slice of a block: a multiple of the files' chunk height (so that no chunk is read
/// twice) near 256 rows, whose visibilities, flags and weights (~10 MB for DSA-110's 768
/// channels) stay in a core's cache between reading and finishing them.
fn slice_rows(plan: &Plan, files: &[(usize, &Vec<usize>)]) -> usize {
    const TARGET_ROWS: usize = 256;
    let heights: Vec<usize> = files.iter().filter_map(|&(f, _)| plan.files[f].rows_per_chunk()).collect();
    match heights.first() {
        Some(&h) if h > 0 && heights.iter().all(|&x| x == h) => h * TARGET_ROWS.div_ceil(h).max(1),
        _ => TARGET_ROWS,
    }
}

/// The output cells of one row.
struct RowCells<'a> {
    data: &'a mut [Complex32],
    flag: &'a mut [bool],
    wspec: &'a mut [f32],
    weight: &'a mut [f32],
    sigma: &'a mut [f32],
    flag_row: &'a mut bool,
}

/// Finishes row `r` as read from the files: swaps cross hands, rotates, conjugates as
/// write_ms does, flags and weighs. Returns the NaN/Inf visibilities and nsamples it found.
fn finish_row(
    plan: &Plan,
    phasor: &Phasor,
    r: usize,
    row: RowCells,
    missing: &[(usize, usize)],
    phases: &mut Vec<Complex32>,
    scratch: &mut Vec<f32>,
) -> [u64; 2] {
    let RowCells { data, flag, wspec, weight, sigma, flag_row } = row;
    let rows_meta = &plan.rows;
    let ncorr = plan.pol_perm.len();
    let cell = data.len();
    let nchan = cell / ncorr;
    let parallel = &plan.parallel;
    for &(start, len) in missing {
        data[start..start + len].fill(Complex32::default());
        flag[start..start + len].fill(true);
        wspec[start..start + len].fill(0.0);
    }
    // A row conjugated from ant1 > ant2 takes its XY from the file's YX and vice versa (with
    // their flags and weights), as pyuvdata's conjugate_bls does.
    if let (true, Some((a, b))) = (rows_meta.swapped[r], plan.cross_pair) {
        for o in (0..cell).step_by(ncorr) {
            data.swap(o + a, o + b);
            flag.swap(o + a, o + b);
            wspec.swap(o + a, o + b);
        }
    }
    let dw = rows_meta.dw_m[r];
    let rotate = dw != 0.0;
    if rotate {
        phasor.fill(dw, phases);
    }
    let auto = rows_meta.is_auto[r];
    // Conjugation before (input convention) and after (write_ms) collapse into a sign on the
    // input and one on the output. Autocorrelations are real in the parallel hands only: an XY
    // autocorrelation is complex (YX is its conjugate).
    let sign_in = if plan.conj_in { -1.0f32 } else { 1.0 };
    let conj_out = if rows_meta.conj_out[r] { -1.0f32 } else { 1.0 };
    let mut sign_out = [conj_out; 4];
    for k in 0..ncorr {
        if auto && parallel[k] {
            sign_out[k] = 0.0;
        }
    }
    let mut non_finite = 0u64;
    let mut bad_nsamples = 0u64;
    let mut all_flagged = true;
    let mut lo = [f32::INFINITY; 4];
    let mut hi = [f32::NEG_INFINITY; 4];
    for (j, ((d, fl), ws)) in data.chunks_exact_mut(ncorr).zip(flag.chunks_exact_mut(ncorr)).zip(wspec.chunks_exact_mut(ncorr)).enumerate() {
        let p = if rotate { phases[j] } else { Complex32::new(1.0, 0.0) };
        for k in 0..ncorr {
            // NaN or Inf is no measurement: flagged, and zeroed so that a tool that ignores
            // flags (or multiplies by a zero weight) is not poisoned.
            let finite = d[k].re.is_finite() && d[k].im.is_finite();
            if finite {
                let v = Complex32::new(d[k].re, sign_in * d[k].im);
                let z = if rotate { v * p } else { v };
                d[k] = Complex32::new(z.re, sign_out[k] * z.im);
            } else {
                d[k] = Complex32::default();
                non_finite += 1;
            }
            // nsamples = 0 means no data: flagged whatever the flag says. A NaN or Inf
            // nsamples is no weight at all: flagged, and 0 in WEIGHT_SPECTRUM so that WEIGHT
            // (its median) and SIGMA stay finite.
            if !ws[k].is_finite() {
                ws[k] = 0.0;
                bad_nsamples += 1;
            }
            let n = ws[k];
            let f = fl[k] || n == 0.0 || !finite;
            fl[k] = f;
            all_flagged &= f;
            lo[k] = lo[k].min(n);
            hi[k] = hi[k].max(n);
        }
    }
    for k in 0..ncorr {
        // numpy's median; constant spectra (the usual case) need no sort.
        let w = if lo[k] == hi[k] {
            lo[k]
        } else {
            scratch.clear();
            scratch.extend((0..nchan).map(|j| wspec[j * ncorr + k]));
            median(scratch)
        };
        weight[k] = w;
        sigma[k] = if w > 0.0 { 1.0 / w.sqrt() } else { 0.0 };
    }
    *flag_row = all_flagged;
    [non_finite, bad_nsamples]
}

/// numpy's median: the mean of the two middle values for an even count (reorders `v`).
fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let n = v.len();
    let mid = n / 2;
    let (_, &mut upper, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    if n % 2 == 1 {
        return upper;
    }
    let lower = v[..mid].iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (lower + upper) / 2.0
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_matches_numpy() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [96.0; 10]), 96.0);
        assert_eq!(median(&mut [0.0, 96.0, 96.0, 0.0]), 48.0);
    }
}
