//! How the 1311.25–1498.75 MHz band is split into 16 subband files.
//!
//! Facts (dsa110-meridian-fs / dsa110-pyutils configuration): the F-engine makes 8192 native
//! channels of 30.517578125 kHz descending from 1.53 GHz; correlator node `sb` takes the 384
//! native channels starting at `1024 + 384·sb` and averages them in groups of 8 (the median of
//! the group's frequencies), so a file holds 48 channels of 244.140625 kHz, descending, and
//! sb00 is the highest subband. With fewer channels per subband (small test files) the groups
//! are wider, so a reduced file still covers the same sky frequencies as a real one.

pub const BAND_TOP_HZ: f64 = 1_498.75e6;
/// The F-engine's first native channel and its spacing.
pub const NATIVE_F0_HZ: f64 = 1.53e9;
pub const NATIVE_CHANNEL_HZ: f64 = 30_517.578_125;
/// Native channels before subband 0 and per subband.
pub const NATIVE_CH0: usize = 1024;
pub const NATIVE_PER_SUBBAND: usize = 384;
pub const BAND_BOTTOM_HZ: f64 = 1_311.25e6;
pub const N_SUBBANDS: usize = 16;
pub const CHANNELS_PER_SUBBAND: usize = 48;
pub const CHANNEL_WIDTH_HZ: f64 = 244_140.625;
pub const SUBBAND_WIDTH_HZ: f64 = CHANNEL_WIDTH_HZ * CHANNELS_PER_SUBBAND as f64;

/// The band layout of one simulated or real observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub n_subbands: usize,
    pub channels_per_subband: usize,
}

impl Default for Band {
    fn default() -> Self {
        Band { n_subbands: N_SUBBANDS, channels_per_subband: CHANNELS_PER_SUBBAND }
    }
}

impl Band {
    pub fn channel_width_hz(&self) -> f64 {
        SUBBAND_WIDTH_HZ / self.channels_per_subband as f64
    }

    /// Native channels averaged into one output channel; `None` unless it divides 384.
    pub fn native_per_channel(&self) -> Option<usize> {
        (self.channels_per_subband > 0 && NATIVE_PER_SUBBAND % self.channels_per_subband == 0)
            .then(|| NATIVE_PER_SUBBAND / self.channels_per_subband)
    }

    /// Channel centres of subband `sb` as the correlator writes them: descending, each the
    /// median of its group of native channels,
    /// `f = 1.53 GHz − (1024 + 384·sb + g·k + (g−1)/2) · 30.517578125 kHz`.
    pub fn subband_freqs_hz(&self, sb: usize) -> Vec<f64> {
        let g = self.native_per_channel().expect("channels per subband must divide 384") as f64;
        let first = (NATIVE_CH0 + NATIVE_PER_SUBBAND * sb) as f64 + 0.5 * (g - 1.0);
        (0..self.channels_per_subband).map(|k| NATIVE_F0_HZ - (first + g * k as f64) * NATIVE_CHANNEL_HZ).collect()
    }

    pub fn total_channels(&self) -> usize {
        self.n_subbands * self.channels_per_subband
    }

    /// Lowest and highest channel centre over all subbands.
    pub fn freq_range_hz(&self) -> (f64, f64) {
        let top = self.subband_freqs_hz(0)[0];
        let bottom = *self.subband_freqs_hz(self.n_subbands - 1).last().expect("channels");
        (bottom, top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sb00_is_highest_and_descends() {
        let b = Band::default();
        let f0 = b.subband_freqs_hz(0);
        let f15 = b.subband_freqs_hz(15);
        assert!(f0.windows(2).all(|w| w[1] < w[0]));
        assert!(f0[47] > f15[0]);
        // The real files' first and last channels (sb00 1498.6431884765625 → 1487.1685791015625,
        // sb15 1322.8619384765625 → 1311.3873291015625 MHz).
        assert_eq!(f0[0], 1_498_643_188.476_562_5);
        assert_eq!(f0[47], 1_487_168_579.101_562_5);
        assert_eq!(f15[0], 1_322_861_938.476_562_5);
        assert_eq!(f15[47], 1_311_387_329.101_562_5);
        assert!(f0.windows(2).all(|w| (w[0] - w[1] - CHANNEL_WIDTH_HZ).abs() < 1e-6));
        // Adjacent subbands tile the band without gaps.
        assert!((b.subband_freqs_hz(1)[0] - (f0[47] - CHANNEL_WIDTH_HZ)).abs() < 1e-3);
        assert!(f15[47] > BAND_BOTTOM_HZ && f0[0] < BAND_TOP_HZ);
    }
}
