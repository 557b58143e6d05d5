//! Per-antenna complex gains: a fixed bandpass and a slow, bounded drift in absolute time.
//!
//! ```text
//! g(ν, t) = a0 (1 + a1 x + a2 x²) (1 + ad sin(2π t_h / ta_h + phia))
//!         · exp(i (p0 + p1 x + p2 x² + pd sin(2π t_h / tp_h + phip)))
//! ```
//!
//! with `x = (ν − 1405 MHz) / 187.5 MHz` (the whole DSA-110 band, whatever subset a run
//! simulates) and `t_h` the hours since `EPOCH_JD` (UTC). The parameters of an antenna and
//! polarisation depend only on the seed and the antenna number, and time enters only through
//! the absolute instant, so two runs with the same seed see the same instrument wherever they
//! start: a calibrator transit and the field groups after it share their bandpass, and their
//! phases and amplitudes drift smoothly between them. The drift is a sinusoid with a period of
//! hours, so it stays bounded however far a run is from the epoch.

use num_complex::Complex64;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::Serialize;

/// The zero of the drift's time axis: J2000.0 as a UTC Julian date.
pub const EPOCH_JD: f64 = 2_451_545.0;

/// The band coordinate's centre and span: the full 1311.25–1498.75 MHz band.
pub const BAND_MID_HZ: f64 = 0.5 * (dsa110::band::BAND_BOTTOM_HZ + dsa110::band::BAND_TOP_HZ);
pub const BAND_SPAN_HZ: f64 = dsa110::band::BAND_TOP_HZ - dsa110::band::BAND_BOTTOM_HZ;

/// The formula as the truth file states it.
pub const MODEL: &str = "g = a0*(1 + a1*x + a2*x^2)*(1 + ad*sin(2*pi*t_h/ta_h + phia)) * exp(i*(p0 + p1*x + p2*x^2 + pd*sin(2*pi*t_h/tp_h + phip))), x = (freq_hz - freq_mid_hz)/freq_span_hz, t_h = (t_jd - epoch_jd)*24 (t_jd: UTC Julian date of the integration midpoint)";

/// Hours since `EPOCH_JD`.
pub fn hours_since_epoch(jd: f64) -> f64 {
    (jd - EPOCH_JD) * 24.0
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct GainParams {
    pub a0: f64,
    pub a1: f64,
    pub a2: f64,
    /// Amplitude drift: fractional size, period (hours) and phase (rad) of its sinusoid.
    pub ad: f64,
    pub ta_h: f64,
    pub phia: f64,
    pub p0: f64,
    pub p1: f64,
    pub p2: f64,
    /// Phase drift: size (rad), period (hours) and phase (rad) of its sinusoid.
    pub pd: f64,
    pub tp_h: f64,
    pub phip: f64,
}

impl GainParams {
    pub const UNITY: GainParams =
        GainParams { a0: 1.0, a1: 0.0, a2: 0.0, ad: 0.0, ta_h: 1.0, phia: 0.0, p0: 0.0, p1: 0.0, p2: 0.0, pd: 0.0, tp_h: 1.0, phip: 0.0 };

    /// The parameters of one antenna (UVH5 number) and polarisation (0 = X, 1 = Y) for a seed:
    /// each pair has its own random stream, so the set of simulated antennas does not matter.
    pub fn for_antenna(seed: u64, antenna: i64, pol: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::mix(seed, 0x6a, antenna as u64 + 1, pol as u64 + 1));
        let n = |s: f64| Normal::new(0.0, s).expect("positive sigma");
        let u = |lo: f64, hi: f64| Uniform::new(lo, hi).expect("range");
        let pi = std::f64::consts::PI;
        GainParams {
            a0: u(0.8, 1.2).sample(&mut rng),
            a1: n(0.1).sample(&mut rng),
            a2: n(0.1).sample(&mut rng),
            ad: n(0.02).sample(&mut rng),
            ta_h: u(3.0, 12.0).sample(&mut rng),
            phia: u(-pi, pi).sample(&mut rng),
            p0: u(-pi, pi).sample(&mut rng),
            p1: n(1.0).sample(&mut rng),
            p2: n(0.5).sample(&mut rng),
            pd: n(0.3).sample(&mut rng),
            tp_h: u(3.0, 12.0).sample(&mut rng),
            phip: u(-pi, pi).sample(&mut rng),
        }
    }

    /// The gain at band coordinate `x` and `t_h` hours after `EPOCH_JD`.
    pub fn eval(&self, x: f64, t_h: f64) -> Complex64 {
        let tau = std::f64::consts::TAU;
        let amp = self.a0 * (1.0 + self.a1 * x + self.a2 * x * x) * (1.0 + self.ad * (tau * t_h / self.ta_h + self.phia).sin());
        let phase = self.p0 + self.p1 * x + self.p2 * x * x + self.pd * (tau * t_h / self.tp_h + self.phip).sin();
        Complex64::from_polar(amp, phase)
    }
}

/// Gains of one antenna, for XX and YY.
#[derive(Debug, Clone, Serialize)]
pub struct AntennaGains {
    /// UVH5 antenna number (= the MS ANTENNA row, which lists all 117 stations).
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
    pub const DSA110: BandCoordinate = BandCoordinate { freq_mid_hz: BAND_MID_HZ, freq_span_hz: BAND_SPAN_HZ };

    pub fn x(&self, freq_hz: f64) -> f64 {
        (freq_hz - self.freq_mid_hz) / self.freq_span_hz
    }
}

/// The true gains of a group as `[antenna][time][freq][pol]` complex64, the layout of
/// `<group>.gains.npy`.
pub fn gain_cube(gains: &[AntennaGains], times_jd: &[f64], freqs_hz: &[f64], coord: BandCoordinate) -> Vec<num_complex::Complex32> {
    let mut out = Vec::with_capacity(gains.len() * times_jd.len() * freqs_hz.len() * 2);
    for ag in gains {
        for &t in times_jd {
            let t_h = hours_since_epoch(t);
            for &f in freqs_hz {
                let x = coord.x(f);
                for p in [&ag.xx, &ag.yy] {
                    let g = p.eval(x, t_h);
                    out.push(num_complex::Complex32::new(g.re as f32, g.im as f32));
                }
            }
        }
    }
    out
}

/// A `.npy` (format 1.0) image of a C-order complex64 array.
pub fn npy_complex64(shape: &[usize], data: &[num_complex::Complex32]) -> Vec<u8> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<c8', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64
    // and ended by a newline, as numpy writes it.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 8);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for c in data {
        out.extend_from_slice(&c.re.to_le_bytes());
        out.extend_from_slice(&c.im.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_depend_on_seed_antenna_and_pol_only() {
        assert_eq!(GainParams::for_antenna(5, 12, 0), GainParams::for_antenna(5, 12, 0));
        assert_ne!(GainParams::for_antenna(5, 12, 0), GainParams::for_antenna(5, 12, 1));
        assert_ne!(GainParams::for_antenna(5, 12, 0), GainParams::for_antenna(5, 13, 0));
        assert_ne!(GainParams::for_antenna(5, 12, 0), GainParams::for_antenna(6, 12, 0));
    }

    #[test]
    fn drift_is_slow_and_bounded() {
        for a in 0..40 {
            let p = GainParams::for_antenna(1, a, 0);
            let t0 = hours_since_epoch(2_460_950.5);
            // Over one 5-minute group the phase moves by at most |pd|·2π/tp·(5/60) ≤ a few degrees.
            let d = (p.eval(0.1, t0 + 5.0 / 60.0) / p.eval(0.1, t0)).arg().abs();
            assert!(d <= p.pd.abs() * std::f64::consts::TAU / p.tp_h * (5.0 / 60.0) + 1e-12, "{d}");
            // Decades later the gain is still within the sinusoids' envelope.
            let far = p.eval(0.1, t0 + 24.0 * 365.25 * 30.0).norm();
            let base = p.a0 * (1.0 + p.a1 * 0.1 + p.a2 * 0.01);
            assert!((far / base - 1.0).abs() <= p.ad.abs() + 1e-12);
        }
    }

    #[test]
    fn npy_header_is_aligned() {
        let d = vec![num_complex::Complex32::new(1.0, -2.0); 6];
        let b = npy_complex64(&[1, 2, 3, 1], &d);
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        assert_eq!(b[10 + hlen - 1], b'\n');
        assert_eq!(b.len(), 10 + hlen + 48);
        assert_eq!(&b[10 + hlen..10 + hlen + 8], &[0, 0, 128, 63, 0, 0, 0, 192]);
    }
}
