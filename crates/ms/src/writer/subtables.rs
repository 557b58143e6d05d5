//! The subtables of a new MS, written from its [`MsSpec`] one table per function, and the
//! time ranges filled in once the MAIN rows are known.

use casacore_sys::{DataType, KeywordValue};
use num_complex::Complex32;

use crate::error::MsError;
use crate::spec::{corr, MsSpec};
use crate::tab::Tab;

/// OBSERVATION TIME_RANGE, and TIME (midpoint) / INTERVAL (span) of the FEED and SOURCE rows,
/// which describe parameters valid over the whole observation.
pub(super) fn write_validity(main: &Tab, [t0, t1]: [f64; 2]) -> Result<(), MsError> {
    let mut obs = main.sub("OBSERVATION")?;
    obs.put_arr("TIME_RANGE", 0, 1, &[2], &[t0, t1])?;
    obs.close()?;
    let (mid, span) = (0.5 * (t0 + t1), t1 - t0);
    for name in ["FEED", "SOURCE"] {
        let mut t = main.sub(name)?;
        let n = t.n_rows()?;
        t.put("TIME", 0, &vec![mid; n])?;
        t.put("INTERVAL", 0, &vec![span; n])?;
        t.close()?;
    }
    Ok(())
}

fn str_kw(s: &str) -> KeywordValue {
    KeywordValue::String(s.to_string())
}

/// Every subtable that has rows; STATE and FLAG_CMD stay empty (MAIN STATE_ID is -1).
pub(super) fn write_subtables(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    main_keywords(main, spec)?;
    antenna(main, spec)?;
    feed(main, spec)?;
    spectral_windows(main, spec)?;
    polarization(main, spec)?;
    fields_and_sources(main, spec)?;
    pointing(main, spec)?;
    observation(main, spec)?;
    processor(main)?;
    history(main, spec)?;
    Ok(())
}

/// MAIN: UVW is in the frame of the field directions.
fn main_keywords(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let frame = spec.direction_frame.casa_name();
    main.put_kw(Some("UVW"), "MEASINFO.type", str_kw("uvw"))?;
    main.put_kw(Some("UVW"), "MEASINFO.Ref", str_kw(frame))?;
    Ok(())
}

/// ANTENNA: one row per station, positions and offsets in ITRF.
fn antenna(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let nant = spec.antennas.len();
    let mut t = main.sub("ANTENNA")?;
    let a = &spec.antennas;
    t.add_rows(nant)?;
    t.put_str(
        "NAME",
        0,
        &a.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
    )?;
    t.put_str(
        "STATION",
        0,
        &a.iter().map(|x| x.station.as_str()).collect::<Vec<_>>(),
    )?;
    t.put_str(
        "TYPE",
        0,
        &a.iter()
            .map(|x| x.antenna_type.as_str())
            .collect::<Vec<_>>(),
    )?;
    t.put_str(
        "MOUNT",
        0,
        &a.iter().map(|x| x.mount.as_str()).collect::<Vec<_>>(),
    )?;
    t.put_arr(
        "POSITION",
        0,
        nant,
        &[3],
        a.iter()
            .map(|x| x.position_itrf_m)
            .collect::<Vec<_>>()
            .as_flattened(),
    )?;
    t.put_arr(
        "OFFSET",
        0,
        nant,
        &[3],
        a.iter()
            .map(|x| x.offset_m)
            .collect::<Vec<_>>()
            .as_flattened(),
    )?;
    t.put(
        "DISH_DIAMETER",
        0,
        &a.iter().map(|x| x.dish_diameter_m).collect::<Vec<_>>(),
    )?;
    t.put(
        "FLAG_ROW",
        0,
        &a.iter().map(|x| x.flagged).collect::<Vec<_>>(),
    )?;
    for col in ["POSITION", "OFFSET"] {
        t.put_kw(Some(col), "MEASINFO.type", str_kw("position"))?;
        t.put_kw(Some(col), "MEASINFO.Ref", str_kw("ITRF"))?;
    }
    t.close()?;
    Ok(())
}

/// FEED: one row per antenna, valid for every SPW (-1); TIME/INTERVAL in write_validity.
fn feed(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let frame = spec.direction_frame.casa_name();
    let nant = spec.antennas.len();
    let mut t = main.sub("FEED")?;
    t.add_rows(nant)?;
    let ids: Vec<i32> = (0..nant as i32).collect();
    t.put("ANTENNA_ID", 0, &ids)?;
    t.put("FEED_ID", 0, &vec![0i32; nant])?;
    t.put("SPECTRAL_WINDOW_ID", 0, &vec![-1i32; nant])?;
    t.put("BEAM_ID", 0, &vec![-1i32; nant])?;
    t.put("NUM_RECEPTORS", 0, &vec![2i32; nant])?;
    t.put("TIME", 0, &vec![0.0f64; nant])?;
    t.put("INTERVAL", 0, &vec![0.0f64; nant])?;
    let types = spec.feed_types();
    t.put_str_arr(
        "POLARIZATION_TYPE",
        0,
        nant,
        &[2],
        &(0..nant).flat_map(|_| types).collect::<Vec<_>>(),
    )?;
    t.put_arr(
        "RECEPTOR_ANGLE",
        0,
        nant,
        &[2],
        &spec.receptor_angle_rad.repeat(nant),
    )?;
    t.put_arr("BEAM_OFFSET", 0, nant, &[2, 2], &vec![0.0f64; 4 * nant])?;
    t.put_kw(Some("BEAM_OFFSET"), "MEASINFO.Ref", str_kw(frame))?;
    let one = Complex32::new(1.0, 0.0);
    let zero = Complex32::new(0.0, 0.0);
    // Ideal feeds: each receptor responds only to its own polarization.
    t.put_arr(
        "POL_RESPONSE",
        0,
        nant,
        &[2, 2],
        &[one, zero, zero, one].repeat(nant),
    )?;
    t.put_arr("POSITION", 0, nant, &[3], &vec![0.0f64; 3 * nant])?;
    t.close()?;
    Ok(())
}

/// SPECTRAL_WINDOW + DATA_DESCRIPTION (one per SPW, all sharing POLARIZATION 0)
fn spectral_windows(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let nspw = spec.spws.len();
    let nchan = spec.nchan();
    let mut t = main.sub("SPECTRAL_WINDOW")?;
    t.add_rows(nspw)?;
    let s = &spec.spws;
    let freqs: Vec<f64> = s
        .iter()
        .flat_map(|w| w.chan_freq_hz.iter().copied())
        .collect();
    let widths: Vec<f64> = s
        .iter()
        .flat_map(|w| w.chan_width_hz.iter().copied())
        .collect();
    t.put("NUM_CHAN", 0, &vec![nchan as i32; nspw])?;
    t.put_str(
        "NAME",
        0,
        &s.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
    )?;
    t.put(
        "REF_FREQUENCY",
        0,
        &s.iter()
            .map(|w| w.ref_frequency_hz.unwrap_or(w.chan_freq_hz[0]))
            .collect::<Vec<_>>(),
    )?;
    t.put_arr("CHAN_FREQ", 0, nspw, &[nchan], &freqs)?;
    t.put_arr("CHAN_WIDTH", 0, nspw, &[nchan], &widths)?;
    t.put_arr("EFFECTIVE_BW", 0, nspw, &[nchan], &widths)?;
    t.put_arr("RESOLUTION", 0, nspw, &[nchan], &widths)?;
    t.put(
        "TOTAL_BANDWIDTH",
        0,
        &s.iter()
            .map(|w| w.chan_width_hz.iter().sum::<f64>())
            .collect::<Vec<_>>(),
    )?;
    // Ascending frequencies with positive widths: upper sideband.
    t.put("NET_SIDEBAND", 0, &vec![1i32; nspw])?;
    // MFrequency::TOPO = 5: the correlator's channels are topocentric.
    t.put("MEAS_FREQ_REF", 0, &vec![5i32; nspw])?;
    t.put("IF_CONV_CHAIN", 0, &vec![0i32; nspw])?;
    t.put("FREQ_GROUP", 0, &vec![0i32; nspw])?;
    t.put_str("FREQ_GROUP_NAME", 0, &vec![""; nspw])?;
    t.put("FLAG_ROW", 0, &vec![false; nspw])?;
    t.close()?;

    let mut t = main.sub("DATA_DESCRIPTION")?;
    t.add_rows(nspw)?;
    t.put(
        "SPECTRAL_WINDOW_ID",
        0,
        &(0..nspw as i32).collect::<Vec<_>>(),
    )?;
    t.put("POLARIZATION_ID", 0, &vec![0i32; nspw])?;
    t.put("FLAG_ROW", 0, &vec![false; nspw])?;
    t.close()?;
    Ok(())
}

/// POLARIZATION: the one correlation setup every DATA_DESCRIPTION row shares.
fn polarization(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let ncorr = spec.ncorr();
    let mut t = main.sub("POLARIZATION")?;
    t.add_rows(1)?;
    t.put("NUM_CORR", 0, &[ncorr as i32])?;
    t.put_arr("CORR_TYPE", 0, 1, &[ncorr], &spec.corr_types)?;
    // CORR_PRODUCT cells are [2, ncorr]: the receptor pair of each correlation.
    let prod: Vec<i32> = spec
        .corr_types
        .iter()
        .flat_map(|&c| corr::product(c).expect("validated"))
        .collect();
    t.put_arr("CORR_PRODUCT", 0, 1, &[2, ncorr], &prod)?;
    t.put("FLAG_ROW", 0, &[false])?;
    t.close()?;
    Ok(())
}

/// FIELD + SOURCE (one source per field)
fn fields_and_sources(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let frame = spec.direction_frame.casa_name();
    let nfield = spec.fields.len();
    let f = &spec.fields;
    let dirs: Vec<f64> = f.iter().flat_map(|x| [x.ra_rad, x.dec_rad]).collect();
    let mut t = main.sub("FIELD")?;
    t.add_rows(nfield)?;
    t.put_str(
        "NAME",
        0,
        &f.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
    )?;
    t.put_str(
        "CODE",
        0,
        &f.iter().map(|x| x.code.as_str()).collect::<Vec<_>>(),
    )?;
    t.put(
        "TIME",
        0,
        &f.iter().map(|x| x.time_mjd_s).collect::<Vec<_>>(),
    )?;
    t.put("NUM_POLY", 0, &vec![0i32; nfield])?;
    // Direction cells are [2, NUM_POLY + 1] = [2, 1].
    for col in ["DELAY_DIR", "PHASE_DIR", "REFERENCE_DIR"] {
        t.put_arr(col, 0, nfield, &[2, 1], &dirs)?;
        t.put_kw(Some(col), "MEASINFO.type", str_kw("direction"))?;
        t.put_kw(Some(col), "MEASINFO.Ref", str_kw(frame))?;
    }
    t.put("SOURCE_ID", 0, &(0..nfield as i32).collect::<Vec<_>>())?;
    t.put("FLAG_ROW", 0, &vec![false; nfield])?;
    t.close()?;

    let mut t = main.sub("SOURCE")?;
    t.add_rows(nfield)?;
    t.put("SOURCE_ID", 0, &(0..nfield as i32).collect::<Vec<_>>())?;
    t.put(
        "TIME",
        0,
        &f.iter().map(|x| x.time_mjd_s).collect::<Vec<_>>(),
    )?;
    t.put("INTERVAL", 0, &vec![0.0f64; nfield])?;
    t.put("SPECTRAL_WINDOW_ID", 0, &vec![-1i32; nfield])?;
    t.put("NUM_LINES", 0, &vec![0i32; nfield])?;
    t.put_str(
        "NAME",
        0,
        &f.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
    )?;
    t.put("CALIBRATION_GROUP", 0, &vec![0i32; nfield])?;
    t.put_str(
        "CODE",
        0,
        &f.iter().map(|x| x.code.as_str()).collect::<Vec<_>>(),
    )?;
    t.put_arr("DIRECTION", 0, nfield, &[2], &dirs)?;
    t.put_arr("PROPER_MOTION", 0, nfield, &[2], &vec![0.0f64; 2 * nfield])?;
    t.put_kw(Some("DIRECTION"), "MEASINFO.type", str_kw("direction"))?;
    t.put_kw(Some("DIRECTION"), "MEASINFO.Ref", str_kw(frame))?;
    t.close()?;
    Ok(())
}

/// POINTING stays empty on purpose: DSA-110 does not track, so an honest POINTING table needs
/// a row per antenna per integration. Without rows, CASA and WSClean take the beam centre from
/// FIELD, which is right for the meridian field; a coarse POINTING would mislead primary-beam
/// corrections. Its direction frame is still declared consistently.
fn pointing(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let frame = spec.direction_frame.casa_name();
    let mut t = main.sub("POINTING")?;
    for col in ["DIRECTION", "TARGET"] {
        t.put_kw(Some(col), "MEASINFO.type", str_kw("direction"))?;
        t.put_kw(Some(col), "MEASINFO.Ref", str_kw(frame))?;
    }
    t.close()?;
    Ok(())
}

/// OBSERVATION (TIME_RANGE in write_validity)
fn observation(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let o = &spec.observation;
    let mut t = main.sub("OBSERVATION")?;
    t.add_rows(1)?;
    t.put_str("TELESCOPE_NAME", 0, &[&o.telescope_name])?;
    t.put_arr("TIME_RANGE", 0, 1, &[2], &[0.0f64, 0.0])?;
    t.put_str("OBSERVER", 0, &[&o.observer])?;
    t.put_str("PROJECT", 0, &[&o.project])?;
    t.put("RELEASE_DATE", 0, &[o.release_date_mjd_s])?;
    t.put_str("SCHEDULE_TYPE", 0, &[""])?;
    t.put_str_arr("SCHEDULE", 0, 1, &[o.schedule.len()], &o.schedule)?;
    t.put_str_arr("LOG", 0, 1, &[o.log.len()], &o.log)?;
    t.put("FLAG_ROW", 0, &[false])?;
    if let Some(loc) = o.telescope_location_itrf_m {
        t.add_column(
            "TELESCOPE_LOCATION",
            DataType::Double,
            Some((1, Some(&[3]))),
        )?;
        t.put_arr("TELESCOPE_LOCATION", 0, 1, &[3], &loc)?;
    }
    t.close()?;
    Ok(())
}

/// PROCESSOR: the correlator (MAIN PROCESSOR_ID 0).
fn processor(main: &mut Tab) -> Result<(), MsError> {
    let mut t = main.sub("PROCESSOR")?;
    t.add_rows(1)?;
    t.put_str("TYPE", 0, &["CORRELATOR"])?;
    t.put_str("SUB_TYPE", 0, &[""])?;
    t.put("TYPE_ID", 0, &[-1i32])?;
    t.put("MODE_ID", 0, &[-1i32])?;
    t.put("FLAG_ROW", 0, &[false])?;
    t.close()?;
    Ok(())
}

/// HISTORY: CLI_COMMAND and APP_PARAMS have a different length per row, so one row per call.
fn history(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let h = &spec.history;
    let mut t = main.sub("HISTORY")?;
    let nh = h.len();
    t.add_rows(nh)?;
    t.put(
        "TIME",
        0,
        &h.iter().map(|x| x.time_mjd_s).collect::<Vec<_>>(),
    )?;
    t.put("OBSERVATION_ID", 0, &vec![0i32; nh])?;
    t.put_str(
        "MESSAGE",
        0,
        &h.iter().map(|x| x.message.as_str()).collect::<Vec<_>>(),
    )?;
    t.put_str(
        "PRIORITY",
        0,
        &h.iter()
            .map(|x| {
                if x.priority.is_empty() {
                    "NORMAL"
                } else {
                    x.priority.as_str()
                }
            })
            .collect::<Vec<_>>(),
    )?;
    t.put_str(
        "ORIGIN",
        0,
        &h.iter().map(|x| x.origin.as_str()).collect::<Vec<_>>(),
    )?;
    t.put("OBJECT_ID", 0, &vec![0i32; nh])?;
    t.put_str(
        "APPLICATION",
        0,
        &h.iter().map(|x| x.application.as_str()).collect::<Vec<_>>(),
    )?;
    for (i, x) in h.iter().enumerate() {
        t.put_str_arr("CLI_COMMAND", i, 1, &[x.cli_command.len()], &x.cli_command)?;
        t.put_str_arr("APP_PARAMS", i, 1, &[x.app_params.len()], &x.app_params)?;
    }
    t.close()?;
    Ok(())
}
