//! Cheap checks done before libhdf5 sees a file.
//!
//! libhdf5's own messages for a non-HDF5 or truncated file are a stack of internal frames;
//! reading the superblock ourselves lets us say plainly what is wrong, with sizes.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Result, Uvh5Error};

const SIGNATURE: [u8; 8] = [0x89, b'H', b'D', b'F', b'\r', b'\n', 0x1a, b'\n'];

/// Where the superblock was found and what it says about the file's length.
#[derive(Debug, Clone, Copy)]
pub struct Superblock {
    pub offset: u64,
    pub version: u8,
    /// End-of-file address recorded by the writer, relative to the base address.
    pub eof_addr: u64,
    pub base_addr: u64,
    /// Bytes per file address and per length field.
    pub size_of_offsets: u8,
    pub size_of_lengths: u8,
}

/// Verifies the HDF5 signature and that the file is at least as long as its superblock says.
pub fn probe(path: &Path) -> Result<Superblock> {
    let mut file = File::open(path).map_err(|e| Uvh5Error::io(path, "open", e))?;
    let len = file.metadata().map_err(|e| Uvh5Error::io(path, "stat", e))?.len();
    if len < 8 {
        let mut head = Vec::new();
        file.read_to_end(&mut head).map_err(|e| Uvh5Error::io(path, "read", e))?;
        return Err(Uvh5Error::NotHdf5 {
            path: path.to_owned(),
            detail: format!("the file is only {len} bytes long"),
        });
    }
    // The superblock may sit after a user block at 0, 512, 1024, 2048, ...
    let mut offset = 0u64;
    loop {
        if offset + 8 > len {
            return Err(Uvh5Error::NotHdf5 {
                path: path.to_owned(),
                detail: "no HDF5 signature (\\x89HDF\\r\\n\\x1a\\n) at offset 0 or any user-block offset"
                    .into(),
            });
        }
        let mut sig = [0u8; 8];
        file.read_exact_at(&mut sig, offset).map_err(|e| Uvh5Error::io(path, "read signature", e))?;
        if sig == SIGNATURE {
            break;
        }
        offset = if offset == 0 { 512 } else { offset * 2 };
    }
    let mut sb = [0u8; 96];
    let avail = (len - offset).min(sb.len() as u64) as usize;
    file.read_exact_at(&mut sb[..avail], offset)
        .map_err(|e| Uvh5Error::io(path, "read superblock", e))?;
    let version = sb[8];
    let (size_of_offsets, size_of_lengths, base_pos) = match version {
        // v0: 24 bytes of fixed fields; v1 adds indexed-storage K and a reserved word.
        0 | 1 => (sb[13] as usize, sb[14], if version == 0 { 24 } else { 28 }),
        2 | 3 => (sb[9] as usize, sb[10], 12),
        v => {
            return Err(Uvh5Error::NotHdf5 {
                path: path.to_owned(),
                detail: format!("unknown HDF5 superblock version {v}"),
            })
        }
    };
    if !matches!(size_of_offsets, 2 | 4 | 8) {
        return Err(Uvh5Error::NotHdf5 {
            path: path.to_owned(),
            detail: format!("invalid size of offsets {size_of_offsets} in superblock"),
        });
    }
    let read_addr = |pos: usize| -> Option<u64> {
        let bytes = sb.get(pos..pos + size_of_offsets)?;
        let mut v = 0u64;
        for (i, b) in bytes.iter().enumerate() {
            v |= (*b as u64) << (8 * i);
        }
        Some(v)
    };
    // v0/1: base, free-space info, end-of-file, driver info.  v2/3: base, extension, end-of-file.
    let eof_pos = base_pos + 2 * size_of_offsets;
    let (base_addr, eof_addr) = match (read_addr(base_pos), read_addr(eof_pos)) {
        (Some(b), Some(e)) if eof_pos + size_of_offsets <= avail => (b, e),
        _ => {
            return Err(Uvh5Error::Truncated {
                path: path.to_owned(),
                detail: format!("the file ends inside its superblock ({len} bytes)"),
            })
        }
    };
    let needed = base_addr.saturating_add(eof_addr);
    if eof_addr != u64::MAX && needed > len {
        return Err(Uvh5Error::Truncated {
            path: path.to_owned(),
            detail: format!(
                "the superblock records {needed} bytes but the file has {len} ({} missing)",
                needed - len
            ),
        });
    }
    Ok(Superblock {
        offset,
        version,
        eof_addr,
        base_addr,
        size_of_offsets: size_of_offsets as u8,
        size_of_lengths,
    })
}
