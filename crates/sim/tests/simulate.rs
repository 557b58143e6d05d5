//! Analytic checks on simulated files (pyuvdata comparisons live in test/oracle).

use std::sync::atomic::AtomicBool;

use num_complex::Complex64;
use sim::{simulate, SimConfig, SkySpec, Source};
use uvh5::Uvh5File;

fn small(dir: &std::path::Path) -> SimConfig {
    let mut cfg = SimConfig::new(dir);
    cfg.band.n_subbands = 2;
    cfg.band.channels_per_subband = 8;
    cfg.n_integrations = 4;
    cfg.antennas = sim::default_antennas(6);
    cfg
}

#[test]
fn files_have_the_dsa110_shape() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(dir.path());
    cfg.jitter_s = 20.0;
    let s = simulate(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(s.groups.len(), 1);
    let g = &s.groups[0];
    assert_eq!(g.files.len(), 2);
    for (sb, path) in g.files.iter().enumerate() {
        assert!(path.exists(), "{}", path.display());
        let f = Uvh5File::open(path).unwrap();
        let h = f.header();
        assert_eq!(h.n_bls, 21);
        assert_eq!(h.n_times, 4);
        assert_eq!(h.n_freqs, 8);
        assert!(h.freq_hz.windows(2).all(|w| w[1] < w[0]), "channels descend");
        if sb == 1 {
            let f0 = Uvh5File::open(&g.files[0]).unwrap();
            assert!(f0.header().freq_hz[7] > h.freq_hz[0], "sb00 is the highest subband");
        }
        // |uvw| equals the baseline length.
        let pos = dsa110::station_offsets_ecef_m();
        for k in 0..h.n_bls {
            let (a, b) = (h.ant_1[k] as usize, h.ant_2[k] as usize);
            let d: f64 = (0..3).map(|i| (pos[b][i] - pos[a][i]).powi(2)).sum::<f64>().sqrt();
            let u: f64 = h.uvw_m[k].iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((d - u).abs() < 1e-3 * d.max(1.0), "baseline {a}-{b}: |uvw| {u} vs {d}");
        }
    }
    // No temporary names remain.
    let names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.contains("incomplete") && !n.ends_with(".tmp")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(".truth.json")));
}

#[test]
fn a_source_at_the_phase_centre_has_zero_phase_when_it_transits() {
    // Put one source exactly on the meridian at integration 2's time; without gains or noise
    // every cross-correlation of that integration must be real and positive.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(dir.path());
    cfg.apply_gains = false;
    cfg.noise_jy = 0.0;
    cfg.sky = SkySpec::Sources(vec![]);
    let s = simulate(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(&s.groups[0].truth).unwrap()).unwrap();
    let m = &truth["pointing"]["meridian_icrs"][2];
    let dir2 = tempfile::tempdir().unwrap();
    let mut cfg2 = small(dir2.path());
    cfg2.apply_gains = false;
    cfg2.noise_jy = 0.0;
    cfg2.sky = SkySpec::Sources(vec![Source {
        name: "centre".into(),
        ra_deg: m["ra_deg"].as_f64().unwrap(),
        dec_deg: m["dec_deg"].as_f64().unwrap(),
        flux_jy: 1.0,
        spectral_index: 0.0,
    }]);
    let s2 = simulate(&cfg2, &|_| {}, &AtomicBool::new(false)).unwrap();
    let f = Uvh5File::open(&s2.groups[0].files[0]).unwrap();
    let b = f.read_all().unwrap();
    let h = f.header();
    let mut worst = 0.0f64;
    for blt in 0..h.n_blts {
        if h.ant_1[blt] == h.ant_2[blt] || blt / h.n_bls != 2 {
            continue;
        }
        for k in 0..h.n_freqs * 2 {
            let v = b.vis[blt * h.n_freqs * 2 + k];
            worst = worst.max((v.im as f64).atan2(v.re as f64).abs());
            assert!(v.re > 0.9, "amplitude {}", v.re);
        }
    }
    assert!(worst < 1e-5, "phase at transit {worst} rad");
}

#[test]
fn noise_rms_matches_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(dir.path());
    cfg.sky = SkySpec::Sources(vec![]);
    cfg.apply_gains = false;
    cfg.noise_jy = 3.0;
    cfg.antennas = sim::default_antennas(20);
    let s = simulate(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
    let f = Uvh5File::open(&s.groups[0].files[0]).unwrap();
    let b = f.read_all().unwrap();
    let h = f.header();
    let (mut sum, mut n) = (0.0f64, 0usize);
    for blt in 0..h.n_blts {
        if h.ant_1[blt] == h.ant_2[blt] {
            continue;
        }
        for k in 0..h.n_freqs * 2 {
            let v = b.vis[blt * h.n_freqs * 2 + k];
            sum += (v.re as f64).powi(2) + (v.im as f64).powi(2);
            n += 2;
        }
    }
    let rms = (sum / n as f64).sqrt();
    assert!((rms - 3.0).abs() < 0.05, "rms {rms} over {n} samples");
    let _ = Complex64::new(0.0, 0.0);
}

#[test]
fn same_seed_same_bytes_different_seed_different() {
    let run = |seed: u64| {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = small(dir.path());
        cfg.seed = seed;
        cfg.threads = Some(if seed == 1 { 1 } else { 2 });
        let s = simulate(&cfg, &|_| {}, &AtomicBool::new(false)).unwrap();
        let f = Uvh5File::open(&s.groups[0].files[1]).unwrap();
        (f.read_all().unwrap().vis, dir)
    };
    let (a, _d1) = run(1);
    let (mut cfg_b, _d2) = run(1);
    assert_eq!(a, cfg_b);
    let (c, _d3) = run(2);
    assert_ne!(a, c);
    cfg_b.clear();
}
