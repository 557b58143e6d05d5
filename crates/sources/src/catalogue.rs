//! The component catalogue: one record per fitted Gaussian, written as CSV and as a FITS binary
//! table with the same columns, names and units (the schema the README documents).

use std::fmt::Write as _;
use std::path::Path;

use fits::{Column, ColumnData, Header};

use crate::error::SourcesError;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Component {
    pub id: u32,
    pub island: u32,
    pub component: u32,
    pub ra_deg: f64,
    pub ra_deg_err: f64,
    pub dec_deg: f64,
    pub dec_deg_err: f64,
    pub peak_jy: f64,
    pub peak_jy_err: f64,
    pub int_jy: f64,
    pub int_jy_err: f64,
    pub maj_arcsec: f64,
    pub maj_arcsec_err: f64,
    pub min_arcsec: f64,
    pub min_arcsec_err: f64,
    pub pa_deg: f64,
    pub pa_deg_err: f64,
    pub deconv_maj_arcsec: f64,
    pub deconv_min_arcsec: f64,
    pub deconv_pa_deg: f64,
    pub resolved: bool,
    pub background_jy: f64,
    pub local_rms_jy: f64,
    pub snr: f64,
    pub pb: f64,
    pub x_pix: f64,
    pub y_pix: f64,
    pub flags: u32,
}

enum Field {
    Int(fn(&Component) -> i64),
    Real(fn(&Component) -> f64),
}

/// (name, unit, value): the one definition of the columns, for both formats.
const COLUMNS: &[(&str, &str, Field)] = &[
    ("id", "", Field::Int(|c| c.id as i64)),
    ("island", "", Field::Int(|c| c.island as i64)),
    ("component", "", Field::Int(|c| c.component as i64)),
    ("ra_deg", "deg", Field::Real(|c| c.ra_deg)),
    ("ra_deg_err", "deg", Field::Real(|c| c.ra_deg_err)),
    ("dec_deg", "deg", Field::Real(|c| c.dec_deg)),
    ("dec_deg_err", "deg", Field::Real(|c| c.dec_deg_err)),
    ("peak_jy", "Jy/beam", Field::Real(|c| c.peak_jy)),
    ("peak_jy_err", "Jy/beam", Field::Real(|c| c.peak_jy_err)),
    ("int_jy", "Jy", Field::Real(|c| c.int_jy)),
    ("int_jy_err", "Jy", Field::Real(|c| c.int_jy_err)),
    ("maj_arcsec", "arcsec", Field::Real(|c| c.maj_arcsec)),
    ("maj_arcsec_err", "arcsec", Field::Real(|c| c.maj_arcsec_err)),
    ("min_arcsec", "arcsec", Field::Real(|c| c.min_arcsec)),
    ("min_arcsec_err", "arcsec", Field::Real(|c| c.min_arcsec_err)),
    ("pa_deg", "deg", Field::Real(|c| c.pa_deg)),
    ("pa_deg_err", "deg", Field::Real(|c| c.pa_deg_err)),
    ("deconv_maj_arcsec", "arcsec", Field::Real(|c| c.deconv_maj_arcsec)),
    ("deconv_min_arcsec", "arcsec", Field::Real(|c| c.deconv_min_arcsec)),
    ("deconv_pa_deg", "deg", Field::Real(|c| c.deconv_pa_deg)),
    ("resolved", "", Field::Int(|c| c.resolved as i64)),
    ("background_jy", "Jy/beam", Field::Real(|c| c.background_jy)),
    ("local_rms_jy", "Jy/beam", Field::Real(|c| c.local_rms_jy)),
    ("snr", "", Field::Real(|c| c.snr)),
    ("pb", "", Field::Real(|c| c.pb)),
    ("x_pix", "pix", Field::Real(|c| c.x_pix)),
    ("y_pix", "pix", Field::Real(|c| c.y_pix)),
    ("flags", "", Field::Int(|c| c.flags as i64)),
];

pub fn column_names() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.0).collect()
}

/// CSV with a header line; reals with 10 significant digits (positions to 1e-9 deg, far below
/// any error).
pub fn write_csv(path: &Path, comps: &[Component]) -> Result<(), SourcesError> {
    let mut out = COLUMNS.iter().map(|c| c.0).collect::<Vec<_>>().join(",");
    out.push('\n');
    for c in comps {
        for (i, (_, _, f)) in COLUMNS.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match f {
                Field::Int(g) => write!(out, "{}", g(c)).unwrap(),
                Field::Real(g) if c_is_position(i) => write!(out, "{:.10}", g(c)).unwrap(),
                Field::Real(g) => write!(out, "{:.9e}", g(c)).unwrap(),
            }
        }
        out.push('\n');
    }
    fits::write_atomically(path, out.as_bytes()).map_err(SourcesError::from)
}

fn c_is_position(i: usize) -> bool {
    matches!(COLUMNS[i].0, "ra_deg" | "dec_deg")
}

pub fn write_fits(path: &Path, comps: &[Component], cards: &Header) -> Result<(), SourcesError> {
    let columns: Vec<Column> = COLUMNS
        .iter()
        .map(|(name, unit, f)| Column {
            name: name.to_string(),
            unit: unit.to_string(),
            data: match f {
                Field::Int(g) => ColumnData::I64(comps.iter().map(g).collect()),
                Field::Real(g) => ColumnData::F64(comps.iter().map(g).collect()),
            },
        })
        .collect();
    fits::write_table(path, "SOURCES", &columns, cards).map_err(SourcesError::from)
}
