//! Radio-frequency interference (`--rfi`): a plan drawn from the seed per group, added to the
//! final cross-correlations after the noise, and the exact mask of the samples it touched
//! (`<group>.rfi.npy`).
//!
//! Three kinds, each with a range of strengths (σ = the noise per real/imaginary part):
//!
//! - persistent narrowband channels (one per 48 channels, at least 2): every integration and cross-correlation of a channel, a
//!   carrier of 10–100 σ (per baseline × U(0.5, 1.5), random phase);
//! - broadband bursts (one per 6 integrations, at least 2) of one or two integrations over a contiguous range of 30–100% of the
//!   band, 3–50 σ;
//! - bad antennas: extra complex Gaussian noise of 4–10 σ on every cross-correlation of the
//!   antenna, all integrations and channels.
//!
//! Autocorrelations are left clean (a flagger removes them by design). Amplitudes are drawn
//! log-uniformly so the plan holds weak and strong interferers.

use num_complex::Complex64;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use crate::mix;

#[derive(Debug, Clone, Serialize)]
pub struct Narrowband {
    /// Index on the group's ascending channel axis (as in rfi.npy).
    pub channel: usize,
    pub freq_hz: f64,
    pub amplitude_jy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Burst {
    pub first_integration: usize,
    pub n_integrations: usize,
    /// Ascending channel indices `[lo, hi)`.
    pub channels: [usize; 2],
    pub amplitude_jy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BadAntenna {
    /// UVH5 antenna number (= MS ANTENNA row).
    pub antenna: i64,
    /// Standard deviation of the added noise per real/imaginary part.
    pub noise_jy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RfiPlan {
    pub narrowband: Vec<Narrowband>,
    pub bursts: Vec<Burst>,
    pub bad_antennas: Vec<BadAntenna>,
    /// σ the amplitudes were scaled from.
    pub sigma_jy: f64,
}

fn log_uniform(rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

impl RfiPlan {
    /// The plan of one group: counts scale with the band and the integrations (768 channels
    /// give 16 narrowband channels (at least 2), 24 integrations 4 bursts (at least 2); 1–3 bad antennas).
    pub fn draw(seed: u64, group: usize, n_int: usize, freqs_asc_hz: &[f64], antennas: &[i64], noise_jy: f64) -> RfiPlan {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, 0x4f1, group as u64, 0));
        let sigma = if noise_jy > 0.0 { noise_jy } else { crate::default_noise_jy() };
        let n_chan = freqs_asc_hz.len();
        let n_nb = (n_chan / 48).clamp(2, 16).min(n_chan);
        let mut chans: Vec<usize> = Vec::new();
        while chans.len() < n_nb {
            let c = rng.random_range(0..n_chan);
            if !chans.contains(&c) {
                chans.push(c);
            }
        }
        chans.sort_unstable();
        let narrowband = chans
            .into_iter()
            .map(|c| Narrowband { channel: c, freq_hz: freqs_asc_hz[c], amplitude_jy: log_uniform(&mut rng, 10.0, 100.0) * sigma })
            .collect();
        let n_bursts = (n_int / 6).clamp(2, 8);
        let bursts = (0..n_bursts)
            .map(|_| {
                let n_integrations = if n_int > 1 && rng.random::<bool>() { 2 } else { 1 };
                let first_integration = rng.random_range(0..=n_int - n_integrations);
                let width = ((n_chan as f64 * rng.random_range(0.3..=1.0)).round() as usize).clamp(1, n_chan);
                let lo = rng.random_range(0..=n_chan - width);
                Burst { first_integration, n_integrations, channels: [lo, lo + width], amplitude_jy: log_uniform(&mut rng, 3.0, 50.0) * sigma }
            })
            .collect();
        let n_bad = (antennas.len() / 40).clamp(1, 3).min(antennas.len().saturating_sub(2));
        let mut bad: Vec<i64> = Vec::new();
        while bad.len() < n_bad {
            let a = antennas[rng.random_range(0..antennas.len())];
            if !bad.contains(&a) {
                bad.push(a);
            }
        }
        bad.sort_unstable();
        let bad_antennas = bad.into_iter().map(|antenna| BadAntenna { antenna, noise_jy: log_uniform(&mut rng, 4.0, 10.0) * sigma }).collect();
        RfiPlan { narrowband, bursts, bad_antennas, sigma_jy: sigma }
    }

    /// Per ascending channel: the narrowband amplitude, if any.
    pub fn narrowband_by_channel(&self, n_chan: usize) -> Vec<Option<f64>> {
        let mut v = vec![None; n_chan];
        for nb in &self.narrowband {
            v[nb.channel] = Some(nb.amplitude_jy);
        }
        v
    }

    pub fn bad_noise_jy(&self, antenna: i64) -> Option<f64> {
        self.bad_antennas.iter().find(|b| b.antenna == antenna).map(|b| b.noise_jy)
    }

    /// The bursts active at integration `t`.
    pub fn bursts_at(&self, t: usize) -> impl Iterator<Item = &Burst> {
        self.bursts.iter().filter(move |b| (b.first_integration..b.first_integration + b.n_integrations).contains(&t))
    }

    /// Whether the plan touches (integration, baseline, ascending channel); both
    /// polarizations alike. Autocorrelations never.
    pub fn hits(&self, t: usize, a1: i64, a2: i64, chan: usize, nb: &[Option<f64>]) -> bool {
        a1 != a2
            && (nb[chan].is_some()
                || self.bad_noise_jy(a1).is_some()
                || self.bad_noise_jy(a2).is_some()
                || self.bursts_at(t).any(|b| (b.channels[0]..b.channels[1]).contains(&chan)))
    }

    /// The interference added to one cross-correlation sample.
    pub fn sample(&self, rng: &mut ChaCha8Rng, t: usize, a1: i64, a2: i64, chan: usize, nb: &[Option<f64>]) -> Complex64 {
        let mut v = Complex64::new(0.0, 0.0);
        let carrier = |amp: f64, rng: &mut ChaCha8Rng| {
            let a = amp * rng.random_range(0.5..1.5);
            Complex64::from_polar(a, rng.random_range(0.0..std::f64::consts::TAU))
        };
        if let Some(a) = nb[chan] {
            v += carrier(a, rng);
        }
        for b in self.bursts_at(t) {
            if (b.channels[0]..b.channels[1]).contains(&chan) {
                v += carrier(b.amplitude_jy, rng);
            }
        }
        for ant in [a1, a2] {
            if let Some(s) = self.bad_noise_jy(ant) {
                let (re, im): (f64, f64) = (StandardNormal.sample(rng), StandardNormal.sample(rng));
                v += Complex64::new(s * re, s * im);
            }
        }
        v
    }
}

/// `.npy` bytes of a bool array (numpy `|b1`, C order).
pub fn npy_bool(shape: &[usize], data: &[bool]) -> Vec<u8> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '|b1', 'fortran_order': False, 'shape': {shape_txt}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(data.iter().map(|&b| b as u8));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> RfiPlan {
        let freqs: Vec<f64> = (0..768).map(|c| 1.31e9 + c as f64 * 244e3).collect();
        let ants: Vec<i64> = (0..96).collect();
        RfiPlan::draw(3, 0, 24, &freqs, &ants, 2.3)
    }

    #[test]
    fn the_plan_is_deterministic_and_sized_by_the_band() {
        let (a, b) = (plan(), plan());
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        assert_eq!(a.narrowband.len(), 16);
        assert_eq!(a.bursts.len(), 4);
        assert_eq!(a.bad_antennas.len(), 2);
        for nb in &a.narrowband {
            assert!((10.0 * 2.3..=100.0 * 2.3).contains(&nb.amplitude_jy));
        }
        for bu in &a.bursts {
            assert!(bu.channels[1] <= 768 && bu.channels[1] - bu.channels[0] >= 230);
            assert!(bu.first_integration + bu.n_integrations <= 24);
        }
    }

    #[test]
    fn the_mask_and_the_signal_agree() {
        let p = plan();
        let nb = p.narrowband_by_channel(768);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let bad = p.bad_antennas[0].antenna;
        let good: Vec<i64> = (0..96).filter(|a| p.bad_noise_jy(*a).is_none()).take(2).collect();
        for t in 0..24 {
            for c in 0..768 {
                for (a1, a2) in [(good[0], good[1]), (good[0], bad), (bad, bad)] {
                    let s = p.sample(&mut rng, t, a1, a2, c, &nb);
                    let hit = p.hits(t, a1, a2, c, &nb);
                    if a1 == a2 {
                        assert!(!hit);
                    } else if !hit {
                        assert_eq!(s, Complex64::new(0.0, 0.0));
                    } else if a2 != bad {
                        // Carriers: at least half the weakest amplitude.
                        assert!(s.norm() > 0.0);
                    }
                }
            }
        }
    }

    #[test]
    fn npy_bool_layout() {
        let b = npy_bool(&[2, 3], &[true, false, false, true, true, false]);
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        assert_eq!(&b[10 + hlen..], &[1, 0, 0, 1, 1, 0]);
    }
}
