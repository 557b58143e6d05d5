//! Background and noise maps: sigma-clipped statistics in a box that slides over a coarse grid,
//! interpolated bilinearly to every pixel (the approach of SExtractor and BANE). The box is
//! many beams wide, so that sources barely move the median, and the grid step is a quarter of
//! it, so that the maps follow noise that varies across the field (a primary-beam-corrected
//! mosaic) while costing a few evaluations per box.

use rayon::prelude::*;

#[derive(Debug, Clone, Copy)]
pub struct BackgroundConfig {
    /// Side of the box, pixels.
    pub box_px: usize,
    /// Grid step between box centres, pixels.
    pub step_px: usize,
    /// Clip at this many sigma about the median.
    pub clip_sigma: f64,
    pub clip_iterations: usize,
}

impl BackgroundConfig {
    /// A box of 20 beams (at least 32 pixels) and a step of a quarter of it.
    pub fn for_beam(beam_px: f64, nx: usize, ny: usize) -> BackgroundConfig {
        let box_px = ((20.0 * beam_px).round() as usize).max(32).min(nx.max(ny));
        BackgroundConfig { box_px, step_px: (box_px / 4).max(1), clip_sigma: 3.0, clip_iterations: 5 }
    }
}

pub struct Background {
    pub bkg: Vec<f32>,
    pub rms: Vec<f32>,
}

/// A box never holds more samples than this: beyond it, every k-th pixel in each direction.
const MAX_SAMPLES: usize = 16384;
/// The MAD of a Gaussian is this fraction of its sigma.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

pub fn estimate(data: &[f32], nx: usize, ny: usize, c: &BackgroundConfig) -> Background {
    let gx = grid_nodes(nx, c.step_px);
    let gy = grid_nodes(ny, c.step_px);
    let half = c.box_px / 2;
    let nodes: Vec<(f32, f32)> = (0..gy.len() * gx.len())
        .into_par_iter()
        .map_init(Vec::new, |buf, k| {
            let (cx, cy) = (gx[k % gx.len()], gy[k / gx.len()]);
            let (x0, x1) = (cx.saturating_sub(half), (cx + half + 1).min(nx));
            let (y0, y1) = (cy.saturating_sub(half), (cy + half + 1).min(ny));
            let n = (x1 - x0) * (y1 - y0);
            let stride = ((n as f64 / MAX_SAMPLES as f64).sqrt().ceil() as usize).max(1);
            buf.clear();
            for y in (y0..y1).step_by(stride) {
                buf.extend(data[y * nx + x0..y * nx + x1].iter().step_by(stride).copied().filter(|v| v.is_finite()));
            }
            clipped_stats(buf, c.clip_sigma, c.clip_iterations)
        })
        .collect();
    interpolate(&nodes, &gx, &gy, nx, ny)
}

/// Box centres along an axis: 0, step, 2·step, … and always the last pixel.
fn grid_nodes(n: usize, step: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).step_by(step).collect();
    if *v.last().unwrap() != n - 1 {
        v.push(n - 1);
    }
    v
}

/// Median and MAD-sigma of the values within `k` sigma of the median, iterated; (NaN, NaN)
/// when the box has too few finite pixels to say.
pub fn clipped_stats(values: &mut Vec<f32>, k: f64, iterations: usize) -> (f32, f32) {
    if values.len() < 8 {
        return (f32::NAN, f32::NAN);
    }
    let (mut med, mut sigma) = (0.0, 0.0);
    for _ in 0..=iterations {
        let (m, s) = median_and_sigma(values);
        let converged = (m, s) == (med, sigma);
        (med, sigma) = (m, s);
        if converged || s <= 0.0 {
            break;
        }
        let before = values.len();
        let (lo, hi) = ((m as f64 - k * s as f64) as f32, (m as f64 + k * s as f64) as f32);
        values.retain(|&v| v >= lo && v <= hi);
        if values.len() == before || values.len() < 8 {
            break;
        }
    }
    (med, sigma)
}

fn median_and_sigma(values: &mut [f32]) -> (f32, f32) {
    let med = median(values);
    let mut dev: Vec<f32> = values.iter().map(|v| (v - med).abs()).collect();
    let mad = median(&mut dev);
    (med, (mad as f64 * MAD_TO_SIGMA) as f32)
}

pub fn median(v: &mut [f32]) -> f32 {
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
    let upper = *m;
    if v.len() % 2 == 1 {
        upper
    } else {
        let lower = v[..mid].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        0.5 * (lower + upper)
    }
}

/// Bilinear between grid nodes. A node whose box was blank takes the mean of the valid nodes,
/// so that a blanked corner of a mosaic leaves no NaN noise beside valid pixels.
fn interpolate(nodes: &[(f32, f32)], gx: &[usize], gy: &[usize], nx: usize, ny: usize) -> Background {
    let valid: Vec<&(f32, f32)> = nodes.iter().filter(|n| n.0.is_finite() && n.1.is_finite() && n.1 > 0.0).collect();
    let fallback = if valid.is_empty() {
        (f32::NAN, f32::NAN)
    } else {
        let k = valid.len() as f32;
        (valid.iter().map(|n| n.0).sum::<f32>() / k, valid.iter().map(|n| n.1).sum::<f32>() / k)
    };
    let node = |i: usize, j: usize| {
        let n = nodes[j * gx.len() + i];
        if n.0.is_finite() && n.1.is_finite() && n.1 > 0.0 {
            n
        } else {
            fallback
        }
    };
    // For each pixel coordinate, the grid interval it falls in and its fraction along it.
    let locate = |g: &[usize], p: usize| -> (usize, f32) {
        let i = g.partition_point(|&v| v <= p).saturating_sub(1).min(g.len().saturating_sub(2));
        if g.len() < 2 {
            return (0, 0.0);
        }
        (i, (p as f32 - g[i] as f32) / (g[i + 1] - g[i]) as f32)
    };
    let xs: Vec<(usize, f32)> = (0..nx).map(|x| locate(gx, x)).collect();
    let mut bkg = vec![0f32; nx * ny];
    let mut rms = vec![0f32; nx * ny];
    bkg.par_chunks_mut(nx).zip(rms.par_chunks_mut(nx)).enumerate().for_each(|(y, (brow, rrow))| {
        let (j, fy) = locate(gy, y);
        let j1 = (j + 1).min(gy.len() - 1);
        for (x, &(i, fx)) in xs.iter().enumerate() {
            let i1 = (i + 1).min(gx.len() - 1);
            let (a, b, c, d) = (node(i, j), node(i1, j), node(i, j1), node(i1, j1));
            let lerp = |p: f32, q: f32, r: f32, s: f32| (p * (1.0 - fx) + q * fx) * (1.0 - fy) + (r * (1.0 - fx) + s * fx) * fy;
            brow[x] = lerp(a.0, b.0, c.0, d.0);
            rrow[x] = lerp(a.1, b.1, c.1, d.1);
        }
    });
    Background { bkg, rms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn recovers_a_noise_gradient_and_ignores_sources() {
        let (nx, ny) = (400, 300);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = Normal::new(0.0, 1.0).unwrap();
        let sigma = |x: usize| 1.0 + x as f64 / nx as f64; // 1 → 2 across the image
        let mut data: Vec<f32> = (0..nx * ny).map(|k| (0.5 + sigma(k % nx) * n.sample(&mut rng)) as f32).collect();
        // Bright sources on 2% of pixels.
        for k in (0..nx * ny).step_by(50) {
            data[k] += 100.0;
        }
        let c = BackgroundConfig { box_px: 64, step_px: 16, clip_sigma: 3.0, clip_iterations: 5 };
        let b = estimate(&data, nx, ny, &c);
        for &(x, y) in &[(40usize, 150usize), (200, 100), (360, 250)] {
            let (bk, rm) = (b.bkg[y * nx + x] as f64, b.rms[y * nx + x] as f64);
            assert!((bk - 0.5).abs() < 0.1, "background {bk} at {x}");
            assert!((rm / sigma(x) - 1.0).abs() < 0.08, "rms {rm} vs {} at {x}", sigma(x));
        }
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
