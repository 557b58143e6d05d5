#![allow(dead_code)]
//! Shared test problems: random wide-field observations with a seeded generator.

use grid::{Complex, GridParams, SPEED_OF_LIGHT_M_S};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub mod npy;

pub struct Problem {
    pub uvw: Vec<[f64; 3]>,
    pub freq: Vec<f64>,
    pub vis: Vec<Complex<f64>>,
    pub weight: Vec<f64>,
    pub mask: Vec<u8>,
    pub params: GridParams,
}

/// `nrow` baselines with |u|,|v| up to `umax_frac` of the Nyquist limit of the image and w
/// of the same order, `nchan` channels in 1.3–1.5 GHz, a `nx × ny` image of `pix_deg`
/// pixels (several degrees across, so the w-term matters).
pub fn problem(seed: u64, nrow: usize, nchan: usize, nx: usize, ny: usize, pix_deg: f64, eps: f64) -> Problem {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pix = pix_deg.to_radians();
    let fmax = 1.5e9;
    let freq: Vec<f64> = (0..nchan).map(|c| 1.3e9 + 0.2e9 * c as f64 / nchan.max(2) as f64).collect();
    // |u·Δ|·f/c < 0.45
    let umax_m = 0.45 / pix * SPEED_OF_LIGHT_M_S / fmax;
    let uvw: Vec<[f64; 3]> = (0..nrow)
        .map(|_| {
            let u = rng.random_range(-umax_m..umax_m);
            let v = rng.random_range(-umax_m..umax_m);
            let w = rng.random_range(-umax_m..umax_m);
            [u, v, w]
        })
        .collect();
    let n = nrow * nchan;
    let vis: Vec<Complex<f64>> = (0..n)
        .map(|_| Complex::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
        .collect();
    let weight: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..2.0)).collect();
    let mask: Vec<u8> = (0..n).map(|_| u8::from(rng.random_range(0.0..1.0) > 0.1)).collect();
    let mut params = GridParams::new(nx, ny, pix, pix * 1.1, eps);
    params.nthreads = 2;
    Problem { uvw, freq, vis, weight, mask, params }
}

pub fn image(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

pub fn rel_l2(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

pub fn rel_l2_c(a: &[Complex<f64>], b: &[Complex<f64>]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).norm_sqr()).sum();
    let den: f64 = b.iter().map(|y| y.norm_sqr()).sum();
    (num / den).sqrt()
}

pub fn to_f32(v: &[Complex<f64>]) -> Vec<Complex<f32>> {
    v.iter().map(|c| Complex::new(c.re as f32, c.im as f32)).collect()
}

pub fn c_to_f64(v: &[Complex<f32>]) -> Vec<Complex<f64>> {
    v.iter().map(|c| Complex::new(c.re as f64, c.im as f64)).collect()
}

pub fn r_to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&c| c as f64).collect()
}
