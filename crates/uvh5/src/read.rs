//! Opening a UVH5 file and reading blocks of visibilities by hyperslab.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::Dataset;
use num_complex::Complex32;

use crate::error::{Result, Uvh5Error};
use crate::h5util::{describe_type, Node};
use crate::header::{read_header, Header};
use crate::isolate;
use crate::probe::probe;
use crate::decode::{Decode, Elem};
use crate::place::{Placement, Sink, SKIP};
use crate::storage::{raw_layout, read_region, read_region_placed, RawLayout};

/// A block of visibilities, flags and sample counts, C order [blt][chan][pol].
#[derive(Debug, Clone, Default)]
pub struct VisBlock {
    pub n_blts: usize,
    pub n_chans: usize,
    pub n_pols: usize,
    pub vis: Vec<Complex32>,
    pub flags: Vec<bool>,
    pub nsamples: Vec<f32>,
}

impl VisBlock {
    pub fn resize(&mut self, n_blts: usize, n_chans: usize, n_pols: usize) {
        let n = n_blts * n_chans * n_pols;
        self.n_blts = n_blts;
        self.n_chans = n_chans;
        self.n_pols = n_pols;
        self.vis.resize(n, Complex32::default());
        self.flags.resize(n, false);
        self.nsamples.resize(n, 0.0);
    }
}

/// How the three data-size datasets are stored; reported by `inspect`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DataLayout {
    /// visdata/flags/nsamples carry the legacy length-1 spw axis.
    pub legacy_spw_axis: bool,
    pub vis_type: String,
    pub storage: String,
    /// True when every dataset can be read with direct `pread`s (no libhdf5 lock).
    pub direct_read: bool,
}

struct DataSet {
    name: &'static str,
    ds: Dataset,
    elem: Elem,
    raw: Option<RawLayout>,
}

/// An open UVH5 file: its header, and handles to read its data.
pub struct Uvh5File {
    path: PathBuf,
    header: Header,
    /// Kept open for fallback reads through libhdf5.
    _h5: hdf5::File,
    raw_file: File,
    /// Shape of visdata normalised to (Nblts, Nfreqs, Npols).
    dims: [usize; 3],
    legacy_spw_axis: bool,
    vis: DataSet,
    flags: DataSet,
    nsamples: DataSet,
    /// Whether libhdf5's reads of the data are first tried in a child process.
    isolate: bool,
    /// The outcome of that trial (done once, at the first read through libhdf5), the error
    /// kept as `isolate::error_to_bytes`.
    libhdf5_reads_checked: OnceLock<Result<(), Vec<u8>>>,
}

impl std::fmt::Debug for Uvh5File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uvh5File").field("path", &self.path).field("dims", &self.dims).finish()
    }
}

/// How to open a file.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// Locate unfiltered data for direct `pread`s (parallel across files). Off: every read
    /// goes through libhdf5, and opening is cheaper (no chunk map), which suits header-only use.
    pub direct_reads: bool,
    /// Let libhdf5 touch the file first in a forked child process (see `isolate/`): opening
    /// it, and before the first read of data through libhdf5, reading all such data. libhdf5
    /// 1.10 crashes on some corrupt files; in the child a crash (or hang, or runaway
    /// allocation) becomes a `UVH5_CORRUPT` error for that file instead of killing the process
    /// (a converter service, Node). Off: a corrupt file can take this process down.
    pub isolate: bool,
}

impl Default for OpenOptions {
    /// Direct reads on, unless `CONTIMG_UVH5_NO_DIRECT=1` (for benchmarks of the libhdf5 path);
    /// isolation on, unless `CONTIMG_UVH5_NO_ISOLATE=1` (trusted files, measurements).
    fn default() -> Self {
        OpenOptions {
            direct_reads: std::env::var_os("CONTIMG_UVH5_NO_DIRECT").is_none_or(|v| v.is_empty() || v == "0"),
            isolate: isolate::enabled_by_default(),
        }
    }
}

impl Uvh5File {
    /// Opens a file, checks it is a complete HDF5 file, parses and validates its header
    /// and locates its data.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, OpenOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: OpenOptions) -> Result<Self> {
        let path = path.as_ref();
        if options.isolate {
            // Not HDF5 at all, or a corrupt group heap: no child needed to say so.
            crate::localheap::check(path, &probe(path)?)?;
            isolate::in_child(path, "opening it", || Self::check_open(path, options))?;
        }
        Self::open_here(path, options)
    }

    /// Opens several files (a group's subbands) and passes each to `then` as soon as it is
    /// open, in order. With isolation one child process checks them all, working ahead of
    /// this process (see `isolate::in_child_each`), which makes a group's opens overlap.
    pub fn open_each<P: AsRef<Path>, T>(paths: &[P], options: OpenOptions, mut then: impl FnMut(usize, Result<Self>) -> T) -> Vec<T> {
        if !options.isolate {
            return paths.iter().enumerate().map(|(i, p)| then(i, Self::open_here(p.as_ref(), options))).collect();
        }
        isolate::in_child_each(paths, "opening it", |p| Self::check_open(p, options), |i, checked| {
            then(i, checked.and_then(|()| Self::open_here(paths[i].as_ref(), options)))
        })
    }

    /// What the child does before this process opens a file: everything below that calls
    /// libhdf5. `layout()` too: `inspect` asks for it, and it reads the filter pipeline.
    fn check_open(path: &Path, options: OpenOptions) -> Result<()> {
        Self::open_here(path, OpenOptions { isolate: false, ..options }).map(|f| drop(f.layout()))
    }

    /// Opens the file in this process (after the child's check, with isolation).
    fn open_here(path: &Path, options: OpenOptions) -> Result<Self> {
        let superblock = probe(path)?;
        crate::localheap::check(path, &superblock)?; // before libhdf5 reads any group's heap
        // Read-only and without libhdf5's flock(): a reader needs no lock (no SWMR here), and
        // every forked child (isolate/) inherits the process's descriptors for as long as it
        // runs, so a lock taken through one, ours or a writer's in another thread, outlived its
        // close: an open of that file meanwhile failed with EAGAIN ("unable to lock file"),
        // seen in the convert tests running side by side.
        let h5 = hdf5::File::with_options().with_fapl(|p| p.file_locking(false)).open(path).map_err(|e| {
            let msg = e.to_string();
            if msg.contains("truncated") {
                Uvh5Error::Truncated { path: path.to_owned(), detail: msg }
            } else {
                Uvh5Error::hdf5(path, "opening the file", e)
            }
        })?;
        let root = Node { path, group: &h5, prefix: "" };
        for (g, what) in [("Header", "the UVH5 header group"), ("Data", "the UVH5 data group")] {
            if !root.has(g) {
                return Err(Uvh5Error::MissingDataset {
                    path: path.to_owned(),
                    name: g.into(),
                    expected: what.into(),
                });
            }
        }
        let header_group = h5.group("Header").map_err(|e| Uvh5Error::hdf5(path, "opening Header", e))?;
        let header = read_header(path, &header_group)?;
        let data_group = h5.group("Data").map_err(|e| Uvh5Error::hdf5(path, "opening Data", e))?;
        let data = Node { path, group: &data_group, prefix: "Data/" };

        let open = |name: &'static str, what: &str| -> Result<Dataset> {
            if !data.has(name) {
                return Err(Uvh5Error::MissingDataset {
                    path: path.to_owned(),
                    name: format!("Data/{name}"),
                    expected: what.to_owned(),
                });
            }
            data.dataset(name, what)
        };
        let vis_ds = open("visdata", "the visibilities, shape (Nblts, Nfreqs, Npols)")?;
        let flags_ds = open("flags", "the flags, shaped like visdata")?;
        let nsamples_ds = open("nsamples", "the sample counts, shaped like visdata")?;

        let (n_blts, n_freqs, n_pols) = (header.n_blts, header.n_freqs, header.n_pols);
        let vis_shape = vis_ds.shape();
        let legacy_spw_axis = match vis_shape.as_slice() {
            [b, f, p] if (*b, *f, *p) == (n_blts, n_freqs, n_pols) => false,
            [b, 1, f, p] if (*b, *f, *p) == (n_blts, n_freqs, n_pols) => true,
            _ => {
                return Err(Uvh5Error::BadShape {
                    path: path.to_owned(),
                    name: "Data/visdata".into(),
                    expected: format!(
                        "({n_blts}, {n_freqs}, {n_pols}) = (Nblts, Nfreqs, Npols), or legacy ({n_blts}, 1, {n_freqs}, {n_pols})"
                    ),
                    got: vis_shape,
                })
            }
        };
        for (ds, name) in [(&flags_ds, "Data/flags"), (&nsamples_ds, "Data/nsamples")] {
            if ds.shape() != vis_shape {
                return Err(Uvh5Error::BadShape {
                    path: path.to_owned(),
                    name: name.into(),
                    expected: format!("{vis_shape:?}, the shape of Data/visdata"),
                    got: ds.shape(),
                });
            }
        }

        let vis_elem = vis_elem(&data, &vis_ds)?;
        let flags_elem = match data.type_descriptor(&flags_ds, "flags")? {
            TypeDescriptor::Boolean
            | TypeDescriptor::Integer(IntSize::U1)
            | TypeDescriptor::Unsigned(IntSize::U1) => Elem::Bool,
            TypeDescriptor::Enum(e) if e.size == IntSize::U1 => Elem::Bool,
            other => {
                return Err(Uvh5Error::UnsupportedDtype {
                    path: path.to_owned(),
                    name: "Data/flags".into(),
                    got: describe_type(&other),
                    expected: "booleans".into(),
                })
            }
        };
        let nsamples_elem = match data.type_descriptor(&nsamples_ds, "nsamples")? {
            TypeDescriptor::Float(FloatSize::U4) => Elem::F32,
            TypeDescriptor::Float(FloatSize::U8) => Elem::F64,
            other => {
                return Err(Uvh5Error::UnsupportedDtype {
                    path: path.to_owned(),
                    name: "Data/nsamples".into(),
                    got: describe_type(&other),
                    expected: "float32 or float64".into(),
                })
            }
        };

        // Direct reads need standard little-endian elements and addresses we can use as-is.
        let direct_ok = options.direct_reads && superblock.base_addr == 0;
        let raw_file = File::open(path).map_err(|e| Uvh5Error::io(path, "open", e))?;
        let raw_of = |ds: &Dataset, little_endian: bool| {
            if direct_ok && little_endian { raw_layout(ds, &vis_shape, &raw_file, &superblock) } else { None }
        };
        let vis_raw = raw_of(&vis_ds, is_standard_little_endian(&vis_ds));
        let flags_raw = raw_of(&flags_ds, true);
        let nsamples_raw = raw_of(&nsamples_ds, is_standard_little_endian(&nsamples_ds));
        Ok(Uvh5File {
            path: path.to_owned(),
            header,
            _h5: h5,
            raw_file,
            dims: [n_blts, n_freqs, n_pols],
            legacy_spw_axis,
            vis: DataSet { name: "Data/visdata", ds: vis_ds, elem: vis_elem, raw: vis_raw },
            flags: DataSet { name: "Data/flags", ds: flags_ds, elem: flags_elem, raw: flags_raw },
            nsamples: DataSet { name: "Data/nsamples", ds: nsamples_ds, elem: nsamples_elem, raw: nsamples_raw },
            isolate: options.isolate,
            libhdf5_reads_checked: OnceLock::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Frees the header's per-baseline-time arrays (times, antennas, uvw, LSTs, integration
    /// times) once they have been checked: a group holds 16 copies of them, which would make
    /// memory grow with the number of integrations. Reading data does not need them.
    pub fn release_blt_arrays(&mut self) {
        let h = &mut self.header;
        for v in [&mut h.time_jd, &mut h.integration_time_s] {
            *v = Vec::new();
        }
        h.ant_1 = Vec::new();
        h.ant_2 = Vec::new();
        h.uvw_m = Vec::new();
        h.lst_rad = None;
    }

    /// Rows (baseline-times) per chunk of the visibilities when they are read directly from
    /// chunks; readers that work in row ranges cut them at multiples of this so that no chunk
    /// is read twice.
    pub fn rows_per_chunk(&self) -> Option<usize> {
        match &self.vis.raw {
            Some(RawLayout::Chunked { chunk, .. }) => Some(chunk[0]),
            _ => None,
        }
    }

    pub fn layout(&self) -> DataLayout {
        let storage = match (&self.vis.raw, self.vis.ds.is_chunked()) {
            (Some(RawLayout::Contiguous { .. }), _) => "contiguous".to_owned(),
            (Some(RawLayout::Chunked { chunk, .. }), _) => format!("chunked {chunk:?}, unfiltered"),
            (None, true) => {
                let filters: Vec<String> = self.vis.ds.filters().iter().map(|f| format!("{f:?}")).collect();
                format!("chunked {:?}, filters {:?}", self.vis.ds.chunk().unwrap_or_default(), filters)
            }
            (None, false) => "contiguous".to_owned(),
        };
        DataLayout {
            legacy_spw_axis: self.legacy_spw_axis,
            vis_type: format!("{:?}", self.vis.elem),
            storage,
            direct_read: self.vis.raw.is_some() && self.flags.raw.is_some() && self.nsamples.raw.is_some(),
        }
    }

    /// Reads `blts × chans × all polarisations` into `out` (resized to fit).
    pub fn read_block(&self, blts: Range<usize>, chans: Range<usize>, out: &mut VisBlock) -> Result<()> {
        let [n_blts, n_freqs, n_pols] = self.dims;
        if blts.start > blts.end || blts.end > n_blts {
            return Err(Uvh5Error::OutOfRange {
                path: self.path.clone(),
                what: "baseline-time range".into(),
                requested: format!("{blts:?}"),
                available: n_blts,
            });
        }
        if chans.start > chans.end || chans.end > n_freqs {
            return Err(Uvh5Error::OutOfRange {
                path: self.path.clone(),
                what: "channel range".into(),
                requested: format!("{chans:?}"),
                available: n_freqs,
            });
        }
        out.resize(blts.len(), chans.len(), n_pols);
        if blts.is_empty() || chans.is_empty() {
            return Ok(());
        }
        self.read_dataset(&self.vis, blts.clone(), chans.clone(), &mut out.vis)?;
        self.read_dataset(&self.flags, blts.clone(), chans.clone(), &mut out.flags)?;
        self.read_dataset(&self.nsamples, blts, chans, &mut out.nsamples)?;
        Ok(())
    }

    /// Reads the whole file into one block.
    pub fn read_all(&self) -> Result<VisBlock> {
        let mut block = VisBlock::default();
        self.read_block(0..self.dims[0], 0..self.dims[1], &mut block)?;
        Ok(block)
    }

    /// Reads rows `blts` (all channels and polarisations) of visdata, flags and nsamples
    /// straight into caller buffers, each element at the place `place` gives it (see
    /// [`Placement`]). Several files may fill one set of buffers concurrently, provided their
    /// placements never name the same element — which is how the converter interleaves 16
    /// subbands into output rows without an intermediate copy.
    pub fn read_block_placed(
        &self,
        blts: Range<usize>,
        place: &Placement,
        vis: &Sink<Complex32>,
        flags: &Sink<bool>,
        nsamples: &Sink<f32>,
    ) -> Result<()> {
        let [n_blts, n_freqs, n_pols] = self.dims;
        if blts.start > blts.end || blts.end > n_blts {
            return Err(Uvh5Error::OutOfRange {
                path: self.path.clone(),
                what: "baseline-time range".into(),
                requested: format!("{blts:?}"),
                available: n_blts,
            });
        }
        if place.chan_offset.len() != n_freqs || place.pol_offset.len() != n_pols {
            return Err(Uvh5Error::InvalidArgument {
                path: self.path.clone(),
                detail: format!(
                    "placement for {} channels and {} polarisations, the file has {n_freqs} and {n_pols}",
                    place.chan_offset.len(),
                    place.pol_offset.len()
                ),
            });
        }
        // Validate the placement once, so the per-element writes need no bounds checks.
        let max_chan = place.chan_offset.iter().copied().filter(|&o| o != SKIP).max();
        let max_pol = place.pol_offset.iter().copied().max().unwrap_or(0);
        if let Some(mc) = max_chan {
            let last = (blts.len().max(1) - 1) * place.row_stride + mc + max_pol;
            for (len, what) in [(vis.len(), "visibilities"), (flags.len(), "flags"), (nsamples.len(), "nsamples")] {
                if !blts.is_empty() && last >= len {
                    return Err(Uvh5Error::InvalidArgument {
                        path: self.path.clone(),
                        detail: format!("placement reaches element {last} of a {len}-element {what} buffer"),
                    });
                }
            }
        }
        self.place_dataset(&self.vis, blts.clone(), place, vis)?;
        self.place_dataset(&self.flags, blts.clone(), place, flags)?;
        self.place_dataset(&self.nsamples, blts, place, nsamples)
    }

    fn place_dataset<T: Decode + Hdf5Read>(&self, d: &DataSet, blts: Range<usize>, place: &Placement, sink: &Sink<T>) -> Result<()> {
        match &d.raw {
            Some(layout) => read_region_placed(&self.raw_file, &self.path, d.name, layout, d.elem, self.dims, blts, place, sink),
            None => {
                // Through libhdf5 into a dense block, then placed.
                self.check_libhdf5_reads()?;
                let [_, nf, np] = self.dims;
                let mut dense = vec![T::default(); blts.len() * nf * np];
                self.read_through_libhdf5(d, blts.clone(), 0..nf, &mut dense)?;
                for r in 0..blts.len() {
                    for c in 0..nf {
                        let co = place.chan_offset[c];
                        if co == SKIP {
                            continue;
                        }
                        for p in 0..np {
                            sink.put_at(r * place.row_stride + co + place.pol_offset[p], dense[(r * nf + c) * np + p]);
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn read_dataset<T: Decode + Hdf5Read>(
        &self,
        d: &DataSet,
        blts: Range<usize>,
        chans: Range<usize>,
        out: &mut [T],
    ) -> Result<()> {
        match &d.raw {
            Some(layout) => read_region(&self.raw_file, &self.path, d.name, layout, d.elem, self.dims, blts, chans, out),
            None => {
                self.check_libhdf5_reads()?;
                self.read_through_libhdf5(d, blts, chans, out)
            }
        }
    }

    fn read_through_libhdf5<T: Hdf5Read>(&self, d: &DataSet, blts: Range<usize>, chans: Range<usize>, out: &mut [T]) -> Result<()> {
        T::read_hyperslab(&d.ds, self.legacy_spw_axis, self.dims, blts, chans, out)
            .map_err(|e| Uvh5Error::hdf5(&self.path, format!("reading {}", d.name), e))
    }

    /// Before this process reads any data through libhdf5, a child reads all of it (see
    /// `OpenOptions::isolate`); once per file, whatever thread gets here first.
    fn check_libhdf5_reads(&self) -> Result<()> {
        if !self.isolate {
            return Ok(());
        }
        let checked = self.libhdf5_reads_checked.get_or_init(|| {
            isolate::in_child(&self.path, "reading its data", || self.read_libhdf5_data_whole()).map_err(isolate::error_to_bytes)
        });
        match checked {
            Ok(()) => Ok(()),
            Err(bytes) => Err(isolate::error_from_bytes(bytes, &self.path).unwrap_or_else(|| Uvh5Error::Corrupt {
                path: self.path.clone(),
                detail: "reading its data failed in a separate process".into(),
            })),
        }
    }

    /// Every dataset not read directly, whole, through libhdf5, in blocks of whole rows (as
    /// the converter reads) of at most 4 Mi elements, so every chunk passes through its filter
    /// pipeline and libhdf5's read path. Runs in the child: no rayon, no other thread.
    fn read_libhdf5_data_whole(&self) -> Result<()> {
        const MAX_ELEMS: usize = 1 << 22;
        let [n_blts, n_freqs, n_pols] = self.dims;
        let chans_per_read = n_freqs.min(MAX_ELEMS / n_pols.max(1)).max(1);
        let rows_per_read =
            if chans_per_read == n_freqs { (MAX_ELEMS / n_freqs.saturating_mul(n_pols).max(1)).max(1) } else { 1 };
        let (mut vis, mut flags, mut nsamples) = (Vec::new(), Vec::new(), Vec::new());
        for b0 in (0..n_blts).step_by(rows_per_read) {
            let blts = b0..(b0 + rows_per_read).min(n_blts);
            for c0 in (0..n_freqs).step_by(chans_per_read) {
                let chans = c0..(c0 + chans_per_read).min(n_freqs);
                let n = blts.len() * chans.len() * n_pols;
                if self.vis.raw.is_none() {
                    vis.resize(n, Complex32::default());
                    self.read_through_libhdf5(&self.vis, blts.clone(), chans.clone(), &mut vis)?;
                }
                if self.flags.raw.is_none() {
                    flags.resize(n, false);
                    self.read_through_libhdf5(&self.flags, blts.clone(), chans.clone(), &mut flags)?;
                }
                if self.nsamples.raw.is_none() {
                    nsamples.resize(n, 0.0f32);
                    self.read_through_libhdf5(&self.nsamples, blts.clone(), chans, &mut nsamples)?;
                }
            }
        }
        Ok(())
    }
}

fn vis_elem(data: &Node, ds: &Dataset) -> Result<Elem> {
    let td = data.type_descriptor(ds, "visdata")?;
    let unsupported = |td: &TypeDescriptor| Uvh5Error::UnsupportedDtype {
        path: data.path.to_owned(),
        name: "Data/visdata".into(),
        got: describe_type(td),
        expected: "a compound of 'r' and 'i' fields, both float32, float64 or the same signed integer type"
            .into(),
    };
    let TypeDescriptor::Compound(c) = &td else { return Err(unsupported(&td)) };
    let field = |n: &str| c.fields.iter().find(|f| f.name == n);
    let (Some(r), Some(i)) = (field("r"), field("i")) else { return Err(unsupported(&td)) };
    if r.ty != i.ty || c.fields.len() != 2 {
        return Err(unsupported(&td));
    }
    let elem = match r.ty {
        TypeDescriptor::Float(FloatSize::U4) => Elem::ComplexF32,
        TypeDescriptor::Float(FloatSize::U8) => Elem::ComplexF64,
        TypeDescriptor::Integer(s) => Elem::ComplexInt(s as usize),
        _ => return Err(unsupported(&td)),
    };
    // The direct decoder assumes r then i, packed.
    let es = elem.size() / 2;
    if r.offset != 0 || i.offset != es || c.size != 2 * es {
        return Err(unsupported(&td));
    }
    Ok(elem)
}

/// True when the dataset's numbers (or every member of its compound) are exactly the
/// little-endian IEEE floats or two's-complement integers that the direct decoder assumes. A
/// datatype message can describe other bit layouts of the same size — big-endian, another
/// exponent bias, precision or padding — which libhdf5 converts and a plain decode would
/// misread (found by fuzzing: a float32 'r' field with an exponent bias of 16776575, read as
/// ±0 by libhdf5 and as ordinary floats directly).
fn is_standard_little_endian(ds: &Dataset) -> bool {
    use hdf5::globals::{H5T_IEEE_F32LE, H5T_IEEE_F64LE, H5T_STD_I16LE, H5T_STD_I32LE, H5T_STD_I64LE, H5T_STD_I8LE};
    use hdf5_sys::h5t::{H5T_class_t, H5Tclose, H5Tequal, H5Tget_class, H5Tget_member_type, H5Tget_nmembers};
    let Ok(dtype) = ds.dtype() else { return false };
    hdf5::sync::sync(|| unsafe {
        let standard = [*H5T_IEEE_F32LE, *H5T_IEEE_F64LE, *H5T_STD_I8LE, *H5T_STD_I16LE, *H5T_STD_I32LE, *H5T_STD_I64LE];
        // H5Tequal compares every property of an atomic type (order, precision, offset,
        // padding, and for floats the sign, exponent and mantissa fields and the bias).
        let is_standard = |id| standard.iter().any(|&s| H5Tequal(id, s) > 0);
        let id = dtype.id();
        if H5Tget_class(id) == H5T_class_t::H5T_COMPOUND {
            let n = H5Tget_nmembers(id);
            n >= 0
                && (0..n as u32).all(|k| {
                    let m = H5Tget_member_type(id, k);
                    let ok = m >= 0 && is_standard(m);
                    if m >= 0 {
                        H5Tclose(m);
                    }
                    ok
                })
        } else {
            is_standard(id)
        }
    })
}

/// Reading through libhdf5 (the always-correct path), with its own type conversion.
pub(crate) trait Hdf5Read: Sized {
    fn read_hyperslab(
        ds: &Dataset,
        legacy: bool,
        dims: [usize; 3],
        blts: Range<usize>,
        chans: Range<usize>,
        out: &mut [Self],
    ) -> hdf5::Result<()>;
}

fn hyperslab_read(
    ds: &Dataset,
    mem_type: hdf5_sys::h5i::hid_t,
    legacy: bool,
    dims: [usize; 3],
    blts: Range<usize>,
    chans: Range<usize>,
    out: *mut std::ffi::c_void,
) -> hdf5::Result<()> {
    use hdf5_sys::h5d::H5Dread;
    use hdf5_sys::h5p::H5P_DEFAULT;
    use hdf5_sys::h5s::{H5S_seloper_t, H5Sclose, H5Screate_simple, H5Sget_select_npoints, H5Sselect_hyperslab};
    let (start, count): (Vec<u64>, Vec<u64>) = if legacy {
        (
            vec![blts.start as u64, 0, chans.start as u64, 0],
            vec![blts.len() as u64, 1, chans.len() as u64, dims[2] as u64],
        )
    } else {
        (
            vec![blts.start as u64, chans.start as u64, 0],
            vec![blts.len() as u64, chans.len() as u64, dims[2] as u64],
        )
    };
    let space = ds.space()?;
    hdf5::sync::sync(|| unsafe {
        let file_space = space.id();
        if H5Sselect_hyperslab(
            file_space,
            H5S_seloper_t::H5S_SELECT_SET,
            start.as_ptr(),
            std::ptr::null(),
            count.as_ptr(),
            std::ptr::null(),
        ) < 0
        {
            return Err("selecting a hyperslab failed".into());
        }
        let mem_space = H5Screate_simple(count.len() as i32, count.as_ptr(), std::ptr::null());
        if mem_space < 0 {
            return Err("creating a memory dataspace failed".into());
        }
        let _ = H5Sget_select_npoints(file_space);
        let status = H5Dread(ds.id(), mem_type, mem_space, file_space, H5P_DEFAULT, out);
        H5Sclose(mem_space);
        if status < 0 {
            Err(hdf5::Error::from("H5Dread failed"))
        } else {
            Ok(())
        }
    })
}

impl Hdf5Read for Complex32 {
    fn read_hyperslab(
        ds: &Dataset,
        legacy: bool,
        dims: [usize; 3],
        blts: Range<usize>,
        chans: Range<usize>,
        out: &mut [Self],
    ) -> hdf5::Result<()> {
        // The memory type is h5py's {r, i} float32 compound; libhdf5 converts integer and
        // double compounds to it field by field.
        let t = hdf5::Datatype::from_type::<Complex32>()?;
        hyperslab_read(ds, t.id(), legacy, dims, blts, chans, out.as_mut_ptr().cast())
    }
}

impl Hdf5Read for f32 {
    fn read_hyperslab(
        ds: &Dataset,
        legacy: bool,
        dims: [usize; 3],
        blts: Range<usize>,
        chans: Range<usize>,
        out: &mut [Self],
    ) -> hdf5::Result<()> {
        let t = hdf5::Datatype::from_type::<f32>()?;
        hyperslab_read(ds, t.id(), legacy, dims, blts, chans, out.as_mut_ptr().cast())
    }
}

impl Hdf5Read for bool {
    fn read_hyperslab(
        ds: &Dataset,
        legacy: bool,
        dims: [usize; 3],
        blts: Range<usize>,
        chans: Range<usize>,
        out: &mut [Self],
    ) -> hdf5::Result<()> {
        // Read in the file's own one-byte type (enum or integer) and normalise to 0/1,
        // since libhdf5 will not convert an enum to an integer.
        let t = ds.dtype()?;
        let mut bytes = vec![0u8; out.len()];
        hyperslab_read(ds, t.id(), legacy, dims, blts, chans, bytes.as_mut_ptr().cast())?;
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = b != 0;
        }
        Ok(())
    }
}
