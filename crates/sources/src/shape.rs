//! From a fitted pixel-frame Gaussian to sky quantities: position, FWHM axes and position
//! angle through the image's WCS, their uncertainties (Condon 1997), integrated flux, and the
//! size deconvolved from the restoring beam.

use fits::wcs::separation_deg;
use fits::{Beam, CelestialWcs};

use crate::gauss::Gaussian;

/// FWHM = this × σ for a Gaussian.
pub const FWHM_PER_SIGMA: f64 = 2.354_820_045_030_949_3;

/// A Gaussian on the sky: FWHM axes in degrees, PA east of north in [0, 180).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkyShape {
    pub major_deg: f64,
    pub minor_deg: f64,
    pub pa_deg: f64,
}

/// Position angle (east of north, degrees) of the great circle from 1 to 2.
pub fn bearing_deg(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (d1, d2, da) = (dec1.to_radians(), dec2.to_radians(), (ra2 - ra1).to_radians());
    (da.sin() * d2.cos()).atan2(d1.cos() * d2.sin() - d1.sin() * d2.cos() * da.cos()).to_degrees()
}

/// The fitted Gaussian's axes and PA on the sky, from the WCS at its centre.
pub fn sky_shape(g: &Gaussian, wcs: &CelestialWcs) -> Option<(f64, f64, SkyShape)> {
    let (ra, dec) = wcs.pixel_to_world(g.x0, g.y0)?;
    // Half a pixel either way: the WCS is linear enough at that scale for any image.
    let axis = |angle: f64| -> Option<(f64, f64)> {
        let (s, c) = angle.sin_cos();
        let eps = 0.5;
        let (ra_p, dec_p) = wcs.pixel_to_world(g.x0 + eps * c, g.y0 + eps * s)?;
        let (ra_m, dec_m) = wcs.pixel_to_world(g.x0 - eps * c, g.y0 - eps * s)?;
        // The bearing from the centre itself: from the far end it would differ by half the
        // meridians' convergence over the step.
        Some((separation_deg(ra_m, dec_m, ra_p, dec_p) / (2.0 * eps), bearing_deg(ra, dec, ra_p, dec_p)))
    };
    let (scale_major, pa) = axis(g.theta_rad)?;
    let (scale_minor, _) = axis(g.theta_rad + std::f64::consts::FRAC_PI_2)?;
    let shape = SkyShape {
        major_deg: g.sigma_major_px * FWHM_PER_SIGMA * scale_major,
        minor_deg: g.sigma_minor_px * FWHM_PER_SIGMA * scale_minor,
        pa_deg: pa.rem_euclid(180.0),
    };
    Some((ra, dec, shape))
}

/// The restoring beam as a pixel-frame Gaussian of unit amplitude at (x, y): the shape every
/// point source has, and the fitter's starting point.
pub fn beam_in_pixels(beam: &Beam, wcs: &CelestialWcs, x: f64, y: f64) -> Option<Gaussian> {
    let (ra, dec) = wcs.pixel_to_world(x, y)?;
    let step_deg = beam.bmaj_deg.max(1e-6) * 0.01;
    let (xn, yn) = wcs.world_to_pixel(ra, dec + step_deg)?;
    let north = (yn - y).atan2(xn - x);
    let cell_deg = wcs.pixel_area_deg2().sqrt();
    let c = &wcs.cd_deg;
    // East lies a quarter turn counter-clockwise of north when the pixel grid is mirrored (the
    // usual RA-increasing-left image, det CD < 0).
    let sign = if c[0][0] * c[1][1] - c[0][1] * c[1][0] < 0.0 { 1.0 } else { -1.0 };
    Some(Gaussian {
        amp: 1.0,
        x0: x,
        y0: y,
        sigma_major_px: beam.bmaj_deg / cell_deg / FWHM_PER_SIGMA,
        sigma_minor_px: beam.bmin_deg / cell_deg / FWHM_PER_SIGMA,
        theta_rad: north + sign * beam.bpa_deg.to_radians(),
    })
}

/// 1-σ uncertainties of a fitted component, from its signal-to-noise ratio and its size
/// relative to the beam (Condon 1997, eqs. 21, 41), which holds for the correlated noise of a
/// synthesis image where the fit's own covariance does not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uncertainties {
    pub peak: f64,
    pub major_deg: f64,
    pub minor_deg: f64,
    pub pa_deg: f64,
    /// Along the major and minor axes, degrees.
    pub along_major_deg: f64,
    pub along_minor_deg: f64,
    pub integrated: f64,
}

pub fn condon_errors(peak: f64, rms: f64, shape: &SkyShape, beam: &Beam) -> Uncertainties {
    let (maj, min) = (shape.major_deg, shape.minor_deg);
    let theta_n2 = beam.bmaj_deg * beam.bmin_deg;
    let snr2 = (peak / rms).powi(2);
    let rho2 = |a_maj: f64, a_min: f64| maj * min / (4.0 * theta_n2) * (1.0 + theta_n2 / (maj * maj)).powf(a_maj) * (1.0 + theta_n2 / (min * min)).powf(a_min) * snr2;
    let rel = |a_maj, a_min| (2.0 / rho2(a_maj, a_min)).sqrt();
    let peak_err = peak * rel(1.5, 1.5);
    let major_err = maj * rel(2.5, 0.5);
    let minor_err = min * rel(0.5, 2.5);
    let pa_err = if maj > min { (rel(0.5, 2.5) * 2.0 * maj * min / (maj * maj - min * min)).to_degrees().min(180.0) } else { 180.0 };
    let to_sigma = 1.0 / FWHM_PER_SIGMA;
    let int_rel2 = (peak_err / peak).powi(2) + theta_n2 / (maj * min) * ((major_err / maj).powi(2) + (minor_err / min).powi(2));
    Uncertainties {
        peak: peak_err,
        major_deg: major_err,
        minor_deg: minor_err,
        pa_deg: pa_err,
        along_major_deg: rel(2.5, 0.5) * maj * to_sigma,
        along_minor_deg: rel(0.5, 2.5) * min * to_sigma,
        integrated: int_rel2.sqrt(),
    }
}

/// The integrated flux of a Gaussian of `peak` Jy/beam: peak × its area over the beam's.
pub fn integrated_flux(peak: f64, shape: &SkyShape, beam: &Beam) -> f64 {
    peak * shape.major_deg * shape.minor_deg / (beam.bmaj_deg * beam.bmin_deg)
}

/// The RA and Dec uncertainties (degrees on the sky) from those along the axes.
pub fn position_errors(u: &Uncertainties, pa_deg: f64) -> (f64, f64) {
    let (s, c) = pa_deg.to_radians().sin_cos();
    let (a2, b2) = (u.along_major_deg.powi(2), u.along_minor_deg.powi(2));
    ((a2 * s * s + b2 * c * c).sqrt(), (a2 * c * c + b2 * s * s).sqrt())
}

/// A Gaussian's second-moment matrix in (east, north), FWHM² units.
fn moments(s: &SkyShape) -> [f64; 3] {
    let (sp, cp) = s.pa_deg.to_radians().sin_cos();
    let (a2, b2) = (s.major_deg.powi(2), s.minor_deg.powi(2));
    // Major axis along (sin PA, cos PA) in (east, north).
    [a2 * sp * sp + b2 * cp * cp, (a2 - b2) * sp * cp, a2 * cp * cp + b2 * sp * sp]
}

/// The source's intrinsic shape: the fitted Gaussian's moments less the beam's (convolution adds
/// them). An axis whose difference is not positive is unresolved and reported as 0.
pub fn deconvolve(fitted: &SkyShape, beam: &Beam) -> SkyShape {
    let f = moments(fitted);
    let b = moments(&SkyShape { major_deg: beam.bmaj_deg, minor_deg: beam.bmin_deg, pa_deg: beam.bpa_deg });
    let (ee, en, nn) = (f[0] - b[0], f[1] - b[1], f[2] - b[2]);
    let mean = 0.5 * (ee + nn);
    let diff = (0.25 * (ee - nn).powi(2) + en * en).sqrt();
    let (l1, l2) = (mean + diff, mean - diff);
    // The major axis' direction: the eigenvector of the larger eigenvalue, (east, north).
    let pa = if diff > 0.0 { (2.0 * en).atan2(nn - ee).to_degrees() / 2.0 } else { 0.0 };
    SkyShape { major_deg: l1.max(0.0).sqrt(), minor_deg: l2.max(0.0).sqrt(), pa_deg: pa.rem_euclid(180.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fits::Projection;

    #[test]
    fn deconvolution_undoes_convolution() {
        let beam = Beam { bmaj_deg: 0.01, bmin_deg: 0.006, bpa_deg: 20.0 };
        let src = SkyShape { major_deg: 0.008, minor_deg: 0.003, pa_deg: 110.0 };
        let (s, b) = (moments(&src), moments(&SkyShape { major_deg: beam.bmaj_deg, minor_deg: beam.bmin_deg, pa_deg: beam.bpa_deg }));
        let sum = [s[0] + b[0], s[1] + b[1], s[2] + b[2]];
        // Back from moments to axes, as deconvolve does, by deconvolving a zero beam.
        let mean = 0.5 * (sum[0] + sum[2]);
        let diff = (0.25 * (sum[0] - sum[2]).powi(2) + sum[1] * sum[1]).sqrt();
        let pa = ((2.0 * sum[1]).atan2(sum[2] - sum[0]).to_degrees() / 2.0).rem_euclid(180.0);
        let conv = SkyShape { major_deg: (mean + diff).sqrt(), minor_deg: (mean - diff).sqrt(), pa_deg: pa };
        let d = deconvolve(&conv, &beam);
        assert!((d.major_deg - src.major_deg).abs() < 1e-12 && (d.minor_deg - src.minor_deg).abs() < 1e-12, "{d:?}");
        assert!((d.pa_deg - src.pa_deg).abs() < 1e-8, "{d:?}");
        let point = deconvolve(&SkyShape { major_deg: beam.bmaj_deg, minor_deg: beam.bmin_deg, pa_deg: beam.bpa_deg }, &beam);
        assert!(point.major_deg < 1e-9 && point.minor_deg < 1e-9);
    }

    #[test]
    fn beam_round_trips_through_pixels() {
        let wcs = CelestialWcs::north_up(Projection::Sin, 200.0, 60.0, 3.0 / 3600.0, 512, 512);
        let beam = Beam { bmaj_deg: 20.0 / 3600.0, bmin_deg: 12.0 / 3600.0, bpa_deg: 35.0 };
        let g = beam_in_pixels(&beam, &wcs, 256.0, 256.0).unwrap();
        let (_, _, s) = sky_shape(&g, &wcs).unwrap();
        assert!((s.major_deg / beam.bmaj_deg - 1.0).abs() < 1e-6 && (s.minor_deg / beam.bmin_deg - 1.0).abs() < 1e-6, "{s:?}");
        assert!((s.pa_deg - 35.0).abs() < 1e-4, "{s:?}");
    }
}
