//! NaN/Inf visibilities are flagged and counted, and the count survives a checkpoint resume.

use std::sync::atomic::{AtomicBool, Ordering};

use convert::{convert, ConvertConfig, ConvertError, Input, Progress, Stage};
use uvh5::{Complex32, Dsa110Header, Dsa110Writer};

const N_ANTS: i64 = 4;
const N_TIMES: usize = 6;
const N_FREQS: usize = 4;

fn header() -> Dsa110Header {
    let (mut bl_ant_1, mut bl_ant_2, mut bl_uvw_m) = (Vec::new(), Vec::new(), Vec::new());
    for a in 0..N_ANTS {
        for b in a..N_ANTS {
            bl_ant_1.push(a);
            bl_ant_2.push(b);
            bl_uvw_m.push([(b - a) as f32 * 10.5, (b - a) as f32 * -3.25, 0.0]);
        }
    }
    Dsa110Header {
        latitude_deg: 37.233387,
        longitude_deg: -118.283405,
        altitude_m: 1188.05,
        antenna_names: (1..=N_ANTS).map(|i| i.to_string()).collect(),
        antenna_numbers: (0..N_ANTS).collect(),
        antenna_positions_m: (0..N_ANTS).map(|i| [i as f64 * 10.0, 20.0 * i as f64, -(i as f64)]).collect(),
        antenna_diameter_m: 4.65,
        bl_ant_1,
        bl_ant_2,
        bl_uvw_m,
        times_jd: (0..N_TIMES).map(|t| 2460950.5 + t as f64 * 12.884902 / 86400.0).collect(),
        integration_time_s: 12.884902,
        freq_hz: (0..N_FREQS).map(|c| 1.49875e9 - c as f64 * 244140.625).collect(),
        channel_width_hz: 244140.625,
        polarization: vec![-5, -6],
        phase_center_dec_rad: 0.5,
        fs_table: None,
        applied_delays_ns: "0".into(),
        object_name: "test".into(),
        history: "test".into(),
    }
}

/// Writes the file with one NaN, +Inf or −Inf in every integration; returns how many.
fn write_file(path: &std::path::Path) -> u64 {
    let h = header();
    let per_time = h.n_bls() * N_FREQS * 2;
    let mut vis: Vec<Complex32> = (0..N_TIMES * per_time).map(|i| Complex32::new(1.0 + (i % 7) as f32, (i % 5) as f32 - 2.0)).collect();
    for t in 0..N_TIMES {
        let i = t * per_time + 8 * (1 + t % 4) + t % 2;
        vis[i] = match t % 3 {
            0 => Complex32::new(f32::NAN, 1.0),
            1 => Complex32::new(1.0, f32::INFINITY),
            _ => Complex32::new(f32::NEG_INFINITY, f32::NAN),
        };
    }
    let mut w = Dsa110Writer::create(path, &h).unwrap();
    w.write_integrations(0..N_TIMES, &vis, &vec![false; vis.len()], &vec![1.0; vis.len()]).unwrap();
    w.finish().unwrap();
    N_TIMES as u64
}

#[test]
fn non_finite_count_survives_a_resume() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nonfinite.hdf5");
    let expected = write_file(&file);
    let inputs = [Input { subband: 0, path: file }];
    let checkpoint = dir.path().join("cp.json");
    let cfg = ConvertConfig { expected_subbands: 1, chunk_integrations: Some(1), checkpoint: Some(checkpoint.clone()), ..Default::default() };

    // Without interruption.
    let plain = ConvertConfig { checkpoint: None, ..cfg.clone() };
    let s = convert(&inputs, &dir.path().join("plain.ms"), &plain, &|_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(s.non_finite_flagged, expected);
    assert!(s.warnings.iter().any(|w| w == &format!("{expected} visibility sample(s) were NaN or Inf: flagged, with DATA set to 0")));

    // Cancelled once the first one-integration block is written: its NaN is in the checkpoint.
    let ms = dir.path().join("resumed.ms");
    let cancel = AtomicBool::new(false);
    let stop_after_first = |p: Progress| {
        if p.stage == Stage::Write {
            cancel.store(true, Ordering::Relaxed);
        }
    };
    let r = convert(&inputs, &ms, &cfg, &stop_after_first, &cancel);
    assert!(matches!(r, Err(ConvertError::Cancelled)), "{r:?}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    let blocks_done = saved["blocks_done"].as_u64().unwrap();
    assert!((1..N_TIMES as u64).contains(&blocks_done), "{saved}");
    assert_eq!(saved["non_finite"].as_u64().unwrap(), blocks_done, "one NaN per integration written");

    let s = convert(&inputs, &ms, &cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    assert!(s.resumed_from_row.is_some_and(|r| r > 0));
    assert_eq!(s.non_finite_flagged, expected);
}

#[test]
fn non_finite_nsamples_are_flagged_with_zero_weight() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("badweights.hdf5");
    let h = header();
    let n = N_TIMES * h.n_bls() * N_FREQS * 2;
    let vis: Vec<Complex32> = (0..n).map(|i| Complex32::new(1.0 + (i % 7) as f32, 0.5)).collect();
    let mut nsamples = vec![1.0f32; n];
    let bad = [3usize, 17, 40, 77, n - 1];
    for (k, &i) in bad.iter().enumerate() {
        nsamples[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][k % 3];
    }
    let mut w = Dsa110Writer::create(&file, &h).unwrap();
    w.write_integrations(0..N_TIMES, &vis, &vec![false; n], &nsamples).unwrap();
    w.finish().unwrap();

    let inputs = [Input { subband: 0, path: file }];
    let ms = dir.path().join("w.ms");
    let cfg = ConvertConfig { expected_subbands: 1, ..Default::default() };
    let s = convert(&inputs, &ms, &cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(s.non_finite_flagged, 0, "the visibilities are all finite");
    assert!(s.warnings.iter().any(|w| w == "5 nsamples value(s) were NaN or Inf: flagged, with weight 0"), "{:?}", s.warnings);

    let r = ms::reader::MsReader::open(&ms).unwrap();
    let rows = r.read_rows(0..r.n_rows(), "DATA").unwrap();
    assert_eq!(rows.flag.iter().filter(|&&f| f).count(), bad.len());
    assert!(rows.weight.iter().all(|w| w.is_finite()), "WEIGHT/WEIGHT_SPECTRUM stay finite");
}
