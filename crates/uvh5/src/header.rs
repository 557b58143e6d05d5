//! The UVH5 header as a typed struct.
//!
//! Versions 1.0 to 1.2 of the format (and unversioned files such as those written by the
//! DSA-110 correlator) are accepted. Legacy shapes (a length-1 spw axis on `freq_array`,
//! scalar `channel_width`) are normalised here so nothing downstream needs to know.

use std::collections::BTreeMap;
use std::path::Path;

use hdf5::types::{FloatSize, TypeDescriptor};
use hdf5::Group;
use serde::Serialize;

use crate::error::{Result, Uvh5Error};
use crate::counts::{self, RawCounts};
use crate::distinct;
use crate::h5util::{bad_len, expect_len, Node};
use crate::phasing::read_phasing;
pub use crate::phasing::{PhaseCenter, Phasing};

/// The format version written in `Header/version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Uvh5Version {
    /// No `version` key: the DSA-110 correlator and pyuvdata before UVH5 1.0 write none.
    Unversioned,
    /// "0.1": pyuvdata 1.x (older HERA data). Same keys and legacy shapes as unversioned and
    /// 1.0 files; booleans `flex_spw` and `multi_phase_center` that later readers ignore.
    V0_1,
    V1_0,
    V1_1,
    V1_2,
}

impl Uvh5Version {
    fn parse(path: &Path, s: Option<&str>) -> Result<Self> {
        match s.map(str::trim) {
            None => Ok(Uvh5Version::Unversioned),
            Some("0.1") => Ok(Uvh5Version::V0_1),
            Some("1.0") => Ok(Uvh5Version::V1_0),
            Some("1.1") => Ok(Uvh5Version::V1_1),
            Some("1.2") => Ok(Uvh5Version::V1_2),
            Some(other) => Err(Uvh5Error::UnsupportedVersion {
                path: path.to_owned(),
                version: other.to_owned(),
            }),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Uvh5Version::Unversioned => "unversioned",
            Uvh5Version::V0_1 => "0.1",
            Uvh5Version::V1_0 => "1.0",
            Uvh5Version::V1_1 => "1.1",
            Uvh5Version::V1_2 => "1.2",
        }
    }
}

/// A value from `Header/extra_keywords`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ExtraValue {
    Str(String),
    Int(i64),
    Float(f64),
    Ints(Vec<i64>),
    Floats(Vec<f64>),
    Null,
}

impl ExtraValue {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ExtraValue::Float(v) => Some(*v),
            ExtraValue::Int(v) => Some(*v as f64),
            ExtraValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ExtraValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The telescope part of the header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Telescope {
    pub name: String,
    pub instrument: Option<String>,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub altitude_m: f64,
    /// "itrs" (default) or "mcmf".
    pub frame: String,
    pub n_antennas: usize,
    pub antenna_names: Vec<String>,
    pub antenna_numbers: Vec<i64>,
    /// ECEF offsets from the telescope location, metres.
    pub antenna_positions_m: Vec<[f64; 3]>,
    pub antenna_diameters_m: Option<Vec<f64>>,
    pub x_orientation: Option<String>,
}

/// The whole UVH5 header, with units in the names and legacy shapes normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    pub version: Uvh5Version,
    pub telescope: Telescope,
    pub n_blts: usize,
    pub n_bls: usize,
    pub n_times: usize,
    pub n_freqs: usize,
    pub n_pols: usize,
    pub n_spws: usize,
    pub n_ants_data: usize,
    pub ant_1: Vec<i64>,
    pub ant_2: Vec<i64>,
    pub time_jd: Vec<f64>,
    /// LSTs stored in the file, if any (the DSA-110 correlator stores none).
    pub lst_rad: Option<Vec<f64>>,
    pub integration_time_s: Vec<f64>,
    pub uvw_m: Vec<[f64; 3]>,
    /// True when `uvw_array` is stored as float32 (as DSA-110 does).
    pub uvw_is_f32: bool,
    pub freq_hz: Vec<f64>,
    pub channel_width_hz: Vec<f64>,
    pub spw_array: Vec<i64>,
    /// Spectral window of each channel (length `n_freqs`).
    pub flex_spw_id: Vec<i64>,
    /// AIPS polarisation codes: -5..-8 = XX, YY, XY, YX; -1..-4 = RR, LL, RL, LR; 1..4 = IQUV.
    pub polarization: Vec<i32>,
    pub vis_units: String,
    pub history: String,
    pub object_name: Option<String>,
    pub phasing: Phasing,
    pub extra_keywords: BTreeMap<String, ExtraValue>,
    pub dut1_s: Option<f64>,
}

pub(crate) fn read_header(path: &Path, group: &Group) -> Result<Header> {
    let h = Node { path, group, prefix: "Header/" };
    let version = Uvh5Version::parse(path, h.opt_string("version")?.as_deref())?;

    let telescope = read_telescope(&h)?;

    let counts = read_counts(&h, &telescope)?;
    let (n_blts, n_times, n_freqs, n_pols, n_spws) =
        (counts.n_blts, counts.n_times, counts.n_freqs, counts.n_pols, counts.n_spws);

    let ant_1 = h.i64s("ant_1_array", "the first antenna of each baseline-time")?;
    let ant_2 = h.i64s("ant_2_array", "the second antenna of each baseline-time")?;
    let time_jd = h.f64s("time_array", "the JD of each baseline-time")?;
    expect_len(&h, "ant_1_array", ant_1.len(), n_blts, "Nblts")?;
    expect_len(&h, "ant_2_array", ant_2.len(), n_blts, "Nblts")?;
    expect_len(&h, "time_array", time_jd.len(), n_blts, "Nblts")?;

    let n_ants_data =
        counts.n_ants_data.unwrap_or_else(|| distinct::distinct_antennas(&ant_1, &ant_2));
    let n_bls = counts.n_bls.unwrap_or_else(|| distinct::distinct_baselines(&ant_1, &ant_2));

    let integration_time_s = {
        let v = h.f64s("integration_time", "the integration time of each baseline-time (s)")?;
        match v.len() {
            1 => vec![v[0]; n_blts],
            n if n == n_blts => v,
            n => return Err(bad_len(&h, "integration_time", n, n_blts, "Nblts")),
        }
    };

    let lst_rad = match h.opt_dataset("lst_array")? {
        Some(ds) => {
            let v = h.f64s_of(&ds, "lst_array")?;
            expect_len(&h, "lst_array", v.len(), n_blts, "Nblts")?;
            Some(v)
        }
        None => None,
    };

    let uvw_ds = h.dataset("uvw_array", "baseline coordinates, shape (Nblts, 3)")?;
    let uvw_shape = uvw_ds.shape();
    if uvw_shape != [n_blts, 3] {
        return Err(Uvh5Error::BadShape {
            path: path.to_owned(),
            name: "Header/uvw_array".into(),
            expected: format!("({n_blts}, 3) = (Nblts, 3)"),
            got: uvw_shape,
        });
    }
    let uvw_is_f32 = h.is_float(&uvw_ds, "uvw_array", FloatSize::U4)?;
    let uvw_flat = h.f64s_of(&uvw_ds, "uvw_array")?;
    let uvw_m: Vec<[f64; 3]> = uvw_flat.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();

    // freq_array: (Nfreqs,) or legacy (1, Nfreqs).
    let freq_ds = h.dataset("freq_array", "channel centre frequencies (Hz)")?;
    let freq_shape = freq_ds.shape();
    let freq_hz = h.f64s_of(&freq_ds, "freq_array")?;
    let legacy_freq = freq_shape.len() == 2;
    if !(freq_shape == [n_freqs] || freq_shape == [1, n_freqs]) {
        return Err(Uvh5Error::BadShape {
            path: path.to_owned(),
            name: "Header/freq_array".into(),
            expected: format!("({n_freqs},) or legacy (1, {n_freqs}) with Nfreqs = {n_freqs}"),
            got: freq_shape,
        });
    }
    let channel_width_hz = {
        let v = h.f64s("channel_width", "channel widths (Hz)")?;
        match v.len() {
            1 => vec![v[0]; n_freqs],
            n if n == n_freqs => v,
            n => return Err(bad_len(&h, "channel_width", n, n_freqs, "Nfreqs")),
        }
    };
    let _ = legacy_freq;

    let spw_array = h.i64s("spw_array", "spectral window numbers")?;
    expect_len(&h, "spw_array", spw_array.len(), n_spws, "Nspws")?;
    let flex_spw_id = match h.opt_dataset("flex_spw_id_array")? {
        Some(ds) => {
            let v = h.i64s_of(&ds, "flex_spw_id_array")?;
            expect_len(&h, "flex_spw_id_array", v.len(), n_freqs, "Nfreqs")?;
            v
        }
        None => {
            if n_spws != 1 {
                return Err(Uvh5Error::MissingKey {
                    path: path.to_owned(),
                    name: "Header/flex_spw_id_array".into(),
                    expected: format!("required when Nspws = {n_spws} > 1"),
                });
            }
            vec![spw_array[0]; n_freqs]
        }
    };

    let polarization: Vec<i32> =
        h.i64s("polarization_array", "polarisation codes")?.into_iter().map(|p| p as i32).collect();
    expect_len(&h, "polarization_array", polarization.len(), n_pols, "Npols")?;

    // Older files allowed "UNCALIB"; pyuvdata normalises it.
    let vis_units = match h.opt_string("vis_units")? {
        Some(u) if u == "UNCALIB" => "uncalib".to_owned(),
        Some(u) => u,
        None => "uncalib".to_owned(),
    };
    let history = h.opt_string("history")?.unwrap_or_default();
    let object_name = h.opt_string("object_name")?;
    let dut1_s = h.opt_scalar_f64("dut1")?;

    let phasing = read_phasing(&h, n_blts)?;
    let extra_keywords = read_extra_keywords(path, group)?;

    let header = Header {
        version,
        telescope,
        n_blts,
        n_bls,
        n_times,
        n_freqs,
        n_pols,
        n_spws,
        n_ants_data,
        ant_1,
        ant_2,
        time_jd,
        lst_rad,
        integration_time_s,
        uvw_m,
        uvw_is_f32,
        freq_hz,
        channel_width_hz,
        spw_array,
        flex_spw_id,
        polarization,
        vis_units,
        history,
        object_name,
        phasing,
        extra_keywords,
        dut1_s,
    };
    check_consistency(path, &header)?;
    Ok(header)
}

/// Reads and validates the dimension counts (see `counts`), before any array is read.
fn read_counts(h: &Node, telescope: &Telescope) -> Result<counts::Counts> {
    let opt = |name: &str| -> Result<Option<i64>> {
        if h.has(name) { h.scalar_i64(name, "").map(Some) } else { Ok(None) }
    };
    let mut raw = RawCounts {
        n_blts: h.scalar_i64("Nblts", "the number of baseline-times")?,
        n_times: h.scalar_i64("Ntimes", "the number of unique times")?,
        n_freqs: h.scalar_i64("Nfreqs", "the number of channels")?,
        n_pols: h.scalar_i64("Npols", "the number of polarisations")?,
        n_spws: h.scalar_i64("Nspws", "the number of spectral windows")?,
        n_bls: opt("Nbls")?,
        n_ants_data: opt("Nants_data")?,
    };
    // HERA files written before March 2023 record Nbls = Nblts; pyuvdata corrects it to
    // Nblts / Ntimes when that divides, and so do we.
    if telescope.name == "HERA" && raw.n_bls == Some(raw.n_blts) && raw.n_times > 0 && raw.n_blts % raw.n_times == 0 {
        raw.n_bls = Some(raw.n_blts / raw.n_times);
    }
    counts::validate(&raw).map_err(|e| Uvh5Error::BadValue {
        path: h.path.to_owned(),
        name: h.qualified(e.name),
        value: e.value.to_string(),
        expected: e.expected,
    })
}

fn read_telescope(h: &Node) -> Result<Telescope> {
    let name = h.string("telescope_name", "the telescope name")?;
    let instrument = h.opt_string("instrument")?;
    let frame = h.opt_string("telescope_frame")?.unwrap_or_else(|| "itrs".into());
    let (latitude_deg, longitude_deg, altitude_m) =
        if h.has("latitude") || h.has("longitude") || h.has("altitude") {
            (
                h.scalar_f64("latitude", "the telescope latitude (deg)")?,
                h.scalar_f64("longitude", "the telescope longitude (deg)")?,
                h.scalar_f64("altitude", "the telescope altitude (m)")?,
            )
        } else if h.has("telescope_location") {
            let xyz = h.f64s("telescope_location", "")?;
            if xyz.len() != 3 {
                return Err(Uvh5Error::BadShape {
                    path: h.path.to_owned(),
                    name: "Header/telescope_location".into(),
                    expected: "(3,) ECEF metres".into(),
                    got: vec![xyz.len()],
                });
            }
            let (lat, lon, alt) = ecef_to_geodetic_wgs84([xyz[0], xyz[1], xyz[2]]);
            (lat.to_degrees(), lon.to_degrees(), alt)
        } else {
            return Err(Uvh5Error::MissingKey {
                path: h.path.to_owned(),
                name: "Header/latitude".into(),
                expected: "the telescope location as latitude/longitude/altitude".into(),
            });
        };

    let antenna_names = h.strings("antenna_names", "the names of all antennas")?;
    let antenna_numbers = h.i64s("antenna_numbers", "the numbers of all antennas")?;
    let n_antennas = match h.has("Nants_telescope") {
        true => h.scalar_i64("Nants_telescope", "")? as usize,
        false => antenna_numbers.len(),
    };
    expect_len(h, "antenna_names", antenna_names.len(), n_antennas, "Nants_telescope")?;
    expect_len(h, "antenna_numbers", antenna_numbers.len(), n_antennas, "Nants_telescope")?;
    let pos_ds = h.dataset("antenna_positions", "antenna ECEF offsets (m), shape (Nants_telescope, 3)")?;
    let pos_shape = pos_ds.shape();
    if pos_shape != [n_antennas, 3] {
        return Err(Uvh5Error::BadShape {
            path: h.path.to_owned(),
            name: "Header/antenna_positions".into(),
            expected: format!("({n_antennas}, 3) = (Nants_telescope, 3)"),
            got: pos_shape,
        });
    }
    let antenna_positions_m =
        h.f64s_of(&pos_ds, "antenna_positions")?.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
    let antenna_diameters_m = match h.opt_dataset("antenna_diameters")? {
        Some(ds) => {
            let v = h.f64s_of(&ds, "antenna_diameters")?;
            Some(if v.len() == 1 { vec![v[0]; n_antennas] } else { v })
        }
        None => None,
    };
    let x_orientation = h.opt_string("x_orientation")?;
    Ok(Telescope {
        name,
        instrument,
        latitude_deg,
        longitude_deg,
        altitude_m,
        frame,
        n_antennas,
        antenna_names,
        antenna_numbers,
        antenna_positions_m,
        antenna_diameters_m,
        x_orientation,
    })
}

fn read_extra_keywords(path: &Path, header: &Group) -> Result<BTreeMap<String, ExtraValue>> {
    let mut out = BTreeMap::new();
    if !header.link_exists("extra_keywords") {
        return Ok(out);
    }
    let g = header
        .group("extra_keywords")
        .map_err(|e| Uvh5Error::hdf5(path, "opening Header/extra_keywords", e))?;
    let n = Node { path, group: &g, prefix: "Header/extra_keywords/" };
    let names = g.member_names().map_err(|e| Uvh5Error::hdf5(path, "listing Header/extra_keywords", e))?;
    for key in names {
        let Some(ds) = n.opt_dataset(&key)? else { continue };
        let td = n.type_descriptor(&ds, &key)?;
        let value = if ds.size() == 0 {
            ExtraValue::Null
        } else {
            match td {
                TypeDescriptor::FixedAscii(_)
                | TypeDescriptor::FixedUnicode(_)
                | TypeDescriptor::VarLenAscii
                | TypeDescriptor::VarLenUnicode => {
                    ExtraValue::Str(n.strings_of(&ds, &key)?.join(" "))
                }
                TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Boolean => {
                    let v = n.i64s_of(&ds, &key)?;
                    if ds.is_scalar() { ExtraValue::Int(v[0]) } else { ExtraValue::Ints(v) }
                }
                TypeDescriptor::Float(_) => {
                    let v = n.f64s_of(&ds, &key)?;
                    if ds.is_scalar() { ExtraValue::Float(v[0]) } else { ExtraValue::Floats(v) }
                }
                // Types we do not interpret are kept out rather than guessed at.
                _ => continue,
            }
        };
        out.insert(key, value);
    }
    Ok(out)
}

fn check_consistency(path: &Path, h: &Header) -> Result<()> {
    let bad = |detail: String| Err(Uvh5Error::Inconsistent { path: path.to_owned(), detail });
    let n_times = distinct::distinct_times(&h.time_jd);
    if n_times != h.n_times {
        return bad(format!("Ntimes is {} but time_array holds {} unique times", h.n_times, n_times));
    }
    let n_bls = distinct::distinct_baselines(&h.ant_1, &h.ant_2);
    if n_bls != h.n_bls {
        return bad(format!("Nbls is {} but ant_1_array/ant_2_array hold {} unique baselines", h.n_bls, n_bls));
    }
    if h.n_blts > h.n_bls * h.n_times {
        return bad(format!(
            "Nblts ({}) exceeds Nbls × Ntimes ({} × {})",
            h.n_blts, h.n_bls, h.n_times
        ));
    }
    if let Some(a) = distinct::first_unknown(&h.telescope.antenna_numbers, h.ant_1.iter().chain(&h.ant_2).copied()) {
        return bad(format!("antenna {a} appears in ant_1_array/ant_2_array but not in antenna_numbers"));
    }
    let n_ants = distinct::distinct_antennas(&h.ant_1, &h.ant_2);
    if n_ants != h.n_ants_data {
        return bad(format!("Nants_data is {} but the baselines use {} antennas", h.n_ants_data, n_ants));
    }
    for spw in &h.flex_spw_id {
        if !h.spw_array.contains(spw) {
            return bad(format!("flex_spw_id_array holds spw {spw}, which spw_array lacks"));
        }
    }
    Ok(())
}

/// WGS84 ECEF → geodetic (lat, lon in radians, height in m), Bowring's iteration.
fn ecef_to_geodetic_wgs84(xyz: [f64; 3]) -> (f64, f64, f64) {
    let a = 6_378_137.0_f64;
    let f = 1.0 / 298.257_223_563;
    let e2 = f * (2.0 - f);
    let [x, y, z] = xyz;
    let lon = y.atan2(x);
    let p = x.hypot(y);
    let mut lat = z.atan2(p * (1.0 - e2));
    let mut h = 0.0;
    for _ in 0..10 {
        let n = a / (1.0 - e2 * lat.sin().powi(2)).sqrt();
        h = p / lat.cos() - n;
        lat = z.atan2(p * (1.0 - e2 * n / (n + h)));
    }
    (lat, lon, h)
}
