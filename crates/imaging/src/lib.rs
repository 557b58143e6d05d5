//! Stage 6 of the pipeline: a restored Stokes I image from a Measurement Set.
//!
//! [`imager::image_ms`] runs the chain: Stokes I by row chunks ([`vis`]), weighting
//! ([`weights`]), PSF and dirty image through the `grid` crate, Cotton–Schwab CLEAN with
//! Högbom minor cycles ([`clean`]), a restoring beam fitted to the PSF ([`beam`]), optional
//! primary-beam correction ([`pb`]), FITS ([`fits`]) and a PNG quicklook ([`quicklook`]).

pub mod beam;
pub mod clean;
pub mod error;
pub mod fits;
pub mod imager;
pub mod limits;
mod output;
pub mod pb;
pub mod quicklook;
pub mod vis;
pub mod weights;

pub use error::ImagingError;
pub use imager::{image_ms, ImageConfig, ImageProgress, ImageSummary};
pub use weights::Weighting;

/// Speed of light (m/s), the gridder's.
pub use grid::SPEED_OF_LIGHT_M_S as C_M_S;
