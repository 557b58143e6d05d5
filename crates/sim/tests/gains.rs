//! `<group>.gains.npy` against the formula in the truth file, against the data, and across
//! runs that start at different times.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use num_complex::Complex64;
use sim::{simulate, SimConfig, SkySpec, Source};
use uvh5::Uvh5File;

fn small(dir: &Path) -> SimConfig {
    let mut cfg = SimConfig::new(dir);
    cfg.band.n_subbands = 2;
    cfg.band.channels_per_subband = 8;
    cfg.n_integrations = 6;
    cfg.antennas = sim::default_antennas(6);
    cfg.noise_jy = 0.0;
    cfg
}

/// Reads a C-order complex64 .npy: (shape, values).
fn read_npy(path: &Path) -> (Vec<usize>, Vec<Complex64>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
    assert!(header.contains("'descr': '<c8'") && header.contains("'fortran_order': False"), "{header}");
    let inner = &header[header.find("'shape': (").unwrap() + 10..];
    let shape: Vec<usize> = inner[..inner.find(')').unwrap()].split(',').filter(|s| !s.trim().is_empty()).map(|s| s.trim().parse().unwrap()).collect();
    let data: Vec<Complex64> = b[10 + hlen..]
        .chunks_exact(8)
        .map(|c| Complex64::new(f32::from_le_bytes(c[..4].try_into().unwrap()) as f64, f32::from_le_bytes(c[4..].try_into().unwrap()) as f64))
        .collect();
    assert_eq!(shape.iter().product::<usize>(), data.len());
    (shape, data)
}

fn truth(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The truth file's formula, written out here independently of the simulator's code.
fn formula(p: &serde_json::Value, x: f64, t_h: f64) -> Complex64 {
    let f = |k: &str| p[k].as_f64().unwrap();
    let tau = std::f64::consts::TAU;
    let amp = f("a0") * (1.0 + f("a1") * x + f("a2") * x * x) * (1.0 + f("ad") * (tau * t_h / f("ta_h") + f("phia")).sin());
    let ph = f("p0") + f("p1") * x + f("p2") * x * x + f("pd") * (tau * t_h / f("tp_h") + f("phip")).sin();
    Complex64::from_polar(amp, ph)
}

#[test]
fn npy_matches_the_formula_and_divides_out_of_the_data() {
    let one_source = |dir: &Path, gains: bool| {
        let mut cfg = small(dir);
        cfg.apply_gains = gains;
        cfg.sky = SkySpec::Sources(vec![Source { name: "A".into(), ra_deg: 0.0, dec_deg: 54.6, flux_jy: 3.0, spectral_index: -0.7 }]);
        // A source near the meridian at the start time, so the visibilities are not tiny.
        let probe = simulate(&{ let mut c = cfg.clone(); c.output_dir = dir.join("probe"); c.sky = SkySpec::Sources(vec![]); c }, &|_| {}, &AtomicBool::new(false)).unwrap();
        let m = truth(&probe.groups[0].truth)["pointing"]["meridian_icrs_mid"].clone();
        cfg.sky = SkySpec::Sources(vec![Source { name: "A".into(), ra_deg: m["ra_deg"].as_f64().unwrap() + 0.3, dec_deg: m["dec_deg"].as_f64().unwrap() - 0.2, flux_jy: 3.0, spectral_index: -0.7 }]);
        simulate(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap()
    };
    let (d1, d0) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let with = one_source(d1.path(), true);
    let without = one_source(d0.path(), false);
    let g = &with.groups[0];
    let t = truth(&g.truth);
    let npy = &t["gains"]["npy"];
    assert_eq!(npy["file"].as_str().unwrap(), g.gains.file_name().unwrap().to_str().unwrap());
    let (shape, cube) = read_npy(&g.gains);
    assert_eq!(shape, vec![6, 6, 16, 2]);
    let freqs: Vec<f64> = npy["freq_hz"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(freqs.windows(2).all(|w| w[1] > w[0]), "channels ascend");
    let times: Vec<f64> = npy["times_jd"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let epoch = t["gains"]["epoch_jd"].as_f64().unwrap();
    let bc = &t["gains"]["band_coordinate"];
    let (mid, span) = (bc["freq_mid_hz"].as_f64().unwrap(), bc["freq_span_hz"].as_f64().unwrap());
    let ants = t["gains"]["antennas"].as_array().unwrap();
    let at = |a: usize, ti: usize, c: usize, p: usize| cube[((a * shape[1] + ti) * shape[2] + c) * 2 + p];

    // The npy is the formula (to complex64 precision).
    for (a, ag) in ants.iter().enumerate() {
        assert_eq!(npy["antennas"][a]["antenna"], ag["antenna"]);
        assert_eq!(npy["antennas"][a]["ms_antenna_row"], ag["antenna"]);
        for (ti, &jd) in times.iter().enumerate() {
            for (c, &f) in freqs.iter().enumerate() {
                for (p, key) in ["xx", "yy"].iter().enumerate() {
                    let want = formula(&ag[key], (f - mid) / span, (jd - epoch) * 24.0);
                    assert!((at(a, ti, c, p) - want).norm() < 2e-7 * want.norm(), "ant {a} t {ti} ch {c} pol {p}");
                }
            }
        }
    }

    // Data with gains / the same data without = conj(g[ant_1]) g[ant_2] (UVH5 convention).
    let index_of = |ant: i64| ants.iter().position(|x| x["antenna"].as_i64() == Some(ant)).unwrap();
    let mut worst = 0.0f64;
    for (fw, f0) in g.files.iter().zip(&without.groups[0].files) {
        let (fw, f0) = (Uvh5File::open(fw).unwrap(), Uvh5File::open(f0).unwrap());
        let (bw, b0) = (fw.read_all().unwrap(), f0.read_all().unwrap());
        let h = fw.header();
        for blt in 0..h.n_blts {
            let (a1, a2) = (index_of(h.ant_1[blt]), index_of(h.ant_2[blt]));
            if a1 == a2 {
                continue;
            }
            let ti = times.iter().position(|&x| (x - h.time_jd[blt]).abs() < 1e-9).unwrap();
            for (k, &f) in h.freq_hz.iter().enumerate() {
                let c = freqs.iter().position(|&x| (x - f).abs() < 1.0).unwrap();
                for p in 0..2 {
                    let i = (blt * h.n_freqs + k) * 2 + p;
                    let (vw, v0) = (bw.vis[i], b0.vis[i]);
                    let model = Complex64::new(v0.re as f64, v0.im as f64);
                    let got = Complex64::new(vw.re as f64, vw.im as f64);
                    let want = at(a1, ti, c, p).conj() * at(a2, ti, c, p) * model;
                    worst = worst.max((got - want).norm() / model.norm());
                }
            }
        }
    }
    assert!(worst < 1e-5, "data / gains differ from the model by {worst} (relative)");
}

#[test]
fn runs_with_different_starts_see_the_same_gains() {
    let t_int_d = dsa110::INTEGRATION_TIME_S / astro::SECONDS_PER_DAY;
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = small(da.path());
    a.n_integrations = 8;
    let mut b = small(db.path());
    // Three integrations later, a different antenna set and fewer channels: an overlapping
    // stretch of absolute time seen by another run.
    b.start_jd = a.start_jd + 3.0 * t_int_d;
    b.n_integrations = 4;
    b.antennas = sim::default_antennas(9);
    let ga = simulate(&a, &|_| {}, &AtomicBool::new(false)).unwrap();
    let gb = simulate(&b, &|_| {}, &AtomicBool::new(false)).unwrap();
    let (ta, tb) = (truth(&ga.groups[0].truth), truth(&gb.groups[0].truth));
    let (sa, ca) = read_npy(&ga.groups[0].gains);
    let (sb, cb) = read_npy(&gb.groups[0].gains);
    let ants = |t: &serde_json::Value| -> Vec<i64> { t["gains"]["npy"]["antennas"].as_array().unwrap().iter().map(|a| a["antenna"].as_i64().unwrap()).collect() };
    let (aa, ab) = (ants(&ta), ants(&tb));
    let common: Vec<i64> = aa.iter().copied().filter(|x| ab.contains(x)).collect();
    assert!(common.len() >= 3, "{aa:?} {ab:?}");
    let mut compared = 0;
    for &ant in &common {
        let (ia, ib) = (aa.iter().position(|&x| x == ant).unwrap(), ab.iter().position(|&x| x == ant).unwrap());
        for tib in 0..4 {
            let tia = tib + 3;
            for c in 0..16 {
                for p in 0..2 {
                    let x = ca[((ia * sa[1] + tia) * sa[2] + c) * 2 + p];
                    let y = cb[((ib * sb[1] + tib) * sb[2] + c) * 2 + p];
                    assert!((x - y).norm() < 1e-6 * x.norm(), "antenna {ant} time {tib} chan {c} pol {p}: {x} vs {y}");
                    compared += 1;
                }
            }
        }
        let pa = ta["gains"]["antennas"].as_array().unwrap().iter().find(|g| g["antenna"].as_i64() == Some(ant)).unwrap();
        let pb = tb["gains"]["antennas"].as_array().unwrap().iter().find(|g| g["antenna"].as_i64() == Some(ant)).unwrap();
        assert_eq!(pa, pb, "antenna {ant}: parameters");
    }
    assert!(compared > 0);
    // And the gains do move between the two ends of the longer run (a drift, not a constant).
    // Antenna 0, channel 0, XX: integration 0 against integration 7.
    let d = (ca[0] / ca[7 * sa[2] * 2]).arg().abs();
    assert!(d > 0.0);
}
