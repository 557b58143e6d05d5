//! UVH5: the HDF5-based visibility format of pyuvdata, as read and written by contimg.
//!
//! - [`Uvh5File`] opens any UVH5 file pyuvdata writes or reads (format versions 0.1 and 1.0–1.2 and
//!   unversioned DSA-110 files, legacy and current shapes, float or integer visibilities,
//!   compressed or not) and reads hyperslabs of it into a [`VisBlock`].
//! - [`Dsa110Writer`] writes subband files exactly as the DSA-110 correlator does.
//!
//! Every failure is a [`Uvh5Error`] that names the file and carries a stable `code()`.
//!
//! libhdf5 1.10 crashes on some corrupt files. So, by default ([`OpenOptions::isolate`]),
//! libhdf5 first opens each file — and, before the first read of data through libhdf5, reads
//! all such data — in a forked child process: a crash, hang or runaway allocation there is a
//! `UVH5_CORRUPT` error naming the file, not a dead process. It costs about one more open
//! (plus a fork) per file, and one more read of data that cannot be read directly.
// The weak `__sanitizer_set_death_callback` of `isolate/`; cargo-fuzz builds on nightly.
#![cfg_attr(fuzzing, feature(linkage))]

mod chunkindex;
mod counts;
mod decode;
mod distinct;
mod error;
mod h5util;
mod isolate;
mod localheap;
mod phasing;
mod place;
pub mod header;
mod probe;
mod read;
mod vlen;
pub mod storage;
pub mod write;

pub use error::{Result, Uvh5Error};
pub use header::{ExtraValue, Header, PhaseCenter, Phasing, Telescope, Uvh5Version};
pub use probe::{probe, Superblock};
pub use read::{DataLayout, OpenOptions, Uvh5File, VisBlock};
pub use place::{Placement, Sink, SKIP};
pub use write::{Dsa110Header, Dsa110Writer};

pub use num_complex::Complex32;

/// Entry points for the fuzz targets in `fuzz/` (parsers that take bytes); not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::chunkindex::{chunks, ChunkEntry, ReadAt, Unusable};
    pub use crate::counts::{validate as validate_counts, Counts, RawCounts};
}
