//! CASA calibration tables ("new-style" CalTables, CASA ≥ 3.4), as CASA itself writes and
//! reads them: table info type `Calibration`, subType `B Jones` or `G Jones`; MAIN keywords
//! `ParType = "Complex"`, `MSName`, `VisCal`, `PolBasis`; MAIN columns TIME, FIELD_ID,
//! SPECTRAL_WINDOW_ID, ANTENNA1, ANTENNA2 (the reference antenna), INTERVAL, SCAN_NUMBER,
//! OBSERVATION_ID, and per cell `[npol, nchan]` CPARAM, PARAMERR, FLAG, SNR, WEIGHT; subtables
//! OBSERVATION, ANTENNA, FIELD, SPECTRAL_WINDOW and HISTORY taken from the MS.
//!
//! [`write`] creates one (atomically: temporary name, fsync, rename) and [`read`] reads one
//! back, ours or CASA's. The in-memory form is [`CalTable`]: one [`CalRow`] per solution
//! interval, spectral window and antenna, exactly as the MAIN table holds them.

pub mod read;
pub mod write;

use num_complex::Complex32;

/// Which Jones matrix a table holds (CASA's `VisCal` keyword and table subType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jones {
    /// Bandpass: one solution per channel.
    B,
    /// Gain: one solution per spectral window (a cell of one channel).
    G,
}

impl Jones {
    /// CASA's name: `"B Jones"` or `"G Jones"`.
    pub fn casa_name(self) -> &'static str {
        match self {
            Jones::B => "B Jones",
            Jones::G => "G Jones",
        }
    }
}

/// One MAIN row: the solution of one antenna in one spectral window and one interval.
/// Cells are `[npol, nchan]` in casacore order, i.e. C-order `[chan][pol]` (pol fastest);
/// `nchan` is 1 for G.
#[derive(Debug, Clone, PartialEq)]
pub struct CalRow {
    /// Centre of the solution interval, MJD seconds (UTC), as the MS's TIME.
    pub time_mjd_s: f64,
    pub interval_s: f64,
    pub field_id: i32,
    pub spw_id: i32,
    pub antenna1: i32,
    /// The reference antenna (−1 when none).
    pub antenna2: i32,
    pub scan_number: i32,
    pub observation_id: i32,
    pub cparam: Vec<Complex32>,
    pub paramerr: Vec<f32>,
    pub flag: Vec<bool>,
    pub snr: Vec<f32>,
    pub weight: Vec<f32>,
}

/// A whole caltable in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct CalTable {
    pub jones: Jones,
    /// The MS the solutions came from (CASA's `MSName` keyword).
    pub ms_name: String,
    /// Polarizations per cell (2 for DSA-110's XX/YY gains).
    pub n_pol: usize,
    /// Channels per cell of each spectral window (1 for G), indexed by SPECTRAL_WINDOW_ID.
    pub n_chan: Vec<usize>,
    pub rows: Vec<CalRow>,
}
