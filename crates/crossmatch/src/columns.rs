//! What the columns of a catalogue mean: which hold RA, Dec, a flux and a name, in which unit.
//! Survey catalogues spell them many ways (NVSS `RAJ2000`/`S1.4` in mJy, FIRST `RA`/`Fint`,
//! RACS `ra`/`total_flux_source`, VizieR `_RAJ2000`); the first known spelling wins unless the
//! caller names the column. Positions may be degrees or sexagesimal text (RA in hours).

use std::path::Path;

use crate::error::CrossmatchError;
use crate::readers::{Format, RawColumn, RawTable, Values};

/// Known spellings, compared case-insensitively, in order of preference.
const RA_NAMES: &[&str] = &["ra_deg", "raj2000", "_raj2000", "ra_j2000", "ra_icrs", "ra", "radeg", "ra_deg_icrs", "alpha_j2000"];
const DEC_NAMES: &[&str] = &["dec_deg", "dej2000", "_dej2000", "decj2000", "dec_j2000", "de_icrs", "dec_icrs", "dec", "decdeg", "delta_j2000"];
/// Integrated fluxes before peaks: resolved sources are compared by their total.
const FLUX_NAMES: &[&str] = &[
    "flux_jy", "int_jy", "total_flux_source", "total_flux", "s1.4", "s1400", "fint", "flux_int", "int_flux", "s_int", "flux", "peak_jy", "peak_flux", "fpeak", "flux_peak", "s_peak",
];
const NAME_NAMES: &[&str] = &["name", "source_name", "nvss", "first", "source_id", "id", "gaussian_id", "component_id"];
/// Survey columns whose unit is mJy when the file does not say.
const MJY_BY_NAME: &[&str] = &["s1.4", "s1400", "fint", "fpeak", "total_flux_source", "total_flux", "peak_flux", "flux_peak", "s_int", "s_peak"];

/// Columns named by the caller, and a unit for the flux column.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub ra: Option<String>,
    pub dec: Option<String>,
    pub flux: Option<String>,
    pub flux_unit: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Source {
    /// The row in the file.
    pub row: usize,
    pub name: String,
    pub ra_deg: f64,
    pub dec_deg: f64,
    /// NaN when the catalogue has no usable flux for the row.
    pub flux_jy: f64,
}

/// What was used, for the QA report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Detected {
    pub ra: String,
    pub dec: String,
    pub flux: Option<String>,
    pub name: Option<String>,
    pub flux_unit: String,
    /// `column` (TUNIT, VOTable unit, CSV header), `option`, `name` (the survey's convention) or `assumed` (Jy).
    pub flux_unit_from: String,
    pub sexagesimal: bool,
}

pub struct Catalogue {
    pub sources: Vec<Source>,
    pub detected: Detected,
    /// Rows dropped for want of a readable position.
    pub skipped_rows: usize,
}

fn find<'a>(t: &'a RawTable, wanted: Option<&str>, names: &[&str], what: &str) -> Result<Option<&'a RawColumn>, CrossmatchError> {
    if let Some(w) = wanted {
        return t.columns.iter().find(|c| c.name == w).or_else(|| t.columns.iter().find(|c| c.name.eq_ignore_ascii_case(w))).map(Some).ok_or_else(|| no_columns(&t.path, t, &format!("no column '{w}' (given for {what})")));
    }
    Ok(names.iter().find_map(|n| t.columns.iter().find(|c| c.name.eq_ignore_ascii_case(n))))
}

fn no_columns(path: &Path, t: &RawTable, reason: &str) -> CrossmatchError {
    let have: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    CrossmatchError::NoColumns { path: path.to_path_buf(), reason: format!("{reason}; the columns are [{}]", have.join(", ")) }
}

/// The reference sources of a catalogue. `prefer_apparent`: for a simulated truth, compare
/// with the primary-beam-attenuated flux (`apparent_flux_jy`), as an uncorrected image sees it.
pub fn reference(t: &RawTable, o: &Overrides, prefer_apparent: bool) -> Result<Catalogue, CrossmatchError> {
    let ra = find(t, o.ra.as_deref(), RA_NAMES, "--ref-ra")?;
    let dec = find(t, o.dec.as_deref(), DEC_NAMES, "--ref-dec")?;
    let (Some(ra), Some(dec)) = (ra, dec) else {
        let missing = if ra.is_none() { "RA" } else { "Dec" };
        return Err(no_columns(&t.path, t, &format!("no {missing} column (looked for {}; name it with --ref-ra/--ref-dec)", if ra.is_none() { RA_NAMES } else { DEC_NAMES }.join(", "))));
    };
    let flux_names: Vec<&str> = if prefer_apparent && t.format == Format::Truth { std::iter::once("apparent_flux_jy").chain(FLUX_NAMES.iter().copied()).collect() } else { FLUX_NAMES.to_vec() };
    let flux = find(t, o.flux.as_deref(), &flux_names, "--ref-flux")?;
    let name = find(t, None, NAME_NAMES, "")?;
    let (scale, unit, from) = match flux {
        Some(f) => flux_scale(t, f, o.flux_unit.as_deref())?,
        None => (f64::NAN, String::new(), String::new()),
    };
    let sexagesimal = is_text_sexagesimal(ra) || is_text_sexagesimal(dec);
    let mut sources = Vec::with_capacity(t.rows);
    let mut skipped = 0;
    for row in 0..t.rows {
        let (Some(ra_deg), Some(dec_deg)) = (angle(ra, row, true), angle(dec, row, false)) else {
            skipped += 1;
            continue;
        };
        if !(-90.0..=90.0).contains(&dec_deg) {
            skipped += 1;
            continue;
        }
        let flux_jy = flux.and_then(|f| number(f, row)).map_or(f64::NAN, |v| v * scale);
        let name = name.map_or_else(|| format!("{}", row + 1), |c| c.text(row));
        sources.push(Source { row, name, ra_deg: ra_deg.rem_euclid(360.0), dec_deg, flux_jy });
    }
    if sources.is_empty() && t.rows > 0 {
        return Err(no_columns(&t.path, t, &format!("no row of '{}'/'{}' reads as a position", ra.name, dec.name)));
    }
    let detected = Detected { ra: ra.name.clone(), dec: dec.name.clone(), flux: flux.map(|f| f.name.clone()), name: name.map(|c| c.name.clone()), flux_unit: unit, flux_unit_from: from, sexagesimal };
    Ok(Catalogue { sources, detected, skipped_rows: skipped })
}

/// Jy per unit of the flux column, the unit's name and where it came from.
fn flux_scale(t: &RawTable, f: &RawColumn, given: Option<&str>) -> Result<(f64, String, String), CrossmatchError> {
    let (unit, from) = match given {
        Some(u) => (u.to_string(), "option"),
        None if !f.unit.trim().is_empty() => (f.unit.clone(), "column"),
        None if MJY_BY_NAME.iter().any(|n| f.name.eq_ignore_ascii_case(n)) => ("mJy".to_string(), "name"),
        None if f.name.to_ascii_lowercase().ends_with("jy") => ("Jy".to_string(), "name"),
        None => ("Jy".to_string(), "assumed"),
    };
    let scale = jy_per(&unit).ok_or_else(|| CrossmatchError::BadCatalogue {
        path: t.path.clone(),
        reason: format!("the flux column '{}' has unit '{unit}', which is not a flux density (Jy, mJy, uJy, with or without /beam); give --ref-flux-unit", f.name),
    })?;
    Ok((scale, unit, from.to_string()))
}

/// `mJy`, `mJy/beam`, `mJy beam-1`, `Jy / beam`, `uJy`, `µJy` → Jy per unit.
pub fn jy_per(unit: &str) -> Option<f64> {
    let u = unit.trim().to_ascii_lowercase().replace(' ', "");
    let u = u.trim_end_matches("/beam").trim_end_matches("beam-1").trim_end_matches("beam^-1");
    match u {
        "jy" => Some(1.0),
        "mjy" => Some(1e-3),
        "ujy" | "\u{b5}jy" | "\u{3bc}jy" | "microjy" => Some(1e-6),
        _ if unit.trim().starts_with('\u{b5}') && u.ends_with("jy") && u.chars().count() == 3 => Some(1e-6),
        _ => None,
    }
}

fn number(c: &RawColumn, row: usize) -> Option<f64> {
    match &c.values {
        Values::Num(v) => Some(v[row]).filter(|x| x.is_finite()),
        Values::Text(v) => v[row].trim().parse::<f64>().ok().filter(|x| x.is_finite()),
    }
}

fn is_text_sexagesimal(c: &RawColumn) -> bool {
    matches!(&c.values, Values::Text(v) if v.iter().take(20).any(|s| s.trim().contains([':', ' ', 'h', 'd'])))
}

/// Degrees from a number, or from `hh:mm:ss.s` / `hh mm ss` / `12h34m56s` (RA, hours) or
/// `±dd:mm:ss` / `dd d mm m ss s` (Dec).
fn angle(c: &RawColumn, row: usize, is_ra: bool) -> Option<f64> {
    if let Some(v) = number(c, row) {
        return Some(v);
    }
    let Values::Text(v) = &c.values else { return None };
    parse_sexagesimal(&v[row], is_ra)
}

pub fn parse_sexagesimal(s: &str, hours: bool) -> Option<f64> {
    let s = s.trim();
    let negative = s.starts_with('-');
    let body = s.trim_start_matches(['+', '-']);
    let parts: Vec<f64> = body
        .split(|c: char| c == ':' || c.is_whitespace() || "hdms\u{b0}'\"".contains(c))
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<f64>().ok())
        .collect::<Option<Vec<_>>>()?;
    if parts.is_empty() || parts.len() > 3 || parts[1..].iter().any(|p| !(0.0..60.0).contains(p)) {
        return None;
    }
    let value = parts.iter().zip([1.0, 60.0, 3600.0]).map(|(p, d)| p / d).sum::<f64>();
    let deg = if hours { value * 15.0 } else { value };
    Some(if negative { -deg } else { deg })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn table(cols: &[(&str, &str, &[&str])]) -> RawTable {
        let columns: Vec<RawColumn> = cols.iter().map(|(n, u, v)| RawColumn { name: n.to_string(), unit: u.to_string(), values: Values::Text(v.iter().map(|s| s.to_string()).collect()) }).collect();
        RawTable { path: PathBuf::from("/d/ref.csv"), format: Format::Csv, rows: cols[0].2.len(), columns }
    }

    #[test]
    fn sexagesimal_in_hours_and_degrees() {
        assert!((parse_sexagesimal("13:21:00.5", true).unwrap() - (13.0 + 21.0 / 60.0 + 0.5 / 3600.0) * 15.0).abs() < 1e-12);
        assert!((parse_sexagesimal("-00 30 00", false).unwrap() + 0.5).abs() < 1e-12);
        assert!((parse_sexagesimal("12h30m00s", true).unwrap() - 187.5).abs() < 1e-12);
        assert_eq!(parse_sexagesimal("12:61:00", true), None);
        assert_eq!(parse_sexagesimal("abc", true), None);
    }

    #[test]
    fn finds_first_like_columns_in_mjy_by_name() {
        let t = table(&[("RA", "", &["13:21:00", "10.0"]), ("DEC", "", &["+54:30:00", "-5"]), ("Fint", "", &["12.5", "3"])]);
        let c = reference(&t, &Overrides::default(), false).unwrap();
        assert_eq!((c.detected.ra.as_str(), c.detected.flux.as_deref(), c.detected.flux_unit_from.as_str()), ("RA", Some("Fint"), "name"));
        assert!((c.sources[0].ra_deg - 200.25).abs() < 1e-12 && (c.sources[0].dec_deg - 54.5).abs() < 1e-12);
        assert!((c.sources[0].flux_jy - 0.0125).abs() < 1e-15);
        assert_eq!((c.sources[1].ra_deg, c.sources[1].dec_deg), (10.0, -5.0));
    }

    #[test]
    fn units_from_the_column_and_the_option_win() {
        let t = table(&[("ra", "deg", &["1"]), ("dec", "deg", &["2"]), ("total_flux_source", "Jy/beam", &["0.5"])]);
        assert_eq!(reference(&t, &Overrides::default(), false).unwrap().sources[0].flux_jy, 0.5);
        let o = Overrides { flux_unit: Some("uJy".into()), ..Default::default() };
        assert!((reference(&t, &o, false).unwrap().sources[0].flux_jy - 0.5e-6).abs() < 1e-18);
        let bad = Overrides { flux_unit: Some("W/m2".into()), ..Default::default() };
        assert_eq!(reference(&t, &bad, false).err().unwrap().code(), "CROSSMATCH_BAD_CATALOGUE");
    }

    #[test]
    fn missing_or_misnamed_columns_say_so() {
        let t = table(&[("x", "", &["1"]), ("dec", "", &["2"])]);
        let e = reference(&t, &Overrides::default(), false).err().unwrap();
        assert_eq!(e.code(), "CROSSMATCH_NO_COLUMNS");
        assert!(e.to_string().contains("/d/ref.csv") && e.to_string().contains("no RA column"), "{e}");
        let o = Overrides { ra: Some("x".into()), flux: Some("nope".into()), ..Default::default() };
        let e = reference(&t, &o, false).err().unwrap();
        assert!(e.to_string().contains("no column 'nope'"), "{e}");
    }
}
