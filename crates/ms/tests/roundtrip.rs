//! Write a small MS, close it, reopen it and check every value, column, subtable and keyword.

use std::path::Path;

use ms::{
    corr, AntennaSpec, Complex32, DirectionFrame, FieldSpec, HistoryEntry, KeywordValue, MsError,
    MsReader, MsSpec, MsWriter, ObservationSpec, RowBlock, SpwSpec, Table, WeightSource,
};

const NANT: usize = 6;
const NCHAN: usize = 8;
const NCORR: usize = 2;
const NSPW: usize = 2;
const NTIME: usize = 3;
const T0: f64 = 5.0e9; // MJD seconds
const DT: f64 = 12.884902;

fn spec(frame: DirectionFrame, imaging: bool) -> MsSpec {
    let antennas = (0..NANT)
        .map(|i| {
            let mut a = AntennaSpec::new(
                format!("{}", i + 1),
                format!("DSA-{:03}", i + 1),
                [
                    -2409150.0 + i as f64,
                    -4478573.0 - 2.0 * i as f64,
                    3838617.0 + 0.5 * i as f64,
                ],
                4.65,
            );
            a.flagged = i == 4;
            a
        })
        .collect();
    let spws = (0..NSPW)
        .map(|s| SpwSpec {
            name: format!("sb{s:02}"),
            chan_freq_hz: (0..NCHAN)
                .map(|c| 1.311e9 + (s * NCHAN + c) as f64 * 244140.625)
                .collect(),
            chan_width_hz: vec![244140.625; NCHAN],
            ref_frequency_hz: None,
        })
        .collect();
    MsSpec {
        antennas,
        spws,
        corr_types: vec![corr::XX, corr::YY],
        fields: vec![
            FieldSpec {
                name: "meridian".into(),
                code: "".into(),
                ra_rad: 1.25,
                dec_rad: 0.65,
                time_mjd_s: T0 + DT,
            },
            FieldSpec {
                name: "other".into(),
                code: "T".into(),
                ra_rad: 2.5,
                dec_rad: -0.3,
                time_mjd_s: T0 + 2.0 * DT,
            },
        ],
        observation: ObservationSpec {
            telescope_name: "OVRO_MMA".into(),
            observer: "contimg".into(),
            project: "test".into(),
            schedule: vec![],
            log: vec!["line one".into(), "line two".into()],
            release_date_mjd_s: 0.0,
            time_range_mjd_s: None,
            telescope_location_itrf_m: Some([-2409261.7339, -4477916.0571, 3839371.8929]),
        },
        history: vec![HistoryEntry {
            time_mjd_s: T0,
            message: "contimg 0.1.0: convert".into(),
            priority: String::new(),
            origin: "contimg 0.1.0".into(),
            application: "contimg".into(),
            cli_command: vec![
                "contimg".into(),
                "convert".into(),
                "--in".into(),
                "x".into(),
            ],
            app_params: vec!["flip_uvw=false".into()],
        }],
        imaging_columns: imaging,
        direction_frame: frame,
        rows_hint: 0,
        ..MsSpec::default()
    }
}

/// Owned rows, generated deterministically.
struct Rows {
    time: Vec<f64>,
    tc: Vec<f64>,
    interval: Vec<f64>,
    exposure: Vec<f64>,
    a1: Vec<i32>,
    a2: Vec<i32>,
    field: Vec<i32>,
    ddid: Vec<i32>,
    scan: Vec<i32>,
    uvw: Vec<[f64; 3]>,
    data: Vec<Complex32>,
    flag: Vec<bool>,
    wspec: Vec<f32>,
    weight: Vec<f32>,
    sigma: Vec<f32>,
    flag_row: Vec<bool>,
}

impl Rows {
    fn generate() -> Rows {
        let mut r = Rows {
            time: vec![],
            tc: vec![],
            interval: vec![],
            exposure: vec![],
            a1: vec![],
            a2: vec![],
            field: vec![],
            ddid: vec![],
            scan: vec![],
            uvw: vec![],
            data: vec![],
            flag: vec![],
            wspec: vec![],
            weight: vec![],
            sigma: vec![],
            flag_row: vec![],
        };
        let mut k = 0u32;
        let mut rnd = || {
            k = k.wrapping_mul(1664525).wrapping_add(1013904223);
            (k >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for t in 0..NTIME {
            for s in 0..NSPW {
                for a in 0..NANT {
                    for b in a..NANT {
                        let time = T0 + (t as f64 + 0.5) * DT;
                        r.time.push(time);
                        r.tc.push(time + 0.001);
                        r.interval.push(DT);
                        r.exposure.push(DT - 0.01);
                        r.a1.push(a as i32);
                        r.a2.push(b as i32);
                        r.field.push((t % 2) as i32);
                        r.ddid.push(s as i32);
                        r.scan.push(1 + t as i32);
                        r.uvw.push([
                            rnd() as f64 * 100.0,
                            rnd() as f64 * 1e3 + 1e-9,
                            rnd() as f64,
                        ]);
                        for _ in 0..NCHAN * NCORR {
                            r.data
                                .push(Complex32::new(rnd(), if a == b { 0.0 } else { rnd() }));
                            r.flag.push(rnd() > 0.3);
                            r.wspec.push(rnd() + 1.0);
                        }
                        for _ in 0..NCORR {
                            r.weight.push(rnd() + 2.0);
                            r.sigma.push(rnd() + 3.0);
                        }
                        r.flag_row.push(rnd() > 0.45);
                    }
                }
            }
        }
        r
    }

    fn n(&self) -> usize {
        self.time.len()
    }

    fn block(&self, r: std::ops::Range<usize>) -> RowBlock<'_> {
        let v = NCHAN * NCORR;
        RowBlock {
            time_mjd_s: &self.time[r.clone()],
            time_centroid_mjd_s: &self.tc[r.clone()],
            interval_s: &self.interval[r.clone()],
            exposure_s: &self.exposure[r.clone()],
            antenna1: &self.a1[r.clone()],
            antenna2: &self.a2[r.clone()],
            field_id: &self.field[r.clone()],
            data_desc_id: &self.ddid[r.clone()],
            scan_number: &self.scan[r.clone()],
            uvw_m: &self.uvw[r.clone()],
            data: &self.data[r.start * v..r.end * v],
            flag: &self.flag[r.start * v..r.end * v],
            weight_spectrum: &self.wspec[r.start * v..r.end * v],
            weight: &self.weight[r.start * NCORR..r.end * NCORR],
            sigma: &self.sigma[r.start * NCORR..r.end * NCORR],
            flag_row: &self.flag_row[r.clone()],
        }
    }
}

fn write_ms(path: &Path, spec: &MsSpec, rows: &Rows) -> ms::MsSummary {
    let mut w = MsWriter::create(path, spec).unwrap();
    // Uneven blocks, to cross tile boundaries at odd places.
    let n = rows.n();
    let cuts = [0, 5, 47, n];
    for c in cuts.windows(2) {
        w.write_rows(&rows.block(c[0]..c[1])).unwrap();
    }
    w.finish().unwrap()
}

fn strs(v: &KeywordValue) -> Vec<String> {
    match v {
        KeywordValue::StringArray(s) => s.clone(),
        other => panic!("not a string array: {other:?}"),
    }
}

fn kw_str(t: &Table, col: Option<&str>, path: &str) -> String {
    match t.keyword(col, path).unwrap() {
        Some(KeywordValue::String(s)) => s,
        other => panic!("{col:?} {path}: {other:?}"),
    }
}

fn units(t: &Table, col: &str) -> Vec<String> {
    strs(
        &t.keyword(Some(col), "QuantumUnits")
            .unwrap()
            .unwrap_or_else(|| panic!("{col} has no QuantumUnits")),
    )
}

#[test]
fn roundtrip_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rt.ms");
    let spec = spec(DirectionFrame::Icrs, true);
    let rows = Rows::generate();
    let n = rows.n();
    let summary = write_ms(&path, &spec, &rows);
    assert_eq!(summary.n_rows, n);
    assert_eq!(
        (summary.n_spw, summary.nchan, summary.ncorr),
        (NSPW, NCHAN, NCORR)
    );
    let span = [rows.time[0] - 0.5 * DT, rows.time[n - 1] + 0.5 * DT];
    assert_eq!(summary.time_range_mjd_s, span);

    let r = MsReader::open(&path).unwrap();
    assert_eq!(r.n_rows(), n);
    assert_eq!(r.ms_version().unwrap(), Some(2.0));
    for c in [
        "ANTENNA1",
        "ANTENNA2",
        "ARRAY_ID",
        "DATA_DESC_ID",
        "EXPOSURE",
        "FEED1",
        "FEED2",
        "FIELD_ID",
        "FLAG",
        "FLAG_CATEGORY",
        "FLAG_ROW",
        "INTERVAL",
        "OBSERVATION_ID",
        "PROCESSOR_ID",
        "SCAN_NUMBER",
        "SIGMA",
        "STATE_ID",
        "TIME",
        "TIME_CENTROID",
        "UVW",
        "WEIGHT",
        "DATA",
        "WEIGHT_SPECTRUM",
        "MODEL_DATA",
        "CORRECTED_DATA",
    ] {
        assert!(r.has_column(c), "MAIN lacks {c}");
    }
    assert_eq!(r.cell_shape("DATA").unwrap(), Some([NCORR, NCHAN]));

    // Every MAIN value.
    let d = r.read_rows(0..n, "DATA").unwrap();
    assert_eq!((d.n_rows, d.ncorr, d.nchan), (n, NCORR, NCHAN));
    assert_eq!(d.time_mjd_s, rows.time);
    assert_eq!(d.interval_s, rows.interval);
    assert_eq!(d.antenna1, rows.a1);
    assert_eq!(d.antenna2, rows.a2);
    assert_eq!(d.field_id, rows.field);
    assert_eq!(d.data_desc_id, rows.ddid);
    assert_eq!(d.scan_number, rows.scan);
    assert_eq!(d.flag_row, rows.flag_row);
    assert_eq!(d.uvw_m, rows.uvw);
    assert_eq!(d.data, rows.data);
    assert_eq!(d.flag, rows.flag);
    assert_eq!(d.weight, rows.wspec);
    assert_eq!(d.weight_source, Some(WeightSource::WeightSpectrum));
    let main = r.main_table();
    assert_eq!(
        main.get_scalars::<f64>("TIME_CENTROID", 0, n).unwrap(),
        rows.tc
    );
    assert_eq!(
        main.get_scalars::<f64>("EXPOSURE", 0, n).unwrap(),
        rows.exposure
    );
    assert_eq!(
        main.get_arrays::<f32>("WEIGHT", 0, n, &[NCORR]).unwrap(),
        rows.weight
    );
    assert_eq!(
        main.get_arrays::<f32>("SIGMA", 0, n, &[NCORR]).unwrap(),
        rows.sigma
    );
    for (c, v) in [
        ("ARRAY_ID", 0),
        ("FEED1", 0),
        ("FEED2", 0),
        ("OBSERVATION_ID", 0),
        ("PROCESSOR_ID", 0),
        ("STATE_ID", -1),
    ] {
        assert!(
            main.get_scalars::<i32>(c, 0, n)
                .unwrap()
                .iter()
                .all(|&x| x == v),
            "{c}"
        );
    }
    // Imaging columns: CORRECTED_DATA = DATA, MODEL_DATA = 0.
    let corrected = r.read_rows(0..n, "CORRECTED_DATA").unwrap();
    assert_eq!(corrected.data, rows.data);
    let model = r.read_rows(0..n, "MODEL_DATA").unwrap();
    assert!(model.data.iter().all(|v| *v == Complex32::new(0.0, 0.0)));
    // A sub-range into a reused buffer.
    let mut buf = d.clone();
    r.read_rows_into(10..30, "DATA", &mut buf).unwrap();
    assert_eq!(buf.row0, 10);
    assert_eq!(buf.data, rows.data[10 * NCHAN * NCORR..30 * NCHAN * NCORR]);
    assert_eq!(buf.uvw_m, rows.uvw[10..30]);
    assert!(matches!(
        r.read_rows(0..n + 1, "DATA"),
        Err(MsError::InvalidRows { .. })
    ));
    assert!(matches!(
        r.read_rows(0..1, "FLOAT_DATA"),
        Err(MsError::MissingColumn { .. })
    ));

    // Subtables.
    let names = main.keyword_names(None, None).unwrap();
    for s in [
        "ANTENNA",
        "DATA_DESCRIPTION",
        "FEED",
        "FIELD",
        "FLAG_CMD",
        "HISTORY",
        "OBSERVATION",
        "POINTING",
        "POLARIZATION",
        "PROCESSOR",
        "SPECTRAL_WINDOW",
        "STATE",
        "SOURCE",
    ] {
        assert!(names.iter().any(|x| x == s), "no {s} keyword");
        r.subtable(s).unwrap();
    }
    assert_eq!(r.antennas().unwrap(), spec.antennas);
    let spws = r.spectral_windows().unwrap();
    assert_eq!(spws.len(), NSPW);
    for (got, want) in spws.iter().zip(&spec.spws) {
        assert_eq!(got.name, want.name);
        assert_eq!(got.chan_freq_hz, want.chan_freq_hz);
        assert_eq!(got.chan_width_hz, want.chan_width_hz);
        assert_eq!(got.effective_bw_hz, want.chan_width_hz);
        assert_eq!(got.resolution_hz, want.chan_width_hz);
        assert_eq!(got.ref_frequency_hz, want.chan_freq_hz[0]);
        assert_eq!(got.total_bandwidth_hz, NCHAN as f64 * 244140.625);
        assert_eq!(got.meas_freq_ref, 5);
        assert_eq!(got.net_sideband, 1);
    }
    assert_eq!(r.ddid_to_spw().unwrap(), vec![0, 1]);
    assert!(r
        .data_descriptions()
        .unwrap()
        .iter()
        .all(|d| d.polarization_id == 0));
    let pols = r.polarizations().unwrap();
    assert_eq!(pols.len(), 1);
    assert_eq!(pols[0].corr_types, vec![9, 12]);
    assert_eq!(pols[0].corr_products, vec![[0, 0], [1, 1]]);
    let fields = r.fields().unwrap();
    assert_eq!(fields.len(), 2);
    for (f, s) in fields.iter().zip(&spec.fields) {
        assert_eq!(f.name, s.name);
        assert_eq!(f.code, s.code);
        assert_eq!(f.time_mjd_s, s.time_mjd_s);
        assert_eq!(f.phase_dir, [s.ra_rad, s.dec_rad]);
        assert_eq!(f.delay_dir, [s.ra_rad, s.dec_rad]);
        assert_eq!(f.reference_dir, [s.ra_rad, s.dec_rad]);
        assert_eq!(f.frame, "ICRS");
    }
    let obs = r.observations().unwrap();
    assert_eq!(obs.len(), 1);
    let mut want_obs = spec.observation.clone();
    want_obs.time_range_mjd_s = Some(span);
    assert_eq!(obs[0], want_obs);
    let hist = r.history().unwrap();
    let mut want_hist = spec.history[0].clone();
    want_hist.priority = "NORMAL".into();
    assert_eq!(hist, vec![want_hist]);
    assert_eq!(
        r.time_range().unwrap(),
        Some([T0 + 0.5 * DT, T0 + 2.5 * DT])
    );

    // FEED: one row per antenna, X/Y receptors, validity spanning the observation.
    let feed = r.subtable("FEED").unwrap();
    assert_eq!(feed.n_rows().unwrap(), NANT);
    assert_eq!(
        feed.get_string_arrays("POLARIZATION_TYPE", 0, NANT, &[2])
            .unwrap(),
        ["X", "Y"].repeat(NANT)
    );
    assert_eq!(
        feed.get_scalars::<i32>("NUM_RECEPTORS", 0, NANT).unwrap(),
        vec![2; NANT]
    );
    assert_eq!(
        feed.get_scalars::<f64>("INTERVAL", 0, NANT).unwrap(),
        vec![span[1] - span[0]; NANT]
    );
    let src = r.subtable("SOURCE").unwrap();
    assert_eq!(src.n_rows().unwrap(), 2);
    assert_eq!(
        src.get_arrays::<f64>("DIRECTION", 0, 2, &[2]).unwrap(),
        vec![1.25, 0.65, 2.5, -0.3]
    );
    assert_eq!(r.subtable("PROCESSOR").unwrap().n_rows().unwrap(), 1);
    assert_eq!(r.subtable("STATE").unwrap().n_rows().unwrap(), 0);

    // Measures keywords.
    assert_eq!(kw_str(main, Some("TIME"), "MEASINFO.type"), "epoch");
    assert_eq!(kw_str(main, Some("TIME"), "MEASINFO.Ref"), "UTC");
    assert_eq!(units(main, "TIME"), ["s"]);
    assert_eq!(kw_str(main, Some("TIME_CENTROID"), "MEASINFO.Ref"), "UTC");
    assert_eq!(units(main, "INTERVAL"), ["s"]);
    assert_eq!(units(main, "EXPOSURE"), ["s"]);
    assert_eq!(kw_str(main, Some("UVW"), "MEASINFO.type"), "uvw");
    assert_eq!(kw_str(main, Some("UVW"), "MEASINFO.Ref"), "ICRS");
    assert_eq!(units(main, "UVW"), ["m", "m", "m"]);
    let field = r.subtable("FIELD").unwrap();
    for c in ["PHASE_DIR", "DELAY_DIR", "REFERENCE_DIR"] {
        assert_eq!(kw_str(&field, Some(c), "MEASINFO.type"), "direction");
        assert_eq!(kw_str(&field, Some(c), "MEASINFO.Ref"), "ICRS");
        assert_eq!(units(&field, c), ["rad", "rad"]);
    }
    assert_eq!(kw_str(&src, Some("DIRECTION"), "MEASINFO.Ref"), "ICRS");
    let spw = r.subtable("SPECTRAL_WINDOW").unwrap();
    for c in ["CHAN_FREQ", "REF_FREQUENCY"] {
        assert_eq!(kw_str(&spw, Some(c), "MEASINFO.type"), "frequency");
        assert_eq!(kw_str(&spw, Some(c), "MEASINFO.VarRefCol"), "MEAS_FREQ_REF");
        assert_eq!(units(&spw, c), ["Hz"]);
    }
    let ant = r.subtable("ANTENNA").unwrap();
    assert_eq!(kw_str(&ant, Some("POSITION"), "MEASINFO.type"), "position");
    assert_eq!(kw_str(&ant, Some("POSITION"), "MEASINFO.Ref"), "ITRF");
    assert_eq!(units(&ant, "POSITION"), ["m", "m", "m"]);
    let obs_t = r.subtable("OBSERVATION").unwrap();
    assert_eq!(kw_str(&obs_t, Some("TIME_RANGE"), "MEASINFO.type"), "epoch");
    assert_eq!(kw_str(&obs_t, Some("TIME_RANGE"), "MEASINFO.Ref"), "UTC");
    assert_eq!(
        strs(
            &main
                .keyword(Some("FLAG_CATEGORY"), "CATEGORY")
                .unwrap()
                .unwrap()
        ),
        ["FLAG_CMD", "ORIGINAL", "USER"]
    );
}

#[test]
fn j2000_frame_and_no_imaging_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j2000.ms");
    let mut s = spec(DirectionFrame::J2000, false);
    s.observation.time_range_mjd_s = Some([1.0, 2.0]);
    s.observation.telescope_location_itrf_m = None;
    s.rows_hint = 10;
    let rows = Rows::generate();
    let summary = write_ms(&path, &s, &rows);
    assert_eq!(summary.time_range_mjd_s, [1.0, 2.0]);
    assert_eq!(summary.layout.tile_rows_vis, 10);
    assert!(!summary
        .columns
        .iter()
        .any(|c| c == "MODEL_DATA" || c == "CORRECTED_DATA"));
    let r = MsReader::open(&path).unwrap();
    assert_eq!(kw_str(r.main_table(), Some("UVW"), "MEASINFO.Ref"), "J2000");
    assert_eq!(r.fields().unwrap()[0].frame, "J2000");
    assert_eq!(
        r.observations().unwrap()[0].time_range_mjd_s,
        Some([1.0, 2.0])
    );
    assert_eq!(r.observations().unwrap()[0].telescope_location_itrf_m, None);
    assert!(!r
        .subtable("OBSERVATION")
        .unwrap()
        .has_column("TELESCOPE_LOCATION")
        .unwrap());
}

#[test]
fn shape_errors_name_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shape.ms");
    let rows = Rows::generate();
    let mut w = MsWriter::create(&path, &spec(DirectionFrame::Icrs, false)).unwrap();

    let mut b = rows.block(0..4);
    b.data = &rows.data[..3 * NCHAN * NCORR];
    match w.write_rows(&b) {
        Err(MsError::Shape {
            what,
            expected,
            got,
        }) => {
            assert_eq!(what, "DATA");
            assert_eq!((expected, got), (4 * NCHAN * NCORR, 3 * NCHAN * NCORR));
        }
        other => panic!("{other:?}"),
    }
    let mut b = rows.block(0..4);
    b.weight = &rows.weight[..4];
    assert!(matches!(w.write_rows(&b), Err(MsError::Shape { ref what, .. }) if what == "WEIGHT"));
    let mut b = rows.block(0..4);
    b.uvw_m = &rows.uvw[..5];
    assert!(matches!(w.write_rows(&b), Err(MsError::Shape { ref what, .. }) if what == "UVW"));
    let mut b = rows.block(0..4);
    let bad_ant = [0, 1, 6, 2];
    b.antenna2 = &bad_ant;
    let e = w.write_rows(&b).unwrap_err();
    assert!(
        matches!(&e, MsError::InvalidRows { what, .. } if what == "ANTENNA2"),
        "{e}"
    );
    // Failed checks write nothing and do not poison the writer.
    assert_eq!(w.n_rows(), 0);
    w.write_rows(&rows.block(0..4)).unwrap();
    assert_eq!(w.finish().unwrap().n_rows, 4);

    // The shim checks cell shapes itself (casacore order [ncorr, nchan]).
    let mut t = Table::open(&path, true).unwrap();
    let e = t
        .put_arrays(
            "DATA",
            0,
            1,
            &[NCHAN, NCORR],
            &[Complex32::new(0.0, 0.0); NCHAN * NCORR],
        )
        .unwrap_err();
    assert!(
        e.message.contains("DATA") && e.message.contains("[2, 8]"),
        "{}",
        e.message
    );
}

#[test]
fn invalid_specs_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(DirectionFrame::Icrs, false);
    s.spws[1].chan_freq_hz.reverse();
    assert!(
        matches!(MsWriter::create(&dir.path().join("a.ms"), &s), Err(MsError::InvalidSpec(m)) if m.contains("ascend"))
    );
    let mut s = spec(DirectionFrame::Icrs, false);
    s.corr_types = vec![corr::YY, corr::XX];
    assert!(matches!(
        MsWriter::create(&dir.path().join("b.ms"), &s),
        Err(MsError::InvalidSpec(_))
    ));
    let mut s = spec(DirectionFrame::Icrs, false);
    s.corr_types = vec![1];
    assert!(matches!(
        MsWriter::create(&dir.path().join("c.ms"), &s),
        Err(MsError::InvalidSpec(_))
    ));
    let mut s = spec(DirectionFrame::Icrs, false);
    s.spws[0].chan_width_hz[3] = -1.0;
    assert!(matches!(
        MsWriter::create(&dir.path().join("d.ms"), &s),
        Err(MsError::InvalidSpec(_))
    ));
    let mut s = spec(DirectionFrame::Icrs, false);
    s.spws[1].chan_freq_hz.pop();
    s.spws[1].chan_width_hz.pop();
    assert!(matches!(
        MsWriter::create(&dir.path().join("e.ms"), &s),
        Err(MsError::InvalidSpec(_))
    ));
}

#[test]
fn casacore_exceptions_become_errors() {
    // Opening a table that does not exist.
    match MsReader::open(Path::new("/nonexistent/contimg/none.ms")) {
        Err(MsError::Casacore { op, message }) => {
            assert!(op.contains("none.ms"), "{op}");
            assert!(!message.is_empty());
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened a missing table"),
    }
    // Creating over an existing MS: casacore throws, we get an error.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.ms");
    let s = spec(DirectionFrame::Icrs, false);
    MsWriter::create(&path, &s).unwrap().finish().unwrap();
    match MsWriter::create(&path, &s) {
        Err(MsError::Casacore { message, .. }) => {
            assert!(message.contains("twice.ms"), "{message}")
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("overwrote an MS"),
    }
    // A table that is not an MS: a subtable.
    assert!(matches!(
        MsReader::open(&path.join("ANTENNA")),
        Err(MsError::NotAMs { .. })
    ));
    // A directory that is not a table at all.
    assert!(matches!(
        MsReader::open(dir.path()),
        Err(MsError::Casacore { .. })
    ));
}

#[test]
fn weight_broadcast_without_weight_spectrum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nows.ms");
    let layout = ms::MsLayout {
        ncorr: 2,
        nchan: 3,
        data: true,
        weight_spectrum: false,
        model_data: false,
        corrected_data: false,
        tile_rows_vis: 8,
        tile_rows_flag: 8,
        tile_rows_uvw: 8,
        tile_rows_weight: 8,
    };
    let mut t = Table::create_ms(&path, &layout).unwrap();
    t.add_rows(2).unwrap();
    t.put_arrays("WEIGHT", 0, 2, &[2], &[1.0f32, 2.0, 3.0, 4.0])
        .unwrap();
    t.put_arrays("DATA", 0, 2, &[2, 3], &[Complex32::new(1.0, 0.0); 12])
        .unwrap();
    t.put_arrays("FLAG", 0, 2, &[2, 3], &[false; 12]).unwrap();
    t.close().unwrap();
    let r = MsReader::open(&path).unwrap();
    let d = r.read_rows(0..2, "DATA").unwrap();
    assert_eq!(d.weight_source, Some(WeightSource::WeightBroadcast));
    assert_eq!(
        d.weight,
        vec![1.0, 2.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0, 3.0, 4.0]
    );
}

/// Independent check with python-casacore (test/oracle/check_ms.py). Runs when
/// CONTIMG_ORACLE_PYTHON names a Python that has python-casacore; skipped otherwise.
#[test]
fn python_casacore_oracle_reads_it() {
    let Ok(python) = std::env::var("CONTIMG_ORACLE_PYTHON") else {
        eprintln!("skipped: set CONTIMG_ORACLE_PYTHON to a Python with python-casacore");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oracle.ms");
    let rows = Rows::generate();
    write_ms(&path, &spec(DirectionFrame::Icrs, true), &rows);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/oracle/check_ms.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check_ms.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["MS_VERSION"], 2.0);
    assert_eq!(j["main"]["nrows"], rows.n());
    // python-casacore shows shapes in C order: [nchan, ncorr].
    assert_eq!(j["main"]["DATA_shape"], serde_json::json!([NCHAN, NCORR]));
    assert_eq!(j["main"]["DATA_dtype"], "complex64");
    assert_eq!(j["main"]["TIME_keywords"]["MEASINFO"]["Ref"], "UTC");
    assert_eq!(j["main"]["UVW_keywords"]["MEASINFO"]["Ref"], "ICRS");
    assert_eq!(
        j["main"]["columns"]["DATA"]["dataManager"]["type"],
        "TiledColumnStMan"
    );
    let n = &j["subtable_nrows"];
    assert_eq!(n["ANTENNA"], NANT);
    assert_eq!(n["FEED"], NANT);
    assert_eq!(n["SPECTRAL_WINDOW"], NSPW);
    assert_eq!(n["DATA_DESCRIPTION"], NSPW);
    assert_eq!(n["FIELD"], 2);
    assert_eq!(n["SOURCE"], 2);
    assert_eq!(n["POLARIZATION"], 1);
    assert_eq!(n["OBSERVATION"], 1);
    assert_eq!(n["HISTORY"], 1);
    assert_eq!(
        j["subtables"]["FIELD"]["measures"]["PHASE_DIR"]["MEASINFO"]["Ref"],
        "ICRS"
    );
}
