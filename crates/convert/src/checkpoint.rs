//! Resumable progress: `<checkpoint>` records how many blocks of rows the partial MS holds.
//!
//! It is written (to a temporary name, then renamed) only after the MS has been flushed, so
//! whatever it says is on disk. Its fingerprint covers the inputs (path, size, modification
//! time), the options and the block size: a checkpoint from any other conversion is ignored
//! and the conversion starts afresh.
//!
//! A flushed table is consistent, but casacore keeps writing after the flush: its bucket-based
//! storage managers (IncrementalStMan, StandardStMan) write buckets whenever their cache is
//! full, and a process killed between two flushes leaves bucket files that no longer match the
//! flushed index — reopening them corrupts the heap. So each checkpoint also snapshots the MS's
//! small files (the table description, the bucket files and the tiled managers' headers; not
//! the tile data files, which only ever grow and whose tiles up to the checkpoint are final)
//! and a resume restores them before reopening.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ConvertError;
use crate::ConvertConfig;

pub const FORMAT: &str = "contimg-convert-checkpoint/1";

#[derive(Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub format: String,
    pub fingerprint: String,
    pub ms_path: PathBuf,
    pub blocks_done: usize,
    pub rows_done: usize,
    /// Directory holding the snapshot of the MS's small files at this checkpoint.
    #[serde(default)]
    pub snapshot: Option<PathBuf>,
    /// NaN/Inf samples flagged in the rows written so far (the summary reports the total).
    #[serde(default)]
    pub non_finite: u64,
}

/// Files of an MS root that change after a flush and must be restored together: everything
/// but the tile data (`*_TSM*`) and the subtable directories.
fn snapshot_files(ms_path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(ms_path)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_file() && !name.contains("_TSM") && name != "table.lock" {
            out.push(e.path());
        }
    }
    Ok(out)
}

fn snapshot(ms_path: &Path, dir: &Path) -> Result<(), ConvertError> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| ConvertError::io(dir, "create checkpoint snapshot", e))?;
    for f in snapshot_files(ms_path).map_err(|e| ConvertError::io(ms_path, "list for snapshot", e))? {
        let to = dir.join(f.file_name().expect("file"));
        std::fs::copy(&f, &to).map_err(|e| ConvertError::io(&to, "snapshot", e))?;
    }
    Ok(())
}

/// Puts the snapshot's files back into the MS (dropping any newer small file not in it).
pub fn restore(cp: &Checkpoint) -> Result<(), ConvertError> {
    let Some(dir) = &cp.snapshot else { return Ok(()) };
    let keep: std::collections::BTreeSet<std::ffi::OsString> = std::fs::read_dir(dir)
        .map_err(|e| ConvertError::io(dir, "read checkpoint snapshot", e))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    for f in snapshot_files(&cp.ms_path).map_err(|e| ConvertError::io(&cp.ms_path, "list for restore", e))? {
        if !keep.contains(f.file_name().expect("file")) {
            let _ = std::fs::remove_file(&f);
        }
    }
    for name in keep {
        let from = dir.join(&name);
        let to = cp.ms_path.join(&name);
        std::fs::copy(&from, &to).map_err(|e| ConvertError::io(&to, "restore from snapshot", e))?;
    }
    Ok(())
}

pub fn fingerprint(inputs: &[PathBuf], cfg: &ConvertConfig, block_rows: usize) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    for p in inputs {
        h.update(p.to_string_lossy().as_bytes());
        if let Ok(m) = std::fs::metadata(p) {
            h.update(m.len().to_le_bytes());
            if let Ok(t) = m.modified() {
                if let Ok(d) = t.duration_since(std::time::UNIX_EPOCH) {
                    h.update(d.as_nanos().to_le_bytes());
                }
            }
        }
    }
    // Everything that changes the output; not threads, history or the checkpoint's own path.
    h.update(format!(
        "{:?}|{:?}|{}|{}|{}|{}|{:?}|{:?}|{}",
        cfg.phase_mode,
        cfg.phase_center,
        cfg.spw_per_subband,
        cfg.allow_missing,
        cfg.expected_subbands,
        cfg.imaging_columns,
        cfg.uvw_convention,
        cfg.input_phase,
        block_rows
    ));
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The checkpoint at `path`, if it belongs to this conversion and its MS exists.
pub fn load(path: &Path, fingerprint: &str, ms_path: &Path) -> Option<Checkpoint> {
    let cp: Checkpoint = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (cp.format == FORMAT
        && cp.fingerprint == fingerprint
        && cp.ms_path == ms_path
        && ms_path.join("table.dat").exists()
        && cp.snapshot.as_ref().is_some_and(|s| s.join("table.dat").exists()))
    .then_some(cp)
}

/// Records a checkpoint of a just-flushed MS. Snapshots alternate between two directories so
/// the one the current checkpoint names is never being rewritten.
pub fn save(path: &Path, fingerprint: &str, ms_path: &Path, blocks_done: usize, rows_done: usize, non_finite: u64) -> Result<(), ConvertError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ConvertError::io(dir, "create the checkpoint directory", e))?;
    }
    let snap = path.with_extension(format!("snap{}", blocks_done % 2));
    snapshot(ms_path, &snap)?;
    let cp = Checkpoint {
        format: FORMAT.into(),
        fingerprint: fingerprint.into(),
        ms_path: ms_path.to_owned(),
        blocks_done,
        rows_done,
        snapshot: Some(snap),
        non_finite,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&cp).expect("serialises")).map_err(|e| ConvertError::io(&tmp, "write checkpoint", e))?;
    std::fs::rename(&tmp, path).map_err(|e| ConvertError::io(path, "rename checkpoint into place", e))
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
    for k in 0..2 {
        let _ = std::fs::remove_dir_all(path.with_extension(format!("snap{k}")));
    }
}
