//! Everything decided before the first visibility is read: which file feeds which output
//! channel, the row metadata (times, antennas, new uvw, phase rotation, field), and the
//! Measurement Set's subtables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use astro::{EopTable, Site};
use ms::{AntennaSpec, DirectionFrame, FieldSpec, HistoryEntry, MsSpec, ObservationSpec, SpwSpec};
use phasing::{ConventionCheck, InputPhase, UvwConvention};
use rayon::prelude::*;
use serde::Serialize;
use uvh5::{Header, OpenOptions, Phasing, Uvh5File};

use crate::error::ConvertError;
use crate::input_phase::{self, dsa_fringe_stop_centre, InputPhaseDecision};
use crate::pols;
use crate::{ConvertConfig, Input, PhaseMode, UvwChoice};

/// Where each output channel of one spectral window comes from.
#[derive(Debug, Clone)]
pub struct SpwPlan {
    pub name: String,
    /// Ascending channel centres (Hz) and positive widths.
    pub freqs_hz: Vec<f64>,
    pub widths_hz: Vec<f64>,
    /// For each output channel: (file index, channel index in that file), or `None` for a
    /// channel of a missing subband (written flagged).
    pub sources: Vec<Option<(usize, usize)>>,
}

/// A run of output channels fed by consecutive channels of one file (or by a missing
/// subband): the unit the converter's inner loop works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub out_start: usize,
    pub len: usize,
    /// (file, first input channel, +1 or −1 per output channel); `None` = missing.
    pub source: Option<(usize, usize, isize)>,
}

impl SpwPlan {
    pub fn segments(&self) -> Vec<Segment> {
        let mut out: Vec<Segment> = Vec::new();
        for (j, src) in self.sources.iter().enumerate() {
            if let Some(last) = out.last_mut() {
                let extends = match (last.source, src) {
                    (None, None) => true,
                    (Some((f, c0, step)), Some((f2, c))) if f == *f2 => {
                        let expect = c0 as isize + step * last.len as isize;
                        (last.len == 1 && (*c as isize - c0 as isize).abs() == 1) || (*c as isize == expect && last.len > 1)
                    }
                    _ => false,
                };
                if extends {
                    if let (Some((f, c0, _)), Some((_, c))) = (last.source, src) {
                        if last.len == 1 {
                            last.source = Some((f, c0, *c as isize - c0 as isize));
                        }
                    }
                    last.len += 1;
                    continue;
                }
            }
            out.push(Segment { out_start: j, len: 1, source: src.map(|(f, c)| (f, c, 1)) });
        }
        out
    }
}

/// Per baseline-time metadata, in file order.
#[derive(Debug, Default)]
pub struct Rows {
    pub time_mjd_s: Vec<f64>,
    /// INTERVAL = EXPOSURE per row: the file's integration_time, or for a legacy file that
    /// records the sample time there, the spacing of the integrations.
    pub interval_s: Vec<f64>,
    pub antenna1: Vec<i32>,
    pub antenna2: Vec<i32>,
    /// UVW as the MS stores it.
    pub uvw_ms: Vec<[f64; 3]>,
    /// w_new − w_old (m): the rotation applied to the (convention-normalised) data.
    pub dw_m: Vec<f64>,
    /// Conjugate the output (after rotation): true for every row, as pyuvdata's
    /// `write_ms(flip_conj=True)` does, except rows swapped to ant1 < ant2 (conjugated twice).
    pub conj_out: Vec<bool>,
    /// Rows swapped from ant1 > ant2 to ant1 < ant2: their cross hands trade places
    /// (V_pq(ij) = V_qp(ji)*).
    pub swapped: Vec<bool>,
    pub field_id: Vec<i32>,
    pub scan: Vec<i32>,
    pub is_auto: Vec<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldInfo {
    pub name: String,
    pub ra_deg: f64,
    pub dec_deg: f64,
}

pub struct Plan {
    pub group: String,
    pub files: Vec<Uvh5File>,
    /// The subband index of each file.
    pub subbands: Vec<usize>,
    pub missing: Vec<usize>,
    pub n_blts: usize,
    pub n_bls: usize,
    /// Output correlation k comes from file polarisation `pol_perm[k]`.
    pub pol_perm: Vec<usize>,
    /// Per output correlation: a parallel hand (real autocorrelations)?
    pub parallel: Vec<bool>,
    /// Output indices of the cross hands that swap in a swapped row.
    pub cross_pair: Option<(usize, usize)>,
    pub spws: Vec<SpwPlan>,
    pub rows: Rows,
    /// Convert stored data to the ant2 − ant1 convention by conjugating first.
    pub conj_in: bool,
    pub spec: MsSpec,
    pub fields: Vec<FieldInfo>,
    pub convention: Option<ConventionCheck>,
    pub input_phase: InputPhaseDecision,
    pub warnings: Vec<String>,
    pub bytes_in: u64,
}

pub fn plan(inputs: &[Input], cfg: &ConvertConfig) -> Result<Plan, ConvertError> {
    if inputs.is_empty() {
        return Err(ConvertError::InvalidArgument("no input files".into()));
    }
    let mut sorted: Vec<&Input> = inputs.iter().collect();
    sorted.sort_by_key(|i| i.subband);
    if let Some(w) = sorted.windows(2).find(|w| w[0].subband == w[1].subband) {
        return Err(ConvertError::InvalidArgument(format!(
            "subband {} is given twice ({} and {})",
            w[0].subband,
            w[0].path.display(),
            w[1].path.display()
        )));
    }
    // The first file is the reference; each other file is checked against it as it is opened
    // and then drops its own copy of the per-row header arrays, so that memory does not grow
    // with the number of integrations. (`open_each`: with isolation one child process checks
    // the files ahead of these opens.)
    let paths: Vec<&Path> = sorted.iter().map(|i| i.path.as_path()).collect();
    let mut files: Vec<Uvh5File> = Vec::with_capacity(paths.len());
    let mut first_error = None;
    Uvh5File::open_each(&paths, OpenOptions::default(), |i, opened| {
        if first_error.is_some() {
            return;
        }
        let checked = opened.map_err(ConvertError::from).and_then(|mut f| {
            if i > 0 {
                check_consistent(&files[0], &f)?;
                f.release_blt_arrays();
            }
            Ok(f)
        });
        match checked {
            Ok(f) => files.push(f),
            Err(e) => first_error = Some(e),
        }
    });
    if let Some(e) = first_error {
        return Err(e);
    }
    let subbands: Vec<usize> = sorted.iter().map(|i| i.subband).collect();
    let bytes_in = sorted.iter().map(|i| std::fs::metadata(&i.path).map(|m| m.len()).unwrap_or(0)).sum();
    let group = cfg.group_name.clone().unwrap_or_else(|| group_name(&sorted[0].path));

    let expected = cfg.expected_subbands.max(1);
    let missing: Vec<usize> = if files.len() > 1 || expected > 1 {
        (0..expected).filter(|sb| !subbands.contains(sb)).collect()
    } else {
        Vec::new()
    };
    if let Some(&bad) = subbands.iter().find(|&&sb| sb >= expected && expected > 1) {
        return Err(ConvertError::InvalidArgument(format!("subband {bad} is outside 0..{expected}")));
    }
    if !missing.is_empty() && !cfg.allow_missing {
        return Err(ConvertError::MissingSubbands {
            group,
            missing: missing.iter().map(|m| format!("sb{m:02}")).collect::<Vec<_>>().join(", "),
            expected,
        });
    }

    let h = files[0].header();
    let mut warnings = Vec::new();

    let correlations = pols::correlations(files[0].path(), &h.polarization)?;
    let input_phase = input_phase::decide(h, cfg.input_phase);
    let spws = spectral_windows(&files, &subbands, &missing, cfg)?;

    let site = Site::from_geodetic_deg(h.telescope.latitude_deg, h.telescope.longitude_deg, h.telescope.altitude_m);
    let table = EopTable::get();
    let positions = antenna_positions(h);

    // Which way the stored uvw point, and so which phase the data carry.
    let fringe_stop = dsa_fringe_stop_centre(h);
    let convention = detect_convention(h, &positions, &site, fringe_stop);
    let chosen = match cfg.uvw_convention {
        UvwChoice::Auto => convention.map_or(UvwConvention::Ant2MinusAnt1, |c| c.convention),
        UvwChoice::Force(c) => c,
    };
    if let (UvwChoice::Auto, Some(c)) = (cfg.uvw_convention, convention) {
        let tolerance = 1.0f64.max(0.01 * c.max_baseline_m);
        if c.max_residual_m > tolerance {
            warnings.push(format!(
                "stored uvw do not match the antenna positions under either sign convention (max residual {:.3} m, {:.3} m flipped); assuming {}",
                c.max_residual_m,
                c.max_residual_other_m,
                if chosen == UvwConvention::Ant2MinusAnt1 { "uvw = x_ant2 − x_ant1" } else { "uvw = x_ant1 − x_ant2" }
            ));
        } else if chosen == UvwConvention::Ant1MinusAnt2 {
            warnings.push(format!(
                "stored uvw are x_ant1 − x_ant2 (max residual {:.3} m): data conjugated and uvw negated to the ant2 − ant1 convention",
                c.max_residual_m
            ));
        }
    }
    let conj_in = chosen == UvwConvention::Ant1MinusAnt2;

    // Times and the integration length actually used.
    let mut times: Vec<f64> = h.time_jd.clone();
    times.sort_by(f64::total_cmp);
    times.dedup();
    // Mean spacing over the whole span: a JD in float64 resolves only ~40 µs, so one difference
    // would be that coarse.
    let spacing_s = if times.len() > 1 { (times[times.len() - 1] - times[0]) * astro::SECONDS_PER_DAY / (times.len() - 1) as f64 } else { f64::INFINITY };
    let header_int = h.integration_time_s[0];
    // Integrations of different lengths (allowed by UVH5) are written as the file says; only
    // a constant integration_time can be the legacy sample-time mistake.
    let constant = h.integration_time_s.iter().all(|&t| (t - header_int).abs() <= 1e-9 * header_int.abs());
    let interval_s: Vec<f64> = if constant && times.len() > 1 && ((header_int - spacing_s) / spacing_s).abs() > 0.01 {
        warnings.push(format!(
            "integration_time says {header_int} s but integrations are {spacing_s:.6} s apart (a legacy file recording the sample time?): INTERVAL and EXPOSURE use {spacing_s:.6} s"
        ));
        vec![spacing_s; h.n_blts]
    } else {
        h.integration_time_s.clone()
    };
    let mid_jd = 0.5 * (times[0] + times[times.len() - 1]);

    // Fields.
    let dec_pointing = fringe_stop.map(|(_, d)| d).unwrap_or_else(|| h.telescope.latitude_deg.to_radians());
    let file_centre = phased_centre(h, &mut warnings);
    let (fields, field_of_time): (Vec<FieldInfo>, Vec<usize>) = match (cfg.phase_mode, cfg.phase_center) {
        (PhaseMode::PerIntegration, _) => {
            let f = times
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    let (ra, dec) = phasing::meridian_icrs(t, dec_pointing, &site, table);
                    field(format!("{}_t{i:02}", jname(ra, dec)), ra, dec)
                })
                .collect();
            (f, (0..times.len()).collect())
        }
        (PhaseMode::Meridian, Some((ra, dec))) => (vec![field(jname(ra, dec), ra, dec)], vec![0; times.len()]),
        (PhaseMode::Meridian, None) => {
            let (ra, dec) = match file_centre {
                Some(c) => c,
                None => phasing::meridian_icrs(mid_jd, dec_pointing, &site, table),
            };
            (vec![field(jname(ra, dec), ra, dec)], vec![0; times.len()])
        }
    };

    // Per-time geometry, then per-row uvw and rotation.
    let lst_of = |jd: f64| -> Option<f64> {
        h.lst_rad.as_ref().and_then(|l| h.time_jd.iter().position(|&t| t == jd).map(|i| l[i]))
    };
    let epochs: Vec<phasing::Epoch> = times
        .par_iter()
        .enumerate()
        .map(|(i, &t)| {
            let f = &fields[field_of_time[i]];
            phasing::epoch(t, lst_of(t), f.ra_deg.to_radians(), f.dec_deg.to_radians(), &site, table)
        })
        .collect();
    match epochs.iter().map(|e| e.eop).max_by_key(|s| *s as u8) {
        Some(astro::EopStatus::Predicted) => warnings.push(format!(
            "Earth orientation for these times comes from IERS predictions (measured values end before MJD {:.0}): positions are good to a few mas; update data/iers/eop.csv with scripts/update-iers.py",
            table.first_predicted_mjd()
        )),
        Some(astro::EopStatus::OutOfRange) => warnings.push(format!(
            "these times lie outside the IERS table ({} .. MJD {:.0}): UT1−UTC and polar motion are extrapolated from its end, which degrades uvw and phases; update data/iers/eop.csv with scripts/update-iers.py",
            table.source,
            table.last_mjd()
        )),
        _ => {}
    }
    let time_index: BTreeMap<u64, usize> = times.iter().enumerate().map(|(i, t)| (t.to_bits(), i)).collect();

    let unprojected_rows = unprojected_mask(h);
    let mixed = {
        let lower = h.ant_1.iter().zip(&h.ant_2).any(|(a, b)| a < b);
        let upper = h.ant_1.iter().zip(&h.ant_2).any(|(a, b)| a > b);
        lower && upper
    };
    if mixed {
        if correlations.lone_cross_hand() {
            return Err(ConvertError::Unsupported {
                path: files[0].path().to_owned(),
                detail: format!(
                    "baselines are stored in both orders (ant1 < ant2 and ant1 > ant2) but only one cross-hand polarisation is present ({:?}): conjugating to ant1 < ant2 needs both, since V_pq(ij) = V_qp(ji)*",
                    h.polarization
                ),
            });
        }
        warnings.push(format!(
            "baselines mix ant1 < ant2 and ant1 > ant2: rows with ant1 > ant2 are conjugated to ant1 < ant2{}, as pyuvdata's write_ms does",
            if correlations.cross_pair().is_some() { " (their cross hands swapped)" } else { "" }
        ));
    }
    let n = h.n_blts;
    let sign_in = if conj_in { -1.0 } else { 1.0 };
    let rotate = cfg.phase_mode == PhaseMode::Meridian;
    let per_row: Vec<_> = (0..n)
        .into_par_iter()
        .map(|r| {
            let (a1, a2) = (h.ant_1[r], h.ant_2[r]);
            let ti = time_index[&h.time_jd[r].to_bits()];
            let e = &epochs[ti];
            let b = sub(positions[&a2], positions[&a1]);
            let uvw = phasing::uvw(b, e, &site);
            let unprojected = match &unprojected_rows {
                Some(mask) => mask[r],
                None => h.phasing == Phasing::Drift,
            };
            let w_old = if input_phase.phase == InputPhase::Zero && unprojected { 0.0 } else { sign_in * h.uvw_m[r][2] };
            let dw = if rotate { uvw[2] - w_old } else { 0.0 };
            let swap = mixed && a1 > a2;
            let uvw_ms = if swap { uvw } else { [-uvw[0], -uvw[1], -uvw[2]] };
            let (m1, m2) = if swap { (a2, a1) } else { (a1, a2) };
            (
                astro::jd_to_mjd_s(h.time_jd[r]),
                m1 as i32,
                m2 as i32,
                uvw_ms,
                dw,
                !swap,
                field_of_time[ti] as i32,
                a1 == a2,
            )
        })
        .collect();
    let mut rows = Rows { interval_s, ..Default::default() };
    for (t, a1, a2, uvw, dw, conj, f, auto) in per_row {
        rows.swapped.push(!conj);
        rows.time_mjd_s.push(t);
        rows.antenna1.push(a1);
        rows.antenna2.push(a2);
        rows.uvw_ms.push(uvw);
        rows.dw_m.push(dw);
        rows.conj_out.push(conj);
        rows.field_id.push(f);
        rows.scan.push(if cfg.phase_mode == PhaseMode::PerIntegration { f + 1 } else { 1 });
        rows.is_auto.push(auto);
    }

    let spec = ms_spec(h, &site, &positions, &correlations.corr_types, &spws, &fields, &epochs, &field_of_time, cfg, n);
    let n_bls = h.n_bls;
    Ok(Plan {
        group,
        files,
        subbands,
        missing,
        n_blts: n,
        n_bls,
        pol_perm: correlations.perm.clone(),
        parallel: correlations.parallel(),
        cross_pair: correlations.cross_pair(),
        spws,
        rows,
        conj_in,
        spec,
        fields,
        convention,
        input_phase,
        warnings,
        bytes_in,
    })
}

fn field(name: String, ra: f64, dec: f64) -> FieldInfo {
    FieldInfo { name, ra_deg: ra.to_degrees().rem_euclid(360.0), dec_deg: dec.to_degrees() }
}

/// IAU-style name `Jhhmmss+ddmmss` of an ICRS position.
fn jname(ra: f64, dec: f64) -> String {
    let h = ra.to_degrees().rem_euclid(360.0) / 15.0;
    let (hh, hm) = (h.trunc(), (h.fract() * 60.0));
    let (mm, ss) = (hm.trunc(), (hm.fract() * 60.0).trunc());
    let d = dec.to_degrees();
    let sign = if d < 0.0 { '-' } else { '+' };
    let ad = d.abs();
    let (dd, dm) = (ad.trunc(), ad.fract() * 60.0);
    let (dmm, dss) = (dm.trunc(), (dm.fract() * 60.0).trunc());
    format!("J{hh:02}{mm:02}{ss:02}{sign}{dd:02}{dmm:02}{dss:02}")
}

/// `2025-10-02T00:00:00` from `…/2025-10-02T00:00:00_sb03.hdf5`; else the file stem.
fn group_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match stem.rfind("_sb") {
        Some(i) if stem.len() >= i + 5 => stem[..i].to_owned(),
        _ => stem,
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// ECEF offsets by antenna number.
fn antenna_positions(h: &Header) -> BTreeMap<i64, [f64; 3]> {
    h.telescope.antenna_numbers.iter().copied().zip(h.telescope.antenna_positions_m.iter().copied()).collect()
}

/// Compares the stored uvw of the first integration with those expected from the antenna
/// positions: toward the fringe-stopping centre for DSA-110 files, the ENU baseline for other
/// unprojected files. Phased files are not checked (their uvw depend on the catalogue frame).
fn detect_convention(
    h: &Header,
    positions: &BTreeMap<i64, [f64; 3]>,
    site: &Site,
    fringe_stop: Option<(f64, f64)>,
) -> Option<ConventionCheck> {
    if !h.phasing.is_unprojected() {
        return None;
    }
    let rows = (0..h.n_blts).filter(|&r| h.ant_1[r] != h.ant_2[r]).take(h.n_bls.max(1));
    let pairs: Vec<([f64; 3], [f64; 3])> = rows
        .map(|r| {
            let b = sub(positions[&h.ant_2[r]], positions[&h.ant_1[r]]);
            let expected = match fringe_stop {
                Some((ha, dec)) => astro::uvw_toward_hadec(b, ha, dec, site.lon_rad),
                None => astro::site::ecef_to_enu(b, site.lat_rad, site.lon_rad),
            };
            (h.uvw_m[r], expected)
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    Some(phasing::detect_convention(pairs.into_iter()))
}

/// For UVH5 1.1+ catalogues: which rows are unprojected.
fn unprojected_mask(h: &Header) -> Option<Vec<bool>> {
    match &h.phasing {
        Phasing::Catalog { centers, id_array, .. } => {
            Some(id_array.iter().map(|id| centers.get(id).is_some_and(|c| c.cat_type == "unprojected")).collect())
        }
        _ => None,
    }
}

/// The single sidereal centre a phased file is phased to (ICRS radians).
fn phased_centre(h: &Header, warnings: &mut Vec<String>) -> Option<(f64, f64)> {
    match &h.phasing {
        Phasing::Drift => None,
        Phasing::Phased { ra_rad, dec_rad, .. } => Some((*ra_rad, *dec_rad)),
        Phasing::Catalog { centers, id_array, .. } => {
            let mut ids: Vec<i64> = id_array.clone();
            ids.sort_unstable();
            ids.dedup();
            let sidereal: Vec<_> = ids
                .iter()
                .filter_map(|id| centers.get(id))
                .filter(|c| c.cat_type == "sidereal")
                .filter_map(|c| Some((c.lon_rad?, c.lat_rad?, c.name.clone())))
                .collect();
            if sidereal.len() > 1 {
                warnings.push(format!(
                    "the file has {} sidereal phase centres; all rows are rephased to the first ({})",
                    sidereal.len(),
                    sidereal[0].2
                ));
            }
            sidereal.first().map(|(ra, dec, _)| (*ra, *dec))
        }
    }
}

fn check_consistent(reference: &Uvh5File, f: &Uvh5File) -> Result<(), ConvertError> {
    let (a, b) = (reference.header(), f.header());
    let bad = |what: &str, detail: String| {
        Err(ConvertError::Inconsistent {
            path: f.path().to_owned(),
            reference: reference.path().to_owned(),
            what: what.to_owned(),
            detail,
        })
    };
    if (a.n_blts, a.n_bls, a.n_times) != (b.n_blts, b.n_bls, b.n_times) {
        return bad("shape", format!("(Nblts, Nbls, Ntimes) = {:?} vs {:?}", (b.n_blts, b.n_bls, b.n_times), (a.n_blts, a.n_bls, a.n_times)));
    }
    if a.ant_1 != b.ant_1 || a.ant_2 != b.ant_2 {
        return bad("baseline order", "ant_1_array/ant_2_array differ".into());
    }
    if let Some(i) = (0..a.n_blts).find(|&i| (a.time_jd[i] - b.time_jd[i]).abs() > 1e-8) {
        return bad("time_array", format!("row {i}: {} vs {}", b.time_jd[i], a.time_jd[i]));
    }
    if a.polarization != b.polarization {
        return bad("polarization_array", format!("{:?} vs {:?}", b.polarization, a.polarization));
    }
    if a.telescope.antenna_positions_m != b.telescope.antenna_positions_m || a.telescope.antenna_numbers != b.telescope.antenna_numbers {
        return bad("antenna table", "antenna numbers or positions differ".into());
    }
    if let Some(i) = (0..a.n_blts).find(|&i| (0..3).any(|k| (a.uvw_m[i][k] - b.uvw_m[i][k]).abs() > 1e-3)) {
        return bad("uvw_array", format!("row {i}: {:?} vs {:?}", b.uvw_m[i], a.uvw_m[i]));
    }
    if a.phasing != b.phasing {
        return bad("phase centre", "the files are phased differently".into());
    }
    if a.n_freqs != b.n_freqs || a.n_spws != b.n_spws {
        return bad("channels", format!("{} channels in {} spws vs {} in {}", b.n_freqs, b.n_spws, a.n_freqs, a.n_spws));
    }
    Ok(())
}

/// Builds the output spectral windows.
fn spectral_windows(files: &[Uvh5File], subbands: &[usize], missing: &[usize], cfg: &ConvertConfig) -> Result<Vec<SpwPlan>, ConvertError> {
    let h0 = files[0].header();
    // One file with several spectral windows: one output SPW each.
    if files.len() == 1 && h0.n_spws > 1 {
        let mut out = Vec::new();
        for &spw in &h0.spw_array {
            let chans: Vec<usize> = (0..h0.n_freqs).filter(|&c| h0.flex_spw_id[c] == spw).collect();
            out.push(spw_from(format!("SPW{spw}"), chans.iter().map(|&c| (h0.freq_hz[c], h0.channel_width_hz[c].abs(), Some((0, c)))).collect()));
        }
        let n = out[0].freqs_hz.len();
        if let Some(bad) = out.iter().find(|s| s.freqs_hz.len() != n) {
            return Err(ConvertError::Unsupported {
                path: files[0].path().to_owned(),
                detail: format!("spectral windows of different widths ({n} and {} channels): one MeasurementSet holds one cell shape", bad.freqs_hz.len()),
            });
        }
        return Ok(out);
    }
    if files.iter().any(|f| f.header().n_spws > 1) {
        return Err(ConvertError::Unsupported {
            path: files.iter().find(|f| f.header().n_spws > 1).expect("found").path().to_owned(),
            detail: "a group of subband files must hold one spectral window per file".into(),
        });
    }
    // Each subband's channels, present or inferred for a missing one.
    let n_chan = h0.n_freqs;
    let width = h0.channel_width_hz[0].abs();
    let descending = h0.freq_hz.len() > 1 && h0.freq_hz[1] < h0.freq_hz[0];
    let mut parts: Vec<(usize, Vec<(f64, f64, Option<(usize, usize)>)>)> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        let h = f.header();
        parts.push((subbands[fi], (0..n_chan).map(|c| (h.freq_hz[c], h.channel_width_hz[c].abs(), Some((fi, c)))).collect()));
    }
    for &sb in missing {
        // Subbands tile the band: a missing one sits `Δsb` subbands away from the reference,
        // lower in frequency for higher indices when channels descend (DSA-110), else higher.
        let shift = (sb as f64 - subbands[0] as f64) * n_chan as f64 * width * if descending { -1.0 } else { 1.0 };
        parts.push((sb, h0.freq_hz.iter().map(|&fr| (fr + shift, width, None)).collect()));
    }
    if cfg.spw_per_subband {
        let mut out: Vec<SpwPlan> = parts.into_iter().map(|(sb, chans)| spw_from(format!("sb{sb:02}"), chans)).collect();
        out.sort_by(|a, b| a.freqs_hz[0].total_cmp(&b.freqs_hz[0]));
        Ok(out)
    } else {
        let all: Vec<_> = parts.into_iter().flat_map(|(_, c)| c).collect();
        let spw = spw_from("DSA110_BAND".into(), all);
        if let Some(k) = spw.freqs_hz.windows(2).position(|w| w[1] - w[0] < 0.5 * width) {
            return Err(ConvertError::Unsupported {
                path: files[0].path().to_owned(),
                detail: format!("subband frequencies overlap near {:.6} MHz (channel {k}): they cannot form one spectral window", spw.freqs_hz[k] / 1e6),
            });
        }
        Ok(vec![spw])
    }
}

fn spw_from(name: String, mut chans: Vec<(f64, f64, Option<(usize, usize)>)>) -> SpwPlan {
    chans.sort_by(|a, b| a.0.total_cmp(&b.0));
    SpwPlan {
        name,
        freqs_hz: chans.iter().map(|c| c.0).collect(),
        widths_hz: chans.iter().map(|c| c.1).collect(),
        sources: chans.iter().map(|c| c.2).collect(),
    }
}

#[allow(clippy::too_many_arguments)]
fn ms_spec(
    h: &Header,
    site: &Site,
    positions: &BTreeMap<i64, [f64; 3]>,
    corr_types: &[i32],
    spws: &[SpwPlan],
    fields: &[FieldInfo],
    epochs: &[phasing::Epoch],
    field_of_time: &[usize],
    cfg: &ConvertConfig,
    n_blts: usize,
) -> MsSpec {
    let active: std::collections::BTreeSet<i64> = h.ant_1.iter().chain(&h.ant_2).copied().collect();
    let max_num = h.telescope.antenna_numbers.iter().copied().max().unwrap_or(0).max(0) as usize;
    let is_dsa = h.telescope.instrument.as_deref() == Some("DSA") || h.telescope.name == dsa110::TELESCOPE_NAME;
    let diameters: BTreeMap<i64, f64> = match &h.telescope.antenna_diameters_m {
        Some(d) => h.telescope.antenna_numbers.iter().copied().zip(d.iter().copied()).collect(),
        None => BTreeMap::new(),
    };
    let names: BTreeMap<i64, &str> = h.telescope.antenna_numbers.iter().copied().zip(h.telescope.antenna_names.iter().map(String::as_str)).collect();
    // One row per antenna number (ANTENNA1/2 are row indices), inactive ones flagged.
    let antennas: Vec<AntennaSpec> = (0..=max_num as i64)
        .map(|num| match positions.get(&num) {
            Some(p) => {
                let name = names.get(&num).copied().unwrap_or("");
                let station = if is_dsa { format!("DSA-{:03}", num + 1) } else { name.to_owned() };
                let dish = diameters.get(&num).copied().unwrap_or(if is_dsa { dsa110::DISH_DIAMETER_M } else { 0.0 });
                let mut a = AntennaSpec::new(name, station, [site.ecef_m[0] + p[0], site.ecef_m[1] + p[1], site.ecef_m[2] + p[2]], dish);
                a.flagged = !active.contains(&num);
                a
            }
            None => {
                let mut a = AntennaSpec::new("", "", [0.0; 3], 0.0);
                a.flagged = true;
                a
            }
        })
        .collect();
    let field_time = |i: usize| -> f64 {
        let ts: Vec<f64> = epochs.iter().zip(field_of_time).filter(|(_, &f)| f == i).map(|(e, _)| e.jd).collect();
        astro::jd_to_mjd_s(0.5 * (ts[0] + ts[ts.len() - 1]))
    };
    let now_mjd_s = astro::jd_to_mjd_s(2_440_587.5 + std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0) / 86_400.0);
    let mut history = cfg.history.clone();
    for entry in &mut history {
        if entry.time_mjd_s == 0.0 {
            entry.time_mjd_s = now_mjd_s;
        }
    }
    if !h.history.trim().is_empty() {
        history.push(HistoryEntry {
            time_mjd_s: now_mjd_s,
            message: format!("input history: {}", h.history.trim()),
            priority: "NORMAL".into(),
            origin: "UVH5 header".into(),
            application: "contimg".into(),
            ..Default::default()
        });
    }
    MsSpec {
        antennas,
        spws: spws
            .iter()
            .map(|s| SpwSpec { name: s.name.clone(), chan_freq_hz: s.freqs_hz.clone(), chan_width_hz: s.widths_hz.clone(), ref_frequency_hz: None })
            .collect(),
        corr_types: corr_types.to_vec(),
        fields: fields
            .iter()
            .enumerate()
            .map(|(i, f)| FieldSpec { name: f.name.clone(), code: String::new(), ra_rad: f.ra_deg.to_radians(), dec_rad: f.dec_deg.to_radians(), time_mjd_s: field_time(i) })
            .collect(),
        observation: ObservationSpec {
            // CASA looks the observatory up by this name (see dsa110::MS_TELESCOPE_NAME).
            telescope_name: if is_dsa { dsa110::MS_TELESCOPE_NAME.into() } else { h.telescope.name.clone() },
            observer: String::new(),
            project: if is_dsa { "DSA-110 continuum".into() } else { String::new() },
            telescope_location_itrf_m: Some(site.ecef_m),
            ..Default::default()
        },
        history,
        imaging_columns: cfg.imaging_columns,
        direction_frame: DirectionFrame::Icrs,
        rows_hint: n_blts * spws.len(),
        ..Default::default()
    }
}

/// Paths of the inputs in subband order (for checkpoint fingerprints).
pub fn input_paths(inputs: &[Input]) -> Vec<PathBuf> {
    let mut v: Vec<&Input> = inputs.iter().collect();
    v.sort_by_key(|i| i.subband);
    v.into_iter().map(|i| i.path.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_descending_files_and_gaps() {
        // Two files of 3 descending channels and a missing subband between them.
        let sources = vec![Some((1, 2)), Some((1, 1)), Some((1, 0)), None, None, None, Some((0, 2)), Some((0, 1)), Some((0, 0))];
        let spw = SpwPlan { name: String::new(), freqs_hz: vec![0.0; 9], widths_hz: vec![1.0; 9], sources };
        assert_eq!(
            spw.segments(),
            vec![
                Segment { out_start: 0, len: 3, source: Some((1, 2, -1)) },
                Segment { out_start: 3, len: 3, source: None },
                Segment { out_start: 6, len: 3, source: Some((0, 2, -1)) },
            ]
        );
        let spw = SpwPlan { name: String::new(), freqs_hz: vec![0.0; 3], widths_hz: vec![1.0; 3], sources: vec![Some((0, 0)), Some((0, 1)), Some((0, 5))] };
        assert_eq!(spw.segments(), vec![Segment { out_start: 0, len: 2, source: Some((0, 0, 1)) }, Segment { out_start: 2, len: 1, source: Some((0, 5, 1)) }]);
    }
}
