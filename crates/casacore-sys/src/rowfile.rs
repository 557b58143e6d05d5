//! Whole rows of a tiled column read straight from the storage manager's file.
//!
//! casacore reads a tiled column through its tile cache: every tile is read into the cache, then
//! copied cell by cell into the caller's array, on one thread. For the visibility columns of an
//! MS that is half the speed of reading the file, and every calibration stage reads them whole.
//!
//! Where a `TiledColumnStMan` holds a fixed-shape column as one hypercube whose tiles span whole
//! cells (tile `[ncorr, nchan, k]` for cells `[ncorr, nchan]`: the layout `create_ms` writes),
//! tile `t` holds rows `t·k … t·k + k − 1` in row order, and the tiles lie one after another in
//! `table.f<seqnr>_TSM0`. Rows `r0 … r1` are then the bytes `r0·row … r1·row` of that file, in
//! the table's byte order. Only then, checked against casacore's own description of the column
//! and the file's size, are they read with `pread`; anything else goes through casacore.
//!
//! Never for a table that is writable in this process (casacore may hold written tiles in its
//! cache that the file does not have yet), and never for big-endian tables (not on this host's
//! byte order); `CONTIMG_CASACORE_DIRECT_READ=0` turns it off for comparisons.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

/// Where the rows of one column lie in one file.
#[derive(Debug)]
pub(crate) struct RowFile {
    file: File,
    row_bytes: u64,
    n_rows: u64,
    /// Cell shape in casacore order, as the rows in the file have it.
    cell_shape: Vec<usize>,
}

/// Whether direct reads are on (`CONTIMG_CASACORE_DIRECT_READ=0` turns them off).
pub(crate) fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("CONTIMG_CASACORE_DIRECT_READ").map_or(true, |v| v != "0"))
}

/// casacore's description of a tiled column (`ccs_table_column_tiling`), parsed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tiling {
    pub dm_type: String,
    pub seqnr: u32,
    pub n_cubes: usize,
    pub bucket_bytes: u64,
    pub little_endian: bool,
    pub table_path: String,
    pub cube_shape: Vec<usize>,
    pub tile_shape: Vec<usize>,
}

impl Tiling {
    pub(crate) fn parse(s: &str) -> Option<Tiling> {
        let f: Vec<&str> = s.split('\t').collect();
        let [dm_type, seqnr, n_cubes, bucket, little, path, cube, tile] = f.as_slice() else {
            return None;
        };
        let dims = |x: &str| x.split(',').map(|d| d.parse::<usize>().ok()).collect::<Option<Vec<_>>>();
        Some(Tiling {
            dm_type: dm_type.to_string(),
            seqnr: seqnr.parse().ok()?,
            n_cubes: n_cubes.parse().ok()?,
            bucket_bytes: bucket.parse().ok()?,
            little_endian: *little == "1",
            table_path: path.to_string(),
            cube_shape: dims(cube)?,
            tile_shape: dims(tile)?,
        })
    }
}

impl RowFile {
    /// The column's file, when its rows lie in it as described above; `None` otherwise.
    pub(crate) fn locate(t: &Tiling, n_rows: usize, elem_bytes: usize) -> Option<RowFile> {
        if t.dm_type != "TiledColumnStMan" || t.n_cubes != 1 || !t.little_endian || cfg!(target_endian = "big") {
            return None;
        }
        let (&cube_rows, cell) = t.cube_shape.split_last()?;
        let (&tile_rows, tile_cell) = t.tile_shape.split_last()?;
        if cell.is_empty() || cell != tile_cell || cube_rows != n_rows || tile_rows == 0 {
            return None;
        }
        let row_bytes = (cell.iter().product::<usize>() * elem_bytes) as u64;
        if row_bytes == 0 || t.bucket_bytes != row_bytes * tile_rows as u64 {
            return None;
        }
        let path = format!("{}/table.f{}_TSM0", t.table_path, t.seqnr);
        let file = File::open(path).ok()?;
        // Every tile written out, and nothing else in the file.
        let tiles = (n_rows as u64).div_ceil(tile_rows as u64);
        if file.metadata().ok()?.len() != tiles * t.bucket_bytes {
            return None;
        }
        Some(RowFile { file, row_bytes, n_rows: n_rows as u64, cell_shape: cell.to_vec() })
    }

    /// Whether `nrows` cells of `cell_shape` from `row0` can be read here.
    pub(crate) fn serves(&self, row0: usize, nrows: usize, cell_shape: &[usize]) -> bool {
        cell_shape == self.cell_shape && (row0 as u64).checked_add(nrows as u64).is_some_and(|end| end <= self.n_rows)
    }

    /// Reads rows `row0 …` into `out`, whose length is a whole number of rows. Large reads are
    /// split across threads: from the page cache one thread's copy runs at a few GB/s.
    pub(crate) fn read(&self, row0: usize, out: &mut [u8]) -> std::io::Result<()> {
        const CHUNK: usize = 32 << 20;
        let offset = row0 as u64 * self.row_bytes;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(out.len() / CHUNK).max(1);
        if threads == 1 {
            return self.file.read_exact_at(out, offset);
        }
        let rows = out.len() / self.row_bytes as usize;
        let per = rows.div_ceil(threads) * self.row_bytes as usize;
        std::thread::scope(|s| {
            let parts: Vec<_> = out
                .chunks_mut(per)
                .enumerate()
                .map(|(i, part)| s.spawn(move || self.file.read_exact_at(part, offset + (i * per) as u64)))
                .collect();
            parts.into_iter().try_for_each(|p| p.join().unwrap_or_else(|_| Err(std::io::Error::other("reader thread panicked"))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shims_description() {
        let t = Tiling::parse("TiledColumnStMan\t2\t1\t4190208\t1\t/x/y.ms\t2,768,111744\t2,768,341").unwrap();
        assert_eq!(t.seqnr, 2);
        assert_eq!(t.cube_shape, vec![2, 768, 111744]);
        assert_eq!(t.tile_shape, vec![2, 768, 341]);
        assert!(t.little_endian);
        assert_eq!(Tiling::parse("TiledColumnStMan\t2\t1"), None);
    }
}
