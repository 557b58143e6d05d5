//! The atomic FLAG update. The new FLAG is written into a staged copy of the MS beside it
//! (`.<name>.flag-<pid>`), which shares by hard link every tiled data file that does not hold
//! FLAG (DATA, WEIGHT_SPECTRUM, ...: nothing writes them) and has its own copy of everything
//! else (table.dat, headers, FLAG's files, subtables: small). Then the two directories are
//! exchanged in one `renameat2(RENAME_EXCHANGE)` and the old one, now under the staged name,
//! is removed. A SIGKILL at any instant leaves the MS with the old FLAG or the new one; the
//! next run removes a leftover staged directory (before the exchange it holds a partial new
//! state, after it the old one: garbage either way).
//!
//! Where the file system cannot exchange (EINVAL/ENOSYS), the MS is moved aside and the copy
//! renamed in; a crash between the two renames leaves the MS missing and
//! `.<name>.flag-old-<pid>` present, which the next run moves back (the old state).

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::CalibError;

fn io(path: &Path, what: &str, e: std::io::Error) -> CalibError {
    CalibError::Io { path: path.to_path_buf(), message: format!("{what}: {e}") }
}

fn parent_of(p: &Path) -> &Path {
    p.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

fn name_of(p: &Path) -> Result<String, CalibError> {
    p.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
        .ok_or_else(|| CalibError::InvalidArgument(format!("{}: not a directory name", p.display())))
}

/// Leftovers of killed runs: staged copies are removed; an MS moved aside by the fallback
/// path and never replaced is moved back.
pub fn recover(ms: &Path) -> Result<(), CalibError> {
    let parent = parent_of(ms);
    let name = name_of(ms)?;
    let (staged, aside) = (format!(".{name}.flag-"), format!(".{name}.flag-old-"));
    let Ok(entries) = fs::read_dir(parent) else { return Ok(()) };
    let mut leftovers: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    leftovers.sort();
    for p in leftovers {
        let Some(n) = p.file_name().and_then(|n| n.to_str()) else { continue };
        if n.starts_with(&aside) && !ms.exists() {
            fs::rename(&p, ms).map_err(|e| io(&p, &format!("move back to {}", ms.display()), e))?;
        } else if n.starts_with(&staged) {
            fs::remove_dir_all(&p).map_err(|e| io(&p, "remove leftover", e))?;
        }
    }
    Ok(())
}

/// Whether `dir/table.fN_TSMk` belongs to a storage manager whose header names FLAG (our MSs
/// put each tiled column in its own `Tiled<COLUMN>` manager, CASA's in `TiledFlag`). Unknown
/// layouts count as FLAG: copying is always safe, sharing only when nothing will write it.
fn may_hold_flag(dir: &Path, file: &str) -> bool {
    let Some(stem) = file.split("_TSM").next() else { return true };
    match fs::read(dir.join(stem)) {
        Ok(header) => header.windows(4).any(|w| w.eq_ignore_ascii_case(b"flag")),
        Err(_) => true,
    }
}

/// Builds `dst` from `src`: hard links for the tiled data files that do not hold FLAG,
/// copies of everything else (casacore's lock file excepted). Returns the copied files (to
/// fsync) and the bytes shared.
fn stage_tree(src: &Path, dst: &Path, copied: &mut Vec<PathBuf>, linked_bytes: &mut u64) -> Result<(), CalibError> {
    fs::create_dir(dst).map_err(|e| io(dst, "create directory", e))?;
    for e in fs::read_dir(src).map_err(|e| io(src, "list", e))? {
        let e = e.map_err(|e| io(src, "list", e))?;
        let (s, d) = (e.path(), dst.join(e.file_name()));
        let ft = e.file_type().map_err(|e| io(&s, "stat", e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if ft.is_dir() {
            stage_tree(&s, &d, copied, linked_bytes)?;
        } else if name == "table.lock" {
            continue;
        } else if casacore_sys::tiled_data_file_seqnr(&name).is_some() && !may_hold_flag(src, &name) {
            fs::hard_link(&s, &d).map_err(|e| io(&s, &format!("hard link to {}", d.display()), e))?;
            *linked_bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
        } else {
            fs::copy(&s, &d).map_err(|e| io(&s, &format!("copy to {}", d.display()), e))?;
            copied.push(d);
        }
    }
    copied.push(dst.to_path_buf());
    Ok(())
}

/// A staged copy of the MS, removed on drop unless committed.
pub struct Staged {
    ms: PathBuf,
    tmp: PathBuf,
    copied: Vec<PathBuf>,
    pub linked_bytes: u64,
}

impl Staged {
    pub fn begin(ms: &Path) -> Result<Staged, CalibError> {
        recover(ms)?;
        let tmp = parent_of(ms).join(format!(".{}.flag-{}", name_of(ms)?, std::process::id()));
        let mut staged = Staged { ms: ms.to_path_buf(), tmp, copied: Vec::new(), linked_bytes: 0 };
        let (mut copied, mut linked) = (Vec::new(), 0);
        stage_tree(ms, &staged.tmp, &mut copied, &mut linked)?;
        staged.copied = copied;
        staged.linked_bytes = linked;
        Ok(staged)
    }

    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// fsync what is new, exchange, fsync the parent, remove the old state.
    pub fn commit(mut self, fault: &dyn Fn(&str)) -> Result<(), CalibError> {
        for p in &self.copied {
            fs::File::open(p).and_then(|f| f.sync_all()).map_err(|e| io(p, "fsync", e))?;
        }
        let parent = parent_of(&self.ms).to_path_buf();
        let sync_parent = || fs::File::open(&parent).and_then(|f| f.sync_all()).map_err(|e| io(&parent, "fsync directory", e));
        fault("written");
        match exchange(&self.tmp, &self.ms) {
            Ok(()) => {
                sync_parent()?;
                fault("exchanged");
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
                let aside = parent.join(format!(".{}.flag-old-{}", name_of(&self.ms)?, std::process::id()));
                fs::rename(&self.ms, &aside).map_err(|e| io(&self.ms, "move aside", e))?;
                fs::rename(&self.tmp, &self.ms).map_err(|e| io(&self.tmp, &format!("rename to {}", self.ms.display()), e))?;
                sync_parent()?;
                fault("exchanged");
                self.tmp = aside;
            }
            Err(e) => return Err(io(&self.ms, &format!("exchange with {}", self.tmp.display()), e)),
        }
        // The staged name now holds the old state.
        fs::remove_dir_all(&self.tmp).map_err(|e| io(&self.tmp, "remove the old state", e))?;
        self.copied.clear();
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        // An error part-way: leave nothing behind (a SIGKILL leaves it for the next run).
        if self.tmp.exists() {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: two NUL-terminated paths relative to the working directory.
    let r = unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether we may replace the MS: the directory and its parent must be writable, and the MS
/// must not be marked read-only by its mode (no owner write bit), which root would otherwise
/// pass over.
pub fn check_writable(ms: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(ms).map_err(|e| format!("{}: {e}", ms.display()))?.permissions().mode();
    if mode & 0o200 == 0 {
        return Err(format!("{} has no write permission (mode {:o})", ms.display(), mode & 0o7777));
    }
    for p in [ms, parent_of(ms)] {
        let c = CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("{}: bad path", p.display()))?;
        // SAFETY: a NUL-terminated path.
        if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
            return Err(format!("{} is not writable ({})", p.display(), std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiled_data_file_names() {
        let is_tiled_data_file = |n: &str| casacore_sys::tiled_data_file_seqnr(n).is_some();
        assert!(is_tiled_data_file("table.f2_TSM0"));
        assert!(is_tiled_data_file("table.f12_TSM1"));
        assert!(!is_tiled_data_file("table.f2"));
        assert!(!is_tiled_data_file("table.f1i"));
        assert!(!is_tiled_data_file("table.dat"));
    }

    #[test]
    fn stage_links_only_the_data_files_that_do_not_hold_flag_and_recover_cleans_up() {
        let d = tempfile::tempdir().unwrap();
        let ms = d.path().join("x.ms");
        fs::create_dir_all(ms.join("ANTENNA")).unwrap();
        fs::write(ms.join("table.dat"), b"dat").unwrap();
        fs::write(ms.join("table.lock"), b"lock").unwrap();
        fs::write(ms.join("table.f2"), b"TiledColumnStMan TiledDATA").unwrap();
        fs::write(ms.join("table.f2_TSM0"), b"data").unwrap();
        fs::write(ms.join("table.f4"), b"TiledColumnStMan TiledFLAG").unwrap();
        fs::write(ms.join("table.f4_TSM0"), b"flag").unwrap();
        fs::write(ms.join("ANTENNA/table.dat"), b"ant").unwrap();
        let s = Staged::begin(&ms).unwrap();
        use std::os::unix::fs::MetadataExt;
        let ino = |p: &Path| fs::metadata(p).unwrap().ino();
        assert_eq!(ino(&ms.join("table.f2_TSM0")), ino(&s.path().join("table.f2_TSM0")));
        assert_ne!(ino(&ms.join("table.f4_TSM0")), ino(&s.path().join("table.f4_TSM0")));
        assert_ne!(ino(&ms.join("table.dat")), ino(&s.path().join("table.dat")));
        assert!(!s.path().join("table.lock").exists());
        assert_eq!(fs::read(s.path().join("ANTENNA/table.dat")).unwrap(), b"ant");
        // Simulate a crash: forget the guard; recover removes the copy.
        let tmp = s.path().to_path_buf();
        std::mem::forget(s);
        assert!(tmp.exists());
        recover(&ms).unwrap();
        assert!(!tmp.exists());
        // Commit exchanges: the MS gets the staged content, the old state is gone.
        let s = Staged::begin(&ms).unwrap();
        fs::write(s.path().join("table.f4_TSM0"), b"new flag").unwrap();
        s.commit(&|_| {}).unwrap();
        assert_eq!(fs::read(ms.join("table.f4_TSM0")).unwrap(), b"new flag");
        assert_eq!(fs::read(ms.join("table.f2_TSM0")).unwrap(), b"data");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
