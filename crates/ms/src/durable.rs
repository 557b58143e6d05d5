//! Durability of a table directory (an MS, a caltable) before it is renamed into place: the
//! rename is only atomic against a crash if everything it publishes is already on disk.

use std::fs::{self, File};
use std::io;
use std::path::Path;

/// fsyncs every file and directory of a tree, children before their directory. An error names
/// the file or directory that failed.
pub fn sync_tree(dir: &Path) -> io::Result<()> {
    for e in fs::read_dir(dir).map_err(|e| named(dir, "list", e))? {
        let e = e.map_err(|e| named(dir, "list", e))?;
        let path = e.path();
        if e.file_type().map_err(|er| named(&path, "stat", er))?.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path).and_then(|f| f.sync_all()).map_err(|er| named(&path, "fsync", er))?;
        }
    }
    File::open(dir).and_then(|f| f.sync_all()).map_err(|e| named(dir, "fsync directory", e))
}

/// `e`, its message prefixed with what was being done to which path.
pub(crate) fn named(p: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
}
