//! The point-source sky.

use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};

/// Reference frequency of source fluxes and spectral indices: the band centre.
pub const REF_FREQ_HZ: f64 = 1.405e9;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub name: String,
    /// ICRS.
    pub ra_deg: f64,
    pub dec_deg: f64,
    /// Stokes I at `REF_FREQ_HZ` (XX = YY = I).
    pub flux_jy: f64,
    /// S(ν) = flux · (ν / ν_ref)^α.
    #[serde(default)]
    pub spectral_index: f64,
}

impl Source {
    pub fn flux_at(&self, freq_hz: f64) -> f64 {
        self.flux_jy * (freq_hz / REF_FREQ_HZ).powf(self.spectral_index)
    }
}

/// A calibrator from the catalogue (`data/calibrators.csv`), placed at transit by
/// `simulate --calibrator`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogueCalibrator {
    pub name: String,
    /// J2000/ICRS.
    pub ra_deg: f64,
    pub dec_deg: f64,
    /// Catalogue flux density at `ref_freq_hz` (1.4 GHz) and spectral index.
    pub flux_jy: f64,
    pub spectral_index: f64,
    pub ref_freq_hz: f64,
    /// When it crosses the meridian (HA = 0), UTC Julian date: the first group's mid-time.
    pub transit_jd: f64,
}

impl CatalogueCalibrator {
    /// The sky source: the same power law, re-referenced to `REF_FREQ_HZ`, so that
    /// `Source::flux_at(ν)` equals the catalogue's S(ν) at every frequency.
    pub fn source(&self) -> Source {
        Source {
            name: self.name.clone(),
            ra_deg: self.ra_deg,
            dec_deg: self.dec_deg,
            flux_jy: self.flux_jy * (REF_FREQ_HZ / self.ref_freq_hz).powf(self.spectral_index),
            spectral_index: self.spectral_index,
        }
    }
}

/// Draws `n` sources around a centre: positions uniform within `radius_deg` (on the sphere),
/// fluxes log-uniform in [20 mJy, 2 Jy], spectral indices around −0.7.
pub fn random_sources(
    rng: &mut impl Rng,
    n: usize,
    centre_ra_deg: f64,
    centre_dec_deg: f64,
    radius_deg: f64,
    name_prefix: &str,
) -> Vec<Source> {
    let (log_lo, log_hi) = (0.02f64.ln(), 2.0f64.ln());
    let cos_r = radius_deg.to_radians().cos();
    let alpha = Normal::new(-0.7, 0.2).expect("sigma");
    (0..n)
        .map(|i| {
            // Uniform on the spherical cap, then rotated to the centre.
            let z: f64 = Uniform::new(cos_r, 1.0).expect("range").sample(rng);
            let phi: f64 = Uniform::new(0.0, std::f64::consts::TAU).expect("range").sample(rng);
            let rho = (1.0 - z * z).sqrt();
            let (ra, dec) = rotate_from_pole(rho * phi.cos(), rho * phi.sin(), z, centre_ra_deg.to_radians(), centre_dec_deg.to_radians());
            Source {
                name: format!("{name_prefix}{i:03}"),
                ra_deg: ra.to_degrees().rem_euclid(360.0),
                dec_deg: dec.to_degrees(),
                flux_jy: Uniform::new(log_lo, log_hi).expect("range").sample(rng).exp(),
                spectral_index: alpha.sample(rng),
            }
        })
        .collect()
}

/// Rotates a unit vector given about the +z pole so that the pole lands on (ra0, dec0).
fn rotate_from_pole(x: f64, y: f64, z: f64, ra0: f64, dec0: f64) -> (f64, f64) {
    // Tilt by (90° − dec0) about y, then spin by ra0 about z.
    let t = std::f64::consts::FRAC_PI_2 - dec0;
    let (st, ct) = t.sin_cos();
    let (x1, y1, z1) = (x * ct + z * st, y, -x * st + z * ct);
    let (sr, cr) = ra0.sin_cos();
    let (x2, y2) = (x1 * cr - y1 * sr, x1 * sr + y1 * cr);
    (y2.atan2(x2), z1.clamp(-1.0, 1.0).asin())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn calibrator_flux_is_the_catalogue_power_law() {
        let c = CatalogueCalibrator { name: "3C286".into(), ra_deg: 202.78, dec_deg: 30.5, flux_jy: 14.9, spectral_index: -0.46, ref_freq_hz: 1.4e9, transit_jd: 0.0 };
        let s = c.source();
        for f in [1.3e9, 1.4e9, 1.5e9] {
            assert!((s.flux_at(f) - 14.9 * (f / 1.4e9).powf(-0.46)).abs() < 1e-12);
        }
    }

    #[test]
    fn sources_land_inside_the_cap() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let s = random_sources(&mut rng, 200, 150.0, 54.0, 2.0, "S");
        for src in &s {
            let d = dsa110::beam::angular_distance(150f64.to_radians(), 54f64.to_radians(), src.ra_deg.to_radians(), src.dec_deg.to_radians());
            assert!(d.to_degrees() <= 2.0 + 1e-9, "{}", d.to_degrees());
            assert!((0.02..=2.0).contains(&src.flux_jy));
        }
    }
}
