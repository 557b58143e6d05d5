//! Rotating one row of visibilities by `exp(−2πi Δw ν / c)`.
//!
//! pyuvdata computes each phase as `−2π · ((Δw · (1/c)) · ν)` in float64 and multiplies
//! complex64 data in complex128 before rounding back; we do the same arithmetic, but for
//! evenly spaced channels the phasor of channel k+1 is the phasor of channel k times a fixed
//! step, so a row of n channels needs a few `sin_cos` instead of n. The recurrence is
//! re-anchored with an exact `sin_cos` every `ANCHOR` channels, which keeps its error below
//! 1e-13, six orders below float32 resolution.

use num_complex::{Complex32, Complex64};

const C_M_S: f64 = astro::SPEED_OF_LIGHT_M_S;
const ANCHOR: usize = 64;

/// Precomputed frequency axis of a row.
#[derive(Debug, Clone)]
pub struct Phasor {
    freqs_hz: Vec<f64>,
    /// Channel spacing if the axis is evenly spaced (to 1e-9 relative), else `None`.
    step_hz: Option<f64>,
}

impl Phasor {
    pub fn new(freqs_hz: &[f64]) -> Self {
        let step = match freqs_hz {
            [a, b, ..] => {
                let d = b - a;
                let even = freqs_hz.windows(2).all(|w| ((w[1] - w[0]) - d).abs() <= 1e-9 * d.abs().max(1.0));
                even.then_some(d)
            }
            _ => None,
        };
        Phasor { freqs_hz: freqs_hz.to_vec(), step_hz: step }
    }

    pub fn n_chan(&self) -> usize {
        self.freqs_hz.len()
    }

    #[inline]
    fn exact(&self, dw: f64, nu: f64) -> Complex64 {
        let x = (dw * (1.0 / C_M_S)) * nu;
        let (s, c) = (-std::f64::consts::TAU * x).sin_cos();
        Complex64::new(c, s)
    }
}

impl Phasor {
    /// Writes `exp(−2πi dw ν / c)` for every channel into `out` (single precision: the
    /// phases are computed in double precision, the products are taken in single, which keeps
    /// the result within a few float32 ulps of pyuvdata's complex128 product).
    pub fn fill(&self, dw: f64, out: &mut Vec<Complex32>) {
        let n = self.n_chan();
        out.clear();
        match self.step_hz {
            Some(step) => {
                let delta = self.exact(dw, step);
                let mut k = 0;
                while k < n {
                    let mut ph = self.exact(dw, self.freqs_hz[k]);
                    let end = (k + ANCHOR).min(n);
                    for _ in k..end {
                        out.push(Complex32::new(ph.re as f32, ph.im as f32));
                        ph *= delta;
                    }
                    k = end;
                }
            }
            None => out.extend(self.freqs_hz.iter().map(|&nu| {
                let p = self.exact(dw, nu);
                Complex32::new(p.re as f32, p.im as f32)
            })),
        }
    }
}

/// Multiplies one row (`[chan][pol]`, `n_pol` per channel) by `exp(−2πi dw ν / c)`.
pub fn rotate_row(row: &mut [Complex32], n_pol: usize, dw: f64, p: &Phasor) {
    if dw == 0.0 {
        return;
    }
    let n = p.n_chan();
    debug_assert_eq!(row.len(), n * n_pol);
    match p.step_hz {
        Some(step) => {
            let delta = p.exact(dw, step);
            let mut k = 0;
            while k < n {
                let mut ph = p.exact(dw, p.freqs_hz[k]);
                let end = (k + ANCHOR).min(n);
                for ch in k..end {
                    for v in &mut row[ch * n_pol..(ch + 1) * n_pol] {
                        let z = Complex64::new(v.re as f64, v.im as f64) * ph;
                        *v = Complex32::new(z.re as f32, z.im as f32);
                    }
                    ph *= delta;
                }
                k = end;
            }
        }
        None => {
            for (ch, &nu) in p.freqs_hz.iter().enumerate() {
                let ph = p.exact(dw, nu);
                for v in &mut row[ch * n_pol..(ch + 1) * n_pol] {
                    let z = Complex64::new(v.re as f64, v.im as f64) * ph;
                    *v = Complex32::new(z.re as f32, z.im as f32);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recurrence_matches_exact_phases() {
        let freqs: Vec<f64> = (0..768).map(|k| 1.3114e9 + k as f64 * 244_140.625).collect();
        let p = Phasor::new(&freqs);
        assert!(p.step_hz.is_some());
        let dw = 1234.567;
        let mut row = vec![Complex32::new(1.0, 0.5); 768 * 2];
        rotate_row(&mut row, 2, dw, &p);
        for (ch, &nu) in freqs.iter().enumerate() {
            let exact = Complex64::new(1.0, 0.5) * p.exact(dw, nu);
            let got = row[ch * 2];
            assert!((got.re as f64 - exact.re).abs() < 1e-6 && (got.im as f64 - exact.im).abs() < 1e-6, "ch {ch}");
        }
    }
}
