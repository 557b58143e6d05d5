//! Writing a complete MeasurementSet v2 in large row blocks.

use std::path::{Path, PathBuf};

use casacore_sys::{MsLayout, Table};
use num_complex::Complex32;

use crate::error::{MsError, Op};
use crate::spec::MsSpec;
use crate::tab::Tab;

mod subtables;
use subtables::{write_subtables, write_validity};

/// Target bytes of one tile of a [ncorr, nchan] column (DATA, MODEL_DATA, CORRECTED_DATA,
/// WEIGHT_SPECTRUM).
///
/// Why ~4 MiB: casacore's tiled storage managers read and write whole tiles. A tile spans all
/// correlations and channels of `rows` consecutive rows, so rows arriving in order fill each tile
/// completely before the next one starts, and each tile goes to disk exactly once, as one large
/// sequential write. 4 MiB is large enough for that write to run at disk speed, and small enough
/// that the tile cache (one tile per column while writing in row order) stays small and that a
/// reader of a few rows does not pull in much more than it asked for. For DSA-110's 768 channels ×
/// 2 correlations (12 KiB per row of DATA) it gives 341 rows per tile.
pub const VIS_TILE_BYTES: usize = 4 << 20;

/// Target bytes of one tile of the small per-row columns (FLAG, UVW, WEIGHT, SIGMA). They are
/// written in the same row-range calls; bigger row counts per tile keep their number of tiles
/// (and so of small writes) low.
pub const SMALL_TILE_BYTES: usize = 1 << 20;

/// Rows per tile for cells of `bytes_per_row`, capped by the expected row count so that a small
/// MS does not get a mostly empty 4 MiB tile.
fn tile_rows(target: usize, bytes_per_row: usize, rows_hint: usize) -> usize {
    let rows = (target / bytes_per_row.max(1)).max(1);
    if rows_hint > 0 {
        rows.min(rows_hint)
    } else {
        rows
    }
}

/// The layout (optional columns, tile heights) of the MAIN table for a spec.
pub fn layout_for(spec: &MsSpec) -> MsLayout {
    let (ncorr, nchan) = (spec.ncorr(), spec.nchan());
    let cell = ncorr * nchan;
    MsLayout {
        ncorr,
        nchan,
        data: true,
        weight_spectrum: true,
        model_data: spec.imaging_columns,
        corrected_data: spec.imaging_columns,
        tile_rows_vis: tile_rows(VIS_TILE_BYTES, cell * 8, spec.rows_hint),
        // casacore's tiled managers store Bool as one bit.
        tile_rows_flag: tile_rows(SMALL_TILE_BYTES, cell.div_ceil(8), spec.rows_hint),
        tile_rows_uvw: tile_rows(SMALL_TILE_BYTES, 3 * 8, spec.rows_hint),
        tile_rows_weight: tile_rows(SMALL_TILE_BYTES, ncorr * 4, spec.rows_hint),
    }
}

/// A block of consecutive MAIN rows, borrowed from the caller. Per-row slices have one element
/// per row; visibility-shaped slices are C-order `[row][chan][corr]` (= casacore cells
/// `[ncorr, nchan]`); `weight` and `sigma` are `[row][corr]`.
///
/// The writer stores what it is given: the science conventions of DESIGN.md §3 (autocorrelations
/// real, nsamples = 0 flagged, UVW sign matching the conjugation) are the caller's to apply.
#[derive(Debug, Clone, Copy)]
pub struct RowBlock<'a> {
    /// Integration midpoint, MJD seconds UTC.
    pub time_mjd_s: &'a [f64],
    pub time_centroid_mjd_s: &'a [f64],
    pub interval_s: &'a [f64],
    pub exposure_s: &'a [f64],
    pub antenna1: &'a [i32],
    pub antenna2: &'a [i32],
    pub field_id: &'a [i32],
    pub data_desc_id: &'a [i32],
    pub scan_number: &'a [i32],
    /// Metres, in the spec's direction frame.
    pub uvw_m: &'a [[f64; 3]],
    pub data: &'a [Complex32],
    pub flag: &'a [bool],
    pub weight_spectrum: &'a [f32],
    pub weight: &'a [f32],
    pub sigma: &'a [f32],
    pub flag_row: &'a [bool],
}

impl RowBlock<'_> {
    pub fn n_rows(&self) -> usize {
        self.time_mjd_s.len()
    }
}

/// What [`MsWriter::finish`] reports.
#[derive(Debug, Clone, PartialEq)]
pub struct MsSummary {
    pub path: PathBuf,
    pub n_rows: usize,
    pub n_spw: usize,
    pub nchan: usize,
    pub ncorr: usize,
    /// OBSERVATION TIME_RANGE as written (MJD seconds UTC).
    pub time_range_mjd_s: [f64; 2],
    /// MAIN columns.
    pub columns: Vec<String>,
    /// Tile heights chosen (rows per tile of DATA and friends, FLAG, UVW, WEIGHT/SIGMA).
    pub layout: MsLayout,
}

/// Writes one MeasurementSet: [`create`](MsWriter::create) writes every subtable from the spec,
/// [`write_rows`](MsWriter::write_rows) appends row blocks (one casacore call per column per
/// block), [`finish`](MsWriter::finish) fills the time ranges and closes.
///
/// If a call fails the writer is poisoned: the MS on disk is incomplete and every later call
/// returns [`MsError::Poisoned`].
pub struct MsWriter {
    path: PathBuf,
    main: Tab,
    layout: MsLayout,
    nant: usize,
    nspw: usize,
    nfield: usize,
    n_rows: usize,
    /// Earliest start and latest end (TIME ∓ INTERVAL/2) of the rows written.
    time_lo: f64,
    time_hi: f64,
    fixed_time_range: Option<[f64; 2]>,
    field_times: Vec<f64>,
    /// Reused buffers for the constant columns and MODEL_DATA, grown to the largest block.
    zeros_i32: Vec<i32>,
    minus1_i32: Vec<i32>,
    zeros_vis: Vec<Complex32>,
    poisoned: Option<String>,
}

impl MsWriter {
    /// Create the MS at `path` (which must not exist: casacore refuses to replace a table) and
    /// write all subtables. On failure nothing is left at `path`.
    pub fn create(path: &Path, spec: &MsSpec) -> Result<MsWriter, MsError> {
        spec.validate()?;
        let layout = layout_for(spec);
        let table = Table::create_ms(path, &layout)
            .op(|| format!("create MeasurementSet {}", path.display()))?;
        let mut main = Tab::new(table, "MAIN");
        if let Err(e) = write_subtables(&mut main, spec) {
            // casacore created `path` just now (it refuses to replace an existing table), so
            // removing the half-written MS cannot destroy anything else, and lets a retry work.
            drop(main);
            let _ = std::fs::remove_dir_all(path);
            return Err(e);
        }
        let w = MsWriter {
            path: path.to_path_buf(),
            main,
            layout,
            nant: spec.antennas.len(),
            nspw: spec.spws.len(),
            nfield: spec.fields.len(),
            n_rows: 0,
            time_lo: f64::INFINITY,
            time_hi: f64::NEG_INFINITY,
            fixed_time_range: spec.observation.time_range_mjd_s,
            field_times: spec.fields.iter().map(|f| f.time_mjd_s).collect(),
            zeros_i32: Vec::new(),
            minus1_i32: Vec::new(),
            zeros_vis: Vec::new(),
            poisoned: None,
        };
        if let Some(r) = w.fixed_time_range {
            write_validity(&w.main, r)?;
        }
        Ok(w)
    }

    /// Reopens a MeasurementSet that an interrupted writer left behind, keeping its first
    /// `rows_done` rows (those a checkpoint vouches for) and continuing after them. Rows the
    /// table may hold beyond that are overwritten as the writer proceeds. The subtables are
    /// those written at creation; the spec must be the one the MS was created with.
    pub fn resume(path: &Path, spec: &MsSpec, rows_done: usize) -> Result<MsWriter, MsError> {
        spec.validate()?;
        let layout = layout_for(spec);
        let table = Table::open(path, true).op(|| format!("reopen MeasurementSet {}", path.display()))?;
        let main = Tab::new(table, "MAIN");
        let have = main.n_rows()?;
        if have < rows_done {
            return Err(MsError::InvalidRows {
                what: "resume".into(),
                message: format!("{} holds {have} rows but the checkpoint records {rows_done}", path.display()),
            });
        }
        for col in ["DATA", "FLAG", "WEIGHT_SPECTRUM"] {
            let info = main.t.column_info(col).op(|| format!("describe MAIN.{col}"))?;
            if info.fixed_shape.as_deref() != Some(&[layout.ncorr, layout.nchan][..]) {
                return Err(MsError::InvalidRows {
                    what: "resume".into(),
                    message: format!("{}: MAIN.{col} cells are {:?}, not [{}, {}]", path.display(), info.fixed_shape, layout.ncorr, layout.nchan),
                });
            }
        }
        let (mut time_lo, mut time_hi) = (f64::INFINITY, f64::NEG_INFINITY);
        if rows_done > 0 {
            let t: Vec<f64> = main.t.get_scalars("TIME", 0, rows_done).op(|| "read MAIN.TIME".into())?;
            let dt: Vec<f64> = main.t.get_scalars("INTERVAL", 0, rows_done).op(|| "read MAIN.INTERVAL".into())?;
            for (t, dt) in t.iter().zip(&dt) {
                time_lo = time_lo.min(t - 0.5 * dt);
                time_hi = time_hi.max(t + 0.5 * dt);
            }
        }
        Ok(MsWriter {
            path: path.to_path_buf(),
            main,
            layout,
            nant: spec.antennas.len(),
            nspw: spec.spws.len(),
            nfield: spec.fields.len(),
            n_rows: rows_done,
            time_lo,
            time_hi,
            fixed_time_range: spec.observation.time_range_mjd_s,
            field_times: spec.fields.iter().map(|f| f.time_mjd_s).collect(),
            zeros_i32: Vec::new(),
            minus1_i32: Vec::new(),
            zeros_vis: Vec::new(),
            poisoned: None,
        })
    }

    /// Writes everything so far to disk (table description, storage-manager headers and
    /// data), so that a reopened MS holds exactly the rows written until now.
    pub fn flush(&mut self) -> Result<(), MsError> {
        if let Some(p) = &self.poisoned {
            return Err(MsError::Poisoned(p.clone()));
        }
        self.main.t.flush().op(|| format!("flush {}", self.path.display()))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows written so far.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    pub fn layout(&self) -> &MsLayout {
        &self.layout
    }

    /// Append the rows of `block`. Every slice is checked against the row count and the cell
    /// shape first ([`MsError::Shape`] names the column), and the index columns against the
    /// subtables; nothing is written unless all checks pass.
    pub fn write_rows(&mut self, block: &RowBlock<'_>) -> Result<(), MsError> {
        if let Some(p) = &self.poisoned {
            return Err(MsError::Poisoned(p.clone()));
        }
        self.check_block(block)?;
        let r = self.put_block(block);
        if let Err(e) = &r {
            self.poisoned = Some(e.to_string());
        }
        r
    }

    fn check_block(&self, b: &RowBlock<'_>) -> Result<(), MsError> {
        let n = b.n_rows();
        let cell = self.layout.ncorr * self.layout.nchan;
        let len = |what: &str, got: usize, expected: usize| {
            if got == expected {
                Ok(())
            } else {
                Err(MsError::Shape {
                    what: what.to_string(),
                    expected,
                    got,
                })
            }
        };
        len("TIME_CENTROID", b.time_centroid_mjd_s.len(), n)?;
        len("INTERVAL", b.interval_s.len(), n)?;
        len("EXPOSURE", b.exposure_s.len(), n)?;
        len("ANTENNA1", b.antenna1.len(), n)?;
        len("ANTENNA2", b.antenna2.len(), n)?;
        len("FIELD_ID", b.field_id.len(), n)?;
        len("DATA_DESC_ID", b.data_desc_id.len(), n)?;
        len("SCAN_NUMBER", b.scan_number.len(), n)?;
        len("UVW", b.uvw_m.len(), n)?;
        len("DATA", b.data.len(), n * cell)?;
        len("FLAG", b.flag.len(), n * cell)?;
        len("WEIGHT_SPECTRUM", b.weight_spectrum.len(), n * cell)?;
        len("WEIGHT", b.weight.len(), n * self.layout.ncorr)?;
        len("SIGMA", b.sigma.len(), n * self.layout.ncorr)?;
        len("FLAG_ROW", b.flag_row.len(), n)?;
        let range = |what: &str, v: &[i32], limit: usize, table: &str| match v
            .iter()
            .position(|&x| x < 0 || x as usize >= limit)
        {
            None => Ok(()),
            Some(i) => Err(MsError::InvalidRows {
                what: what.to_string(),
                message: format!(
                    "row {i} of the block holds {}, but {table} has {limit} rows",
                    v[i]
                ),
            }),
        };
        range("ANTENNA1", b.antenna1, self.nant, "ANTENNA")?;
        range("ANTENNA2", b.antenna2, self.nant, "ANTENNA")?;
        range("FIELD_ID", b.field_id, self.nfield, "FIELD")?;
        range(
            "DATA_DESC_ID",
            b.data_desc_id,
            self.nspw,
            "DATA_DESCRIPTION",
        )?;
        if let Some(i) = b.time_mjd_s.iter().position(|t| !t.is_finite()) {
            return Err(MsError::InvalidRows {
                what: "TIME".into(),
                message: format!("row {i} of the block is not finite"),
            });
        }
        Ok(())
    }

    fn put_block(&mut self, b: &RowBlock<'_>) -> Result<(), MsError> {
        let n = b.n_rows();
        if n == 0 {
            return Ok(());
        }
        let r0 = self.n_rows;
        let (ncorr, nchan) = (self.layout.ncorr, self.layout.nchan);
        let cell = [ncorr, nchan];
        if self.zeros_i32.len() < n {
            self.zeros_i32.resize(n, 0);
            self.minus1_i32.resize(n, -1);
        }
        if self.layout.model_data && self.zeros_vis.len() < n * ncorr * nchan {
            self.zeros_vis
                .resize(n * ncorr * nchan, Complex32::new(0.0, 0.0));
        }

        let m = &mut self.main;
        // A resumed writer may find rows already allocated past its checkpoint.
        let have = m.n_rows()?;
        if r0 + n > have {
            m.add_rows(r0 + n - have)?;
        }
        m.put("TIME", r0, b.time_mjd_s)?;
        m.put("TIME_CENTROID", r0, b.time_centroid_mjd_s)?;
        m.put("INTERVAL", r0, b.interval_s)?;
        m.put("EXPOSURE", r0, b.exposure_s)?;
        m.put("ANTENNA1", r0, b.antenna1)?;
        m.put("ANTENNA2", r0, b.antenna2)?;
        m.put("FIELD_ID", r0, b.field_id)?;
        m.put("DATA_DESC_ID", r0, b.data_desc_id)?;
        m.put("SCAN_NUMBER", r0, b.scan_number)?;
        m.put("FLAG_ROW", r0, b.flag_row)?;
        let zeros = &self.zeros_i32[..n];
        for col in [
            "ARRAY_ID",
            "FEED1",
            "FEED2",
            "OBSERVATION_ID",
            "PROCESSOR_ID",
        ] {
            m.put(col, r0, zeros)?;
        }
        // No STATE rows: STATE_ID -1 says "no state information".
        m.put("STATE_ID", r0, &self.minus1_i32[..n])?;
        m.put_arr("UVW", r0, n, &[3], b.uvw_m.as_flattened())?;
        m.put_arr("WEIGHT", r0, n, &[ncorr], b.weight)?;
        m.put_arr("SIGMA", r0, n, &[ncorr], b.sigma)?;
        m.put_arr("FLAG", r0, n, &cell, b.flag)?;
        m.put_arr("DATA", r0, n, &cell, b.data)?;
        m.put_arr("WEIGHT_SPECTRUM", r0, n, &cell, b.weight_spectrum)?;
        if self.layout.model_data {
            m.put_arr(
                "MODEL_DATA",
                r0,
                n,
                &cell,
                &self.zeros_vis[..n * ncorr * nchan],
            )?;
        }
        if self.layout.corrected_data {
            m.put_arr("CORRECTED_DATA", r0, n, &cell, b.data)?;
        }

        for i in 0..n {
            let half = 0.5 * b.interval_s[i];
            self.time_lo = self.time_lo.min(b.time_mjd_s[i] - half);
            self.time_hi = self.time_hi.max(b.time_mjd_s[i] + half);
        }
        self.n_rows += n;
        Ok(())
    }

    /// Fill OBSERVATION TIME_RANGE and the FEED/SOURCE validity times from the rows written
    /// (unless the spec fixed the time range), flush and close.
    pub fn finish(self) -> Result<MsSummary, MsError> {
        if let Some(p) = &self.poisoned {
            return Err(MsError::Poisoned(p.clone()));
        }
        let range = match self.fixed_time_range {
            Some(r) => r,
            None if self.n_rows > 0 => [self.time_lo, self.time_hi],
            None => {
                let lo = self
                    .field_times
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min);
                let hi = self
                    .field_times
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                [lo, hi]
            }
        };
        if self.fixed_time_range.is_none() {
            write_validity(&self.main, range)?;
        }
        let columns = self
            .main
            .t
            .column_names()
            .op(|| "list MAIN columns".into())?;
        self.main.close()?;
        Ok(MsSummary {
            path: self.path,
            n_rows: self.n_rows,
            n_spw: self.nspw,
            nchan: self.layout.nchan,
            ncorr: self.layout.ncorr,
            time_range_mjd_s: range,
            columns,
            layout: self.layout,
        })
    }
}
