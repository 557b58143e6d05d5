//! Rows of tiled columns read straight from their files (src/rowfile.rs) are the rows casacore
//! wrote, for any row range, with a partly filled last tile; and the reads go through casacore
//! wherever the file may not hold them (a writable table, unflushed writes, bit-packed FLAG).

use casacore_sys::{Complex32, Table};

mod common;

const NCHAN: usize = 8;
const ROWS: usize = 45; // two full tiles of 16 rows and one of 13

fn data(seed: f32) -> Vec<Complex32> {
    (0..ROWS * 2 * NCHAN).map(|i| Complex32::new(seed + i as f32, -(i as f32) * 0.5)).collect()
}

fn weights() -> Vec<f32> {
    (0..ROWS * 2 * NCHAN).map(|i| 1.0 + (i % 7) as f32).collect()
}

fn flags() -> Vec<bool> {
    (0..ROWS * 2 * NCHAN).map(|i| i % 3 == 0).collect()
}

fn write_ms(path: &std::path::Path) {
    let mut t = Table::create_ms(path, &common::layout(NCHAN, true, 16)).unwrap();
    t.add_rows(ROWS).unwrap();
    t.put_arrays("DATA", 0, ROWS, &[2, NCHAN], &data(0.0)).unwrap();
    t.put_arrays("WEIGHT_SPECTRUM", 0, ROWS, &[2, NCHAN], &weights()).unwrap();
    t.put_arrays("FLAG", 0, ROWS, &[2, NCHAN], &flags()).unwrap();
    t.close().unwrap();
}

#[test]
fn every_row_range_reads_back_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.ms");
    write_ms(&path);
    let t = Table::open(&path, false).unwrap();
    assert!(t.reads_directly::<Complex32>("DATA").unwrap());
    assert!(t.reads_directly::<f32>("WEIGHT_SPECTRUM").unwrap());
    // FLAG's file holds bits, not bools; another type than the column's is casacore's to convert.
    assert!(!t.reads_directly::<bool>("FLAG").unwrap());
    assert!(!t.reads_directly::<f64>("WEIGHT_SPECTRUM").unwrap());
    let (d, w, f) = (data(0.0), weights(), flags());
    let cell = 2 * NCHAN;
    for row0 in 0..ROWS {
        for n in 1..=ROWS - row0 {
            let got: Vec<Complex32> = t.get_arrays("DATA", row0, n, &[2, NCHAN]).unwrap();
            assert_eq!(got, d[row0 * cell..(row0 + n) * cell], "DATA rows {row0}+{n}");
        }
        let got: Vec<f32> = t.get_arrays("WEIGHT_SPECTRUM", row0, ROWS - row0, &[2, NCHAN]).unwrap();
        assert_eq!(got, w[row0 * cell..]);
        let got: Vec<bool> = t.get_arrays("FLAG", row0, ROWS - row0, &[2, NCHAN]).unwrap();
        assert_eq!(got, f[row0 * cell..]);
    }
    // Past the end is the same error as through casacore.
    assert!(t.get_arrays::<Complex32>("DATA", 40, 6, &[2, NCHAN]).is_err());
    assert!(t.get_arrays::<Complex32>("DATA", 0, 1, &[2, NCHAN + 1]).is_err());
}

#[test]
fn unflushed_writes_are_read_through_casacore() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.ms");
    write_ms(&path);
    let mut w = Table::open(&path, true).unwrap();
    assert!(!w.reads_directly::<Complex32>("DATA").unwrap());
    let new = data(1000.0);
    w.put_arrays("DATA", 0, ROWS, &[2, NCHAN], &new).unwrap();
    let got: Vec<Complex32> = w.get_arrays("DATA", 0, ROWS, &[2, NCHAN]).unwrap();
    assert_eq!(got, new);
    // A read-only handle opened meanwhile in this process shares casacore's table object, and
    // with it the tiles not yet in the file.
    let r = Table::open(&path, false).unwrap();
    let got: Vec<Complex32> = r.get_arrays("DATA", 3, 20, &[2, NCHAN]).unwrap();
    assert_eq!(got, new[3 * 2 * NCHAN..23 * 2 * NCHAN]);
    drop(r);
    w.close().unwrap();
    let r = Table::open(&path, false).unwrap();
    assert!(r.reads_directly::<Complex32>("DATA").unwrap());
    let got: Vec<Complex32> = r.get_arrays("DATA", 0, ROWS, &[2, NCHAN]).unwrap();
    assert_eq!(got, new);
}
