//! Resumable progress: `<checkpoint>` records how many blocks of rows the partial MS holds.
//!
//! It is written (to a temporary name, then renamed) only after the MS has been flushed, so
//! whatever it says is on disk. Its fingerprint covers the inputs (path, size, modification
//! time), the options and the block size: a checkpoint from any other conversion is ignored
//! and the conversion starts afresh.

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
    (cp.format == FORMAT && cp.fingerprint == fingerprint && cp.ms_path == ms_path && ms_path.join("table.dat").exists())
        .then_some(cp)
}

pub fn save(path: &Path, fingerprint: &str, ms_path: &Path, blocks_done: usize, rows_done: usize) -> Result<(), ConvertError> {
    let cp = Checkpoint {
        format: FORMAT.into(),
        fingerprint: fingerprint.into(),
        ms_path: ms_path.to_owned(),
        blocks_done,
        rows_done,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ConvertError::io(dir, "create the checkpoint directory", e))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&cp).expect("serialises")).map_err(|e| ConvertError::io(&tmp, "write checkpoint", e))?;
    std::fs::rename(&tmp, path).map_err(|e| ConvertError::io(path, "rename checkpoint into place", e))
}

pub fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}
