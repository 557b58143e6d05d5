//! Reading a CASA caltable (ours or CASA's) into a [`super::CalTable`], with the channel
//! frequencies of its SPECTRAL_WINDOW subtable (which `applycal` needs to match channels and
//! spectral windows by frequency, since a table and an MS may split the band differently).
//!
//! Validated: table info type `Calibration` and subType `B Jones`/`G Jones` (from `table.info`,
//! which casacore writes as plain text), `ParType = "Complex"`, the MAIN columns, and every
//! cell's shape against its spectral window (`[npol, nchan]`, with `nchan` 1 for G).

use std::path::{Path, PathBuf};

use casacore_sys::Table;
use num_complex::Complex32;

use super::{CalRow, CalTable, Jones};
use crate::error::{MsError, Op};
use crate::tab::Tab;

/// One row of the caltable's SPECTRAL_WINDOW subtable: channel centres and widths (Hz).
#[derive(Debug, Clone, PartialEq)]
pub struct CalSpw {
    pub chan_freq_hz: Vec<f64>,
    pub chan_width_hz: Vec<f64>,
}

/// A caltable as read from disk: the table and its spectral windows (indexed by
/// SPECTRAL_WINDOW_ID).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadCalTable {
    pub path: PathBuf,
    pub table: CalTable,
    pub spws: Vec<CalSpw>,
}

const REQUIRED: &[&str] = &[
    "TIME",
    "FIELD_ID",
    "SPECTRAL_WINDOW_ID",
    "ANTENNA1",
    "ANTENNA2",
    "CPARAM",
    "FLAG",
];

fn not_cal(path: &Path, reason: impl Into<String>) -> MsError {
    MsError::NotACalTable {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn shape_err(path: &Path, reason: impl Into<String>) -> MsError {
    MsError::CalTableShape {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// `Type` and `SubType` from the table's `table.info` (absent → not a caltable).
fn table_info(path: &Path) -> Result<(String, String), MsError> {
    let text = std::fs::read_to_string(path.join("table.info")).map_err(|e| {
        not_cal(
            path,
            if path.join("table.dat").exists() {
                format!("no readable table.info ({e})")
            } else {
                "not a casacore table (no table.dat)".to_string()
            },
        )
    })?;
    let field = |key: &str| {
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    Ok((field("Type"), field("SubType")))
}

/// Read a B or G Jones caltable.
pub fn read(path: &Path) -> Result<ReadCalTable, MsError> {
    if !path.is_dir() {
        return Err(not_cal(path, "no such table directory"));
    }
    let (ttype, subtype) = table_info(path)?;
    if ttype != "Calibration" {
        return Err(not_cal(
            path,
            format!("table type is {ttype:?}, not \"Calibration\""),
        ));
    }
    let jones = match subtype.as_str() {
        "B Jones" => Jones::B,
        "G Jones" => Jones::G,
        other => {
            return Err(MsError::CalTableUnsupported {
                path: path.to_path_buf(),
                reason: format!("subType {other:?} (only \"B Jones\" and \"G Jones\" are applied)"),
            })
        }
    };
    let t = Table::open(path, false).op(|| format!("open caltable {}", path.display()))?;
    let main = Tab::new(t, "caltable MAIN");
    match main.kw(None, "ParType")? {
        Some(casacore_sys::KeywordValue::String(p)) if p == "Complex" => {}
        Some(casacore_sys::KeywordValue::String(p)) => {
            return Err(MsError::CalTableUnsupported {
                path: path.to_path_buf(),
                reason: format!("ParType {p:?} (only \"Complex\" CPARAM tables are applied)"),
            })
        }
        _ => return Err(not_cal(path, "no ParType keyword")),
    }
    let ms_name = main.kw_string(None, "MSName")?.unwrap_or_default();
    let columns = main.t.column_names().op(|| "list caltable columns".into())?;
    let has = |c: &str| columns.iter().any(|x| x == c);
    for c in REQUIRED {
        if !has(c) {
            return Err(not_cal(path, format!("MAIN has no {c} column")));
        }
    }

    let spws = read_spws(path, &main)?;
    let n = main.n_rows()?;
    let time: Vec<f64> = main.get("TIME", 0, n)?;
    let interval: Vec<f64> = if has("INTERVAL") {
        main.get("INTERVAL", 0, n)?
    } else {
        vec![0.0; n]
    };
    let int_col = |c: &str| -> Result<Vec<i32>, MsError> {
        if has(c) {
            main.get(c, 0, n)
        } else {
            Ok(vec![0; n])
        }
    };
    let field = int_col("FIELD_ID")?;
    let spw = int_col("SPECTRAL_WINDOW_ID")?;
    let ant1 = int_col("ANTENNA1")?;
    let ant2 = int_col("ANTENNA2")?;
    let scan = int_col("SCAN_NUMBER")?;
    let obs = int_col("OBSERVATION_ID")?;

    let mut n_pol = 0usize;
    let mut rows = Vec::with_capacity(n);
    for r in 0..n {
        let s = spw[r];
        let sp = usize::try_from(s)
            .ok()
            .and_then(|i| spws.get(i))
            .ok_or_else(|| {
                shape_err(
                    path,
                    format!("row {r}: SPECTRAL_WINDOW_ID {s} but the table has {} spectral windows", spws.len()),
                )
            })?;
        let shape = main
            .t
            .cell_shape("CPARAM", r)
            .op(|| format!("shape of caltable CPARAM row {r}"))?
            .ok_or_else(|| shape_err(path, format!("row {r}: CPARAM cell is empty")))?;
        if shape.len() != 2 {
            return Err(shape_err(path, format!("row {r}: CPARAM cell has shape {shape:?}, not [npol, nchan]")));
        }
        let (np, nc) = (shape[0], shape[1]);
        let want_chan = match jones {
            Jones::B => sp.chan_freq_hz.len(),
            Jones::G => 1,
        };
        if nc != want_chan {
            return Err(shape_err(
                path,
                format!("row {r}: CPARAM has {nc} channels, spectral window {s} needs {want_chan} for {}", jones.casa_name()),
            ));
        }
        if np == 0 || (n_pol != 0 && np != n_pol) {
            return Err(shape_err(path, format!("row {r}: CPARAM has {np} polarizations, earlier rows {n_pol}")));
        }
        n_pol = np;
        let cparam: Vec<Complex32> = main.cell("CPARAM", r)?;
        let flag: Vec<bool> = main.cell("FLAG", r)?;
        let opt = |c: &str| -> Result<Vec<f32>, MsError> {
            if !has(c) {
                return Ok(Vec::new());
            }
            main.cell(c, r)
        };
        let (paramerr, snr, weight) = (opt("PARAMERR")?, opt("SNR")?, opt("WEIGHT")?);
        let cells = np * nc;
        for (name, len) in [("FLAG", flag.len()), ("PARAMERR", paramerr.len()), ("SNR", snr.len()), ("WEIGHT", weight.len())] {
            if len != cells && !(len == 0 && name != "FLAG") {
                return Err(shape_err(path, format!("row {r}: {name} has {len} elements, CPARAM {cells}")));
            }
        }
        rows.push(CalRow {
            time_mjd_s: time[r],
            interval_s: interval[r],
            field_id: field[r],
            spw_id: s,
            antenna1: ant1[r],
            antenna2: ant2[r],
            scan_number: scan[r],
            observation_id: obs[r],
            cparam,
            paramerr,
            flag,
            snr,
            weight,
        });
    }
    let n_chan = spws
        .iter()
        .map(|s| match jones {
            Jones::B => s.chan_freq_hz.len(),
            Jones::G => 1,
        })
        .collect();
    Ok(ReadCalTable {
        path: path.to_path_buf(),
        table: CalTable {
            jones,
            ms_name,
            n_pol,
            n_chan,
            rows,
        },
        spws,
    })
}

fn read_spws(path: &Path, main: &Tab) -> Result<Vec<CalSpw>, MsError> {
    let t = main
        .sub("SPECTRAL_WINDOW")
        .map_err(|_| not_cal(path, "no SPECTRAL_WINDOW subtable"))?;
    let n = t.n_rows()?;
    (0..n)
        .map(|i| {
            let chan_freq_hz: Vec<f64> = t.cell("CHAN_FREQ", i)?;
            let chan_width_hz: Vec<f64> = t.cell("CHAN_WIDTH", i)?;
            if chan_width_hz.len() != chan_freq_hz.len() {
                return Err(shape_err(
                    path,
                    format!("SPECTRAL_WINDOW row {i}: {} frequencies but {} widths", chan_freq_hz.len(), chan_width_hz.len()),
                ));
            }
            Ok(CalSpw {
                chan_freq_hz,
                chan_width_hz,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(info: Option<&str>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("table.dat"), b"").unwrap();
        if let Some(i) = info {
            std::fs::write(d.path().join("table.info"), i).unwrap();
        }
        d
    }

    #[test]
    fn refuses_what_is_not_a_b_or_g_caltable_with_its_code() {
        let missing = read(Path::new("/nonexistent/table")).unwrap_err();
        assert_eq!(missing.code(), "CALTABLE_NOT_A_CALTABLE");
        let d = fake(None);
        let e = read(d.path()).unwrap_err();
        assert_eq!(e.code(), "CALTABLE_NOT_A_CALTABLE");
        assert!(e.to_string().contains(&d.path().display().to_string()));
        let d = fake(Some("Type = Measurement Set\nSubType = \n"));
        let e = read(d.path()).unwrap_err();
        assert_eq!(e.code(), "CALTABLE_NOT_A_CALTABLE");
        assert!(e.to_string().contains("Measurement Set"), "{e}");
        let d = fake(Some("Type = Calibration\nSubType = K Jones\n"));
        let e = read(d.path()).unwrap_err();
        assert_eq!(e.code(), "CALTABLE_UNSUPPORTED");
        assert!(e.to_string().contains("K Jones"), "{e}");
    }
}
