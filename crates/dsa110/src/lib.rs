//! The DSA-110 instrument, as data: where it is, where its 117 stations are, how its band is
//! cut into subband files, and how its 4.65 m dishes see the sky.
//!
//! Facts come from the telescope's public repositories (its correlator file writer
//! `dsa110-meridian-fs` and calibration package `dsa110-calib`) and are marked as such.

pub mod band;
pub mod beam;
pub mod names;
pub mod stations;

pub use band::Band;
pub use beam::primary_beam_power;
pub use stations::{station_offsets_ecef_m, stations, Station};

/// Site of the array as written in every file header (`latitude`, `longitude`, `altitude`).
pub const SITE_LATITUDE_DEG: f64 = 37.233387;
pub const SITE_LONGITUDE_DEG: f64 = -118.283405;
pub const SITE_ALTITUDE_M: f64 = 1188.05;

pub const TELESCOPE_NAME: &str = "OVRO_MMA";
pub const INSTRUMENT: &str = "DSA";
pub const DISH_DIAMETER_M: f64 = 4.65;
pub const N_STATIONS: usize = 117;

/// The correlator's sample time, 2^27 ns, and the 96 samples it integrates (≈ 12.885 s).
pub const SAMPLE_TIME_S: f64 = 0.134_217_728;
pub const SAMPLES_PER_INTEGRATION: u32 = 96;
pub const INTEGRATION_TIME_S: f64 = SAMPLE_TIME_S * SAMPLES_PER_INTEGRATION as f64;

/// XX and YY, in the AIPS codes UVH5 uses.
pub const POLARIZATIONS: [i64; 2] = [-5, -6];

pub fn site() -> astro::Site {
    astro::Site::from_geodetic_deg(SITE_LATITUDE_DEG, SITE_LONGITUDE_DEG, SITE_ALTITUDE_M)
}
