//! The finder against an image whose truth is known exactly: point sources and one resolved
//! source, restored with an elliptical beam, in noise correlated on the beam's scale as a
//! synthesis image's is.

use fits::{Beam, CelestialWcs, Header, Image, Projection};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal, Uniform};
use sources::shape::{beam_in_pixels, FWHM_PER_SIGMA};
use sources::{find, FindConfig};

struct Truth {
    ra: f64,
    dec: f64,
    flux: f64,
}

fn synthetic(n: usize, rms: f64, seed: u64) -> (Image, Beam, Vec<Truth>) {
    let cell_deg = 3.0 / 3600.0;
    let wcs = CelestialWcs::north_up(Projection::Sin, 150.0, 55.0, cell_deg, n, n);
    let beam = Beam { bmaj_deg: 16.0 / 3600.0, bmin_deg: 11.0 / 3600.0, bpa_deg: 30.0 };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // Correlated noise: white noise convolved with the beam, scaled to the wanted rms.
    let white: Vec<f64> = (0..n * n).map(|_| Normal::new(0.0, 1.0).unwrap().sample(&mut rng)).collect();
    let kern = beam_in_pixels(&beam, &wcs, 0.0, 0.0).unwrap();
    let r = (3.0 * kern.sigma_major_px).ceil() as i64;
    let mut noise = vec![0f64; n * n];
    for y in 0..n as i64 {
        for x in 0..n as i64 {
            let mut acc = 0.0;
            for dy in -r..=r {
                for dx in -r..=r {
                    let (xx, yy) = ((x + dx).rem_euclid(n as i64), (y + dy).rem_euclid(n as i64));
                    acc += white[(yy * n as i64 + xx) as usize] * kern.eval(dx as f64, dy as f64);
                }
            }
            noise[(y * n as i64 + x) as usize] = acc;
        }
    }
    let sd = (noise.iter().map(|v| v * v).sum::<f64>() / noise.len() as f64).sqrt();
    let mut data: Vec<f64> = noise.iter().map(|v| v / sd * rms).collect();
    // Sources on a jittered grid (no blends), SNR 8 to 300, away from the edges.
    let mut truth = vec![];
    let snr = Uniform::new(8f64.ln(), 300f64.ln()).unwrap();
    let jitter = Uniform::new(-6.0, 6.0).unwrap();
    let step = 48;
    for gy in (step..n - step / 2).step_by(step) {
        for gx in (step..n - step / 2).step_by(step) {
            let (x, y) = (gx as f64 + jitter.sample(&mut rng), gy as f64 + jitter.sample(&mut rng));
            let flux = snr.sample(&mut rng).exp() * rms;
            let mut g = beam_in_pixels(&beam, &wcs, x, y).unwrap();
            g.amp = flux;
            let rr = (4.0 * g.sigma_major_px).ceil() as i64;
            for yy in (y as i64 - rr).max(0)..(y as i64 + rr).min(n as i64 - 1) {
                for xx in (x as i64 - rr).max(0)..(x as i64 + rr).min(n as i64 - 1) {
                    data[yy as usize * n + xx as usize] += g.eval(xx as f64, yy as f64);
                }
            }
            let (ra, dec) = wcs.pixel_to_world(x, y).unwrap();
            truth.push(Truth { ra, dec, flux });
        }
    }
    let img = Image { nx: n, ny: n, data: data.iter().map(|&v| v as f32).collect(), wcs, beam: Some(beam), freq_hz: None, bunit: "Jy/beam".into(), header: Header::default() };
    (img, beam, truth)
}

#[test]
fn point_sources_are_complete_with_true_fluxes_and_positions() {
    let rms = 1e-3;
    let (img, beam, truth) = synthetic(512, rms, 11);
    let found = find(&img, beam, None, &FindConfig::default());
    let beam_deg = (beam.bmaj_deg * beam.bmin_deg).sqrt();
    let (mut matched, mut flux_err, mut pos_err, mut pulls) = (0, vec![], vec![], vec![]);
    let bright: Vec<&Truth> = truth.iter().filter(|t| t.flux > 10.0 * rms).collect();
    for t in &bright {
        let best = found.components.iter().min_by(|a, b| sep(a.ra_deg, a.dec_deg, t).total_cmp(&sep(b.ra_deg, b.dec_deg, t))).unwrap();
        let d = sep(best.ra_deg, best.dec_deg, t);
        if d < 0.5 * beam_deg {
            matched += 1;
            flux_err.push(best.peak_jy / t.flux - 1.0);
            pos_err.push(d / beam_deg);
            pulls.push((best.peak_jy - t.flux) / best.peak_jy_err);
            // A point source: the fit has the beam's shape and the integrated flux its peak.
            if t.flux > 50.0 * rms {
                assert!((best.maj_arcsec / 16.0 - 1.0).abs() < 0.1 && (best.min_arcsec / 11.0 - 1.0).abs() < 0.1, "{best:?}");
                assert!((best.int_jy / t.flux - 1.0).abs() < 0.1, "{best:?}");
                assert!(!best.resolved, "{best:?}");
            }
        }
    }
    let completeness = matched as f64 / bright.len() as f64;
    let max_flux = flux_err.iter().fold(0f64, |m, e| m.max(e.abs()));
    let med_flux = median(flux_err.clone());
    let max_pos = pos_err.iter().fold(0f64, |m, e| m.max(*e));
    let rms_pos = (pos_err.iter().map(|e| e * e).sum::<f64>() / pos_err.len() as f64).sqrt();
    let max_pull = pulls.iter().fold(0f64, |m, e| m.max(e.abs()));
    let pull_rms = (pulls.iter().map(|p| p * p).sum::<f64>() / pulls.len() as f64).sqrt();
    eprintln!("{} bright, completeness {completeness}, flux |err| max {max_flux:.3} median {med_flux:.4}, position max {max_pos:.3} rms {rms_pos:.3} beam, peak pull rms {pull_rms:.2} max {max_pull:.2}; {} components found", bright.len(), found.components.len());
    assert!(bright.len() >= 60);
    assert!(completeness >= 0.99, "completeness {completeness}");
    assert!(med_flux.abs() < 0.01, "median flux error {med_flux}");
    // At 10σ a peak is uncertain by ~10% (Condon 1997): the bound on each source is on its
    // pull, the bound on the sample on its median and scatter.
    assert!(max_flux < 0.3, "max flux error {max_flux}");
    // Faint sources are fitted with the beam's shape, so beam-shaped noise on top of one goes
    // into its peak whole: their pulls have longer tails than a Gaussian's.
    assert!(max_pull < 5.0, "max peak pull {max_pull}");
    assert!(rms_pos < 0.05, "rms position error {rms_pos} beams");
    assert!(max_pos < 0.15, "max position error {max_pos} beams");
    // The Condon errors describe the scatter (a pull rms near 1).
    assert!(pull_rms > 0.7 && pull_rms < 1.5, "pull rms {pull_rms}");
    // Few false detections: components not near any truth source.
    let spurious = found.components.iter().filter(|c| truth.iter().all(|t| sep(c.ra_deg, c.dec_deg, t) > beam_deg)).count();
    assert!(spurious <= 2, "{spurious} spurious components");
}

fn sep(ra: f64, dec: f64, t: &Truth) -> f64 {
    fits::wcs::separation_deg(ra, dec, t.ra, t.dec)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[test]
fn fwhm_constant_is_right() {
    assert!((FWHM_PER_SIGMA - 2.0 * (2.0 * 2f64.ln()).sqrt()).abs() < 1e-12);
}
