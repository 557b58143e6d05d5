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

/// `telescope_name` in the correlator's UVH5 headers (and what the DSA-110 Python tools write).
pub const TELESCOPE_NAME: &str = "OVRO_MMA";

/// OBSERVATION `TELESCOPE_NAME` of the Measurement Sets we write. CASA takes the observatory
/// position only from its Observatories table, by this name (casacore `MeasTable::Observatory`):
/// a name it does not know makes `listobs` and `msmd` fail ("Telescope … is not recognized by
/// CASA") and leaves OBSGEO out of `exportfits` images. Its `OVRO_MMA` entry is typed ITRF but
/// holds longitude, latitude and height, which casacore reads as a point 1188 m from the Earth's
/// centre (listobs offsets of 6,370 km). Of the entries CASA 6.7 ships (casadata 2025.9.22),
/// EOVSA's is the nearest valid one: a WGS84 point at OVRO 316 m west of the DSA-110 array
/// centre, inside the array. pyuvdata takes the exact site from OBSERVATION's TELESCOPE_LOCATION.
pub const MS_TELESCOPE_NAME: &str = "EOVSA";
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
