//! Reprojection: where each output pixel falls in an input image (the value there is
//! [`crate::interp`]'s), as astropy's `reproject_interp` finds it.
//!
//! Output pixel → intermediate coordinates (CD matrix) → direction cosines about the output
//! reference point (TAN or SIN) → the same direction about the input reference point (one
//! rotation) → input intermediate coordinates (SIN or TAN) → input pixel (inverse CD). The two
//! sky rotations compose into one 3×3 matrix per input, so the inner loop has no trigonometry.

use fits::{CelestialWcs, Projection};

/// Output pixels → input pixels for one pair of grids.
#[derive(Debug, Clone)]
pub struct PixelMap {
    out: Linear,
    inp: Linear,
    out_projection: Projection,
    in_projection: Projection,
    /// Native direction cosines about the output reference → about the input reference.
    rotation: [[f64; 3]; 3],
}

/// The linear part of a WCS: pixel offsets ↔ intermediate coordinates in radians.
#[derive(Debug, Clone, Copy)]
struct Linear {
    crpix: [f64; 2],
    cd_rad: [[f64; 2]; 2],
    inv_rad: [[f64; 2]; 2],
}

impl Linear {
    fn of(w: &CelestialWcs) -> Linear {
        let r = std::f64::consts::PI / 180.0;
        let c = w.cd_deg;
        let cd_rad = [[c[0][0] * r, c[0][1] * r], [c[1][0] * r, c[1][1] * r]];
        let det = cd_rad[0][0] * cd_rad[1][1] - cd_rad[0][1] * cd_rad[1][0];
        let inv_rad = [[cd_rad[1][1] / det, -cd_rad[0][1] / det], [-cd_rad[1][0] / det, cd_rad[0][0] / det]];
        Linear { crpix: w.crpix, cd_rad, inv_rad }
    }
}

/// Rows: the unit vectors east (l), north (m) and towards the reference point (n), in ICRS
/// Cartesian coordinates; it takes an ICRS unit vector to direction cosines (l, m, n).
fn native_frame(ra_deg: f64, dec_deg: f64) -> [[f64; 3]; 3] {
    let (sa, ca) = ra_deg.to_radians().sin_cos();
    let (sd, cd) = dec_deg.to_radians().sin_cos();
    [[-sa, ca, 0.0], [-sd * ca, -sd * sa, cd], [cd * ca, cd * sa, sd]]
}

impl PixelMap {
    pub fn new(out: &CelestialWcs, inp: &CelestialWcs) -> PixelMap {
        let a = native_frame(inp.ref_ra_deg, inp.ref_dec_deg);
        let b = native_frame(out.ref_ra_deg, out.ref_dec_deg);
        // a · bᵀ: output native → ICRS (bᵀ, b being orthonormal) → input native (a).
        let mut rotation = [[0.0; 3]; 3];
        for (i, row) in rotation.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (0..3).map(|k| a[i][k] * b[j][k]).sum();
            }
        }
        PixelMap { out: Linear::of(out), inp: Linear::of(inp), out_projection: out.projection, in_projection: inp.projection, rotation }
    }

    /// The 0-based input pixel under the 0-based output pixel (x, y), or `None` where either
    /// projection does not reach.
    #[inline]
    pub fn map(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let o = &self.out;
        let (dx, dy) = (x + 1.0 - o.crpix[0], y + 1.0 - o.crpix[1]);
        let xi = o.cd_rad[0][0] * dx + o.cd_rad[0][1] * dy;
        let eta = o.cd_rad[1][0] * dx + o.cd_rad[1][1] * dy;
        let (l, m, n) = match self.out_projection {
            Projection::Tan => {
                let s = 1.0 / (1.0 + xi * xi + eta * eta).sqrt();
                (xi * s, eta * s, s)
            }
            Projection::Sin => {
                let nn = 1.0 - xi * xi - eta * eta;
                if nn < 0.0 {
                    return None;
                }
                (xi, eta, nn.sqrt())
            }
        };
        let r = &self.rotation;
        let l2 = r[0][0] * l + r[0][1] * m + r[0][2] * n;
        let m2 = r[1][0] * l + r[1][1] * m + r[1][2] * n;
        let n2 = r[2][0] * l + r[2][1] * m + r[2][2] * n;
        let (xi2, eta2) = match self.in_projection {
            Projection::Sin if n2 >= 0.0 => (l2, m2),
            Projection::Tan if n2 > 0.0 => (l2 / n2, m2 / n2),
            _ => return None,
        };
        let i = &self.inp;
        let px = i.inv_rad[0][0] * xi2 + i.inv_rad[0][1] * eta2;
        let py = i.inv_rad[1][0] * xi2 + i.inv_rad[1][1] * eta2;
        Some((px + i.crpix[0] - 1.0, py + i.crpix[1] - 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::{bilinear, CubicSpline};

    fn sin_grid(ra: f64, dec: f64, cell_arcsec: f64, n: usize) -> CelestialWcs {
        CelestialWcs::north_up(Projection::Sin, ra, dec, cell_arcsec / 3600.0, n, n)
    }

    #[test]
    fn identical_grids_map_pixels_to_themselves() {
        let w = sin_grid(150.0, 55.0, 20.0, 256);
        let m = PixelMap::new(&w, &w);
        for (x, y) in [(0.0, 0.0), (128.0, 128.0), (255.0, 3.0), (17.25, 200.5)] {
            let (x2, y2) = m.map(x, y).unwrap();
            assert!((x2 - x).abs() < 1e-9 && (y2 - y).abs() < 1e-9, "({x},{y}) → ({x2},{y2})");
        }
    }

    #[test]
    fn the_map_agrees_with_the_wcs_round_trip() {
        // A TAN mosaic grid and a SIN input 1.5° away along RA at dec 62°, with a slight
        // rotation of the input, against pixel_to_world then world_to_pixel of crates/fits.
        let out = CelestialWcs::north_up(Projection::Tan, 200.0, 62.0, 10.0 / 3600.0, 2000, 800);
        let mut inp = sin_grid(203.2, 62.3, 12.0, 1024);
        inp.cd_deg[0][1] = 2e-5;
        let m = PixelMap::new(&out, &inp);
        for (x, y) in [(0.0, 0.0), (1999.0, 799.0), (1000.0, 400.0), (1500.5, 123.25), (1800.0, 700.0)] {
            let (ra, dec) = out.pixel_to_world(x, y).unwrap();
            let (ex, ey) = inp.world_to_pixel(ra, dec).unwrap();
            let (gx, gy) = m.map(x, y).unwrap();
            assert!((gx - ex).abs() < 1e-6 && (gy - ey).abs() < 1e-6, "({x},{y}): ({gx},{gy}) vs ({ex},{ey})");
        }
    }

    #[test]
    fn reprojecting_an_analytic_sky_recovers_it() {
        // A smooth sky (a broad Gaussian) sampled on a SIN input, interpolated onto a TAN grid
        // offset from it, must equal the function evaluated at the output pixels' sky positions.
        let inp = sin_grid(80.0, 45.0, 30.0, 400);
        let out = CelestialWcs::north_up(Projection::Tan, 80.6, 45.2, 25.0 / 3600.0, 300, 300);
        let (ra0, dec0) = (80.3, 45.1);
        let sky = |ra: f64, dec: f64| (-(fits::wcs::separation_deg(ra, dec, ra0, dec0) / 0.6).powi(2)).exp();
        let data: Vec<f32> = (0..400 * 400)
            .map(|k| {
                let (ra, dec) = inp.pixel_to_world((k % 400) as f64, (k / 400) as f64).unwrap();
                sky(ra, dec) as f32
            })
            .collect();
        let m = PixelMap::new(&out, &inp);
        let spline = CubicSpline::new(data.clone(), 400, 400);
        let (mut worst_linear, mut worst_cubic): (f64, f64) = (0.0, 0.0);
        for y in (0..300).step_by(7) {
            for x in (0..300).step_by(7) {
                let (px, py) = m.map(x as f64, y as f64).unwrap();
                let (ra, dec) = out.pixel_to_world(x as f64, y as f64).unwrap();
                let truth = sky(ra, dec);
                worst_linear = worst_linear.max((bilinear(&data, 400, 400, px, py) as f64 - truth).abs());
                worst_cubic = worst_cubic.max((spline.at(px, py) - truth).abs());
            }
        }
        // Bilinear error ≤ h²/8 · (|f_xx| + |f_yy|) = (30″)²/8 · 2 · 2/(0.6°)² ≈ 9.6e-5; a
        // nearest-pixel lookup would be off by up to h · |f'| ≈ 0.01. The cubic spline's error
        // is O(h⁴): at the f32 rounding of the samples.
        assert!(worst_linear < 1e-4, "bilinear worst error {worst_linear}");
        assert!(worst_cubic < 2e-6, "cubic worst error {worst_cubic}");
    }
}
