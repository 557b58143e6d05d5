//! CSV (and tab-separated) catalogues: a header line of names, then rows. Lines starting `#`
//! are comments; fields may be double-quoted (with `""` for a quote). Units may ride in the
//! name as `S1.4 [mJy]` or `flux (mJy)`, as TOPCAT and VizieR write them.

use std::path::Path;

use crate::error::CrossmatchError;
use crate::readers::{RawColumn, Values};

pub fn parse(path: &Path, text: &str) -> Result<(Vec<RawColumn>, usize), CrossmatchError> {
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
    let Some(header) = lines.next() else {
        return Err(CrossmatchError::BadCatalogue { path: path.to_path_buf(), reason: "the CSV has no header line".into() });
    };
    let sep = if !header.contains(',') && header.contains('\t') { '\t' } else { ',' };
    let names = split(header, sep);
    let mut cells: Vec<Vec<String>> = vec![vec![]; names.len()];
    for (i, line) in lines.enumerate() {
        let fields = split(line, sep);
        if fields.len() != names.len() {
            let reason = format!("row {} has {} fields but the header names {}", i + 1, fields.len(), names.len());
            return Err(CrossmatchError::BadCatalogue { path: path.to_path_buf(), reason });
        }
        for (col, f) in cells.iter_mut().zip(fields) {
            col.push(f);
        }
    }
    let rows = cells.first().map_or(0, |c| c.len());
    let columns = names
        .into_iter()
        .zip(cells)
        .map(|(raw, values)| {
            let (name, unit) = name_and_unit(&raw);
            RawColumn { name, unit, values: Values::Text(values) }
        })
        .collect();
    Ok((columns, rows))
}

fn split(line: &str, sep: char) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == sep && !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

/// `S1.4 [mJy]` → (`S1.4`, `mJy`); `flux (Jy)` → (`flux`, `Jy`); `RA` → (`RA`, ``).
fn name_and_unit(raw: &str) -> (String, String) {
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let (Some(i), true) = (raw.rfind(open), raw.ends_with(close)) {
            return (raw[..i].trim().to_string(), raw[i + 1..raw.len() - 1].trim().to_string());
        }
    }
    (raw.to_string(), String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotes_comments_and_units_in_names() {
        let text = "# FIRST-like\nRA,DEC,\"Fint [mJy]\",name\n13:21:00.5,+54:30:00,12.5,\"a, b\"\n10.0,-5,3,\"say \"\"hi\"\"\"\n";
        let (cols, rows) = parse(Path::new("x.csv"), text).unwrap();
        assert_eq!(rows, 2);
        assert_eq!((cols[2].name.as_str(), cols[2].unit.as_str()), ("Fint", "mJy"));
        assert_eq!(cols[3].values, Values::Text(vec!["a, b".into(), "say \"hi\"".into()]));
        assert_eq!(cols[0].values, Values::Text(vec!["13:21:00.5".into(), "10.0".into()]));
    }

    #[test]
    fn refuses_ragged_rows_naming_the_file() {
        let e = parse(Path::new("/d/r.csv"), "a,b\n1,2,3\n").unwrap_err();
        assert_eq!(e.code(), "CROSSMATCH_BAD_CATALOGUE");
        assert!(e.to_string().contains("/d/r.csv") && e.to_string().contains("row 1"), "{e}");
    }
}
