//! Writing a [`super::CalTable`] as a CASA caltable, atomically: the table is built under a
//! temporary name beside its final one (`.<name>.partial-<pid>`), closed, fsynced and renamed, so
//! a reader (or a crash) sees no table or the complete one, never a partial one.
//!
//! What CASA 6 writes (`bandpass`/`gaincal`, inspected with python-casacore): table info type
//! `Calibration`, subType `B Jones`/`G Jones`; MAIN keywords `ParType`, `MSName`, `VisCal`,
//! `PolBasis`, `CASA_Version`; TIME and INTERVAL with `QuantumUnits` `s` (TIME also `MEASINFO`
//! epoch UTC); subtables OBSERVATION, ANTENNA, FIELD, SPECTRAL_WINDOW, HISTORY copied from the
//! MS. Our array columns have a fixed `[npol, nchan]` shape (CASA's are variable-shape; readers
//! cannot tell the difference).

use std::fs;
use std::path::{Path, PathBuf};

use casacore_sys::{DataType, KeywordValue, Table};

use super::{CalTable, Jones};
use crate::error::{MsError, Op};
use crate::tab::Tab;

/// The MS subtables a caltable carries.
pub const SUBTABLES: &[&str] = &["OBSERVATION", "ANTENNA", "FIELD", "SPECTRAL_WINDOW", "HISTORY"];

fn io(path: &Path, what: &str, e: std::io::Error) -> MsError {
    MsError::Casacore { op: format!("{what} {}", path.display()), message: e.to_string() }
}

fn invalid(path: &Path, reason: String) -> MsError {
    MsError::CalTableShape { path: path.to_path_buf(), reason }
}

/// Where `path` is built before the rename.
pub fn staging_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join(format!(".{name}.partial-{}", std::process::id()))
}

/// Remove what killed writers of `path` left behind (`.<name>.partial-*`).
pub fn remove_leftovers(path: &Path) -> Result<(), MsError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let prefix = format!(".{name}.partial-");
    if let Ok(rd) = fs::read_dir(parent) {
        for e in rd.flatten() {
            if e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
                fs::remove_dir_all(e.path()).map_err(|er| io(&e.path(), "remove leftover", er))?;
            }
        }
    }
    Ok(())
}

fn check(path: &Path, t: &CalTable) -> Result<(), MsError> {
    if t.n_pol == 0 {
        return Err(invalid(path, "no polarizations".into()));
    }
    for (r, row) in t.rows.iter().enumerate() {
        let nc = usize::try_from(row.spw_id)
            .ok()
            .and_then(|s| t.n_chan.get(s))
            .ok_or_else(|| invalid(path, format!("row {r}: spectral window {} not in the table", row.spw_id)))?;
        let cells = t.n_pol * nc;
        for (name, len) in [
            ("CPARAM", row.cparam.len()),
            ("PARAMERR", row.paramerr.len()),
            ("FLAG", row.flag.len()),
            ("SNR", row.snr.len()),
            ("WEIGHT", row.weight.len()),
        ] {
            if len != cells {
                return Err(invalid(path, format!("row {r}: {name} has {len} elements, the cell {cells}")));
            }
        }
    }
    Ok(())
}

/// Write `table` at `path` (replacing an existing table only when `overwrite`), with the
/// subtables of `ms`. `before_rename` runs after the table is complete and fsynced, just
/// before the rename (crash tests kill the process there).
pub fn write(path: &Path, table: &CalTable, ms: &Path, overwrite: bool, before_rename: &dyn Fn()) -> Result<(), MsError> {
    check(path, table)?;
    if path.exists() && !overwrite {
        return Err(MsError::InvalidSpec(format!("{}: the caltable already exists (overwrite to replace it)", path.display())));
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| io(parent, "create directory", e))?;
    remove_leftovers(path)?;
    let tmp = staging_path(path);
    let built = build(&tmp, table, ms).and_then(|()| crate::durable::sync_tree(&tmp).map_err(|e| io(&tmp, "fsync", e)));
    if let Err(e) = built {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    before_rename();
    if path.exists() {
        let aside = tmp.with_extension("old");
        fs::rename(path, &aside).map_err(|e| io(path, "move aside", e))?;
        fs::rename(&tmp, path).map_err(|e| io(&tmp, "rename", e))?;
        let _ = fs::remove_dir_all(aside);
    } else {
        fs::rename(&tmp, path).map_err(|e| io(&tmp, "rename", e))?;
    }
    fs::File::open(parent).and_then(|f| f.sync_all()).map_err(|e| io(parent, "fsync directory", e))
}

fn build(tmp: &Path, table: &CalTable, ms: &Path) -> Result<(), MsError> {
    let what = || format!("create caltable {}", tmp.display());
    let t = Table::create_empty(tmp, "Calibration", table.jones.casa_name()).op(what)?;
    let mut main = Tab::new(t, "caltable MAIN");
    let nchan = match table.jones {
        Jones::B => *table.n_chan.first().unwrap_or(&1),
        Jones::G => 1,
    };
    if table.n_chan.iter().any(|&c| c != nchan) {
        return Err(invalid(tmp, format!("spectral windows of different widths {:?} (one cell shape per table)", table.n_chan)));
    }
    let cell = [table.n_pol, nchan];
    for c in ["TIME", "INTERVAL"] {
        main.add_column(c, DataType::Double, None)?;
    }
    for c in ["FIELD_ID", "SPECTRAL_WINDOW_ID", "ANTENNA1", "ANTENNA2", "SCAN_NUMBER", "OBSERVATION_ID"] {
        main.add_column(c, DataType::Int, None)?;
    }
    main.add_column("CPARAM", DataType::Complex, Some((2, Some(&cell))))?;
    main.add_column("PARAMERR", DataType::Float, Some((2, Some(&cell))))?;
    main.add_column("FLAG", DataType::Bool, Some((2, Some(&cell))))?;
    main.add_column("SNR", DataType::Float, Some((2, Some(&cell))))?;
    main.add_column("WEIGHT", DataType::Float, Some((2, Some(&cell))))?;
    let s = |v: &str| KeywordValue::String(v.into());
    for c in ["TIME", "INTERVAL"] {
        main.put_kw(Some(c), "QuantumUnits", KeywordValue::StringArray(vec!["s".into()]))?;
    }
    main.put_kw(Some("TIME"), "MEASINFO.type", s("epoch"))?;
    main.put_kw(Some("TIME"), "MEASINFO.Ref", s("UTC"))?;
    main.put_kw(None, "ParType", s("Complex"))?;
    main.put_kw(None, "MSName", s(&table.ms_name))?;
    main.put_kw(None, "VisCal", s(table.jones.casa_name()))?;
    main.put_kw(None, "PolBasis", s("unknown"))?;
    main.put_kw(None, "CASA_Version", s(concat!("contimg ", env!("CARGO_PKG_VERSION"))))?;

    let n = table.rows.len();
    main.add_rows(n)?;
    let rows = &table.rows;
    main.put("TIME", 0, &rows.iter().map(|r| r.time_mjd_s).collect::<Vec<_>>())?;
    main.put("INTERVAL", 0, &rows.iter().map(|r| r.interval_s).collect::<Vec<_>>())?;
    type IntOf = fn(&super::CalRow) -> i32;
    let ints: [(&str, IntOf); 6] = [
        ("FIELD_ID", |r| r.field_id),
        ("SPECTRAL_WINDOW_ID", |r| r.spw_id),
        ("ANTENNA1", |r| r.antenna1),
        ("ANTENNA2", |r| r.antenna2),
        ("SCAN_NUMBER", |r| r.scan_number),
        ("OBSERVATION_ID", |r| r.observation_id),
    ];
    for (c, f) in ints {
        main.put(c, 0, &rows.iter().map(f).collect::<Vec<_>>())?;
    }
    main.put_arr("CPARAM", 0, n, &cell, &rows.iter().flat_map(|r| r.cparam.iter().copied()).collect::<Vec<_>>())?;
    main.put_arr("PARAMERR", 0, n, &cell, &rows.iter().flat_map(|r| r.paramerr.iter().copied()).collect::<Vec<_>>())?;
    main.put_arr("FLAG", 0, n, &cell, &rows.iter().flat_map(|r| r.flag.iter().copied()).collect::<Vec<_>>())?;
    main.put_arr("SNR", 0, n, &cell, &rows.iter().flat_map(|r| r.snr.iter().copied()).collect::<Vec<_>>())?;
    main.put_arr("WEIGHT", 0, n, &cell, &rows.iter().flat_map(|r| r.weight.iter().copied()).collect::<Vec<_>>())?;
    for sub in SUBTABLES {
        let src = ms.join(sub);
        if src.join("table.dat").exists() {
            main.t.copy_subtable(&src, sub).op(|| format!("copy {} into the caltable", src.display()))?;
        } else if *sub == "SPECTRAL_WINDOW" || *sub == "ANTENNA" {
            return Err(MsError::NotAMs { path: ms.to_path_buf(), reason: format!("no {sub} subtable") });
        }
    }
    if table.jones == Jones::G {
        one_channel_spws(&main)?;
    }
    main.close()
}

/// A G table's spectral windows hold one channel, the whole window (as CASA's gaincal writes
/// them): CASA's applycal matches a G solution's frequency axis to the cell's one channel.
fn one_channel_spws(main: &Tab) -> Result<(), MsError> {
    let mut spw = main.sub("SPECTRAL_WINDOW")?;
    for r in 0..spw.n_rows()? {
        let freq: Vec<f64> = spw.cell("CHAN_FREQ", r)?;
        let width: Vec<f64> = spw.cell("CHAN_WIDTH", r)?;
        if freq.is_empty() {
            continue;
        }
        let lo = freq.iter().zip(&width).map(|(f, w)| f - w.abs() / 2.0).fold(f64::INFINITY, f64::min);
        let hi = freq.iter().zip(&width).map(|(f, w)| f + w.abs() / 2.0).fold(f64::NEG_INFINITY, f64::max);
        let centre = freq.iter().sum::<f64>() / freq.len() as f64;
        let total = hi - lo;
        let sign = if width.first().is_some_and(|w| *w < 0.0) { -1.0 } else { 1.0 };
        spw.put_arr("CHAN_FREQ", r, 1, &[1], &[centre])?;
        for c in ["CHAN_WIDTH", "EFFECTIVE_BW", "RESOLUTION"] {
            if spw.has_column(c)? {
                spw.put_arr(c, r, 1, &[1], &[if c == "CHAN_WIDTH" { sign * total } else { total }])?;
            }
        }
        spw.put("NUM_CHAN", r, &[1i32])?;
    }
    spw.close()
}

#[cfg(test)]
mod tests {
    use super::super::{read, CalRow};
    use super::*;
    use num_complex::Complex32;

    /// A tiny MS (2 antennas, one spw of 3 channels) to take subtables from.
    fn tiny_ms(dir: &Path) -> PathBuf {
        let p = dir.join("t.ms");
        let layout = casacore_sys::MsLayout {
            ncorr: 2,
            nchan: 3,
            data: true,
            weight_spectrum: false,
            model_data: false,
            corrected_data: false,
            tile_rows_vis: 4,
            tile_rows_flag: 4,
            tile_rows_uvw: 4,
            tile_rows_weight: 4,
        };
        let t = Table::create_ms(&p, &layout).unwrap();
        let mut spw = Tab::new(t.subtable("SPECTRAL_WINDOW").unwrap(), "SPECTRAL_WINDOW");
        spw.add_rows(1).unwrap();
        spw.put_arr("CHAN_FREQ", 0, 1, &[3], &[1.3e9, 1.4e9, 1.5e9]).unwrap();
        spw.put_arr("CHAN_WIDTH", 0, 1, &[3], &[1e8, 1e8, 1e8]).unwrap();
        spw.put("NUM_CHAN", 0, &[3]).unwrap();
        spw.close().unwrap();
        let mut ant = Tab::new(t.subtable("ANTENNA").unwrap(), "ANTENNA");
        ant.add_rows(2).unwrap();
        ant.close().unwrap();
        t.close().unwrap();
        p
    }

    fn row(ant: i32, nchan: usize, k: f32) -> CalRow {
        let n = 2 * nchan;
        CalRow {
            time_mjd_s: 5.0e9 + k as f64,
            interval_s: 60.0,
            field_id: 0,
            spw_id: 0,
            antenna1: ant,
            antenna2: 1,
            scan_number: 1,
            observation_id: 0,
            cparam: (0..n).map(|i| Complex32::new(k + i as f32, -(i as f32) * 0.5)).collect(),
            paramerr: (0..n).map(|i| 0.01 * i as f32).collect(),
            flag: (0..n).map(|i| i % 3 == 0).collect(),
            snr: (0..n).map(|i| 100.0 + i as f32).collect(),
            weight: vec![1.0; n],
        }
    }

    #[test]
    fn b_and_g_tables_round_trip_through_read() {
        let d = tempfile::tempdir().unwrap();
        let ms = tiny_ms(d.path());
        for (jones, nchan) in [(Jones::B, 3), (Jones::G, 1)] {
            let table = CalTable { jones, ms_name: ms.display().to_string(), n_pol: 2, n_chan: vec![nchan], rows: vec![row(0, nchan, 1.0), row(1, nchan, 2.0)] };
            let path = d.path().join(format!("x_{}", jones.casa_name().replace(' ', "")));
            write(&path, &table, &ms, false, &|| {}).unwrap();
            let back = read::read(&path).unwrap();
            assert_eq!(back.table, table);
            match jones {
                Jones::B => assert_eq!(back.spws[0].chan_freq_hz, vec![1.3e9, 1.4e9, 1.5e9]),
                // G: one channel spanning the window, as CASA writes it.
                Jones::G => {
                    assert_eq!(back.spws[0].chan_freq_hz, vec![1.4e9]);
                    assert_eq!(back.spws[0].chan_width_hz, vec![3e8]);
                }
            }
            // No staging directory is left, and a second write needs overwrite.
            assert!(!staging_path(&path).exists());
            assert!(write(&path, &table, &ms, false, &|| {}).is_err());
            let mut t2 = table.clone();
            t2.rows[0].cparam[0] = Complex32::new(7.0, 7.0);
            write(&path, &t2, &ms, true, &|| {}).unwrap();
            assert_eq!(read::read(&path).unwrap().table, t2);
            let info = fs::read_to_string(path.join("table.info")).unwrap();
            assert!(info.contains("Type = Calibration") && info.contains(jones.casa_name()), "{info}");
        }
    }

    #[test]
    fn refuses_cells_of_the_wrong_size() {
        let d = tempfile::tempdir().unwrap();
        let ms = tiny_ms(d.path());
        let mut r = row(0, 3, 1.0);
        r.snr.pop();
        let table = CalTable { jones: Jones::B, ms_name: String::new(), n_pol: 2, n_chan: vec![3], rows: vec![r] };
        let e = write(&d.path().join("bad"), &table, &ms, false, &|| {}).unwrap_err();
        assert_eq!(e.code(), "CALTABLE_SHAPE");
        assert!(e.to_string().contains("SNR"), "{e}");
        assert!(!d.path().join("bad").exists());
    }
}
