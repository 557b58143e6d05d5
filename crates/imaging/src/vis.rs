//! Stokes I visibilities from a Measurement Set, read by row chunks.
//!
//! Only what imaging needs stays in memory: per spectral window, the cross-correlation rows'
//! UVW, Stokes I `(XX + YY)/2` (or `(RR + LL)/2`, or `I` itself) as complex64 and one weight per
//! visibility — 12 bytes per visibility against the 40 of the MS's two-correlation DATA, FLAG
//! and WEIGHT_SPECTRUM. A sample is dropped (weight 0) when either correlation is flagged, as
//! CASA and WSClean do, so that a polarised source cannot leak into I through one-sided flags.

use std::path::Path;

use ms::{corr, MsReader, RowData};
use num_complex::Complex32;

use crate::error::ImagingError;

/// The MS correlation code of Stokes I.
const STOKES_I: i32 = 1;

/// Rows read per casacore call: ~100 MB of two-correlation DATA/FLAG/WEIGHT at 768 channels.
const CHUNK_ROWS: usize = 8192;

/// One spectral window's worth of Stokes I samples, `[row][chan]`.
#[derive(Debug, Default)]
pub struct SpwVis {
    pub spw: usize,
    pub freq_hz: Vec<f64>,
    pub uvw_m: Vec<[f64; 3]>,
    pub vis: Vec<Complex32>,
    /// Natural weight of each Stokes I sample (0 for flagged).
    pub weight: Vec<f32>,
}

impl SpwVis {
    pub fn n_rows(&self) -> usize {
        self.uvw_m.len()
    }
    pub fn n_vis(&self) -> usize {
        self.vis.len()
    }
}

/// Everything the imager takes from the MS.
#[derive(Debug)]
pub struct StokesI {
    pub spws: Vec<SpwVis>,
    /// ICRS phase centre (radians).
    pub phase_center: [f64; 2],
    pub field_name: String,
    /// Distinct integration midpoints (MJD seconds UTC), ascending.
    pub times_mjd_s: Vec<f64>,
    /// Cross-correlation rows read, and rows dropped because every sample was flagged.
    pub rows_read: usize,
    pub rows_flagged: usize,
    pub telescope: String,
    /// Array reference position (ITRF, m): OBSERVATION's TELESCOPE_LOCATION when the MS has it,
    /// else the mean of the unflagged antennas (never CASA's table of observatories by name).
    pub array_itrf_m: Option<[f64; 3]>,
}

/// Mean ITRF position of the unflagged antennas that have one (m).
fn mean_antenna_itrf_m(ms: &MsReader) -> Option<[f64; 3]> {
    let ants = ms.antennas().ok()?;
    let used: Vec<[f64; 3]> =
        ants.iter().filter(|a| !a.flagged && a.position_itrf_m.iter().any(|&v| v != 0.0)).map(|a| a.position_itrf_m).collect();
    if used.is_empty() {
        return None;
    }
    let n = used.len() as f64;
    Some([0, 1, 2].map(|k| used.iter().map(|p| p[k]).sum::<f64>() / n))
}

/// Longest projected baseline in wavelengths (at each channel's own frequency).
pub fn max_uv_lambda(spws: &[SpwVis]) -> f64 {
    let mut best = 0.0f64;
    for s in spws {
        let fmax = s.freq_hz.iter().copied().fold(0.0, f64::max);
        for uvw in &s.uvw_m {
            best = best.max((uvw[0] * uvw[0] + uvw[1] * uvw[1]).sqrt() * fmax / crate::C_M_S);
        }
    }
    best
}

/// Weighted mean frequency and the total span of the band (Hz).
pub fn band(spws: &[SpwVis]) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut swf, mut sw) = (0.0, 0.0);
    for s in spws {
        let nchan = s.freq_hz.len();
        for (k, &w) in s.weight.iter().enumerate() {
            swf += w as f64 * s.freq_hz[k % nchan];
            sw += w as f64;
        }
        for &f in &s.freq_hz {
            lo = lo.min(f);
            hi = hi.max(f);
        }
    }
    let mean = if sw > 0.0 { swf / sw } else { 0.5 * (lo + hi) };
    (mean, (hi - lo).max(0.0))
}

/// How Stokes I is formed from one data description's correlations.
#[derive(Debug, Clone, Copy)]
enum StokesFrom {
    /// Two parallel-hand correlations at these indices: I = (a + b) / 2.
    Pair(usize, usize),
    /// The data are already Stokes I.
    Direct(usize),
}

fn stokes_from(corr_types: &[i32], ms: &Path) -> Result<StokesFrom, ImagingError> {
    let find = |c: i32| corr_types.iter().position(|&x| x == c);
    if let (Some(a), Some(b)) = (find(corr::XX), find(corr::YY)) {
        return Ok(StokesFrom::Pair(a, b));
    }
    if let (Some(a), Some(b)) = (find(corr::RR), find(corr::LL)) {
        return Ok(StokesFrom::Pair(a, b));
    }
    if let Some(a) = find(STOKES_I) {
        return Ok(StokesFrom::Direct(a));
    }
    Err(ImagingError::NoStokesI {
        path: ms.to_path_buf(),
        corr_types: corr_types.iter().map(|&c| corr::name(c).to_owned()).collect(),
    })
}

/// Reads `column` (DATA, CORRECTED_DATA, MODEL_DATA) of every cross-correlation row.
/// `progress(rows_done, rows_total)` is called after each chunk; `cancelled` is polled.
pub fn read_stokes_i(
    path: &Path,
    column: &str,
    progress: &dyn Fn(usize, usize),
    cancelled: &dyn Fn() -> bool,
) -> Result<StokesI, ImagingError> {
    let ms = MsReader::open(path)?;
    if !ms.has_column(column) {
        return Err(ImagingError::MissingColumn { path: path.to_path_buf(), column: column.to_owned() });
    }
    let fields = ms.fields()?;
    let field = fields.first().ok_or_else(|| ImagingError::BadMs {
        path: path.to_path_buf(),
        reason: "the FIELD table is empty".into(),
    })?;
    // One image needs one phase centre: an MS with several (the old per-integration phasing)
    // would need its rows re-phased first.
    if let Some(other) = fields.iter().find(|f| {
        dsa110::beam::angular_distance(f.phase_dir[0], f.phase_dir[1], field.phase_dir[0], field.phase_dir[1]) > 1e-9
    }) {
        return Err(ImagingError::MultiplePhaseCenters {
            path: path.to_path_buf(),
            n_fields: fields.len(),
            first: field.name.clone(),
            other: other.name.clone(),
        });
    }
    if !matches!(field.frame.as_str(), "J2000" | "ICRS") {
        return Err(ImagingError::BadMs {
            path: path.to_path_buf(),
            reason: format!("FIELD PHASE_DIR is in frame {}, expected J2000 or ICRS", field.frame),
        });
    }
    let spws = ms.spectral_windows()?;
    let dds = ms.data_descriptions()?;
    let pols = ms.polarizations()?;
    let dd_info: Vec<(usize, StokesFrom)> = dds
        .iter()
        .map(|dd| {
            let spw = usize::try_from(dd.spectral_window_id).ok().filter(|&s| s < spws.len());
            let pol = usize::try_from(dd.polarization_id).ok().and_then(|p| pols.get(p));
            match (spw, pol) {
                (Some(s), Some(p)) => Ok((s, stokes_from(&p.corr_types, path)?)),
                _ => Err(ImagingError::BadMs {
                    path: path.to_path_buf(),
                    reason: format!(
                        "DATA_DESCRIPTION points at SPECTRAL_WINDOW {} / POLARIZATION {} that do not exist",
                        dd.spectral_window_id, dd.polarization_id
                    ),
                }),
            }
        })
        .collect::<Result<_, _>>()?;
    let mut out: Vec<SpwVis> = spws
        .iter()
        .enumerate()
        .map(|(i, s)| SpwVis { spw: i, freq_hz: s.chan_freq_hz.clone(), ..Default::default() })
        .collect();
    let observation = ms.observations().ok().and_then(|o| o.into_iter().next());
    let telescope = observation.as_ref().map(|o| o.telescope_name.clone()).unwrap_or_default();
    let array_itrf_m = observation.and_then(|o| o.telescope_location_itrf_m).or_else(|| mean_antenna_itrf_m(&ms));

    let n_rows = ms.n_rows();
    let mut rd = RowData::default();
    let (mut rows_read, mut rows_flagged) = (0usize, 0usize);
    let mut times: Vec<f64> = Vec::new();
    let mut r0 = 0;
    while r0 < n_rows {
        if cancelled() {
            return Err(ImagingError::Cancelled);
        }
        let r1 = (r0 + CHUNK_ROWS).min(n_rows);
        ms.read_rows_into(r0..r1, column, &mut rd)?;
        let (ncorr, nchan) = (rd.ncorr, rd.nchan);
        for r in 0..rd.n_rows {
            if rd.antenna1[r] == rd.antenna2[r] {
                continue;
            }
            let dd = usize::try_from(rd.data_desc_id[r]).ok().and_then(|d| dd_info.get(d)).ok_or_else(|| {
                ImagingError::BadMs { path: path.to_path_buf(), reason: format!("row {} has DATA_DESC_ID {}", r0 + r, rd.data_desc_id[r]) }
            })?;
            let (spw, from) = *dd;
            let s = &mut out[spw];
            if s.freq_hz.len() != nchan {
                return Err(ImagingError::BadMs {
                    path: path.to_path_buf(),
                    reason: format!("row {} has {nchan} channels but SPECTRAL_WINDOW {spw} has {}", r0 + r, s.freq_hz.len()),
                });
            }
            rows_read += 1;
            let t = rd.time_mjd_s[r];
            if times.last() != Some(&t) {
                times.push(t);
            }
            let base = r * nchan * ncorr;
            let mut any = false;
            let v0 = s.vis.len();
            s.vis.resize(v0 + nchan, Complex32::new(0.0, 0.0));
            s.weight.resize(v0 + nchan, 0.0);
            for c in 0..nchan {
                let k = base + c * ncorr;
                let (v, w) = if rd.flag_row[r] {
                    (Complex32::new(0.0, 0.0), 0.0)
                } else {
                    match from {
                        StokesFrom::Pair(a, b) => {
                            let (wa, wb) = (rd.weight[k + a], rd.weight[k + b]);
                            if rd.flag[k + a] || rd.flag[k + b] || !(wa > 0.0) || !(wb > 0.0) {
                                (Complex32::new(0.0, 0.0), 0.0)
                            } else {
                                // var(I) = (σa² + σb²)/4, so w_I = 4 wa wb / (wa + wb).
                                ((rd.data[k + a] + rd.data[k + b]) * 0.5, 4.0 * wa * wb / (wa + wb))
                            }
                        }
                        StokesFrom::Direct(a) => {
                            let wa = rd.weight[k + a];
                            if rd.flag[k + a] || !(wa > 0.0) {
                                (Complex32::new(0.0, 0.0), 0.0)
                            } else {
                                (rd.data[k + a], wa)
                            }
                        }
                    }
                };
                // A non-finite sample would poison the whole image: treat it as flagged.
                let (v, w) = if v.re.is_finite() && v.im.is_finite() && w.is_finite() { (v, w) } else { (Complex32::new(0.0, 0.0), 0.0) };
                any |= w > 0.0;
                s.vis[v0 + c] = v;
                s.weight[v0 + c] = w;
            }
            if any {
                s.uvw_m.push(rd.uvw_m[r]);
            } else {
                s.vis.truncate(v0);
                s.weight.truncate(v0);
                rows_flagged += 1;
            }
        }
        r0 = r1;
        progress(r0, n_rows);
    }
    times.sort_by(f64::total_cmp);
    times.dedup();
    out.retain(|s| s.n_rows() > 0);
    for s in &mut out {
        s.vis.shrink_to_fit();
        s.weight.shrink_to_fit();
        s.uvw_m.shrink_to_fit();
    }
    if out.is_empty() {
        return Err(ImagingError::NothingToImage { path: path.to_path_buf(), column: column.to_owned() });
    }
    Ok(StokesI {
        spws: out,
        phase_center: field.phase_dir,
        field_name: field.name.clone(),
        times_mjd_s: times,
        rows_read,
        rows_flagged,
        telescope,
        array_itrf_m,
    })
}
