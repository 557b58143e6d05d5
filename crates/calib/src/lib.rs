//! Calibration, stages 4–5 of the pipeline (seed 004), on the visibilities of one MS:
//!
//! - [`flag`]: RFI flagging — autocorrelations, quack, band edges, and an AOFlagger-style
//!   SumThreshold over each baseline's time–frequency plane with the scale-invariant rank
//!   operator.
//! - [`model`] and [`solve`]: model visibilities of a calibrator (or a sky model), and
//!   bandpass (B) and gain (G) solutions by StEFCal, written as CASA caltables
//!   ([`ms::caltable`]).
//! - [`apply`]: the solutions applied to DATA, giving CORRECTED_DATA and calibrated weights.
//!
//! TypeScript decides which MS and tables; everything that loops over visibilities is here.

pub mod apply;
mod error;
pub mod flag;
pub mod model;
pub mod solve;

pub use error::CalibError;

/// Bytes of DATA per block of rows: `default`, or the positive integer in the environment
/// variable `var` (tests run a small MS through many blocks; benches compare sizes).
pub(crate) fn block_bytes(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.parse().ok()).filter(|&b| b > 0).unwrap_or(default)
}
