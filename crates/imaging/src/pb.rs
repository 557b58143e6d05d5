//! Primary-beam correction with the DSA-110 dish model (`dsa110::primary_beam_power`).
//!
//! The dishes of a drift scan stay at the meridian at the pointing declination while the sky
//! moves past: over a 5-minute group the pointing moves 1.25° in RA. An image of the group
//! sees, at each pixel, the dish response averaged over the integrations and channels that
//! made it, and that average is what dividing by the beam must undo.
//!
//! The beam is smooth on the scale of a pixel (its half-power width is ~2.6°, pixels are
//! arcseconds), so it is evaluated on a coarse lattice and interpolated bilinearly.

use crate::fits::Wcs;
use crate::quicklook::pixel_to_sky;
use rayon::prelude::*;

/// Lattice spacing (pixels) of the beam evaluation.
const STEP: usize = 16;

/// Beam power for every image pixel (`[y][x]`, n × n), averaged over `pointings` (ICRS ra,
/// dec in radians, one per integration) and `freqs_hz`. Pixels beyond the horizon get 0.
pub fn beam_image(n: usize, wcs: &Wcs, pointings: &[(f64, f64)], freqs_hz: &[f64]) -> Vec<f32> {
    let norm = (pointings.len() * freqs_hz.len()).max(1) as f64;
    let at = |x: f64, y: f64| -> f64 {
        let Some((ra, dec)) = pixel_to_sky(wcs, x, y) else { return 0.0 };
        let mut s = 0.0;
        for &(pra, pdec) in pointings {
            let theta = dsa110::beam::angular_distance(pra, pdec, ra, dec);
            for &f in freqs_hz {
                s += dsa110::primary_beam_power(theta, f);
            }
        }
        s / norm
    };
    let nl = n.div_ceil(STEP) + 1;
    let lattice: Vec<f64> = (0..nl * nl).into_par_iter().map(|k| at(((k % nl) * STEP) as f64, ((k / nl) * STEP) as f64)).collect();
    let mut out = vec![0.0f32; n * n];
    out.par_chunks_mut(n).enumerate().for_each(|(y, row)| {
        let (ly, fy) = (y / STEP, (y % STEP) as f64 / STEP as f64);
        for (x, v) in row.iter_mut().enumerate() {
            let (lx, fx) = (x / STEP, (x % STEP) as f64 / STEP as f64);
            let g = |i: usize, j: usize| lattice[(ly + j) * nl + lx + i];
            let b = (1.0 - fy) * ((1.0 - fx) * g(0, 0) + fx * g(1, 0)) + fy * ((1.0 - fx) * g(0, 1) + fx * g(1, 1));
            *v = b as f32;
        }
    });
    out
}

/// Divides by the beam where it is at least `cutoff` of its peak; elsewhere NaN, as imaging
/// packages blank what they cannot correct.
pub fn correct(image: &[f32], beam: &[f32], cutoff: f32) -> Vec<f32> {
    let peak = beam.iter().copied().fold(0.0f32, f32::max);
    image
        .iter()
        .zip(beam)
        .map(|(&v, &b)| if b >= cutoff * peak && b > 0.0 { v / b } else { f32::NAN })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_beam_matches_direct_evaluation() {
        let n = 512;
        let wcs = Wcs { ra_deg: 150.0, dec_deg: 50.0, crpix_x: 257.0, crpix_y: 257.0, cell_deg: 20.0 / 3600.0, freq_hz: 1.4e9, bandwidth_hz: 1e8 };
        let p = [(150f64.to_radians(), 50f64.to_radians())];
        let f = [1.4e9];
        let b = beam_image(n, &wcs, &p, &f);
        for &(x, y) in &[(256usize, 256usize), (3, 77), (400, 500), (131, 17), (509, 3)] {
            let (ra, dec) = pixel_to_sky(&wcs, x as f64, y as f64).unwrap();
            let direct = dsa110::primary_beam_power(dsa110::beam::angular_distance(p[0].0, p[0].1, ra, dec), f[0]);
            assert!((b[y * n + x] as f64 - direct).abs() < 5e-4, "({x},{y}): {} vs {direct}", b[y * n + x]);
        }
        assert!((b[256 * n + 256] - 1.0).abs() < 1e-6);
    }
}
