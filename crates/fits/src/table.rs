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

/// A binary table as read: its header and its columns in order.
#[derive(Debug, Clone)]
pub struct Table {
    pub header: Header,
    pub columns: Vec<TableColumn>,
    pub rows: usize,
}

#[derive(Debug, Clone)]
pub struct TableColumn {
    pub name: String,
    pub unit: String,
    pub data: TableData,
}

/// Numbers come back as f64 with TSCAL/TZERO applied and TNULL (or a NaN) as NaN, except
/// unscaled integers, which stay exact; logicals are 1/0 (NaN when undefined).
#[derive(Debug, Clone, PartialEq)]
pub enum TableData {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<String>),
    /// A column this reader does not decode (bits, complex, variable-length arrays, vectors of
    /// strings): its bytes are skipped.
    Skipped(String),
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&TableColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Reads the first BINTABLE extension of a FITS file. Vector columns (repeat > 1) keep their
/// first element: catalogues carry scalars, and the rare vector is never a position or a flux.
pub fn read_table(path: &Path) -> Result<Table, FitsError> {
    let io = |source| FitsError::Io { path: path.to_path_buf(), source };
    let bytes = std::fs::read(path).map_err(io)?;
    let mut at = 0usize;
    let mut first = true;
    while at < bytes.len() {
        let (header, data_start) = crate::image::parse_header(path, &bytes[at..])?;
        if first && header.cards.first().map(|c| (c.key.as_str(), &c.value)) != Some(("SIMPLE", &Value::Logical(true))) {
            return Err(FitsError::NotFits { path: path.to_path_buf(), reason: "the first card is not SIMPLE = T".into() });
        }
        first = false;
        let data_len = hdu_data_bytes(path, &header)?;
        let data_at = at + data_start;
        if header.str("XTENSION") == Some("BINTABLE") {
            let end = data_at as u64 + data_len;
            if (bytes.len() as u64) < end {
                return Err(FitsError::Truncated { path: path.to_path_buf(), have: bytes.len() as u64, want: end });
            }
            return decode_table(path, header, &bytes[data_at..end as usize]);
        }
        at = data_at + (data_len as usize).div_ceil(RECORD) * RECORD;
    }
    Err(FitsError::Unsupported { path: path.to_path_buf(), reason: "no binary table (BINTABLE extension) in the file".into() })
}

/// |BITPIX|/8 × GCOUNT × (PCOUNT + NAXIS1 × … × NAXISn): the data size of any HDU.
fn hdu_data_bytes(path: &Path, h: &Header) -> Result<u64, FitsError> {
    let bad = |reason: String| FitsError::BadHeader { path: path.to_path_buf(), reason };
    let bitpix = h.i64("BITPIX").ok_or_else(|| bad("no BITPIX".into()))?;
    let naxis = h.i64("NAXIS").ok_or_else(|| bad("no NAXIS".into()))?;
    if !(0..=999).contains(&naxis) || ![8, 16, 32, 64, -32, -64].contains(&bitpix) {
        return Err(bad(format!("NAXIS = {naxis}, BITPIX = {bitpix}")));
    }
    if naxis == 0 {
        return Ok(0);
    }
    let mut n: u64 = 1;
    for i in 1..=naxis {
        let d = h.i64(&format!("NAXIS{i}")).filter(|d| *d >= 0).ok_or_else(|| bad(format!("no valid NAXIS{i}")))?;
        n = n.checked_mul(d as u64).ok_or_else(|| bad("axes overflow".into()))?;
    }
    // Random groups (NAXIS1 = 0 in a primary HDU) count from axis 2.
    if h.i64("NAXIS1") == Some(0) && naxis > 1 && h.get("GROUPS") == Some(&Value::Logical(true)) {
        n = (2..=naxis).map(|i| h.i64(&format!("NAXIS{i}")).unwrap_or(0) as u64).product();
    }
    let pcount = h.i64("PCOUNT").unwrap_or(0).max(0) as u64;
    let gcount = h.i64("GCOUNT").unwrap_or(1).max(1) as u64;
    Ok(bitpix.unsigned_abs() / 8 * gcount * (pcount + n))
}

/// One column's layout in a row: where it starts, its type code and repeat count.
struct Field {
    offset: usize,
    code: char,
    repeat: usize,
}

/// `rTa` → (repeat, type code, bytes per element). Variable-length descriptors are 8 (P) or 16
/// (Q) bytes; bits (X) take ⌈repeat/8⌉ bytes.
fn parse_form(form: &str) -> Option<(usize, char, usize)> {
    let form = form.trim();
    let digits: String = form.chars().take_while(|c| c.is_ascii_digit()).collect();
    let repeat = if digits.is_empty() { 1 } else { digits.parse().ok()? };
    let code = form[digits.len()..].chars().next()?;
    let width = match code {
        'L' | 'B' | 'A' => 1,
        'I' => 2,
        'J' | 'E' => 4,
        'K' | 'D' | 'C' | 'P' => 8,
        'M' | 'Q' => 16,
        'X' => return Some((repeat, code, 0)),
        _ => return None,
    };
    Some((repeat, code, width))
}

fn decode_table(path: &Path, header: Header, data: &[u8]) -> Result<Table, FitsError> {
    let bad = |reason: String| FitsError::BadHeader { path: path.to_path_buf(), reason };
    let row_bytes = header.i64("NAXIS1").filter(|n| *n >= 0).ok_or_else(|| bad("no NAXIS1".into()))? as usize;
    let rows = header.i64("NAXIS2").filter(|n| *n >= 0).ok_or_else(|| bad("no NAXIS2".into()))? as usize;
    let nfields = header.i64("TFIELDS").filter(|n| (0..=999).contains(n)).ok_or_else(|| bad("no valid TFIELDS".into()))? as usize;
    let mut fields = Vec::with_capacity(nfields);
    let mut offset = 0usize;
    for i in 1..=nfields {
        let form = header.str(&format!("TFORM{i}")).ok_or_else(|| bad(format!("no TFORM{i}")))?;
        let (repeat, code, width) = parse_form(form).ok_or_else(|| bad(format!("TFORM{i} = '{form}' is not a binary-table format")))?;
        let bytes = if code == 'X' { repeat.div_ceil(8) } else { repeat * width };
        fields.push((Field { offset, code, repeat }, bytes, form.to_string()));
        offset += bytes;
    }
    if offset > row_bytes {
        return Err(bad(format!("the columns take {offset} bytes but a row has {row_bytes} (NAXIS1)")));
    }
    if data.len() < rows * row_bytes {
        return Err(FitsError::Truncated { path: path.to_path_buf(), have: data.len() as u64, want: (rows * row_bytes) as u64 });
    }
    let row = |r: usize| &data[r * row_bytes..(r + 1) * row_bytes];
    let columns = fields
        .iter()
        .enumerate()
        .map(|(i, (f, bytes, form))| {
            let n = i + 1;
            let name = header.str(&format!("TTYPE{n}")).unwrap_or("").to_string();
            let name = if name.is_empty() { format!("col{n}") } else { name };
            let unit = header.str(&format!("TUNIT{n}")).unwrap_or("").to_string();
            let scale = header.f64(&format!("TSCAL{n}"));
            let zero = header.f64(&format!("TZERO{n}"));
            let null = header.i64(&format!("TNULL{n}"));
            let cell = |r: usize| &row(r)[f.offset..f.offset + bytes];
            let data = column_data(f, rows, &cell, scale, zero, null).unwrap_or_else(|| TableData::Skipped(form.clone()));
            TableColumn { name, unit, data }
        })
        .collect();
    Ok(Table { header, columns, rows })
}

/// Decodes one column's cells; `None` for a type left undecoded.
fn column_data<'a>(f: &Field, rows: usize, cell: &dyn Fn(usize) -> &'a [u8], scale: Option<f64>, zero: Option<f64>, null: Option<i64>) -> Option<TableData> {
    if f.repeat == 0 {
        return Some(TableData::F64(vec![f64::NAN; rows]));
    }
    let scaled = scale.is_some() || zero.is_some();
    let (s, z) = (scale.unwrap_or(1.0), zero.unwrap_or(0.0));
    let int = |r: usize| -> Option<i64> {
        let b = cell(r);
        Some(match f.code {
            'B' => b[0] as i64,
            'I' => i16::from_be_bytes(b[..2].try_into().ok()?) as i64,
            'J' => i32::from_be_bytes(b[..4].try_into().ok()?) as i64,
            'K' => i64::from_be_bytes(b[..8].try_into().ok()?),
            _ => return None,
        })
    };
    Some(match f.code {
        'A' => TableData::Str((0..rows).map(|r| String::from_utf8_lossy(cell(r)).trim_end_matches(['\0', ' ']).to_string()).collect()),
        'E' | 'D' => TableData::F64(
            (0..rows)
                .map(|r| {
                    let b = cell(r);
                    let v = if f.code == 'E' { f32::from_be_bytes(b[..4].try_into().unwrap()) as f64 } else { f64::from_be_bytes(b[..8].try_into().unwrap()) };
                    z + s * v
                })
                .collect(),
        ),
        'B' | 'I' | 'J' | 'K' if !scaled && null.is_none() => TableData::I64((0..rows).map(|r| int(r).unwrap_or(0)).collect()),
        'B' | 'I' | 'J' | 'K' => TableData::F64(
            (0..rows)
                .map(|r| match int(r) {
                    Some(v) if Some(v) != null => z + s * v as f64,
                    _ => f64::NAN,
                })
                .collect(),
        ),
        'L' => TableData::F64(
            (0..rows)
                .map(|r| match cell(r)[0] {
                    b'T' => 1.0,
                    b'F' => 0.0,
                    _ => f64::NAN,
                })
                .collect(),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_what_write_table_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.fits");
        let mut cards = Header::default();
        cards.push("DETECT", Value::Float(5.0), "");
        let columns = vec![
            Column { name: "ra_deg".into(), unit: "deg".into(), data: ColumnData::F64(vec![1.25, -0.0, 359.999999999]) },
            Column { name: "id".into(), unit: "".into(), data: ColumnData::I64(vec![1, -2, 1 << 50]) },
            Column { name: "name".into(), unit: "".into(), data: ColumnData::Str(vec!["a".into(), "".into(), "long name".into()]) },
        ];
        write_table(&path, "SOURCES", &columns, &cards).unwrap();
        let t = read_table(&path).unwrap();
        assert_eq!(t.rows, 3);
        assert_eq!(t.header.str("EXTNAME"), Some("SOURCES"));
        assert_eq!(t.header.f64("DETECT"), Some(5.0));
        assert_eq!(t.columns[0].unit, "deg");
        assert_eq!(t.columns[0].data, TableData::F64(vec![1.25, -0.0, 359.999999999]));
        assert_eq!(t.columns[1].data, TableData::I64(vec![1, -2, 1 << 50]));
        assert_eq!(t.columns[2].data, TableData::Str(vec!["a".into(), "".into(), "long name".into()]));
    }

    /// tests/data/astropy_table.fits: written by astropy (`Table.write`), NVSS-like names, an
    /// f4 column, i2, i8, a uint16 stored as I with TZERO = 32768, and a logical.
    #[test]
    fn reads_an_astropy_table() {
        let t = read_table(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/astropy_table.fits")).unwrap();
        assert_eq!(t.rows, 2);
        let col = |n: &str| &t.column(n).unwrap().data;
        assert_eq!(col("RAJ2000"), &TableData::F64(vec![10.5, 200.25]));
        assert_eq!(col("DEJ2000"), &TableData::F64(vec![-5.0, 54.5]));
        assert_eq!(t.column("S1.4").unwrap().unit, "mJy");
        assert_eq!(col("S1.4"), &TableData::F64(vec![12.5, 3.0]));
        assert_eq!(col("NVSS"), &TableData::Str(vec!["J0042-0500".into(), "J1321+5430".into()]));
        assert_eq!(col("n"), &TableData::I64(vec![3, -7]));
        assert_eq!(col("k"), &TableData::I64(vec![1 << 40, 2]));
        assert_eq!(col("u"), &TableData::F64(vec![40000.0, 1.0]));
        assert_eq!(col("ok"), &TableData::F64(vec![1.0, 0.0]));
    }

    #[test]
    fn refuses_an_image_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i.fits");
        let wcs = crate::CelestialWcs::north_up(crate::Projection::Sin, 10.0, 20.0, 0.001, 4, 4);
        crate::write_image(&path, 4, 4, &[1.0; 16], &wcs, &Header::default()).unwrap();
        let e = read_table(&path).unwrap_err();
        assert_eq!(e.code(), "FITS_UNSUPPORTED", "{e}");
        assert!(e.to_string().contains("i.fits"));
    }
}
