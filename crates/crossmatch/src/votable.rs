//! VOTable (IVOA 1.x), the TABLEDATA serialisation astropy and VizieR write by default: the
//! first TABLE's FIELDs (name, unit, datatype) and its rows of TDs. BINARY, BINARY2 and FITS
//! serialisations are refused with `CROSSMATCH_UNSUPPORTED`: re-save as TABLEDATA.
//!
//! A small tag scanner stands in for an XML library: VOTables use no DTD entities beyond the
//! five predefined ones, and TABLEDATA is flat.

use std::path::Path;

use crate::error::CrossmatchError;
use crate::readers::{RawColumn, Values};

enum Event<'a> {
    Start { name: &'a str, attrs: Vec<(&'a str, String)>, empty: bool },
    End(&'a str),
    Text(&'a str),
}

/// Tags and text in document order; comments, processing instructions and DOCTYPE skipped.
fn events(xml: &str) -> impl Iterator<Item = Event<'_>> {
    let mut rest = xml;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        if !rest.starts_with('<') {
            let end = rest.find('<').unwrap_or(rest.len());
            let (text, r) = rest.split_at(end);
            rest = r;
            return Some(Event::Text(text));
        }
        for (open, close) in [("<!--", "-->"), ("<?", "?>"), ("<!", ">")] {
            if rest.starts_with(open) {
                rest = rest.find(close).map_or("", |i| &rest[i + close.len()..]);
            }
        }
        if !rest.starts_with('<') || rest.starts_with("<!") || rest.starts_with("<?") {
            continue;
        }
        let end = tag_end(rest)?;
        let tag = &rest[1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            return Some(Event::End(local(name.trim())));
        }
        let empty = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_end = tag.find(|c: char| c.is_whitespace()).unwrap_or(tag.len());
        return Some(Event::Start { name: local(&tag[..name_end]), attrs: attributes(&tag[name_end..]), empty });
    })
}

/// The `>` closing a tag, skipping any inside quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (c, Some(q)) if c == q => quote = None,
            ('>', None) => return Some(i),
            _ => {}
        }
    }
    None
}

/// `vot:FIELD` → `FIELD`.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn attributes(s: &str) -> Vec<(&str, String)> {
    let mut out = vec![];
    let mut rest = s.trim_start();
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else { break };
        let Some(close) = after[1..].find(q) else { break };
        out.push((local(key), unescape(&after[1..1 + close])));
        rest = after[close + 2..].trim_start();
    }
    out
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

pub fn parse(path: &Path, xml: &str) -> Result<(Vec<RawColumn>, usize), CrossmatchError> {
    let bad = |reason: String| CrossmatchError::BadCatalogue { path: path.to_path_buf(), reason };
    let mut fields: Vec<(String, String)> = vec![];
    let mut cells: Vec<Vec<String>> = vec![];
    let (mut in_table, mut in_data, mut seen_votable) = (false, false, false);
    let mut row: Option<Vec<String>> = None;
    let mut td: Option<String> = None;
    for ev in events(xml) {
        match ev {
            Event::Start { name: "VOTABLE", .. } => seen_votable = true,
            Event::Start { name: "TABLE", .. } if !in_table && cells.is_empty() => in_table = true,
            Event::Start { name: "FIELD", attrs, .. } if in_table => {
                let get = |k: &str| attrs.iter().find(|(a, _)| *a == k).map(|(_, v)| v.clone());
                let name = get("name").or_else(|| get("ID")).unwrap_or_else(|| format!("col{}", fields.len() + 1));
                fields.push((name, get("unit").unwrap_or_default()));
            }
            Event::Start { name: n @ ("BINARY" | "BINARY2" | "FITS"), .. } if in_table => {
                return Err(CrossmatchError::Unsupported { path: path.to_path_buf(), reason: format!("a VOTable serialised as {n}; contimg reads TABLEDATA (astropy: votable.writeto(…, tabledata_format='tabledata'), or Table.write(format='votable'))") });
            }
            Event::Start { name: "TABLEDATA", .. } if in_table => {
                in_data = true;
                cells = vec![vec![]; fields.len()];
            }
            Event::Start { name: "TR", .. } if in_data => row = Some(vec![]),
            Event::Start { name: "TD", empty, .. } if row.is_some() => {
                if empty {
                    row.as_mut().unwrap().push(String::new());
                } else {
                    td = Some(String::new());
                }
            }
            Event::Text(t) => {
                if let Some(cell) = td.as_mut() {
                    cell.push_str(t);
                }
            }
            Event::End("TD") => {
                if let (Some(cell), Some(r)) = (td.take(), row.as_mut()) {
                    r.push(unescape(cell.trim()));
                }
            }
            Event::End("TR") => {
                if let Some(r) = row.take() {
                    if r.len() != fields.len() {
                        return Err(bad(format!("row {} has {} cells but the table has {} FIELDs", cells[0].len() + 1, r.len(), fields.len())));
                    }
                    for (col, v) in cells.iter_mut().zip(r) {
                        col.push(v);
                    }
                }
            }
            Event::End("TABLEDATA") => in_data = false,
            Event::End("TABLE") if in_table => break,
            _ => {}
        }
    }
    if !seen_votable {
        return Err(CrossmatchError::UnknownFormat { path: path.to_path_buf(), reason: "XML without a VOTABLE element".into() });
    }
    if fields.is_empty() {
        return Err(bad("the VOTable has no TABLE with FIELDs".into()));
    }
    if cells.is_empty() {
        cells = vec![vec![]; fields.len()];
    }
    let rows = cells[0].len();
    let columns = fields.into_iter().zip(cells).map(|((name, unit), v)| RawColumn { name, unit, values: Values::Text(v) }).collect();
    Ok((columns, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASTROPY_LIKE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- Produced with astropy.io.votable version 6.0 -->
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.4">
 <RESOURCE type="results">
  <TABLE>
   <FIELD ID="ra" datatype="double" name="ra" unit="deg"/>
   <FIELD datatype="double" name="total_flux_source" unit="mJy">
    <DESCRIPTION>a &lt;flux&gt;</DESCRIPTION>
   </FIELD>
   <FIELD arraysize="*" datatype="unicodeChar" name="source_name"/>
   <DATA>
    <TABLEDATA>
     <TR>
      <TD>10.5</TD>
      <TD>12.5</TD>
      <TD>RACS &amp; co</TD>
     </TR>
     <TR>
      <TD>200.25</TD>
      <TD/>
      <TD>B</TD>
     </TR>
    </TABLEDATA>
   </DATA>
  </TABLE>
 </RESOURCE>
</VOTABLE>
"#;

    #[test]
    fn reads_tabledata_with_units_and_empty_cells() {
        let (cols, rows) = parse(Path::new("r.vot"), ASTROPY_LIKE).unwrap();
        assert_eq!(rows, 2);
        assert_eq!((cols[1].name.as_str(), cols[1].unit.as_str()), ("total_flux_source", "mJy"));
        assert_eq!(cols[0].values, Values::Text(vec!["10.5".into(), "200.25".into()]));
        assert_eq!(cols[1].values, Values::Text(vec!["12.5".into(), "".into()]));
        assert_eq!(cols[2].values, Values::Text(vec!["RACS & co".into(), "B".into()]));
    }

    #[test]
    fn refuses_binary_serialisation() {
        let xml = ASTROPY_LIKE.replace("<TABLEDATA>", "<BINARY><STREAM encoding=\"base64\">AAAA</STREAM></BINARY><TABLEDATA>");
        let e = parse(Path::new("/d/b.vot"), &xml).unwrap_err();
        assert_eq!(e.code(), "CROSSMATCH_UNSUPPORTED");
        assert!(e.to_string().contains("/d/b.vot"));
    }
}
