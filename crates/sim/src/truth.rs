//! `<group>.truth.json`: everything a test needs to check the data against.

use serde::Serialize;

use crate::gains::{AntennaGains, BandCoordinate};
use crate::sky::{CatalogueCalibrator, Source};

pub const TRUTH_FORMAT: &str = "contimg-sim-truth/1";

#[derive(Debug, Serialize)]
pub struct Truth {
    pub format: &'static str,
    pub group: String,
    pub generator: String,
    pub seed: u64,
    pub files: Vec<TruthFile>,
    pub times_jd: Vec<f64>,
    pub lst_rad: Vec<f64>,
    pub integration_time_s: f64,
    pub pointing: Pointing,
    pub array: Array,
    pub band: BandTruth,
    pub noise_jy: f64,
    pub sefd_jy: f64,
    pub flag_fraction: f64,
    pub uvw_convention: &'static str,
    pub sources: Vec<SourceTruth>,
    /// The calibrator `--calibrator` placed at transit (also listed in `sources`).
    pub calibrator: Option<CatalogueCalibrator>,
    pub gains: GainsTruth,
    /// With `--rfi`: the interference plan and what `<group>.rfi.npy` holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rfi: Option<RfiTruth>,
}

#[derive(Debug, Serialize)]
pub struct TruthFile {
    pub subband: usize,
    pub file: String,
    pub timestamp: String,
    pub freq_hz_first: f64,
    pub freq_hz_last: f64,
}

#[derive(Debug, Serialize)]
pub struct Pointing {
    /// The correlator's fringe-stopping centre and the dishes' pointing: HA = 0 at this
    /// declination (of date).
    pub dec_deg: f64,
    pub ha_deg: f64,
    /// ICRS position of the meridian at the group's mid-time (the default FIELD centre).
    pub mid_jd: f64,
    pub meridian_icrs_mid: RaDec,
    /// ICRS position of the meridian at each integration.
    pub meridian_icrs: Vec<RaDec>,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct RaDec {
    pub ra_deg: f64,
    pub dec_deg: f64,
}

#[derive(Debug, Serialize)]
pub struct Array {
    pub telescope: &'static str,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub altitude_m: f64,
    pub dish_diameter_m: f64,
    /// UVH5 antenna numbers with data.
    pub active_antennas: Vec<i64>,
    pub n_baselines: usize,
}

#[derive(Debug, Serialize)]
pub struct BandTruth {
    pub n_subbands: usize,
    pub channels_per_subband: usize,
    pub channel_width_hz: f64,
    pub freq_min_hz: f64,
    pub freq_max_hz: f64,
}

#[derive(Debug, Serialize)]
pub struct SourceTruth {
    #[serde(flatten)]
    pub source: Source,
    pub ref_freq_hz: f64,
    /// Mean over the group's integrations and channels of S(ν)·A(θ, ν): the flux an image of
    /// the group shows.
    pub apparent_flux_jy: f64,
    /// Mean primary-beam power over the group (flux-independent).
    pub beam_mean: f64,
    /// Angular distance from the pointing at mid-time.
    pub offset_mid_deg: f64,
}

#[derive(Debug, Serialize)]
pub struct GainsTruth {
    pub applied: bool,
    pub convention: &'static str,
    pub model: &'static str,
    pub band_coordinate: BandCoordinate,
    /// The zero of `t_h` (UTC Julian date); the gains depend on absolute time, not on the run.
    pub epoch_jd: f64,
    pub antennas: Vec<AntennaGains>,
    pub npy: Option<GainsNpy>,
}

/// What `<group>.gains.npy` holds, axis by axis.
#[derive(Debug, Serialize)]
pub struct GainsNpy {
    pub file: String,
    pub dtype: &'static str,
    pub shape: [usize; 4],
    pub axes: [&'static str; 4],
    /// Axis 0: UVH5 antenna number and MS ANTENNA row (the MS lists all 117 stations, so the
    /// row is the number) and antenna name (UVH5 `antenna_names` = MS ANTENNA NAME, the station
    /// number "1".."117") of each index.
    pub antennas: Vec<NpyAntenna>,
    /// Axis 1: integration midpoints, as UTC Julian dates and as MS TIME (MJD seconds).
    pub times_jd: Vec<f64>,
    pub time_mjd_s: Vec<f64>,
    /// Axis 2: channel centres, ascending across the whole group.
    pub freq_hz: Vec<f64>,
    /// Axis 3.
    pub pols: [&'static str; 2],
}

#[derive(Debug, Serialize)]
pub struct NpyAntenna {
    pub index: usize,
    pub antenna: i64,
    pub ms_antenna_row: i64,
    pub name: String,
}

/// The RFI plan and its mask file, axis by axis.
#[derive(Debug, Serialize)]
pub struct RfiTruth {
    #[serde(flatten)]
    pub plan: crate::rfi::RfiPlan,
    pub npy: RfiNpy,
}

#[derive(Debug, Serialize)]
pub struct RfiNpy {
    pub file: String,
    pub dtype: &'static str,
    pub shape: [usize; 4],
    pub axes: [&'static str; 4],
    /// Axis 1: (ant_1, ant_2) of each baseline, the UVH5 order (= the MS row order within an
    /// integration); antenna numbers are MS ANTENNA rows.
    pub baselines: Vec<[i64; 2]>,
    /// Axis 0: integration midpoints as MS TIME (MJD seconds).
    pub time_mjd_s: Vec<f64>,
    /// Axis 2: channel centres, ascending across the whole group.
    pub freq_hz: Vec<f64>,
    /// Axis 3.
    pub pols: [&'static str; 2],
    pub n_true: usize,
    pub fraction: f64,
    /// Autocorrelations never carry RFI here; a flagger removes them by design.
    pub note: &'static str,
}
