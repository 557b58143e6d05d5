//! FITS as the later stages need it: images in and out with their celestial WCS, and
//! catalogues as binary tables. Images are one primary HDU; the two celestial axes come first,
//! any further axes (frequency, Stokes) must be degenerate.
//!
//! FITS is 2880-byte records of 80-character header cards followed by big-endian data
//! (Pence et al. 2010); the WCS conventions are those of Calabretta & Greisen (2002).

pub mod error;
pub mod header;
pub mod image;
pub mod table;
pub mod wcs;

pub use error::FitsError;
pub use header::{Card, Header, Value};
pub use image::{read_image, write_atomically, write_image, Beam, Image};
pub use table::{read_table, write_table, Column, ColumnData, Table, TableColumn, TableData};
pub use wcs::{CelestialWcs, Projection};

/// The FITS record length: headers and data are padded to a multiple of it.
pub const RECORD: usize = 2880;
