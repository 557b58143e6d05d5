//! Our own catalogue, as `contimg sources` writes it (CSV or the SOURCES FITS table): the
//! columns the metrics need, found by their exact names.

use std::path::Path;

use crate::error::CrossmatchError;
use crate::matching::Pos;
use crate::readers::{self, RawColumn, RawTable, Values};

#[derive(Debug, Clone)]
pub struct Component {
    pub id: String,
    pub pos: Pos,
    pub int_jy: f64,
    pub peak_jy: f64,
    pub local_rms_jy: f64,
    pub snr: f64,
    /// The primary-beam gain the fluxes were divided by (1 when uncorrected).
    pub pb: f64,
}

pub struct Ours {
    pub table: RawTable,
    pub components: Vec<Component>,
}

pub fn read(path: &Path) -> Result<Ours, CrossmatchError> {
    let table = readers::read(path)?;
    let col = |name: &str| table.columns.iter().find(|c| c.name == name);
    let need = |name: &str| {
        col(name).ok_or_else(|| {
            let have: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            CrossmatchError::NoColumns { path: path.to_path_buf(), reason: format!("no '{name}' column: not a catalogue written by contimg sources (columns [{}])", have.join(", ")) }
        })
    };
    let (ra, dec, int, peak, rms) = (need("ra_deg")?, need("dec_deg")?, need("int_jy")?, need("peak_jy")?, need("local_rms_jy")?);
    let (id, snr, pb) = (col("id"), col("snr"), col("pb"));
    let mut components = Vec::with_capacity(table.rows);
    for row in 0..table.rows {
        let num = |c: &RawColumn| value(c, row);
        let (ra_deg, dec_deg) = (num(ra), num(dec));
        if !ra_deg.is_finite() || !dec_deg.is_finite() {
            return Err(CrossmatchError::BadCatalogue { path: path.to_path_buf(), reason: format!("row {}: no position", row + 1) });
        }
        components.push(Component {
            id: id.map_or_else(|| format!("{}", row + 1), |c| c.text(row)),
            pos: Pos { ra_deg, dec_deg },
            int_jy: num(int),
            peak_jy: num(peak),
            local_rms_jy: num(rms),
            snr: snr.map_or(f64::NAN, num),
            pb: pb.map_or(1.0, num),
        });
    }
    Ok(Ours { table, components })
}

fn value(c: &RawColumn, row: usize) -> f64 {
    match &c.values {
        Values::Num(v) => v[row],
        Values::Text(v) => v[row].trim().parse().unwrap_or(f64::NAN),
    }
}
