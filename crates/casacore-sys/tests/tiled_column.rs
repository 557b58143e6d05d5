//! `Table::add_tiled_column_like`: CORRECTED_DATA added to an MS with DATA's cell and tile shape,
//! readable and writable in row ranges, and refused when it exists or its template does not.

use casacore_sys::{tiled_data_file_seqnr, Complex32, Table};

mod common;
use common::layout;

#[test]
fn corrected_data_is_added_tiled_like_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.ms");
    let mut t = Table::create_ms(&path, &layout(8, false, 16)).unwrap();
    t.add_rows(40).unwrap();
    let data: Vec<Complex32> = (0..40 * 16).map(|i| Complex32::new(i as f32, -(i as f32))).collect();
    t.put_arrays("DATA", 0, 40, &[2, 8], &data).unwrap();
    t.add_tiled_column_like("CORRECTED_DATA", "DATA").unwrap();
    let info = t.column_info("CORRECTED_DATA").unwrap();
    assert_eq!(info.fixed_shape, Some(vec![2, 8]));
    t.put_arrays("CORRECTED_DATA", 0, 40, &[2, 8], &data).unwrap();
    t.close().unwrap();

    let t = Table::open(&path, false).unwrap();
    let back: Vec<Complex32> = t.get_arrays("CORRECTED_DATA", 0, 40, &[2, 8]).unwrap();
    assert_eq!(back, data);
    // Its own tiled storage manager, with DATA's tile shape.
    let dminfo = std::fs::read(path.join("table.dat")).unwrap();
    assert!(dminfo.windows(19).any(|w| w == b"TiledCORRECTED_DATA"));
    drop(t);

    let mut t = Table::open(&path, true).unwrap();
    assert!(t.add_tiled_column_like("CORRECTED_DATA", "DATA").is_err());
    assert!(t.add_tiled_column_like("X", "NOPE").is_err());
}

#[test]
fn data_managers_name_each_columns_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.ms");
    let mut t = Table::create_ms(&path, &layout(4, true, 16)).unwrap();
    t.add_rows(10).unwrap();
    t.add_tiled_column_like("CORRECTED_DATA", "DATA").unwrap();
    t.flush().unwrap();
    let dms = t.data_managers().unwrap();
    // Every column of the table is in exactly one data manager.
    let mut all: Vec<String> = dms.iter().flat_map(|d| d.columns.clone()).collect();
    all.sort();
    let mut cols = t.column_names().unwrap();
    cols.sort();
    assert_eq!(all, cols);
    let corrected = dms.iter().find(|d| d.columns.contains(&"CORRECTED_DATA".to_string())).unwrap();
    assert_eq!(corrected.dm_type, "TiledColumnStMan");
    assert_eq!(corrected.name, "TiledCORRECTED_DATA");
    assert_eq!(corrected.columns, vec!["CORRECTED_DATA".to_string()]);
    // casacore's file naming: the manager's header and its hypercube file.
    assert!(path.join(format!("table.f{}", corrected.seqnr)).is_file());
    assert!(path.join(format!("table.f{}_TSM0", corrected.seqnr)).is_file());
    assert_eq!(tiled_data_file_seqnr(&format!("table.f{}_TSM0", corrected.seqnr)), Some(corrected.seqnr));
    for other in ["table.f3", "table.f3_TSM", "table.f_TSM0", "table.fx_TSM0", "table.dat", "table.f3_TSM0x"] {
        assert_eq!(tiled_data_file_seqnr(other), None, "{other}");
    }
    let flag = dms.iter().find(|d| d.columns.contains(&"FLAG".to_string())).unwrap();
    assert!(flag.dm_type.starts_with("Tiled"), "{flag:?}");
    assert!(dms.iter().all(|d| d.seqnr != corrected.seqnr || d.name == corrected.name));
}
