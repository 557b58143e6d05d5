//! Big files written to disk behind their writer, through a page cache of bounded size.
//!
//! Every stage that writes a table (convert's MS, applycal's calibrated copy) fsyncs it before
//! announcing it, so its bytes must reach the disk before the stage ends anyway. Left to the
//! kernel, they first pile up as dirty page cache (a full group's 2–3 GB stays below the
//! dirty-background threshold of a machine with tens of GB), the disk idles while we compute,
//! and the final fsync writes everything while we wait.
//!
//! Worse, on a virtual machine whose host takes back free guest memory (virtio free page
//! reporting: the development VM, and cloud VMs generally), every page the page cache takes
//! from the free list faults on the host first. There, copying DATA of a full group (1.37 GB)
//! through the page cache and fsyncing it took 3.3–5.2 s; written behind, as below, 0.7–1.0 s,
//! because the same few hundred MB of pages are reused over and over while they are still
//! the guest's.
//!
//! So after each block the writer calls [`WriteBehind::kick`], which for every big file of the
//! table directory waits for the writeout started at the previous kick, drops those pages (now
//! clean) from the cache, and starts writing out what is dirty now. About two blocks per file
//! stay in memory and the final fsync waits only for the last one. No byte and no durability
//! guarantee changes: the kernel never drops a dirty page, and the finished table is still
//! fsynced before it is renamed into place. The price: a reader just after us reads those files
//! from disk rather than from memory. `CONTIMG_WRITE_BEHIND=0` keeps the pages cached (writeout
//! still starts after each block), for comparisons.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::durable::named;

/// Files smaller than this are left to the final fsync: the bulk of a table is a few big
/// storage-manager files, and opening every small one after each block would cost more than it
/// saves.
const MIN_BYTES: u64 = 1 << 20;

/// Chunk of [`copy_file`]: large enough for the disk, small enough that the cache it holds
/// between kicks stays small.
const COPY_CHUNK: usize = 16 << 20;

/// Whether written pages are dropped behind the writer (`CONTIMG_WRITE_BEHIND=0`: kept).
fn drop_behind() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("CONTIMG_WRITE_BEHIND").map_or(true, |v| v != "0"))
}

/// Writes out and drops the big files of one table directory (not its subtables) as they grow.
pub struct WriteBehind {
    dir: PathBuf,
    files: Vec<(PathBuf, File)>,
}

impl WriteBehind {
    pub fn new(table_dir: &Path) -> Self {
        WriteBehind { dir: table_dir.to_owned(), files: Vec::new() }
    }

    /// One step behind the writer (see the module's description). Errors are ignored: these
    /// are hints, and the final fsync reports any real I/O error.
    pub fn kick(&mut self) {
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for e in entries.flatten() {
                let path = e.path();
                let big = e.metadata().is_ok_and(|m| m.is_file() && m.len() >= MIN_BYTES);
                if big && !self.files.iter().any(|(p, _)| *p == path) {
                    if let Ok(f) = File::open(&path) {
                        self.files.push((path, f));
                    }
                }
            }
        }
        for (_, f) in &self.files {
            behind(f);
        }
    }
}

/// Waits for the writeout under way, drops the clean pages, starts writing out the dirty ones.
#[cfg(target_os = "linux")]
fn behind(f: &File) {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: a valid open descriptor; offset 0 and length 0 mean "the whole file".
    unsafe {
        if drop_behind() {
            libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WAIT_BEFORE);
            libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED);
        }
        libc::sync_file_range(fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn behind(_f: &File) {}

/// Copies the file `src` to the new file `dst` and returns its length. A file system that
/// clones (XFS, Btrfs) shares the blocks copy-on-write, instantly; otherwise the bytes are
/// streamed in chunks and written out behind the copy, as above. Not fsynced: the caller's
/// final sync of the tree does that (and, after the copy, has nothing left to wait for).
pub fn copy_file(src: &Path, dst: &Path) -> io::Result<u64> {
    let from = File::open(src).map_err(|e| named(src, "open", e))?;
    let len = from.metadata().map_err(|e| named(src, "stat", e))?.len();
    let to = std::fs::OpenOptions::new().write(true).create_new(true).open(dst).map_err(|e| named(dst, "create", e))?;
    if reflink(&from, &to) {
        return Ok(len);
    }
    let mut buf = vec![0u8; COPY_CHUNK.min(len as usize).max(1)];
    let mut at = 0u64;
    while at < len {
        let n = ((len - at) as usize).min(buf.len());
        from.read_exact_at(&mut buf[..n], at).map_err(|e| named(src, "read", e))?;
        to.write_all_at(&buf[..n], at).map_err(|e| named(dst, "write", e))?;
        behind(&to);
        at += n as u64;
    }
    Ok(len)
}

/// A copy-on-write clone of the whole file (FICLONE); false where the file system has none.
#[cfg(target_os = "linux")]
fn reflink(from: &File, to: &File) -> bool {
    use std::os::fd::AsRawFd;
    // FICLONE = _IOW(0x94, 9, int)
    const FICLONE: libc::c_ulong = 0x4004_9409;
    // SAFETY: two valid descriptors; the ioctl only reads its integer argument.
    unsafe { libc::ioctl(to.as_raw_fd(), FICLONE as _, from.as_raw_fd()) == 0 }
}

#[cfg(not(target_os = "linux"))]
fn reflink(_from: &File, _to: &File) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn kicks_big_files_and_leaves_their_bytes_alone() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("table.f1_TSM0");
        let bytes = pattern(2 << 20);
        File::create(&big).unwrap().write_all(&bytes).unwrap();
        std::fs::write(dir.path().join("table.dat"), b"small").unwrap();
        let mut wb = WriteBehind::new(dir.path());
        wb.kick();
        // More written after a kick is kept too (dirty pages are never dropped).
        std::fs::OpenOptions::new().append(true).open(&big).unwrap().write_all(&bytes).unwrap();
        wb.kick();
        assert_eq!(wb.files.len(), 1, "only the big file, opened once");
        assert_eq!(std::fs::read(&big).unwrap(), [bytes.clone(), bytes].concat());
    }

    #[test]
    fn copies_every_byte_of_files_of_any_length() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 4095, COPY_CHUNK - 1, COPY_CHUNK, 2 * COPY_CHUNK + 12345] {
            let (src, dst) = (dir.path().join(format!("s{len}")), dir.path().join(format!("d{len}")));
            let bytes = pattern(len);
            std::fs::write(&src, &bytes).unwrap();
            assert_eq!(copy_file(&src, &dst).unwrap(), len as u64);
            assert!(std::fs::read(&dst).unwrap() == bytes, "copy of {len} bytes differs");
        }
    }

    #[test]
    fn refuses_to_replace_a_file_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("s"), dir.path().join("d"));
        std::fs::write(&src, b"new").unwrap();
        std::fs::write(&dst, b"old").unwrap();
        let e = copy_file(&src, &dst).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains(&dst.display().to_string()), "{e}");
        assert_eq!(std::fs::read(&dst).unwrap(), b"old");
        let e = copy_file(&dir.path().join("missing"), &dir.path().join("x")).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
