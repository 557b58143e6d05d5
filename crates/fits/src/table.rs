//! Catalogues as a FITS binary table (an empty primary HDU, then one BINTABLE extension), the
//! form astropy, TOPCAT and the survey catalogues use.

use std::path::Path;

use crate::error::FitsError;
use crate::header::{Header, Value};
use crate::image::write_atomically;
use crate::RECORD;

pub enum ColumnData {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<String>),
}

impl ColumnData {
    fn len(&self) -> usize {
        match self {
            ColumnData::F64(v) => v.len(),
            ColumnData::I64(v) => v.len(),
            ColumnData::Str(v) => v.len(),
        }
    }

    /// The TFORM code and the bytes per row.
    fn form(&self) -> (String, usize) {
        match self {
            ColumnData::F64(_) => ("D".into(), 8),
            ColumnData::I64(_) => ("K".into(), 8),
            ColumnData::Str(v) => {
                let n = v.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
                (format!("{n}A"), n)
            }
        }
    }
}

pub struct Column {
    pub name: String,
    pub unit: String,
    pub data: ColumnData,
}

/// Writes the columns (all of one length) as a binary table named `extname`, atomically.
/// `cards` go into the table's header (provenance, thresholds).
pub fn write_table(path: &Path, extname: &str, columns: &[Column], cards: &Header) -> Result<(), FitsError> {
    let rows = columns.first().map_or(0, |c| c.data.len());
    assert!(columns.iter().all(|c| c.data.len() == rows), "table columns differ in length");
    let forms: Vec<(String, usize)> = columns.iter().map(|c| c.data.form()).collect();
    let row_bytes: usize = forms.iter().map(|f| f.1).sum();

    let mut primary = Header::default();
    primary.push("SIMPLE", Value::Logical(true), "conforms to FITS standard");
    primary.push("BITPIX", Value::Int(8), "");
    primary.push("NAXIS", Value::Int(0), "");
    primary.push("EXTEND", Value::Logical(true), "");
    let mut h = Header::default();
    h.push("XTENSION", Value::Str("BINTABLE".into()), "binary table extension");
    h.push("BITPIX", Value::Int(8), "");
    h.push("NAXIS", Value::Int(2), "");
    h.push("NAXIS1", Value::Int(row_bytes as i64), "bytes per row");
    h.push("NAXIS2", Value::Int(rows as i64), "rows");
    h.push("PCOUNT", Value::Int(0), "");
    h.push("GCOUNT", Value::Int(1), "");
    h.push("TFIELDS", Value::Int(columns.len() as i64), "");
    for (i, (c, (form, _))) in columns.iter().zip(&forms).enumerate() {
        h.push(&format!("TTYPE{}", i + 1), Value::Str(c.name.clone()), "");
        h.push(&format!("TFORM{}", i + 1), Value::Str(form.clone()), "");
        if !c.unit.is_empty() {
            h.push(&format!("TUNIT{}", i + 1), Value::Str(c.unit.clone()), "");
        }
    }
    h.push("EXTNAME", Value::Str(extname.into()), "");
    h.cards.extend(cards.cards.iter().cloned());

    let mut bytes = primary.to_bytes();
    bytes.extend(h.to_bytes());
    let start = bytes.len();
    bytes.reserve(rows * row_bytes + RECORD);
    for r in 0..rows {
        for (c, (_, width)) in columns.iter().zip(&forms) {
            match &c.data {
                ColumnData::F64(v) => bytes.extend_from_slice(&v[r].to_be_bytes()),
                ColumnData::I64(v) => bytes.extend_from_slice(&v[r].to_be_bytes()),
                ColumnData::Str(v) => {
                    let s = v[r].as_bytes();
                    bytes.extend_from_slice(&s[..s.len().min(*width)]);
                    bytes.resize(bytes.len() + width - s.len().min(*width), b' ');
                }
            }
        }
    }
    debug_assert_eq!(bytes.len() - start, rows * row_bytes);
    bytes.resize(bytes.len().div_ceil(RECORD) * RECORD, 0);
    write_atomically(path, &bytes)
}
