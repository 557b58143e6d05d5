//! Reading a MeasurementSet: subtable summaries and MAIN row ranges, one casacore call per column.

use std::ops::Range;
use std::path::{Path, PathBuf};

use casacore_sys::{KeywordValue, Table};
use num_complex::Complex32;

use crate::error::{MsError, Op};
use crate::spec::{AntennaSpec, HistoryEntry, ObservationSpec};
use crate::tab::Tab;

/// A SPECTRAL_WINDOW row.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectralWindow {
    pub name: String,
    pub chan_freq_hz: Vec<f64>,
    pub chan_width_hz: Vec<f64>,
    pub effective_bw_hz: Vec<f64>,
    pub resolution_hz: Vec<f64>,
    pub ref_frequency_hz: f64,
    pub total_bandwidth_hz: f64,
    /// MFrequency type code (5 = TOPO).
    pub meas_freq_ref: i32,
    pub net_sideband: i32,
}

/// A DATA_DESCRIPTION row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataDescription {
    pub spectral_window_id: i32,
    pub polarization_id: i32,
}

/// A POLARIZATION row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Polarization {
    pub corr_types: Vec<i32>,
    pub corr_products: Vec<[i32; 2]>,
}

/// A FIELD row; directions are the first polynomial term, [ra, dec] radians in `frame`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub code: String,
    pub time_mjd_s: f64,
    pub phase_dir: [f64; 2],
    pub delay_dir: [f64; 2],
    pub reference_dir: [f64; 2],
    pub source_id: i32,
    /// `MEASINFO.Ref` of PHASE_DIR ("J2000", "ICRS", …).
    pub frame: String,
}

/// Where the per-channel weights of a [`RowData`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightSource {
    WeightSpectrum,
    /// WEIGHT (`[row][corr]`) repeated over channels, because WEIGHT_SPECTRUM is absent or empty.
    WeightBroadcast,
}

/// An owned block of MAIN rows; visibility-shaped vectors are `[row][chan][corr]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowData {
    pub row0: usize,
    pub n_rows: usize,
    pub ncorr: usize,
    pub nchan: usize,
    pub time_mjd_s: Vec<f64>,
    pub interval_s: Vec<f64>,
    pub antenna1: Vec<i32>,
    pub antenna2: Vec<i32>,
    pub field_id: Vec<i32>,
    pub data_desc_id: Vec<i32>,
    pub scan_number: Vec<i32>,
    pub flag_row: Vec<bool>,
    pub uvw_m: Vec<[f64; 3]>,
    pub data: Vec<Complex32>,
    pub flag: Vec<bool>,
    pub weight: Vec<f32>,
    pub weight_source: Option<WeightSource>,
}

/// Read access to a MeasurementSet.
pub struct MsReader {
    path: PathBuf,
    main: Tab,
    n_rows: usize,
    columns: Vec<String>,
}

const REQUIRED: &[&str] = &[
    "TIME",
    "ANTENNA1",
    "ANTENNA2",
    "UVW",
    "DATA_DESC_ID",
    "FLAG",
];

impl MsReader {
    /// Open read-only. Fails with [`MsError::NotAMs`] when MAIN lacks the columns every reader
    /// needs, and with [`MsError::Casacore`] when casacore cannot open the table at all.
    pub fn open(path: &Path) -> Result<MsReader, MsError> {
        let t = Table::open(path, false).op(|| format!("open {}", path.display()))?;
        let main = Tab::new(t, "MAIN");
        let columns = main.t.column_names().op(|| "list MAIN columns".into())?;
        for c in REQUIRED {
            if !columns.iter().any(|x| x == c) {
                return Err(MsError::NotAMs {
                    path: path.to_path_buf(),
                    reason: format!("MAIN has no {c} column"),
                });
            }
        }
        let n_rows = main.n_rows()?;
        Ok(MsReader {
            path: path.to_path_buf(),
            main,
            n_rows,
            columns,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// MAIN column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn has_column(&self, col: &str) -> bool {
        self.columns.iter().any(|c| c == col)
    }

    /// The underlying MAIN table (for inspection tools).
    pub fn main_table(&self) -> &Table {
        &self.main.t
    }

    /// Open a subtable by its keyword name ("ANTENNA", …).
    pub fn subtable(&self, name: &str) -> Result<Table, MsError> {
        self.main
            .t
            .subtable(name)
            .op(|| format!("open subtable {name}"))
    }

    /// The `MS_VERSION` table keyword.
    pub fn ms_version(&self) -> Result<Option<f64>, MsError> {
        Ok(match self.main.kw(None, "MS_VERSION")? {
            Some(KeywordValue::Float(v)) => Some(v as f64),
            Some(KeywordValue::Double(v)) => Some(v),
            Some(KeywordValue::Int(v)) => Some(v as f64),
            _ => None,
        })
    }

    /// `[ncorr, nchan]` of a visibility column (fixed shape, or the shape of row 0).
    pub fn cell_shape(&self, column: &str) -> Result<Option<[usize; 2]>, MsError> {
        if !self.has_column(column) {
            return Err(MsError::MissingColumn {
                path: self.path.clone(),
                column: column.into(),
            });
        }
        let info = self
            .main
            .t
            .column_info(column)
            .op(|| format!("describe MAIN.{column}"))?;
        let shape = match info.fixed_shape {
            Some(s) => Some(s),
            None if self.n_rows > 0 => self
                .main
                .t
                .cell_shape(column, 0)
                .op(|| format!("shape of MAIN.{column} row 0"))?,
            None => None,
        };
        match shape.as_deref() {
            Some([c, f]) => Ok(Some([*c, *f])),
            Some(s) => Err(MsError::NotAMs {
                path: self.path.clone(),
                reason: format!("{column} cells have shape {s:?}, not [ncorr, nchan]"),
            }),
            None => Ok(None),
        }
    }

    pub fn antennas(&self) -> Result<Vec<AntennaSpec>, MsError> {
        let t = self.main.sub("ANTENNA")?;
        let n = t.n_rows()?;
        let names = t.get_str("NAME", 0, n)?;
        let stations = t.get_str("STATION", 0, n)?;
        let types = t.get_str("TYPE", 0, n)?;
        let mounts = t.get_str("MOUNT", 0, n)?;
        let mut pos = vec![[0.0f64; 3]; n];
        t.get_arr_into("POSITION", 0, n, &[3], pos.as_flattened_mut())?;
        let mut off = vec![[0.0f64; 3]; n];
        t.get_arr_into("OFFSET", 0, n, &[3], off.as_flattened_mut())?;
        let diam: Vec<f64> = t.get("DISH_DIAMETER", 0, n)?;
        let flag: Vec<bool> = t.get("FLAG_ROW", 0, n)?;
        Ok((0..n)
            .map(|i| AntennaSpec {
                name: names[i].clone(),
                station: stations[i].clone(),
                position_itrf_m: pos[i],
                offset_m: off[i],
                dish_diameter_m: diam[i],
                mount: mounts[i].clone(),
                antenna_type: types[i].clone(),
                flagged: flag[i],
            })
            .collect())
    }

    /// SPECTRAL_WINDOW rows (cells read one row at a time: windows may differ in width).
    pub fn spectral_windows(&self) -> Result<Vec<SpectralWindow>, MsError> {
        let t = self.main.sub("SPECTRAL_WINDOW")?;
        let n = t.n_rows()?;
        let names = t.get_str("NAME", 0, n)?;
        let ref_freq: Vec<f64> = t.get("REF_FREQUENCY", 0, n)?;
        let total: Vec<f64> = t.get("TOTAL_BANDWIDTH", 0, n)?;
        let mfr: Vec<i32> = t.get("MEAS_FREQ_REF", 0, n)?;
        let sideband: Vec<i32> = t.get("NET_SIDEBAND", 0, n)?;
        (0..n)
            .map(|i| {
                Ok(SpectralWindow {
                    name: names[i].clone(),
                    chan_freq_hz: t.cell("CHAN_FREQ", i)?,
                    chan_width_hz: t.cell("CHAN_WIDTH", i)?,
                    effective_bw_hz: t.cell("EFFECTIVE_BW", i)?,
                    resolution_hz: t.cell("RESOLUTION", i)?,
                    ref_frequency_hz: ref_freq[i],
                    total_bandwidth_hz: total[i],
                    meas_freq_ref: mfr[i],
                    net_sideband: sideband[i],
                })
            })
            .collect()
    }

    pub fn data_descriptions(&self) -> Result<Vec<DataDescription>, MsError> {
        let t = self.main.sub("DATA_DESCRIPTION")?;
        let n = t.n_rows()?;
        let spw: Vec<i32> = t.get("SPECTRAL_WINDOW_ID", 0, n)?;
        let pol: Vec<i32> = t.get("POLARIZATION_ID", 0, n)?;
        Ok((0..n)
            .map(|i| DataDescription {
                spectral_window_id: spw[i],
                polarization_id: pol[i],
            })
            .collect())
    }

    /// DATA_DESC_ID → SPECTRAL_WINDOW_ID.
    pub fn ddid_to_spw(&self) -> Result<Vec<i32>, MsError> {
        Ok(self
            .data_descriptions()?
            .iter()
            .map(|d| d.spectral_window_id)
            .collect())
    }

    pub fn polarizations(&self) -> Result<Vec<Polarization>, MsError> {
        let t = self.main.sub("POLARIZATION")?;
        let n = t.n_rows()?;
        (0..n)
            .map(|i| {
                let corr_types: Vec<i32> = t.cell("CORR_TYPE", i)?;
                let prod: Vec<i32> = t.cell("CORR_PRODUCT", i)?;
                Ok(Polarization {
                    corr_types,
                    corr_products: prod.chunks_exact(2).map(|p| [p[0], p[1]]).collect(),
                })
            })
            .collect()
    }

    pub fn fields(&self) -> Result<Vec<Field>, MsError> {
        let t = self.main.sub("FIELD")?;
        let n = t.n_rows()?;
        let names = t.get_str("NAME", 0, n)?;
        let codes = t.get_str("CODE", 0, n)?;
        let times: Vec<f64> = t.get("TIME", 0, n)?;
        let src: Vec<i32> = t.get("SOURCE_ID", 0, n)?;
        let frame = t
            .kw_string(Some("PHASE_DIR"), "MEASINFO.Ref")?
            .unwrap_or_default();
        let first = |col: &str, i: usize| -> Result<[f64; 2], MsError> {
            let v: Vec<f64> = t.cell(col, i)?;
            if v.len() < 2 {
                return Err(MsError::NotAMs {
                    path: self.path.clone(),
                    reason: format!("FIELD.{col} row {i} has {} values", v.len()),
                });
            }
            Ok([v[0], v[1]])
        };
        (0..n)
            .map(|i| {
                Ok(Field {
                    name: names[i].clone(),
                    code: codes[i].clone(),
                    time_mjd_s: times[i],
                    phase_dir: first("PHASE_DIR", i)?,
                    delay_dir: first("DELAY_DIR", i)?,
                    reference_dir: first("REFERENCE_DIR", i)?,
                    source_id: src[i],
                    frame: frame.clone(),
                })
            })
            .collect()
    }

    pub fn observations(&self) -> Result<Vec<ObservationSpec>, MsError> {
        let t = self.main.sub("OBSERVATION")?;
        let n = t.n_rows()?;
        let tel = t.get_str("TELESCOPE_NAME", 0, n)?;
        let observer = t.get_str("OBSERVER", 0, n)?;
        let project = t.get_str("PROJECT", 0, n)?;
        let release: Vec<f64> = t.get("RELEASE_DATE", 0, n)?;
        let has_loc = t.has_column("TELESCOPE_LOCATION")?;
        (0..n)
            .map(|i| {
                let tr: Vec<f64> = t.cell("TIME_RANGE", i)?;
                let loc: Vec<f64> = if has_loc {
                    t.cell("TELESCOPE_LOCATION", i)?
                } else {
                    Vec::new()
                };
                Ok(ObservationSpec {
                    telescope_name: tel[i].clone(),
                    observer: observer[i].clone(),
                    project: project[i].clone(),
                    schedule: t.cell_str("SCHEDULE", i)?,
                    log: t.cell_str("LOG", i)?,
                    release_date_mjd_s: release[i],
                    time_range_mjd_s: (tr.len() == 2).then(|| [tr[0], tr[1]]),
                    telescope_location_itrf_m: (loc.len() == 3).then(|| [loc[0], loc[1], loc[2]]),
                })
            })
            .collect()
    }

    pub fn history(&self) -> Result<Vec<HistoryEntry>, MsError> {
        let t = self.main.sub("HISTORY")?;
        let n = t.n_rows()?;
        let time: Vec<f64> = t.get("TIME", 0, n)?;
        let msg = t.get_str("MESSAGE", 0, n)?;
        let prio = t.get_str("PRIORITY", 0, n)?;
        let origin = t.get_str("ORIGIN", 0, n)?;
        let app = t.get_str("APPLICATION", 0, n)?;
        (0..n)
            .map(|i| {
                Ok(HistoryEntry {
                    time_mjd_s: time[i],
                    message: msg[i].clone(),
                    priority: prio[i].clone(),
                    origin: origin[i].clone(),
                    application: app[i].clone(),
                    cli_command: t.cell_str("CLI_COMMAND", i)?,
                    app_params: t.cell_str("APP_PARAMS", i)?,
                })
            })
            .collect()
    }

    /// Earliest and latest MAIN TIME (integration midpoints); `None` for an empty MS.
    pub fn time_range(&self) -> Result<Option<[f64; 2]>, MsError> {
        if self.n_rows == 0 {
            return Ok(None);
        }
        let t: Vec<f64> = self.main.get("TIME", 0, self.n_rows)?;
        Ok(Some(t.iter().fold(
            [f64::INFINITY, f64::NEG_INFINITY],
            |[lo, hi], &x| [lo.min(x), hi.max(x)],
        )))
    }

    /// Rows `range` with visibilities from `data_column` ("DATA", "CORRECTED_DATA",
    /// "MODEL_DATA"). All rows of the range must share one cell shape.
    pub fn read_rows(&self, range: Range<usize>, data_column: &str) -> Result<RowData, MsError> {
        let mut out = RowData::default();
        self.read_rows_into(range, data_column, &mut out)?;
        Ok(out)
    }

    /// Like [`read_rows`](Self::read_rows), reusing `out`'s buffers (no allocation of the large
    /// vectors once they are big enough).
    pub fn read_rows_into(
        &self,
        range: Range<usize>,
        data_column: &str,
        out: &mut RowData,
    ) -> Result<(), MsError> {
        if range.start > range.end || range.end > self.n_rows {
            return Err(MsError::InvalidRows {
                what: "row range".into(),
                message: format!(
                    "{range:?} is outside the {} rows of {}",
                    self.n_rows,
                    self.path.display()
                ),
            });
        }
        if !self.has_column(data_column) {
            return Err(MsError::MissingColumn {
                path: self.path.clone(),
                column: data_column.into(),
            });
        }
        let (r0, n) = (range.start, range.end - range.start);
        let [ncorr, nchan] = if n == 0 {
            self.cell_shape(data_column)?.unwrap_or([0, 0])
        } else {
            match self
                .main
                .t
                .column_info(data_column)
                .op(|| format!("describe MAIN.{data_column}"))?
                .fixed_shape
                .as_deref()
            {
                Some([c, f]) => [*c, *f],
                _ => match self
                    .main
                    .t
                    .cell_shape(data_column, r0)
                    .op(|| format!("shape of MAIN.{data_column} row {r0}"))?
                    .as_deref()
                {
                    Some([c, f]) => [*c, *f],
                    other => {
                        return Err(MsError::NotAMs {
                            path: self.path.clone(),
                            reason: format!("{data_column} row {r0} has cell shape {other:?}"),
                        })
                    }
                },
            }
        };
        let cell = [ncorr, nchan];
        let nvis = n * ncorr * nchan;
        out.row0 = r0;
        out.n_rows = n;
        out.ncorr = ncorr;
        out.nchan = nchan;
        let m = &self.main;
        resize_get(m, "TIME", r0, n, &mut out.time_mjd_s)?;
        resize_get(m, "INTERVAL", r0, n, &mut out.interval_s)?;
        resize_get(m, "ANTENNA1", r0, n, &mut out.antenna1)?;
        resize_get(m, "ANTENNA2", r0, n, &mut out.antenna2)?;
        resize_get(m, "FIELD_ID", r0, n, &mut out.field_id)?;
        resize_get(m, "DATA_DESC_ID", r0, n, &mut out.data_desc_id)?;
        resize_get(m, "SCAN_NUMBER", r0, n, &mut out.scan_number)?;
        resize_get(m, "FLAG_ROW", r0, n, &mut out.flag_row)?;
        out.uvw_m.resize(n, [0.0; 3]);
        m.get_arr_into("UVW", r0, n, &[3], out.uvw_m.as_flattened_mut())?;
        out.data.resize(nvis, Complex32::new(0.0, 0.0));
        m.get_arr_into(data_column, r0, n, &cell, &mut out.data)?;
        out.flag.resize(nvis, false);
        m.get_arr_into("FLAG", r0, n, &cell, &mut out.flag)?;
        out.weight.resize(nvis, 0.0);
        let spectrum = n > 0
            && self.has_column("WEIGHT_SPECTRUM")
            && m.t
                .cell_shape("WEIGHT_SPECTRUM", r0)
                .op(|| "shape of MAIN.WEIGHT_SPECTRUM".into())?
                .is_some();
        if spectrum {
            m.get_arr_into("WEIGHT_SPECTRUM", r0, n, &cell, &mut out.weight)?;
            out.weight_source = Some(WeightSource::WeightSpectrum);
        } else {
            // [row][corr] is small next to the visibilities: a temporary is fine here.
            let mut w = vec![0.0f32; n * ncorr];
            m.get_arr_into("WEIGHT", r0, n, &[ncorr], &mut w)?;
            if ncorr > 0 {
                for (row, w) in w.chunks_exact(ncorr).enumerate() {
                    for chan in out.weight[row * nchan * ncorr..(row + 1) * nchan * ncorr]
                        .chunks_exact_mut(ncorr)
                    {
                        chan.copy_from_slice(w);
                    }
                }
            }
            out.weight_source = Some(WeightSource::WeightBroadcast);
        }
        Ok(())
    }
}

fn resize_get<T: casacore_sys::Element>(
    m: &Tab,
    col: &str,
    r0: usize,
    n: usize,
    v: &mut Vec<T>,
) -> Result<(), MsError> {
    v.resize(n, T::default());
    m.get_into(col, r0, v)
}
