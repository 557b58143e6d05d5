//! Writing a complete MeasurementSet v2 in large row blocks.

use std::path::{Path, PathBuf};

use casacore_sys::{DataType, KeywordValue, MsLayout, Table};
use num_complex::Complex32;

use crate::error::{MsError, Op};
use crate::spec::{corr, MsSpec};
use crate::tab::Tab;

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

/// OBSERVATION TIME_RANGE, and TIME (midpoint) / INTERVAL (span) of the FEED and SOURCE rows,
/// which describe parameters valid over the whole observation.
fn write_validity(main: &Tab, [t0, t1]: [f64; 2]) -> Result<(), MsError> {
    let mut obs = main.sub("OBSERVATION")?;
    obs.put_arr("TIME_RANGE", 0, 1, &[2], &[t0, t1])?;
    obs.close()?;
    let (mid, span) = (0.5 * (t0 + t1), t1 - t0);
    for name in ["FEED", "SOURCE"] {
        let mut t = main.sub(name)?;
        let n = t.n_rows()?;
        t.put("TIME", 0, &vec![mid; n])?;
        t.put("INTERVAL", 0, &vec![span; n])?;
        t.close()?;
    }
    Ok(())
}

fn write_subtables(main: &mut Tab, spec: &MsSpec) -> Result<(), MsError> {
    let frame = spec.direction_frame.casa_name();
    let nant = spec.antennas.len();
    let nspw = spec.spws.len();
    let nfield = spec.fields.len();
    let nchan = spec.nchan();
    let ncorr = spec.ncorr();
    let str_kw = |s: &str| KeywordValue::String(s.to_string());

    // MAIN: UVW is in the frame of the field directions.
    main.put_kw(Some("UVW"), "MEASINFO.type", str_kw("uvw"))?;
    main.put_kw(Some("UVW"), "MEASINFO.Ref", str_kw(frame))?;

    // ANTENNA
    {
        let mut t = main.sub("ANTENNA")?;
        let a = &spec.antennas;
        t.add_rows(nant)?;
        t.put_str(
            "NAME",
            0,
            &a.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        )?;
        t.put_str(
            "STATION",
            0,
            &a.iter().map(|x| x.station.as_str()).collect::<Vec<_>>(),
        )?;
        t.put_str(
            "TYPE",
            0,
            &a.iter()
                .map(|x| x.antenna_type.as_str())
                .collect::<Vec<_>>(),
        )?;
        t.put_str(
            "MOUNT",
            0,
            &a.iter().map(|x| x.mount.as_str()).collect::<Vec<_>>(),
        )?;
        t.put_arr(
            "POSITION",
            0,
            nant,
            &[3],
            a.iter()
                .map(|x| x.position_itrf_m)
                .collect::<Vec<_>>()
                .as_flattened(),
        )?;
        t.put_arr(
            "OFFSET",
            0,
            nant,
            &[3],
            a.iter()
                .map(|x| x.offset_m)
                .collect::<Vec<_>>()
                .as_flattened(),
        )?;
        t.put(
            "DISH_DIAMETER",
            0,
            &a.iter().map(|x| x.dish_diameter_m).collect::<Vec<_>>(),
        )?;
        t.put(
            "FLAG_ROW",
            0,
            &a.iter().map(|x| x.flagged).collect::<Vec<_>>(),
        )?;
        for col in ["POSITION", "OFFSET"] {
            t.put_kw(Some(col), "MEASINFO.type", str_kw("position"))?;
            t.put_kw(Some(col), "MEASINFO.Ref", str_kw("ITRF"))?;
        }
        t.close()?;
    }

    // FEED: one row per antenna, valid for every SPW (-1); TIME/INTERVAL in write_validity.
    {
        let mut t = main.sub("FEED")?;
        t.add_rows(nant)?;
        let ids: Vec<i32> = (0..nant as i32).collect();
        t.put("ANTENNA_ID", 0, &ids)?;
        t.put("FEED_ID", 0, &vec![0i32; nant])?;
        t.put("SPECTRAL_WINDOW_ID", 0, &vec![-1i32; nant])?;
        t.put("BEAM_ID", 0, &vec![-1i32; nant])?;
        t.put("NUM_RECEPTORS", 0, &vec![2i32; nant])?;
        t.put("TIME", 0, &vec![0.0f64; nant])?;
        t.put("INTERVAL", 0, &vec![0.0f64; nant])?;
        let types = spec.feed_types();
        t.put_str_arr(
            "POLARIZATION_TYPE",
            0,
            nant,
            &[2],
            &(0..nant).flat_map(|_| types).collect::<Vec<_>>(),
        )?;
        t.put_arr(
            "RECEPTOR_ANGLE",
            0,
            nant,
            &[2],
            &spec.receptor_angle_rad.repeat(nant),
        )?;
        t.put_arr("BEAM_OFFSET", 0, nant, &[2, 2], &vec![0.0f64; 4 * nant])?;
        t.put_kw(Some("BEAM_OFFSET"), "MEASINFO.Ref", str_kw(frame))?;
        let one = Complex32::new(1.0, 0.0);
        let zero = Complex32::new(0.0, 0.0);
        // Ideal feeds: each receptor responds only to its own polarization.
        t.put_arr(
            "POL_RESPONSE",
            0,
            nant,
            &[2, 2],
            &[one, zero, zero, one].repeat(nant),
        )?;
        t.put_arr("POSITION", 0, nant, &[3], &vec![0.0f64; 3 * nant])?;
        t.close()?;
    }

    // SPECTRAL_WINDOW + DATA_DESCRIPTION (one per SPW, all sharing POLARIZATION 0)
    {
        let mut t = main.sub("SPECTRAL_WINDOW")?;
        t.add_rows(nspw)?;
        let s = &spec.spws;
        let freqs: Vec<f64> = s
            .iter()
            .flat_map(|w| w.chan_freq_hz.iter().copied())
            .collect();
        let widths: Vec<f64> = s
            .iter()
            .flat_map(|w| w.chan_width_hz.iter().copied())
            .collect();
        t.put("NUM_CHAN", 0, &vec![nchan as i32; nspw])?;
        t.put_str(
            "NAME",
            0,
            &s.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        )?;
        t.put(
            "REF_FREQUENCY",
            0,
            &s.iter()
                .map(|w| w.ref_frequency_hz.unwrap_or(w.chan_freq_hz[0]))
                .collect::<Vec<_>>(),
        )?;
        t.put_arr("CHAN_FREQ", 0, nspw, &[nchan], &freqs)?;
        t.put_arr("CHAN_WIDTH", 0, nspw, &[nchan], &widths)?;
        t.put_arr("EFFECTIVE_BW", 0, nspw, &[nchan], &widths)?;
        t.put_arr("RESOLUTION", 0, nspw, &[nchan], &widths)?;
        t.put(
            "TOTAL_BANDWIDTH",
            0,
            &s.iter()
                .map(|w| w.chan_width_hz.iter().sum::<f64>())
                .collect::<Vec<_>>(),
        )?;
        // Ascending frequencies with positive widths: upper sideband.
        t.put("NET_SIDEBAND", 0, &vec![1i32; nspw])?;
        // MFrequency::TOPO = 5: the correlator's channels are topocentric.
        t.put("MEAS_FREQ_REF", 0, &vec![5i32; nspw])?;
        t.put("IF_CONV_CHAIN", 0, &vec![0i32; nspw])?;
        t.put("FREQ_GROUP", 0, &vec![0i32; nspw])?;
        t.put_str("FREQ_GROUP_NAME", 0, &vec![""; nspw])?;
        t.put("FLAG_ROW", 0, &vec![false; nspw])?;
        t.close()?;

        let mut t = main.sub("DATA_DESCRIPTION")?;
        t.add_rows(nspw)?;
        t.put(
            "SPECTRAL_WINDOW_ID",
            0,
            &(0..nspw as i32).collect::<Vec<_>>(),
        )?;
        t.put("POLARIZATION_ID", 0, &vec![0i32; nspw])?;
        t.put("FLAG_ROW", 0, &vec![false; nspw])?;
        t.close()?;
    }

    // POLARIZATION
    {
        let mut t = main.sub("POLARIZATION")?;
        t.add_rows(1)?;
        t.put("NUM_CORR", 0, &[ncorr as i32])?;
        t.put_arr("CORR_TYPE", 0, 1, &[ncorr], &spec.corr_types)?;
        // CORR_PRODUCT cells are [2, ncorr]: the receptor pair of each correlation.
        let prod: Vec<i32> = spec
            .corr_types
            .iter()
            .flat_map(|&c| corr::product(c).expect("validated"))
            .collect();
        t.put_arr("CORR_PRODUCT", 0, 1, &[2, ncorr], &prod)?;
        t.put("FLAG_ROW", 0, &[false])?;
        t.close()?;
    }

    // FIELD + SOURCE (one source per field)
    {
        let f = &spec.fields;
        let dirs: Vec<f64> = f.iter().flat_map(|x| [x.ra_rad, x.dec_rad]).collect();
        let mut t = main.sub("FIELD")?;
        t.add_rows(nfield)?;
        t.put_str(
            "NAME",
            0,
            &f.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        )?;
        t.put_str(
            "CODE",
            0,
            &f.iter().map(|x| x.code.as_str()).collect::<Vec<_>>(),
        )?;
        t.put(
            "TIME",
            0,
            &f.iter().map(|x| x.time_mjd_s).collect::<Vec<_>>(),
        )?;
        t.put("NUM_POLY", 0, &vec![0i32; nfield])?;
        // Direction cells are [2, NUM_POLY + 1] = [2, 1].
        for col in ["DELAY_DIR", "PHASE_DIR", "REFERENCE_DIR"] {
            t.put_arr(col, 0, nfield, &[2, 1], &dirs)?;
            t.put_kw(Some(col), "MEASINFO.type", str_kw("direction"))?;
            t.put_kw(Some(col), "MEASINFO.Ref", str_kw(frame))?;
        }
        t.put("SOURCE_ID", 0, &(0..nfield as i32).collect::<Vec<_>>())?;
        t.put("FLAG_ROW", 0, &vec![false; nfield])?;
        t.close()?;

        let mut t = main.sub("SOURCE")?;
        t.add_rows(nfield)?;
        t.put("SOURCE_ID", 0, &(0..nfield as i32).collect::<Vec<_>>())?;
        t.put(
            "TIME",
            0,
            &f.iter().map(|x| x.time_mjd_s).collect::<Vec<_>>(),
        )?;
        t.put("INTERVAL", 0, &vec![0.0f64; nfield])?;
        t.put("SPECTRAL_WINDOW_ID", 0, &vec![-1i32; nfield])?;
        t.put("NUM_LINES", 0, &vec![0i32; nfield])?;
        t.put_str(
            "NAME",
            0,
            &f.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        )?;
        t.put("CALIBRATION_GROUP", 0, &vec![0i32; nfield])?;
        t.put_str(
            "CODE",
            0,
            &f.iter().map(|x| x.code.as_str()).collect::<Vec<_>>(),
        )?;
        t.put_arr("DIRECTION", 0, nfield, &[2], &dirs)?;
        t.put_arr("PROPER_MOTION", 0, nfield, &[2], &vec![0.0f64; 2 * nfield])?;
        t.put_kw(Some("DIRECTION"), "MEASINFO.type", str_kw("direction"))?;
        t.put_kw(Some("DIRECTION"), "MEASINFO.Ref", str_kw(frame))?;
        t.close()?;
    }

    // POINTING stays empty on purpose: DSA-110 does not track, so an honest POINTING table needs
    // a row per antenna per integration. Without rows, CASA and WSClean take the beam centre from
    // FIELD, which is right for the meridian field; a coarse POINTING would mislead primary-beam
    // corrections. Its direction frame is still declared consistently.
    {
        let mut t = main.sub("POINTING")?;
        for col in ["DIRECTION", "TARGET"] {
            t.put_kw(Some(col), "MEASINFO.type", str_kw("direction"))?;
            t.put_kw(Some(col), "MEASINFO.Ref", str_kw(frame))?;
        }
        t.close()?;
    }

    // OBSERVATION (TIME_RANGE in write_validity)
    {
        let o = &spec.observation;
        let mut t = main.sub("OBSERVATION")?;
        t.add_rows(1)?;
        t.put_str("TELESCOPE_NAME", 0, &[&o.telescope_name])?;
        t.put_arr("TIME_RANGE", 0, 1, &[2], &[0.0f64, 0.0])?;
        t.put_str("OBSERVER", 0, &[&o.observer])?;
        t.put_str("PROJECT", 0, &[&o.project])?;
        t.put("RELEASE_DATE", 0, &[o.release_date_mjd_s])?;
        t.put_str("SCHEDULE_TYPE", 0, &[""])?;
        t.put_str_arr("SCHEDULE", 0, 1, &[o.schedule.len()], &o.schedule)?;
        t.put_str_arr("LOG", 0, 1, &[o.log.len()], &o.log)?;
        t.put("FLAG_ROW", 0, &[false])?;
        if let Some(loc) = o.telescope_location_itrf_m {
            t.add_column(
                "TELESCOPE_LOCATION",
                DataType::Double,
                Some((1, Some(&[3]))),
            )?;
            t.put_arr("TELESCOPE_LOCATION", 0, 1, &[3], &loc)?;
        }
        t.close()?;
    }

    // PROCESSOR: the correlator (MAIN PROCESSOR_ID 0).
    {
        let mut t = main.sub("PROCESSOR")?;
        t.add_rows(1)?;
        t.put_str("TYPE", 0, &["CORRELATOR"])?;
        t.put_str("SUB_TYPE", 0, &[""])?;
        t.put("TYPE_ID", 0, &[-1i32])?;
        t.put("MODE_ID", 0, &[-1i32])?;
        t.put("FLAG_ROW", 0, &[false])?;
        t.close()?;
    }

    // HISTORY: CLI_COMMAND and APP_PARAMS have a different length per row, so one row per call.
    {
        let h = &spec.history;
        let mut t = main.sub("HISTORY")?;
        let nh = h.len();
        t.add_rows(nh)?;
        t.put(
            "TIME",
            0,
            &h.iter().map(|x| x.time_mjd_s).collect::<Vec<_>>(),
        )?;
        t.put("OBSERVATION_ID", 0, &vec![0i32; nh])?;
        t.put_str(
            "MESSAGE",
            0,
            &h.iter().map(|x| x.message.as_str()).collect::<Vec<_>>(),
        )?;
        t.put_str(
            "PRIORITY",
            0,
            &h.iter()
                .map(|x| {
                    if x.priority.is_empty() {
                        "NORMAL"
                    } else {
                        x.priority.as_str()
                    }
                })
                .collect::<Vec<_>>(),
        )?;
        t.put_str(
            "ORIGIN",
            0,
            &h.iter().map(|x| x.origin.as_str()).collect::<Vec<_>>(),
        )?;
        t.put("OBJECT_ID", 0, &vec![0i32; nh])?;
        t.put_str(
            "APPLICATION",
            0,
            &h.iter().map(|x| x.application.as_str()).collect::<Vec<_>>(),
        )?;
        for (i, x) in h.iter().enumerate() {
            t.put_str_arr("CLI_COMMAND", i, 1, &[x.cli_command.len()], &x.cli_command)?;
            t.put_str_arr("APP_PARAMS", i, 1, &[x.app_params.len()], &x.app_params)?;
        }
        t.close()?;
    }

    // STATE, FLAG_CMD: empty (MAIN STATE_ID is -1).
    Ok(())
}
