//! The primary-beam-weighted linear mosaic, pixel by pixel:
//!
//!   M = Σ Bᵢ·Iᵢ/σᵢ² / Σ Bᵢ²/σᵢ²,   weight W = Σ Bᵢ²/σᵢ²,   effective noise 1/√W,
//!
//! where Iᵢ is a flat-noise image, Bᵢ its primary beam and σᵢ its noise. Since the
//! beam-corrected image Iᵢ/Bᵢ has noise σᵢ/Bᵢ, M is the inverse-variance mean of the corrected
//! images, the combination of least noise. An input counts only where its beam reaches the
//! cutoff; where none does the mosaic is blank (NaN).

use rayon::prelude::*;

use crate::error::MosaicError;
use crate::grid::Grid;
use crate::interp::Sampler;
use crate::reproject::PixelMap;

/// One input: its flat-noise image and beam on the same grid, and its noise.
pub struct Input {
    pub planes: Sampler,
    pub map: PixelMap,
    pub sigma_jy: f64,
    /// The output rows and columns its footprint can reach (inclusive).
    pub rows: (usize, usize),
    pub cols: (usize, usize),
}

/// The three output planes, `[y][x]` on the grid.
pub struct Planes {
    pub mosaic: Vec<f32>,
    pub weight: Vec<f32>,
    pub noise: Vec<f32>,
}

/// Rows per block between progress reports and cancellation checks.
const BLOCK_ROWS: usize = 64;

/// Combines `inputs` onto `grid`; `progress(rows_done, rows_total)` after each block of rows.
/// `Err(Cancelled)` when `cancelled()` says stop.
pub fn combine(inputs: &[Input], grid: &Grid, pb_cutoff: f64, progress: &dyn Fn(usize, usize), cancelled: &dyn Fn() -> bool) -> Result<Planes, MosaicError> {
    let (nx, ny) = (grid.nx, grid.ny);
    let mut p = Planes { mosaic: vec![f32::NAN; nx * ny], weight: vec![f32::NAN; nx * ny], noise: vec![f32::NAN; nx * ny] };
    let mut y0 = 0;
    while y0 < ny {
        if cancelled() {
            return Err(MosaicError::Cancelled);
        }
        let y1 = (y0 + BLOCK_ROWS).min(ny);
        let span = y0 * nx..y1 * nx;
        p.mosaic[span.clone()]
            .par_chunks_mut(nx)
            .zip(p.weight[span.clone()].par_chunks_mut(nx))
            .zip(p.noise[span].par_chunks_mut(nx))
            .enumerate()
            .for_each(|(k, ((m, w), s))| combine_row(inputs, y0 + k, pb_cutoff, m, w, s));
        y0 = y1;
        progress(y0, ny);
    }
    Ok(p)
}

fn combine_row(inputs: &[Input], y: usize, pb_cutoff: f64, mosaic: &mut [f32], weight: &mut [f32], noise: &mut [f32]) {
    let nx = mosaic.len();
    let mut num = vec![0.0f64; nx];
    let mut den = vec![0.0f64; nx];
    for inp in inputs.iter().filter(|i| (i.rows.0..=i.rows.1).contains(&y)) {
        let inv_var = 1.0 / (inp.sigma_jy * inp.sigma_jy);
        for x in inp.cols.0..=inp.cols.1.min(nx - 1) {
            let Some((px, py)) = inp.map.map(x as f64, y as f64) else { continue };
            if let Some((b, v)) = inp.planes.beam_and_image(px, py, pb_cutoff) {
                num[x] += b * v * inv_var;
                den[x] += b * b * inv_var;
            }
        }
    }
    for x in 0..nx {
        if den[x] > 0.0 {
            mosaic[x] = (num[x] / den[x]) as f32;
            weight[x] = den[x] as f32;
            noise[x] = (1.0 / den[x].sqrt()) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fits::{CelestialWcs, Projection};

    fn input(wcs: &CelestialWcs, grid: &Grid, image: Vec<f32>, pb: Vec<f32>, n: usize, sigma_jy: f64) -> Input {
        Input { planes: Sampler::new(image, pb, n, n, crate::interp::Interpolation::Cubic), map: PixelMap::new(&grid.wcs, wcs), sigma_jy, rows: (0, grid.ny - 1), cols: (0, grid.nx - 1) }
    }

    #[test]
    fn two_inputs_on_the_output_grid_combine_by_the_formula() {
        // Both inputs on the output grid itself: no interpolation, the formula pixel by pixel.
        let n = 8;
        let wcs = CelestialWcs::north_up(Projection::Tan, 10.0, 40.0, 1.0 / 60.0, n, n);
        let grid = Grid { nx: n, ny: n, wcs: wcs.clone() };
        let i1: Vec<f32> = (0..n * n).map(|k| 1.0 + k as f32 * 0.01).collect();
        let i2: Vec<f32> = (0..n * n).map(|k| 2.0 - k as f32 * 0.02).collect();
        let b1: Vec<f32> = (0..n * n).map(|k| if k % n < 2 { 0.05 } else { 0.9 }).collect();
        let b2: Vec<f32> = (0..n * n).map(|k| if k % n < 1 { 0.0 } else { 0.4 }).collect();
        let (s1, s2) = (0.5, 0.25);
        let inputs = [input(&wcs, &grid, i1.clone(), b1.clone(), n, s1), input(&wcs, &grid, i2.clone(), b2.clone(), n, s2)];
        let p = combine(&inputs, &grid, 0.1, &|_, _| {}, &|| false).unwrap();
        for k in 0..n * n {
            let mut num = 0.0;
            let mut den = 0.0;
            for (i, b, s) in [(&i1, &b1, s1), (&i2, &b2, s2)] {
                if b[k] as f64 >= 0.1 {
                    num += b[k] as f64 * i[k] as f64 / (s * s);
                    den += (b[k] as f64).powi(2) / (s * s);
                }
            }
            if den == 0.0 {
                assert!(p.mosaic[k].is_nan() && p.weight[k].is_nan() && p.noise[k].is_nan(), "pixel {k}");
            } else {
                assert!(((p.mosaic[k] as f64) - num / den).abs() < 1e-5, "pixel {k}");
                assert!(((p.weight[k] as f64) / den - 1.0).abs() < 1e-6);
                assert!(((p.noise[k] as f64) * den.sqrt() - 1.0).abs() < 1e-6);
            }
        }
        // Column 0: neither beam reaches 0.1, so blank; column 1: only the second input.
        assert!(p.mosaic[0].is_nan());
        assert!((p.mosaic[1] - i2[1] / 0.4).abs() < 1e-5);
    }

    #[test]
    fn a_flat_sky_seen_through_offset_beams_stays_flat() {
        // The corrected images of a uniform 1 Jy sky are all 1, so any weighting gives 1.
        let n = 64;
        let grid = crate::grid::explicit(30.0, 60.0, 2.0 / 60.0, 120, 64);
        let mut inputs = Vec::new();
        for ra in [29.0, 31.0] {
            let w = CelestialWcs::north_up(Projection::Sin, ra, 60.0, 2.0 / 60.0, n, n);
            let pb: Vec<f32> = (0..n * n).map(|k| {
                let (dx, dy) = ((k % n) as f32 - 32.0, (k / n) as f32 - 32.0);
                (-(dx * dx + dy * dy) / 600.0).exp()
            }).collect();
            let image = pb.clone(); // I = B · 1 Jy
            inputs.push(input(&w, &grid, image, pb, n, if ra < 30.0 { 1.0 } else { 3.0 }));
        }
        let p = combine(&inputs, &grid, 0.1, &|_, _| {}, &|| false).unwrap();
        let finite: Vec<f32> = p.mosaic.iter().copied().filter(|v| v.is_finite()).collect();
        assert!(finite.len() > 4000, "{} pixels covered", finite.len());
        assert!(finite.iter().all(|v| (v - 1.0).abs() < 1e-5));
    }
}
