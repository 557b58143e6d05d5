//! Reading any catalogue into one shape, [`RawTable`]: named columns with units, numbers or
//! text. The format comes from the extension, else from the first bytes; what the columns mean
//! is [`crate::columns`]' business.

use std::path::{Path, PathBuf};

use crate::error::CrossmatchError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Fits,
    Csv,
    Votable,
    Truth,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Num(Vec<f64>),
    Text(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct RawColumn {
    pub name: String,
    pub unit: String,
    pub values: Values,
}

impl RawColumn {
    /// The cell as text, for the matched table.
    pub fn text(&self, row: usize) -> String {
        match &self.values {
            Values::Num(v) => format_number(v[row]),
            Values::Text(v) => v[row].clone(),
        }
    }
}

pub fn format_number(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v}")
    }
}

#[derive(Debug, Clone)]
pub struct RawTable {
    pub path: PathBuf,
    pub format: Format,
    pub columns: Vec<RawColumn>,
    pub rows: usize,
}

/// Reads a catalogue in whichever format it is.
pub fn read(path: &Path) -> Result<RawTable, CrossmatchError> {
    let bytes = std::fs::read(path).map_err(|source| CrossmatchError::Io { path: path.to_path_buf(), source })?;
    let format = detect(path, &bytes)?;
    let (columns, rows) = match format {
        Format::Fits => from_fits(path)?,
        Format::Csv => crate::csv::parse(path, &text(path, &bytes)?)?,
        Format::Votable => crate::votable::parse(path, &text(path, &bytes)?)?,
        Format::Truth => from_truth(path, &text(path, &bytes)?)?,
    };
    Ok(RawTable { path: path.to_path_buf(), format, columns, rows })
}

/// By extension; an unknown extension by content (FITS's `SIMPLE  =`, XML, JSON).
fn detect(path: &Path, bytes: &[u8]) -> Result<Format, CrossmatchError> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let ext = name.rsplit('.').next().unwrap_or("");
    match ext {
        "fits" | "fit" | "fts" => return Ok(Format::Fits),
        "csv" | "tsv" => return Ok(Format::Csv),
        "vot" | "votable" | "xml" => return Ok(Format::Votable),
        "json" => return Ok(Format::Truth),
        _ => {}
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]);
    let start = head.trim_start();
    if head.starts_with("SIMPLE  =") {
        Ok(Format::Fits)
    } else if start.starts_with("<?xml") || start.starts_with("<VOTABLE") {
        Ok(Format::Votable)
    } else if start.starts_with('{') {
        Ok(Format::Truth)
    } else {
        let reason = if bytes.is_empty() { "the file is empty".to_string() } else { format!("the extension '.{ext}' and the first bytes name no known format") };
        Err(CrossmatchError::UnknownFormat { path: path.to_path_buf(), reason })
    }
}

fn text(path: &Path, bytes: &[u8]) -> Result<String, CrossmatchError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| CrossmatchError::UnknownFormat { path: path.to_path_buf(), reason: format!("not UTF-8 text ({e})") })
}

fn from_fits(path: &Path) -> Result<(Vec<RawColumn>, usize), CrossmatchError> {
    let t = fits::read_table(path)?;
    let columns = t
        .columns
        .into_iter()
        .filter_map(|c| {
            let values = match c.data {
                fits::TableData::F64(v) => Values::Num(v),
                fits::TableData::I64(v) => Values::Num(v.into_iter().map(|x| x as f64).collect()),
                fits::TableData::Str(v) => Values::Text(v),
                fits::TableData::Skipped(_) => return None,
            };
            Some(RawColumn { name: c.name, unit: c.unit, values })
        })
        .collect();
    Ok((columns, t.rows))
}

/// The simulator's truth (`{"sources": [{name, ra_deg, dec_deg, flux_jy, …}]}`): one column per
/// key of the first source; numbers stay numbers. Fluxes are in Jy.
fn from_truth(path: &Path, text: &str) -> Result<(Vec<RawColumn>, usize), CrossmatchError> {
    let bad = |reason: String| CrossmatchError::BadCatalogue { path: path.to_path_buf(), reason };
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| CrossmatchError::UnknownFormat { path: path.to_path_buf(), reason: format!("not JSON: {e}") })?;
    let sources = doc.get("sources").and_then(|s| s.as_array()).ok_or_else(|| bad("no \"sources\" array: not a contimg truth file".into()))?;
    let Some(first) = sources.first().and_then(|s| s.as_object()) else {
        return Ok((vec![], 0));
    };
    let mut columns = vec![];
    for (key, sample) in first {
        let cell = |s: &serde_json::Value| s.get(key).cloned().unwrap_or(serde_json::Value::Null);
        let values = if sample.is_number() {
            Values::Num(sources.iter().map(|s| cell(s).as_f64().unwrap_or(f64::NAN)).collect())
        } else if sample.is_string() {
            Values::Text(sources.iter().map(|s| cell(s).as_str().unwrap_or("").to_string()).collect())
        } else {
            continue;
        };
        let unit = if key.ends_with("_jy") { "Jy" } else { "" };
        columns.push(RawColumn { name: key.clone(), unit: unit.into(), values });
    }
    Ok((columns, sources.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_formats_by_extension_then_content() {
        let p = |n: &str| PathBuf::from(n);
        assert_eq!(detect(&p("a.FITS"), b"").unwrap(), Format::Fits);
        assert_eq!(detect(&p("a.vot"), b"").unwrap(), Format::Votable);
        assert_eq!(detect(&p("a.dat"), b"SIMPLE  =                    T").unwrap(), Format::Fits);
        assert_eq!(detect(&p("a.dat"), b"  <?xml version=\"1.0\"?><VOTABLE>").unwrap(), Format::Votable);
        let e = detect(&p("/x/garbage.dat"), b"\x00\x01 nothing").unwrap_err();
        assert_eq!(e.code(), "CROSSMATCH_UNKNOWN_FORMAT");
        assert!(e.to_string().contains("/x/garbage.dat"), "{e}");
    }

    #[test]
    fn reads_a_truth_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("truth.json");
        std::fs::write(&path, r#"{"rms_jy": 1e-3, "sources": [{"name": "T0", "ra_deg": 1.5, "dec_deg": 2, "flux_jy": 0.1, "shape": [1]}, {"name": "T1", "ra_deg": 3, "dec_deg": 4, "flux_jy": 0.2}]}"#).unwrap();
        let t = read(&path).unwrap();
        assert_eq!(t.format, Format::Truth);
        assert_eq!(t.rows, 2);
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), 4, "{names:?}");
        let flux = t.columns.iter().find(|c| c.name == "flux_jy").unwrap();
        assert_eq!((flux.unit.as_str(), &flux.values), ("Jy", &Values::Num(vec![0.1, 0.2])));
    }
}
