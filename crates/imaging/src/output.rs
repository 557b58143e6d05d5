//! The output files of one imaging run: each is written under `<name>.partial` and renamed only
//! when the whole set is written, the restored image last. A run that fails (a full disk, an
//! error, a cancel) removes its partial files, so nothing of it is left to fill the disk or to be
//! mistaken for a product, and a rerun starts clean.

use std::path::{Path, PathBuf};

use crate::error::ImagingError;

/// Suffixes of every file the imager writes (after the output prefix).
pub const SUFFIXES: [&str; 7] = [".image.fits", ".residual.fits", ".model.fits", ".psf.fits", ".image.png", ".pb.fits", ".image.pbcor.fits"];

pub struct Partials {
    prefix: PathBuf,
    /// (temporary, final) pairs, in the order they are renamed.
    files: Vec<(PathBuf, PathBuf)>,
}

impl Partials {
    /// Starts the set for `prefix`, removing partial files a killed run left there (they carry
    /// this prefix, so they are this image's and cannot be anyone else's).
    pub fn new(prefix: &Path) -> Partials {
        let p = Partials { prefix: prefix.to_path_buf(), files: Vec::new() };
        for s in SUFFIXES {
            let _ = std::fs::remove_file(p.path(&format!("{s}.partial")));
        }
        p
    }

    fn path(&self, suffix: &str) -> PathBuf {
        let mut p = self.prefix.clone().into_os_string();
        p.push(suffix);
        PathBuf::from(p)
    }

    /// Writes the file for `suffix` under its temporary name with `write`.
    pub fn write(&mut self, suffix: &str, write: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<(), ImagingError> {
        let (tmp, fin) = (self.path(&format!("{suffix}.partial")), self.path(suffix));
        // Registered before writing, so that a failed write is removed too.
        self.files.push((tmp.clone(), fin));
        write(&tmp).map_err(|source| ImagingError::Io { path: tmp, source })
    }

    /// Renames every file into place (in the order written) and returns the final paths.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, ImagingError> {
        for i in 0..self.files.len() {
            let (tmp, fin) = &self.files[i];
            if let Err(source) = std::fs::rename(tmp, fin) {
                let path = fin.clone();
                // Files renamed already form an incomplete set without the restored image (it
                // is renamed last), which the next run replaces; the rest are removed on drop.
                self.files.drain(..i);
                return Err(ImagingError::Io { path, source });
            }
        }
        Ok(std::mem::take(&mut self.files).into_iter().map(|(_, f)| f).collect())
    }
}

impl Drop for Partials {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}
