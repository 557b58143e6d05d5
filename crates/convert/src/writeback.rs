//! Early writeback of a MeasurementSet that is still being built.
//!
//! Without it the kernel keeps every written page dirty until the final fsync (a full group's
//! 2 GB stays below the dirty-background threshold of a machine with tens of GB of memory), so
//! the disk idles while we read and phase, and then the whole MS is written while we wait.
//! Asking the kernel after each block to start writing what is dirty (`sync_file_range` with
//! `SYNC_FILE_RANGE_WRITE`: start, do not wait) lets the disk work alongside the CPU, and the
//! final fsync only waits for the tail. It changes no byte and no durability guarantee: the
//! finished MS is still fsynced before it is announced.

use std::fs::File;
use std::path::{Path, PathBuf};

/// Files smaller than this are left to the final fsync: the bulk of an MS is a few big
/// storage-manager files, and opening every small one after each block would cost more than it saves.
const MIN_BYTES: u64 = 1 << 20;

pub struct Writeback {
    dir: PathBuf,
    files: Vec<(PathBuf, File)>,
}

impl Writeback {
    pub fn new(ms_path: &Path) -> Self {
        Writeback { dir: ms_path.to_owned(), files: Vec::new() }
    }

    /// Starts writeback of every big file of the table directory (not its subtables). Errors are
    /// ignored: this is only a hint, and the final fsync reports any real I/O error.
    pub fn kick(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let path = e.path();
                let big = e.metadata().map(|m| m.is_file() && m.len() >= MIN_BYTES).unwrap_or(false);
                if big && !self.files.iter().any(|(p, _)| *p == path) {
                    if let Ok(f) = File::open(&path) {
                        self.files.push((path, f));
                    }
                }
            }
        }
        for (_, f) in &self.files {
            start_writeback(f);
        }
    }
}

#[cfg(target_os = "linux")]
fn start_writeback(f: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor; offset 0 and length 0 mean "to the end of the file".
    unsafe {
        libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_f: &File) {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn kicks_big_files_and_leaves_their_bytes_alone() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("table.f1_TSM0");
        let bytes: Vec<u8> = (0..(2u32 << 20)).map(|i| (i % 251) as u8).collect();
        File::create(&big).unwrap().write_all(&bytes).unwrap();
        std::fs::write(dir.path().join("table.dat"), b"small").unwrap();
        let mut wb = Writeback::new(dir.path());
        wb.kick();
        wb.kick();
        assert_eq!(wb.files.len(), 1, "only the big file, opened once");
        assert_eq!(std::fs::read(&big).unwrap(), bytes);
    }
}
