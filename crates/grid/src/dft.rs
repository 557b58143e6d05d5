//! Direct (brute-force) evaluation of the gridder's operators in double precision, with
//! exactly the same conventions: the reference of the tests and a check for small problems.
//!
//! `dirty[i][j] = Σ_rc Re( w·V · exp(2πi·f/c·(u·l + v·m − w·(n−1))) ) / n` with
//! `l = l_shift + (i − nx/2)·Δl`, `m = m_shift + (j − ny/2)·Δm`; without w-gridding `n−1 = 0`
//! and `n = 1`.

use crate::index::SPEED_OF_LIGHT_M_S;
use crate::planes::n_minus_1;
use crate::GridParams;
use num_complex::Complex;
use rayon::prelude::*;
use std::f64::consts::PI;

struct Pix {
    x: f64,
    y: f64,
    nm1: f64,
    /// 1/n (0 beyond the horizon), or 1
    inv_n: f64,
}

fn pixels(p: &GridParams) -> Vec<Pix> {
    let lshift = if p.flip_u { -p.center_x_rad } else { p.center_x_rad };
    let mshift = if p.flip_v { -p.center_y_rad } else { p.center_y_rad };
    let mut out = Vec::with_capacity(p.npix_x * p.npix_y);
    for i in 0..p.npix_x {
        for j in 0..p.npix_y {
            let x = lshift + (i as f64 - (p.npix_x / 2) as f64) * p.pixsize_x_rad;
            let y = mshift + (j as f64 - (p.npix_y / 2) as f64) * p.pixsize_y_rad;
            let (nm1, inv_n) = if p.do_wgridding {
                let nm1 = n_minus_1(x * x + y * y);
                let n = nm1 + 1.0;
                (nm1, if !p.divide_by_n { 1.0 } else if n > 0.0 { 1.0 / n } else { 0.0 })
            } else {
                (0.0, 1.0)
            };
            out.push(Pix { x, y, nm1, inv_n });
        }
    }
    out
}

fn flipped(p: &GridParams, uvw: [f64; 3]) -> [f64; 3] {
    [
        if p.flip_u { -uvw[0] } else { uvw[0] },
        if p.flip_v { -uvw[1] } else { uvw[1] },
        if p.flip_w { -uvw[2] } else { uvw[2] },
    ]
}

/// Direct `ms2dirty`.
pub fn ms2dirty(
    uvw_m: &[[f64; 3]],
    freq_hz: &[f64],
    vis: &[Complex<f64>],
    weight: Option<&[f64]>,
    mask: Option<&[u8]>,
    p: &GridParams,
) -> Vec<f64> {
    let nchan = freq_hz.len();
    let pix = pixels(p);
    pix.par_iter()
        .map(|px| {
            let mut acc = 0.0;
            for (r, &uvw) in uvw_m.iter().enumerate() {
                let [u, v, w] = flipped(p, uvw);
                let base = px.x * u + px.y * v - w * px.nm1;
                for (c, f) in freq_hz.iter().enumerate() {
                    let k = r * nchan + c;
                    if mask.is_some_and(|m| m[k] == 0) {
                        continue;
                    }
                    let wt = weight.map_or(1.0, |w| w[k]);
                    let ph = 2.0 * PI * f / SPEED_OF_LIGHT_M_S * base;
                    let (s, co) = ph.sin_cos();
                    acc += wt * (vis[k].re * co - vis[k].im * s);
                }
            }
            acc * px.inv_n
        })
        .collect()
}

/// Direct `dirty2ms` (the adjoint of `ms2dirty`).
pub fn dirty2ms(
    uvw_m: &[[f64; 3]],
    freq_hz: &[f64],
    dirty: &[f64],
    weight: Option<&[f64]>,
    mask: Option<&[u8]>,
    p: &GridParams,
) -> Vec<Complex<f64>> {
    let nchan = freq_hz.len();
    let pix = pixels(p);
    (0..uvw_m.len() * nchan)
        .into_par_iter()
        .map(|k| {
            let (r, c) = (k / nchan, k % nchan);
            if mask.is_some_and(|m| m[k] == 0) {
                return Complex::new(0.0, 0.0);
            }
            let [u, v, w] = flipped(p, uvw_m[r]);
            let fc = 2.0 * PI * freq_hz[c] / SPEED_OF_LIGHT_M_S;
            let mut acc = Complex::new(0.0, 0.0);
            for (px, d) in pix.iter().zip(dirty) {
                let ph = -fc * (px.x * u + px.y * v - w * px.nm1);
                let (s, co) = ph.sin_cos();
                let a = d * px.inv_n;
                acc += Complex::new(a * co, a * s);
            }
            acc * weight.map_or(1.0, |w| w[k])
        })
        .collect()
}
