//! Per-antenna complex gains: a smooth bandpass and a slow drift in time.
//!
//! `g(ν, t) = a0 (1 + a1 x + a2 x²)(1 + ad Δt) · exp(i (p0 + p1 x + p2 x² + pd Δt))`, with
//! `x = (ν − ν_mid) / (ν_max − ν_min)` across the whole band and `Δt` in hours since the
//! start of the run. The parameters are recorded in the truth file, so tests can divide the
//! gains back out with the same formula.

use num_complex::Complex64;
use rand::Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct GainParams {
    pub a0: f64,
    pub a1: f64,
    pub a2: f64,
    pub ad: f64,
    pub p0: f64,
    pub p1: f64,
    pub p2: f64,
    pub pd: f64,
}

impl GainParams {
    pub const UNITY: GainParams = GainParams { a0: 1.0, a1: 0.0, a2: 0.0, ad: 0.0, p0: 0.0, p1: 0.0, p2: 0.0, pd: 0.0 };

    pub fn random(rng: &mut impl Rng) -> Self {
        let n = |s: f64| Normal::new(0.0, s).expect("positive sigma");
        GainParams {
            a0: Uniform::new(0.8, 1.2).expect("range").sample(rng),
            a1: n(0.1).sample(rng),
            a2: n(0.1).sample(rng),
            ad: n(0.02).sample(rng),
            p0: Uniform::new(-std::f64::consts::PI, std::f64::consts::PI).expect("range").sample(rng),
            p1: n(1.0).sample(rng),
            p2: n(0.5).sample(rng),
            pd: n(0.3).sample(rng),
        }
    }

    /// The gain at band coordinate `x` and `dt_h` hours after the run start.
    pub fn eval(&self, x: f64, dt_h: f64) -> Complex64 {
        let amp = self.a0 * (1.0 + self.a1 * x + self.a2 * x * x) * (1.0 + self.ad * dt_h);
        let phase = self.p0 + self.p1 * x + self.p2 * x * x + self.pd * dt_h;
        Complex64::from_polar(amp, phase)
    }
}

/// Gains of one antenna, for XX and YY.
#[derive(Debug, Clone, Serialize)]
pub struct AntennaGains {
    /// UVH5 antenna number.
    pub antenna: i64,
    pub xx: GainParams,
    pub yy: GainParams,
}

/// The mapping from frequency to band coordinate, recorded with the gains.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BandCoordinate {
    pub freq_mid_hz: f64,
    pub freq_span_hz: f64,
}

impl BandCoordinate {
    pub fn x(&self, freq_hz: f64) -> f64 {
        (freq_hz - self.freq_mid_hz) / self.freq_span_hz
    }
}
