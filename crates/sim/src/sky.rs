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
