//! The calibrated MS is built as a copy under a temporary name beside its final name
//! (`.<name>.partial-<pid>`), fsynced, and renamed: a SIGKILL at any instant leaves either no
//! output under the final name or the complete one, and the next run removes the leftovers.
//!
//! The data files of columns that the run rewrites cell by cell (FLAG, CORRECTED_DATA, and the
//! weights with calwt) are not copied: they are created at their size with nothing written
//! (sparse), and the row loop fills every cell. That is a third of a DSA-110 MS that would
//! otherwise be written twice.
//!
//! The rest is copied, and the rewritten columns are written, behind the writer
//! ([`ms::writebehind`]): the copy's 2–3 GB reach the disk while we work, through a page cache
//! of bounded size, and the final fsync has little left to wait for.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use casacore_sys::{tiled_data_file_seqnr, DataManager};

use crate::CalibError;

pub struct Staged {
    tmp: PathBuf,
    final_path: PathBuf,
    overwrite: bool,
}

fn io(path: &Path, what: &str, e: std::io::Error) -> CalibError {
    CalibError::Io { path: path.to_path_buf(), message: format!("{what}: {e}") }
}

fn tree_bytes(p: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for e in fs::read_dir(p)? {
        let e = e?;
        let ft = e.file_type()?;
        n += if ft.is_dir() { tree_bytes(&e.path())? } else { e.metadata()?.len() };
    }
    Ok(n)
}

/// The data managers of the main table whose tiled data files (`table.fN_TSMk`) need not be
/// copied: those that store only columns in `rewritten`. A manager holding any other column is
/// copied whole.
pub fn rewritten_managers(dms: &[DataManager], rewritten: &[&str]) -> HashSet<u32> {
    dms.iter()
        .filter(|d| d.dm_type.starts_with("Tiled") && !d.columns.is_empty() && d.columns.iter().all(|c| rewritten.contains(&c.as_str())))
        .map(|d| d.seqnr)
        .collect()
}

/// Whether `name` is a hypercube file of one of the managers in `fresh`.
fn is_fresh(fresh: &HashSet<u32>, name: &std::ffi::OsStr) -> bool {
    name.to_str().and_then(tiled_data_file_seqnr).is_some_and(|s| fresh.contains(&s))
}

/// `fresh` applies to the top directory only (the main table's files).
fn copy_tree(src: &Path, dst: &Path, fresh: &HashSet<u32>, done: &mut u64, total: u64, progress: &dyn Fn(usize, usize)) -> Result<(), CalibError> {
    fs::create_dir(dst).map_err(|e| io(dst, "create directory", e))?;
    for e in fs::read_dir(src).map_err(|e| io(src, "list", e))? {
        let e = e.map_err(|e| io(src, "list", e))?;
        let (s, d) = (e.path(), dst.join(e.file_name()));
        let ft = e.file_type().map_err(|e| io(&s, "stat", e))?;
        if ft.is_dir() {
            copy_tree(&s, &d, &HashSet::new(), done, total, progress)?;
        } else if ft.is_file() {
            // casacore's lock file belongs to the source's readers, not to the copy.
            if e.file_name() == "table.lock" {
                continue;
            }
            if is_fresh(fresh, &e.file_name()) {
                let len = e.metadata().map_err(|e| io(&s, "stat", e))?.len();
                fs::File::create(&d).and_then(|f| f.set_len(len)).map_err(|e| io(&d, "create", e))?;
                continue;
            }
            *done += ms::writebehind::copy_file(&s, &d).map_err(|e| io(&s, &format!("copy to {}", d.display()), e))?;
            progress(*done as usize, total as usize);
        }
    }
    Ok(())
}

impl Staged {
    /// Removes leftovers of killed runs, then copies `input` to the temporary name.
    /// `fresh`: data managers whose hypercube files are created empty rather than copied
    /// ([`rewritten_managers`]).
    pub fn begin(input: &Path, output: &Path, overwrite: bool, fresh: &HashSet<u32>, progress: &dyn Fn(usize, usize)) -> Result<Staged, CalibError> {
        let name = output
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| CalibError::InvalidArgument(format!("{}: not a file name", output.display())))?;
        let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if output.exists() && !overwrite {
            return Err(CalibError::Io { path: output.into(), message: "the output already exists (pass overwrite to replace it)".into() });
        }
        fs::create_dir_all(parent).map_err(|e| io(parent, "create directory", e))?;
        let prefix = format!(".{name}.partial-");
        for e in fs::read_dir(parent).map_err(|e| io(parent, "list", e))?.flatten() {
            if e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
                fs::remove_dir_all(e.path()).map_err(|er| io(&e.path(), "remove leftover", er))?;
            }
        }
        let tmp = parent.join(format!("{prefix}{}", std::process::id()));
        let total = tree_bytes(input).map_err(|e| io(input, "size", e))?;
        let mut done = 0;
        let staged = Staged { tmp, final_path: output.to_path_buf(), overwrite };
        if let Err(e) = copy_tree(input, &staged.tmp, fresh, &mut done, total, progress) {
            let _ = fs::remove_dir_all(&staged.tmp);
            return Err(e);
        }
        Ok(staged)
    }

    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// fsync everything, then rename into place (and fsync the parent).
    pub fn commit(self) -> Result<PathBuf, CalibError> {
        ms::durable::sync_tree(&self.tmp).map_err(|e| io(&self.tmp, "fsync", e))?;
        let parent = self.final_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut old = None;
        if self.final_path.exists() && self.overwrite {
            let aside = self.tmp.with_extension("old");
            fs::rename(&self.final_path, &aside).map_err(|e| io(&self.final_path, "move aside", e))?;
            old = Some(aside);
        }
        fs::rename(&self.tmp, &self.final_path).map_err(|e| io(&self.tmp, &format!("rename to {}", self.final_path.display()), e))?;
        fs::File::open(parent).and_then(|f| f.sync_all()).map_err(|e| io(parent, "fsync directory", e))?;
        if let Some(o) = old {
            let _ = fs::remove_dir_all(o);
        }
        Ok(self.final_path.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dm(seqnr: u32, dm_type: &str, columns: &[&str]) -> DataManager {
        DataManager { seqnr, dm_type: dm_type.into(), name: format!("dm{seqnr}"), columns: columns.iter().map(|c| c.to_string()).collect() }
    }

    #[test]
    fn only_managers_holding_nothing_but_rewritten_columns_are_left_uncopied() {
        let dms = [
            dm(0, "StandardStMan", &["FLAG_ROW", "WEIGHT"]),
            dm(2, "TiledColumnStMan", &["DATA"]),
            dm(3, "TiledColumnStMan", &["WEIGHT_SPECTRUM"]),
            dm(4, "TiledShapeStMan", &["FLAG"]),
            dm(5, "TiledShapeStMan", &["FLAG", "SIGMA_SPECTRUM"]),
            dm(12, "TiledColumnStMan", &["CORRECTED_DATA"]),
        ];
        let fresh = rewritten_managers(&dms, &["FLAG", "CORRECTED_DATA", "WEIGHT", "WEIGHT_SPECTRUM"]);
        let mut seqnrs: Vec<_> = fresh.iter().copied().collect();
        seqnrs.sort();
        assert_eq!(seqnrs, [3, 4, 12]);
        let is = |n: &str| is_fresh(&fresh, std::ffi::OsStr::new(n));
        assert!(is("table.f3_TSM0") && is("table.f4_TSM1") && is("table.f12_TSM0"));
        // The manager's header is always copied, and other managers' files are not matched by
        // a shared prefix (f1 is not f12).
        assert!(!is("table.f3") && !is("table.f1_TSM0") && !is("table.f5_TSM0") && !is("table.f3_TSM") && !is("table.f2_TSM0"));
        // Without calwt the weights are copied.
        assert_eq!(rewritten_managers(&dms, &["FLAG", "CORRECTED_DATA"]).len(), 2);
    }
}
