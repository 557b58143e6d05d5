//! The matched table (CSV, one row per match with both sides' columns) and the QA report
//! (JSON), both written atomically.

use std::fmt::Write as _;
use std::path::Path;

use crate::columns::Source;
use crate::error::CrossmatchError;
use crate::metrics::Match;
use crate::ours::Ours;
use crate::readers::{format_number, RawTable};

/// Our summary columns, then `ref.<column>` (the first reference source's original columns)
/// and `our.<column>` (our brightest component's).
pub fn write_matches(path: &Path, matches: &[Match], refs: &[Source], ref_table: &RawTable, ours: &Ours) -> Result<(), CrossmatchError> {
    let mut head: Vec<String> = [
        "match", "kind", "n_ref", "n_ours", "ref_names", "ref_ra_deg", "ref_dec_deg", "ref_flux_jy", "our_ids", "our_ra_deg", "our_dec_deg", "our_int_jy", "our_peak_jy",
        "separation_arcsec", "dra_arcsec", "ddec_arcsec", "flux_ratio", "used",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    head.extend(ref_table.columns.iter().map(|c| format!("ref.{}", c.name)));
    head.extend(ours.table.columns.iter().map(|c| format!("our.{}", c.name)));
    let mut out = head.iter().map(|h| quote(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    let c = &ours.components;
    for (k, m) in matches.iter().enumerate() {
        let names: Vec<&str> = m.group.refs.iter().map(|&i| refs[i].name.as_str()).collect();
        let ids: Vec<&str> = m.group.ours.iter().map(|&i| c[i].id.as_str()).collect();
        let kind = serde_json::to_value(m.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let mut row: Vec<String> = vec![
            (k + 1).to_string(),
            kind,
            m.group.refs.len().to_string(),
            m.group.ours.len().to_string(),
            names.join(";"),
            format!("{:.9}", m.ref_pos.ra_deg),
            format!("{:.9}", m.ref_pos.dec_deg),
            format_number(m.ref_flux_jy),
            ids.join(";"),
            format!("{:.9}", m.our_pos.ra_deg),
            format!("{:.9}", m.our_pos.dec_deg),
            format_number(m.our_int_jy),
            format_number(m.our_peak_jy),
            format!("{:.4}", m.separation_arcsec),
            format!("{:.4}", m.dra_arcsec),
            format!("{:.4}", m.ddec_arcsec),
            format_number(m.flux_ratio),
            (m.used as u8).to_string(),
        ];
        let ref_row = refs[m.group.refs[0]].row;
        row.extend(ref_table.columns.iter().map(|col| col.text(ref_row)));
        let brightest = *m.group.ours.iter().max_by(|&&a, &&b| c[a].int_jy.total_cmp(&c[b].int_jy)).unwrap();
        row.extend(ours.table.columns.iter().map(|col| col.text(brightest)));
        let _ = writeln!(out, "{}", row.iter().map(|s| quote(s)).collect::<Vec<_>>().join(","));
    }
    fits::write_atomically(path, out.as_bytes()).map_err(CrossmatchError::from)
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), CrossmatchError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| CrossmatchError::Io { path: path.to_path_buf(), source: std::io::Error::other(e) })?;
    text.push('\n');
    fits::write_atomically(path, text.as_bytes()).map_err(CrossmatchError::from)
}
