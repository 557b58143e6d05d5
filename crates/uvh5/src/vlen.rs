//! Checks the global heap behind variable-length strings before libhdf5 reads them.
//!
//! A variable-length string is stored as a reference (length, heap collection address, object
//! index) into a "global heap collection". libhdf5 1.10 trusts the object sizes it finds in a
//! collection: a corrupt size makes `H5HG_read` copy from far outside its buffer and the process
//! dies with SIGSEGV (found by fuzzing: fuzz/regressions/uvh5_file/vlen-string-*). Reading the
//! references and walking each collection ourselves first — signature, version, every object
//! inside the collection, the referenced object present and long enough — turns that into an
//! error (a cheaper and more precise one than the isolated child's `UVH5_CORRUPT`).
//! Only contiguous datasets (how h5py stores header strings) can be checked this way; others
//! are left to libhdf5.

use std::collections::BTreeSet;

use crate::chunkindex::ReadAt;

fn le(b: &[u8]) -> u64 {
    b.iter().take(8).enumerate().fold(0u64, |acc, (i, &x)| acc | ((x as u64) << (8 * i)))
}

/// Checks `n` variable-length references stored at file offset `refs_addr` (as libhdf5's
/// `H5Dget_offset` gives it: absolute). Heap addresses inside them are relative to `base`, the
/// superblock's base address. `so`/`sl`: its sizes of offsets and lengths.
pub fn check_refs<R: ReadAt + ?Sized>(file: &R, base: u64, so: usize, sl: usize, refs_addr: u64, n: usize) -> Result<(), String> {
    let file_len = file.len_bytes();
    // Reads `len` bytes at absolute file offset `start`, if they are all inside the file.
    let read = |start: u64, len: u64| -> Result<Vec<u8>, String> {
        let end = start.checked_add(len).ok_or("length overflows")?;
        if end > file_len {
            return Err(format!("{len} bytes at {start} lie past the end of the file ({file_len} bytes)"));
        }
        let mut buf = vec![0u8; len as usize];
        if !file.read_exact_at_addr(&mut buf, start) {
            return Err(format!("cannot read {len} bytes at {start}"));
        }
        Ok(buf)
    };
    let ref_len = 4 + so + 4;
    let refs = read(refs_addr, (n as u64).checked_mul(ref_len as u64).ok_or("too many strings")?)?;
    // Each collection once: (address) -> objects (index -> size).
    let mut checked: std::collections::BTreeMap<u64, std::collections::BTreeMap<u64, u64>> = Default::default();
    for r in refs.chunks_exact(ref_len) {
        let len = le(&r[..4]);
        let coll = le(&r[4..4 + so]);
        let index = le(&r[4 + so..]);
        if len == 0 && coll == 0 {
            continue; // an empty string / null reference
        }
        let objects = match checked.entry(coll) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let at = base.checked_add(coll).ok_or("heap address overflows")?;
                v.insert(collection(&read, at, sl)?)
            }
        };
        match objects.get(&index) {
            Some(&size) if size >= len => {}
            Some(&size) => return Err(format!("string of {len} bytes in a heap object of {size} bytes")),
            None => return Err(format!("heap collection at {coll} has no object {index}")),
        }
    }
    Ok(())
}

/// Walks one collection: its objects' indexes and sizes, each inside the collection.
fn collection(
    read: &dyn Fn(u64, u64) -> Result<Vec<u8>, String>,
    addr: u64,
    sl: usize,
) -> Result<std::collections::BTreeMap<u64, u64>, String> {
    let head = read(addr, 8 + sl as u64)?;
    if &head[..4] != b"GCOL" || head[4] != 1 {
        return Err(format!("no global heap collection at {addr}"));
    }
    let size = le(&head[8..8 + sl]);
    let body = read(addr, size)?;
    let obj_head = 8 + sl;
    let mut p = 8 + sl;
    let mut objects = std::collections::BTreeMap::new();
    let mut seen = BTreeSet::new();
    while p + obj_head <= body.len() {
        let index = le(&body[p..p + 2]);
        let osize = le(&body[p + 8..p + 8 + sl]);
        if index == 0 {
            break; // free space: the rest of the collection
        }
        let padded = osize.checked_add(7).map(|v| v & !7).ok_or("object size overflows")?;
        let end = (p as u64).checked_add(obj_head as u64).and_then(|v| v.checked_add(padded));
        if end.is_none_or(|e| e > body.len() as u64) || !seen.insert(index) {
            return Err(format!("heap collection at {addr}: object {index} of {osize} bytes runs past its end"));
        }
        objects.insert(index, osize);
        p = end.unwrap_or(u64::MAX) as usize;
    }
    Ok(objects)
}
