//! Model visibilities of point sources, as the simulator makes them (crates/sim):
//!
//! ```text
//! M(u, v, w, ν, t) = Σ_k S_k(ν) A(θ_k(t), ν) exp(+2πi ν (u l_k + v m_k + w (n_k − 1)) / c)
//! ```
//!
//! - `S_k(ν) = S_ref (ν / ν_ref)^α`, Stokes I; XX = YY = I (the simulator's convention: each
//!   parallel hand carries the full Stokes I, no factor ½).
//! - `A` is the dish power pattern of `dsa110::beam` at the angle between the source and the beam
//!   centre, which at time t is the meridian (HA = 0) at the pointing declination, both in the
//!   apparent frame of date — exactly what the simulator evaluates per integration.
//! - `(l, m, n)` are the source's direction cosines relative to the MS phase centre, both ICRS,
//!   like the MS's UVW (DESIGN.md §3), so no apparent-frame rotation enters the phase. The sign
//!   is that of the MS `convert` writes (uvw = x_ANTENNA2 − x_ANTENNA1 and DATA conjugated as
//!   pyuvdata's `write_ms` does): fitting the phases of gain-corrected simulated DATA recovers
//!   the calibrator's ICRS offset from the phase centre (−0.80″, −0.09″ for 3C286) with `+`.
//!
//! The pointing declination is the apparent declination of the phase centre at the field's
//! time: `convert` phases a drift group to the ICRS position of the meridian at the pointing
//! declination at mid-group, so converting back at that instant recovers it.

use std::f64::consts::TAU;

use num_complex::Complex32;

const C_M_S: f64 = 299_792_458.0;

/// A point source of the sky model (ICRS).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointSource {
    pub name: String,
    pub ra_deg: f64,
    pub dec_deg: f64,
    /// Stokes I at `ref_freq_hz`.
    pub flux_jy: f64,
    pub spectral_index: f64,
    pub ref_freq_hz: f64,
}

impl PointSource {
    pub fn flux_at(&self, freq_hz: f64) -> f64 {
        self.flux_jy * (freq_hz / self.ref_freq_hz).powf(self.spectral_index)
    }
}

/// Direction cosines of `(ra, dec)` relative to `(ra0, dec0)` (radians), with `n − 1`.
pub fn lmn(ra: f64, dec: f64, ra0: f64, dec0: f64) -> [f64; 3] {
    let (sd, cd) = dec.sin_cos();
    let (sd0, cd0) = dec0.sin_cos();
    let (sa, ca) = (ra - ra0).sin_cos();
    let l = cd * sa;
    let m = sd * cd0 - cd * sd0 * ca;
    // n − 1 without cancellation: n − 1 = −(l² + m²) / (1 + n).
    let n = sd * sd0 + cd * cd0 * ca;
    [l, m, -(l * l + m * m) / (1.0 + n)]
}

/// The geometry shared by every time of one MS.
pub struct Geometry {
    pub phase_centre_rad: [f64; 2],
    /// Apparent declination of the beam centre (the pointing).
    pub pointing_dec_app_rad: f64,
    site: astro::Site,
}

impl Geometry {
    /// `field_time_mjd_s`: the FIELD row's TIME (the instant the phase centre was the meridian).
    pub fn new(phase_centre_rad: [f64; 2], field_time_mjd_s: f64) -> Geometry {
        let site = astro::Site::from_geodetic_deg(dsa110::SITE_LATITUDE_DEG, dsa110::SITE_LONGITUDE_DEG, dsa110::SITE_ALTITUDE_M);
        let table = astro::EopTable::get();
        let jd = astro::mjd_s_to_jd(field_time_mjd_s);
        let app = astro::icrs_to_app(phase_centre_rad[0], phase_centre_rad[1], jd, &site, table);
        Geometry { phase_centre_rad, pointing_dec_app_rad: app.dec_rad, site }
    }

    /// Angle between a source (ICRS) and the beam centre at `time_mjd_s`.
    pub fn beam_offset_rad(&self, ra_rad: f64, dec_rad: f64, time_mjd_s: f64) -> f64 {
        let table = astro::EopTable::get();
        let jd = astro::mjd_s_to_jd(time_mjd_s);
        let lst = astro::lst_rad(jd, &self.site, table);
        let app = astro::icrs_to_app(ra_rad, dec_rad, jd, &self.site, table);
        dsa110::beam::angular_distance(app.ra_rad, app.dec_rad, lst, self.pointing_dec_app_rad)
    }
}

/// The model of one MS: its sources with their fixed direction cosines.
pub struct SkyModel {
    pub sources: Vec<PointSource>,
    lmn: Vec<[f64; 3]>,
    pub geometry: Geometry,
}

/// What one integration needs: per source, `S A` at every channel (`[src][chan]`).
pub struct TimeModel {
    amp: Vec<f64>,
    n_chan: usize,
}

impl SkyModel {
    pub fn new(sources: Vec<PointSource>, geometry: Geometry) -> SkyModel {
        let [ra0, dec0] = geometry.phase_centre_rad;
        let lmn = sources.iter().map(|s| lmn(s.ra_deg.to_radians(), s.dec_deg.to_radians(), ra0, dec0)).collect();
        SkyModel { sources, lmn, geometry }
    }

    /// Apparent flux (`S A`) of every source at every channel at one time.
    pub fn at_time(&self, time_mjd_s: f64, freqs_hz: &[f64]) -> TimeModel {
        let mut amp = Vec::with_capacity(self.sources.len() * freqs_hz.len());
        for s in &self.sources {
            let theta = self.geometry.beam_offset_rad(s.ra_deg.to_radians(), s.dec_deg.to_radians(), time_mjd_s);
            amp.extend(freqs_hz.iter().map(|&f| s.flux_at(f) * dsa110::beam::primary_beam_power(theta, f)));
        }
        TimeModel { amp, n_chan: freqs_hz.len() }
    }

    /// Model visibilities of one baseline (`uvw_m`, MS convention) at the channels `freqs_hz`
    /// (which `tm` was made for), into `out` (one per channel). Channels equally spaced are
    /// rotated by a phasor recurrence (exact to ~1e-13 over a spectral window) instead of one
    /// `sin_cos` each.
    pub fn visibilities(&self, tm: &TimeModel, uvw_m: [f64; 3], freqs_hz: &[f64], uniform: bool, out: &mut [Complex32]) {
        debug_assert_eq!(tm.n_chan, freqs_hz.len());
        let mut acc = vec![(0.0f64, 0.0f64); freqs_hz.len()];
        for (k, l) in self.lmn.iter().enumerate() {
            let delay_m = uvw_m[0] * l[0] + uvw_m[1] * l[1] + uvw_m[2] * l[2];
            let k_rad_per_hz = TAU * delay_m / C_M_S;
            let amp = &tm.amp[k * tm.n_chan..(k + 1) * tm.n_chan];
            if uniform && freqs_hz.len() > 1 {
                let (mut s, mut c) = (k_rad_per_hz * freqs_hz[0]).sin_cos();
                let (ds, dc) = (k_rad_per_hz * (freqs_hz[1] - freqs_hz[0])).sin_cos();
                for (a, &p) in acc.iter_mut().zip(amp) {
                    a.0 += p * c;
                    a.1 += p * s;
                    let (c2, s2) = (c * dc - s * ds, s * dc + c * ds);
                    c = c2;
                    s = s2;
                }
            } else {
                for (a, (&p, &f)) in acc.iter_mut().zip(amp.iter().zip(freqs_hz)) {
                    let (s, c) = (k_rad_per_hz * f).sin_cos();
                    a.0 += p * c;
                    a.1 += p * s;
                }
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = Complex32::new(a.0 as f32, a.1 as f32);
        }
    }
}

/// Whether channels are equally spaced (to 1e-9 of their spacing), so the phasor recurrence
/// applies.
pub fn uniform_spacing(freqs_hz: &[f64]) -> bool {
    if freqs_hz.len() < 3 {
        return true;
    }
    let d = freqs_hz[1] - freqs_hz[0];
    freqs_hz.windows(2).all(|w| ((w[1] - w[0]) - d).abs() <= 1e-9 * d.abs().max(1.0))
}

/// The catalogue calibrator nearest the phase centre, if within `radius_deg`.
pub fn nearest_calibrator(catalogue: &[PointSource], phase_centre_rad: [f64; 2], radius_deg: f64) -> Option<(PointSource, f64)> {
    catalogue
        .iter()
        .map(|c| {
            let d = dsa110::beam::angular_distance(c.ra_deg.to_radians(), c.dec_deg.to_radians(), phase_centre_rad[0], phase_centre_rad[1]);
            (c.clone(), d.to_degrees())
        })
        .filter(|(_, d)| *d <= radius_deg)
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lmn_of_the_centre_is_zero_and_small_offsets_are_linear() {
        let [l, m, n1] = lmn(1.0, 0.5, 1.0, 0.5);
        assert!(l.abs() < 1e-15 && m.abs() < 1e-15 && n1.abs() < 1e-15);
        let [l, m, n1] = lmn(1.0 + 1e-4, 0.5, 1.0, 0.5);
        assert!((l - 1e-4 * 0.5f64.cos()).abs() < 1e-10);
        assert!(m.abs() < 1e-8);
        assert!((n1 + 0.5 * l * l).abs() < 1e-14);
    }

    #[test]
    fn recurrence_matches_exact_phases() {
        let geometry = Geometry { phase_centre_rad: [1.0, 0.6], pointing_dec_app_rad: 0.6, site: astro::Site::from_geodetic_deg(37.0, -118.0, 1000.0) };
        let src = PointSource { name: "x".into(), ra_deg: 1.01f64.to_degrees(), dec_deg: 0.61f64.to_degrees(), flux_jy: 2.0, spectral_index: -0.7, ref_freq_hz: 1.4e9 };
        let model = SkyModel::new(vec![src.clone()], geometry);
        let freqs: Vec<f64> = (0..768).map(|i| 1.31e9 + i as f64 * 244_140.625).collect();
        let tm = TimeModel { amp: freqs.iter().map(|&f| src.flux_at(f)).collect(), n_chan: freqs.len() };
        let uvw = [1234.5, -876.25, 55.5];
        let mut a = vec![Complex32::default(); freqs.len()];
        let mut b = a.clone();
        model.visibilities(&tm, uvw, &freqs, true, &mut a);
        model.visibilities(&tm, uvw, &freqs, false, &mut b);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).norm() < 1e-5 * y.norm().max(1.0), "{x} {y}");
        }
        // The phase convention: exp(+2πi ν (ul + vm + w(n−1))/c).
        let [l, m, n1] = lmn(1.01, 0.61, 1.0, 0.6);
        let ph = TAU * freqs[7] * (uvw[0] * l + uvw[1] * m + uvw[2] * n1) / C_M_S;
        let want = Complex32::new((src.flux_at(freqs[7]) * ph.cos()) as f32, (src.flux_at(freqs[7]) * ph.sin()) as f32);
        assert!((b[7] - want).norm() < 1e-5, "{} {want}", b[7]);
    }
}
