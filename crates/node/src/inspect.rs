//! Quick, synchronous summaries of one file (header-only for UVH5).

use napi_derive::napi;
use serde_json::{json, Value};

use crate::error::{guard, to_js, Result};

/// A UVH5 file's header and data layout, as JSON. `locateData` (default true) also maps
/// where the data sit (slower on heavily chunked files; off for directory listings).
#[napi]
pub fn inspect_uvh5(path: String, locate_data: Option<bool>) -> Result<Value> {
    guard(|| inspect_uvh5_inner(path, locate_data))
}

fn inspect_uvh5_inner(path: String, locate_data: Option<bool>) -> Result<Value> {
    let f = uvh5::Uvh5File::open_with(&path, uvh5::OpenOptions { direct_reads: locate_data.unwrap_or(true), ..Default::default() }).map_err(to_js)?;
    let h = f.header();
    let time_min = h.time_jd.iter().copied().fold(f64::INFINITY, f64::min);
    let time_max = h.time_jd.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let freq_min = h.freq_hz.iter().copied().fold(f64::INFINITY, f64::min);
    let freq_max = h.freq_hz.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut antennas: Vec<i64> = h.ant_1.iter().chain(&h.ant_2).copied().collect();
    antennas.sort_unstable();
    antennas.dedup();
    let site = astro::Site::from_geodetic_deg(h.telescope.latitude_deg, h.telescope.longitude_deg, h.telescope.altitude_m);
    let table = astro::EopTable::get();
    let lst = |jd: f64| {
        h.lst_rad
            .as_ref()
            .and_then(|l| h.time_jd.iter().position(|&t| t == jd).map(|i| l[i]))
            .unwrap_or_else(|| astro::lst_rad(jd, &site, table))
    };
    let dec = h.extra_keywords.get("phase_center_dec").and_then(|v| v.as_f64());
    let int_time = h.integration_time_s.first().copied().unwrap_or(0.0);
    let mut times = h.time_jd.clone();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let spacing_s = if times.len() > 1 { (times[1] - times[0]) * astro::SECONDS_PER_DAY } else { int_time };
    Ok(json!({
        "path": path,
        "version": h.version.as_str(),
        "telescope": h.telescope.name,
        "instrument": h.telescope.instrument,
        "site": { "latitudeDeg": h.telescope.latitude_deg, "longitudeDeg": h.telescope.longitude_deg, "altitudeM": h.telescope.altitude_m },
        "nBlts": h.n_blts, "nBls": h.n_bls, "nTimes": h.n_times, "nFreqs": h.n_freqs,
        "nPols": h.n_pols, "nSpws": h.n_spws,
        "nAntsData": h.n_ants_data, "nAntsTelescope": h.telescope.n_antennas,
        "antennas": antennas,
        "polarizations": h.polarization,
        "freqMinHz": freq_min, "freqMaxHz": freq_max,
        "freqDescending": h.freq_hz.windows(2).all(|w| w[1] < w[0]),
        "channelWidthHz": h.channel_width_hz.first(),
        "timeStartJd": time_min, "timeEndJd": time_max,
        "timeStartUtc": astro::format_iso_utc_ndp(time_min, 1),
        "timeEndUtc": astro::format_iso_utc_ndp(time_max, 1),
        "lstStartRad": lst(time_min), "lstEndRad": lst(time_max),
        "integrationTimeS": int_time,
        "integrationSpacingS": spacing_s,
        "phasing": h.phasing,
        "pointingDecDeg": dec.map(f64::to_degrees),
        "uvwIsFloat32": h.uvw_is_f32,
        "hasLstArray": h.lst_rad.is_some(),
        "visUnits": h.vis_units,
        "extraKeywords": h.extra_keywords,
        "layout": f.layout(),
    }))
}

/// A Measurement Set's shape and contents, as JSON (the basis of `inspect X.ms`).
#[napi]
pub fn inspect_ms(path: String) -> Result<Value> {
    guard(|| inspect_ms_inner(path))
}

fn inspect_ms_inner(path: String) -> Result<Value> {
    let r = ms::MsReader::open(std::path::Path::new(&path)).map_err(to_js)?;
    let spws = r.spectral_windows().map_err(to_js)?;
    let fields = r.fields().map_err(to_js)?;
    let pols = r.polarizations().map_err(to_js)?;
    let ants = r.antennas().map_err(to_js)?;
    let obs = r.observations().map_err(to_js)?;
    let range = r.time_range().map_err(to_js)?;
    let history = r.history().map_err(to_js)?;
    // Scans, as listobs lists them, from the scalar columns alone.
    let n = r.n_rows();
    let t = r.main_table();
    let get_f = |c: &str| t.get_scalars::<f64>(c, 0, n).map_err(|e| crate::error::js_error("MS_CASACORE", format!("{path}: reading {c}: {e}")));
    let get_i = |c: &str| t.get_scalars::<i32>(c, 0, n).map_err(|e| crate::error::js_error("MS_CASACORE", format!("{path}: reading {c}: {e}")));
    let (time, interval, scan, field, ddid, a1, a2) =
        (get_f("TIME")?, get_f("INTERVAL")?, get_i("SCAN_NUMBER")?, get_i("FIELD_ID")?, get_i("DATA_DESC_ID")?, get_i("ANTENNA1")?, get_i("ANTENNA2")?);
    let mut scans: Vec<serde_json::Value> = Vec::new();
    let mut by_scan: std::collections::BTreeMap<(i32, i32), (f64, f64, usize, std::collections::BTreeSet<u64>, std::collections::BTreeSet<i32>)> = Default::default();
    for i in 0..n {
        let e = by_scan.entry((scan[i], field[i])).or_insert((f64::INFINITY, f64::NEG_INFINITY, 0, Default::default(), Default::default()));
        e.0 = e.0.min(time[i] - 0.5 * interval[i]);
        e.1 = e.1.max(time[i] + 0.5 * interval[i]);
        e.2 += 1;
        e.3.insert(time[i].to_bits());
        e.4.insert(ddid[i]);
    }
    for ((s, f), (t0, t1, rows, times, spws)) in by_scan {
        scans.push(json!({ "scan": s, "fieldId": f, "startMjdS": t0, "endMjdS": t1, "nRows": rows, "nIntegrations": times.len(), "spwIds": spws }));
    }
    let mut baselines: Vec<(i32, i32)> = a1.iter().zip(&a2).map(|(x, y)| (*x.min(y), *x.max(y))).collect();
    baselines.sort_unstable();
    baselines.dedup();
    let n_autos = baselines.iter().filter(|(x, y)| x == y).count();
    Ok(json!({
        "path": path,
        "nRows": r.n_rows(),
        "msVersion": r.ms_version().map_err(to_js)?,
        "columns": r.columns(),
        "timeRangeMjdS": range,
        "scans": scans,
        "nBaselines": baselines.len(),
        "nAutocorrelations": n_autos,
        "integrationTimeS": interval.first(),
        "telescope": obs.first().map(|o| o.telescope_name.clone()),
        "antennas": ants.iter().map(|a| json!({ "name": a.name, "station": a.station, "positionItrfM": a.position_itrf_m, "dishDiameterM": a.dish_diameter_m, "flagged": a.flagged })).collect::<Vec<_>>(),
        "spectralWindows": spws.iter().map(|s| json!({
            "name": s.name, "nChan": s.chan_freq_hz.len(),
            "freqMinHz": s.chan_freq_hz.iter().copied().fold(f64::INFINITY, f64::min),
            "freqMaxHz": s.chan_freq_hz.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            "chanWidthHz": s.chan_width_hz.first(), "refFrequencyHz": s.ref_frequency_hz,
            "totalBandwidthHz": s.total_bandwidth_hz, "measFreqRef": s.meas_freq_ref })).collect::<Vec<_>>(),
        "polarizations": pols.iter().map(|p| json!({ "corrTypes": p.corr_types, "corrProducts": p.corr_products })).collect::<Vec<_>>(),
        "fields": fields.iter().map(|f| json!({ "name": f.name, "raDeg": f.phase_dir[0].to_degrees(), "decDeg": f.phase_dir[1].to_degrees(), "frame": f.frame, "timeMjdS": f.time_mjd_s })).collect::<Vec<_>>(),
        "history": history.iter().map(|h| json!({ "timeMjdS": h.time_mjd_s, "message": h.message, "origin": h.origin, "application": h.application, "cliCommand": h.cli_command })).collect::<Vec<_>>(),
    }))
}

/// SHA-256 digests of a UVH5 file's visibilities (complex64, little-endian), flags (one byte
/// each) and nsamples (float32) in [blt][chan][pol] order, as this reader decodes them. Tests
/// compare them with digests of pyuvdata's arrays, so no bulk data crosses into JS.
#[napi(object)]
pub struct Uvh5Digest {
    pub vis: String,
    pub flags: String,
    pub nsamples: String,
    pub n_values: f64,
}

#[napi]
pub fn uvh5_digest(path: String) -> Result<Uvh5Digest> {
    guard(|| uvh5_digest_inner(path))
}

fn uvh5_digest_inner(path: String) -> Result<Uvh5Digest> {
    use sha2::{Digest, Sha256};
    let f = uvh5::Uvh5File::open(&path).map_err(to_js)?;
    let b = f.read_all().map_err(to_js)?;
    let mut hv = Sha256::new();
    for v in &b.vis {
        hv.update(v.re.to_le_bytes());
        hv.update(v.im.to_le_bytes());
    }
    let mut hf = Sha256::new();
    hf.update(b.flags.iter().map(|&x| x as u8).collect::<Vec<u8>>());
    let mut hn = Sha256::new();
    for v in &b.nsamples {
        hn.update(v.to_le_bytes());
    }
    let hex = |h: Sha256| h.finalize().iter().map(|x| format!("{x:02x}")).collect::<String>();
    Ok(Uvh5Digest { vis: hex(hv), flags: hex(hf), nsamples: hex(hn), n_values: b.vis.len() as f64 })
}

/// Panics on purpose: lets tests prove a Rust panic reaches JS as an exception.
#[napi]
pub fn debug_panic(message: String) -> Result<()> {
    guard(|| panic!("{message}"))
}

/// SHA-256 digests of a MeasurementSet's main columns (DATA or another data column, FLAG,
/// weights, UVW, TIME, antennas), read in row blocks. Lets tests prove two MSes hold identical
/// bytes without moving visibilities into JS.
#[napi(object)]
pub struct MsDigest {
    pub data: String,
    pub flag: String,
    pub weight: String,
    pub uvw: String,
    pub time: String,
    pub antennas: String,
    pub n_rows: f64,
}

#[napi]
pub fn ms_digest(path: String, data_column: Option<String>) -> Result<MsDigest> {
    guard(|| {
        use sha2::{Digest, Sha256};
        let r = ms::MsReader::open(std::path::Path::new(&path)).map_err(to_js)?;
        let column = data_column.unwrap_or_else(|| "DATA".into());
        let (mut hd, mut hf, mut hw, mut hu, mut ht, mut ha) =
            (Sha256::new(), Sha256::new(), Sha256::new(), Sha256::new(), Sha256::new(), Sha256::new());
        let n = r.n_rows();
        let mut block = ms::RowData::default();
        let step = 8192;
        let mut start = 0;
        while start < n {
            let end = (start + step).min(n);
            r.read_rows_into(start..end, &column, &mut block).map_err(to_js)?;
            for v in &block.data {
                hd.update(v.re.to_le_bytes());
                hd.update(v.im.to_le_bytes());
            }
            hf.update(block.flag.iter().map(|&f| f as u8).collect::<Vec<u8>>());
            for w in &block.weight {
                hw.update(w.to_le_bytes());
            }
            for u in &block.uvw_m {
                for x in u {
                    hu.update(x.to_le_bytes());
                }
            }
            for t in &block.time_mjd_s {
                ht.update(t.to_le_bytes());
            }
            for (a, b) in block.antenna1.iter().zip(&block.antenna2) {
                ha.update(a.to_le_bytes());
                ha.update(b.to_le_bytes());
            }
            start = end;
        }
        let hex = |h: Sha256| h.finalize().iter().map(|x| format!("{x:02x}")).collect::<String>();
        Ok(MsDigest { data: hex(hd), flag: hex(hf), weight: hex(hw), uvw: hex(hu), time: hex(ht), antennas: hex(ha), n_rows: n as f64 })
    })
}
