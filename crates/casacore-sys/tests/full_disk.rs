//! casacore on a full file system: every failure must come back as an error value. Before the
//! shim checked for room, casacore 3.5 threw from a destructor (~RegularFileIO flushing
//! table.dat) and the process died with SIGABRT, so this test binary aborted.
//!
//! Needs root (it mounts a small tmpfs), as CI has.

use std::path::{Path, PathBuf};
use std::process::Command;

use casacore_sys::{Complex32, ErrorKind, MsLayout, Table};

mod common;

/// A size-limited tmpfs, unmounted on drop. One at a time: casacore opens files without
/// O_CLOEXEC, so a `mount` child forked by a parallel test would hold them and make umount busy.
struct SmallFs {
    dir: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl SmallFs {
    fn mount(size_mb: u32) -> SmallFs {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(st.success(), "mounting a tmpfs failed: this test needs root");
        SmallFs { dir, _serial: serial }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn remount_read_only(&self) {
        let st = Command::new("mount").args(["-o", "remount,ro"]).arg(self.dir.path()).status().unwrap();
        assert!(st.success());
    }
}

/// Files this process holds open on `dir` (a leaked descriptor would also keep umount busy).
fn open_files_under(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.starts_with(dir))
        .collect()
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !ok {
            // Never leave a mount behind, even when a test failed with files open.
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}

fn layout(nchan: usize) -> MsLayout {
    common::layout(nchan, true, 256)
}

/// Writes blocks of DATA until casacore (or the shim) refuses; returns the error.
fn fill_until_error(t: &mut Table, nchan: usize) -> casacore_sys::CasaError {
    let rows = 512;
    let data = vec![Complex32::new(1.0, -1.0); rows * 2 * nchan];
    // 100 blocks of 512 rows × 2 × 256 × 8 B = 210 MB: far more than the file system holds.
    for block in 0..100 {
        let r = t.add_rows(rows).and_then(|_| t.put_arrays("DATA", block * rows, rows, &[2, nchan], &data)).and_then(|_| t.flush());
        if let Err(e) = r {
            return e;
        }
    }
    panic!("210 MB fitted into a 24 MB file system");
}

#[test]
fn full_disk_is_an_error_and_never_an_abort() {
    let fs = SmallFs::mount(24);
    let path = fs.path().join("full.ms");
    let nchan = 256;
    let mut t = Table::create_ms(&path, &layout(nchan)).unwrap();
    let e = fill_until_error(&mut t, nchan);
    eprintln!("first failure: {e}");
    assert_eq!(e.kind, ErrorKind::NoSpace, "{e}");
    assert!(e.message.contains("No space left on device"), "{}", e.message);
    assert!(e.message.contains(path.to_str().unwrap()), "the message names the table: {}", e.message);
    // The handle is broken now: writes fail at once, and close does not write (nor abort).
    let again = t.flush().unwrap_err();
    assert_eq!(again.kind, ErrorKind::Broken, "{again}");
    t.close().unwrap();
    assert_eq!(open_files_under(&fs.path()), Vec::<PathBuf>::new());
    // The failed MS can be removed, and the space is back.
    std::fs::remove_dir_all(&path).unwrap();
    assert_eq!(std::fs::read_dir(fs.path()).unwrap().count(), 0);
}

#[test]
fn full_disk_while_writing_subtables_and_dropping_handles() {
    // Dropping (not closing) every handle after the failure, as an early return does.
    let fs = SmallFs::mount(24);
    let path = fs.path().join("drop.ms");
    let nchan = 256;
    let mut t = Table::create_ms(&path, &layout(nchan)).unwrap();
    let mut ant = t.subtable("ANTENNA").unwrap();
    ant.add_rows(3).unwrap();
    let e = fill_until_error(&mut t, nchan);
    assert_eq!(e.kind, ErrorKind::NoSpace, "{e}");
    // The subtable of a broken MS is not written either.
    assert_eq!(ant.flush().unwrap_err().kind, ErrorKind::Broken);
    drop(ant);
    drop(t);
    assert!(Path::new(&path).exists());
    assert_eq!(open_files_under(&fs.path()), Vec::<PathBuf>::new());
}

#[test]
fn no_room_to_create_is_refused_before_casacore_writes() {
    let fs = SmallFs::mount(1);
    let path = fs.path().join("tiny.ms");
    let e = Table::create_ms(&path, &layout(16)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSpace, "{e}");
    assert!(e.message.contains("tiny.ms"), "{}", e.message);
}

#[test]
fn read_only_file_system_is_reported_as_such() {
    let fs = SmallFs::mount(32);
    fs.remount_read_only();
    let e = Table::create_ms(&fs.path().join("ro.ms"), &layout(16)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ReadOnly, "{e}");
    assert!(e.message.contains("ro.ms"), "{}", e.message);
}
