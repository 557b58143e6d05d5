//! Complete CASA MeasurementSets (v2), written at close to disk speed and read back in ranges.
//!
//! [`MsWriter`] creates an MS from an [`MsSpec`] (every subtable: ANTENNA, DATA_DESCRIPTION,
//! FEED, FIELD, FLAG_CMD, HISTORY, OBSERVATION, POINTING, POLARIZATION, PROCESSOR,
//! SPECTRAL_WINDOW, STATE, SOURCE) and appends MAIN rows in [`RowBlock`]s, each column of a block
//! in one casacore call into tiled storage (see [`writer::VIS_TILE_BYTES`] for the tile choice).
//! [`MsReader`] reads subtables and row ranges back, for the imager and `inspect`.
//!
//! Conventions (DESIGN.md §3): TIME is the integration midpoint in MJD seconds UTC; UVW and the
//! FIELD/SOURCE directions share one frame ([`DirectionFrame`], ICRS by default); frequencies are
//! TOPO, ascending, with positive widths; correlations are in MS order (XX, XY, YX, YY);
//! visibility buffers are C-order `[row][chan][corr]`, i.e. casacore cells `[ncorr, nchan]`.
//!
//! Everything casacore does goes through the `casacore-sys` shim, which turns every C++
//! exception into an error value: a failure is an [`MsError`], never an abort.

pub mod caltable;
pub mod durable;
mod error;
pub mod reader;
pub mod spec;
mod tab;
pub mod writebehind;
pub mod writer;

pub use casacore_sys::{KeywordValue, MsLayout, Table};
pub use error::MsError;
pub use num_complex::Complex32;
pub use reader::{
    DataDescription, Field, MsReader, Polarization, RowData, SpectralWindow, WeightSource,
};
pub use spec::{
    corr, AntennaSpec, DirectionFrame, FieldSpec, HistoryEntry, MsSpec, ObservationSpec, SpwSpec,
};
pub use writer::{MsSummary, MsWriter, RowBlock};
