//! Listing a chunked dataset's chunks by reading its B-tree straight from the file.
//!
//! libhdf5 1.10 has no call that lists chunks in one pass: `H5Dget_chunk_info_by_coord`
//! iterates over every chunk to find one, so mapping a DSA-110 file's ~12,000 chunks that way
//! costs half a second per file, under libhdf5's global lock. The chunk index of a dataset
//! written with the default (earliest) format — h5py's and the DSA-110 correlator's — is a
//! version-1 B-tree whose nodes we can read with a few `pread`s. This module parses just that:
//! the object header (v1 or v2) to find the layout message, and the B-tree below it. Any other
//! layout version or index type returns `None` and the caller falls back to libhdf5.
//!
//! Every byte here comes from the file, so nothing is trusted: reads are checked against the
//! file's length before a buffer is allocated, every slice is bounds-checked, the B-tree walk
//! visits each node once (a cycle ends it) and stops at `max_chunks` entries. A malformed index
//! gives `None` — never a panic, a hang or an allocation larger than the file. The parser reads
//! through [`ReadAt`] so that it can be fuzzed over bytes in memory (`fuzz/`).
//!
//! Reference: the HDF5 File Format Specification, version 2.0 (object headers §IV.A, the
//! data layout message §IV.A.2.i, version 1 B-trees §III.A.1).

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// One allocated chunk: its first element's coordinates and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkEntry {
    pub offset: Vec<u64>,
    pub addr: u64,
    pub size: u32,
    pub filter_mask: u32,
}

/// Positioned reads from a file or from bytes in memory.
pub trait ReadAt {
    /// Total length in bytes.
    fn len_bytes(&self) -> u64;
    /// Fills `buf` from `addr`; false if that runs past the end or the read fails.
    fn read_exact_at_addr(&self, buf: &mut [u8], addr: u64) -> bool;
}

impl ReadAt for File {
    fn len_bytes(&self) -> u64 {
        self.metadata().map(|m| m.len()).unwrap_or(0)
    }
    fn read_exact_at_addr(&self, buf: &mut [u8], addr: u64) -> bool {
        self.read_exact_at(buf, addr).is_ok()
    }
}

impl ReadAt for [u8] {
    fn len_bytes(&self) -> u64 {
        self.len() as u64
    }
    fn read_exact_at_addr(&self, buf: &mut [u8], addr: u64) -> bool {
        let Ok(start) = usize::try_from(addr) else { return false };
        match start.checked_add(buf.len()).and_then(|end| self.get(start..end)) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
}

pub(crate) struct Reader<'a, R: ReadAt + ?Sized> {
    file: &'a R,
    file_len: u64,
    /// Size of file addresses (the superblock's "size of offsets").
    pub(crate) so: usize,
    /// Size of lengths.
    pub(crate) sl: usize,
    /// Bytes still allowed to be read: a valid index reads each byte of it once, so a walk
    /// that would read more than the file's length twice over is following garbage.
    budget: std::cell::Cell<u64>,
}

impl<'a, R: ReadAt + ?Sized> Reader<'a, R> {
    /// A reader of `file` whose addresses and lengths are `so` and `sl` bytes wide, allowed
    /// to read twice the file's length in all.
    pub(crate) fn new(file: &'a R, so: usize, sl: usize) -> Self {
        let file_len = file.len_bytes();
        let budget = std::cell::Cell::new(file_len.saturating_mul(2).saturating_add(4096));
        Reader { file, file_len, so, sl, budget }
    }

    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    /// `len` bytes at `addr`, or `None` if they are not all inside the file — checked before
    /// allocating, so a corrupt length can never ask for more memory than the file holds.
    pub(crate) fn bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let end = addr.checked_add(len as u64)?;
        if end > self.file_len || len as u64 > self.budget.get() {
            return None;
        }
        self.budget.set(self.budget.get() - len as u64);
        let mut buf = vec![0u8; len];
        self.file.read_exact_at_addr(&mut buf, addr).then_some(buf)
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter().take(8).enumerate().fold(0u64, |acc, (i, &x)| acc | ((x as u64) << (8 * i)))
}

const LAYOUT_MSG: u16 = 0x0008;
const CONTINUATION_MSG: u16 = 0x0010;
/// Object-header blocks followed (the first plus continuations); real headers use one or two.
const MAX_HEADER_BLOCKS: usize = 64;
/// B-tree depth limit; a v1 B-tree of 2^32 chunks with 2 entries per node is 32 deep.
const MAX_DEPTH: usize = 32;

/// Why a chunk index cannot be used for direct reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    /// Not a version-1 B-tree index (another layout version or index type): ask libhdf5
    /// where each chunk is.
    Unsupported,
    /// Malformed: bytes outside the file, bad signatures, cycles, keys out of order, more
    /// chunks than the shape allows. libhdf5 may still read such a file — and its per-chunk
    /// lookup and its reads can then disagree — so only libhdf5's own reads are used.
    Corrupt,
}

/// The chunks of the dataset whose object header is at `oh_addr`, with `rank` dimensions,
/// in key order; at most `max_chunks` (the number the dataset's shape allows).
pub fn chunks<R: ReadAt + ?Sized>(
    file: &R,
    oh_addr: u64,
    size_of_offsets: u8,
    size_of_lengths: u8,
    rank: usize,
    max_chunks: usize,
) -> Result<Vec<ChunkEntry>, Unusable> {
    use Unusable::{Corrupt, Unsupported};
    let (so, sl) = (size_of_offsets as usize, size_of_lengths as usize);
    if !(1..=8).contains(&so) || !(1..=8).contains(&sl) {
        return Err(Corrupt);
    }
    let r = Reader::new(file, so, sl);
    let layout = find_message(&r, oh_addr, LAYOUT_MSG).ok_or(Corrupt)?;
    // Layout message version 3, class 2 (chunked): dimensionality, B-tree address, dims.
    if layout.len() < 3 || layout[0] != 3 || layout[1] != 2 {
        return Err(Unsupported);
    }
    let ndims = layout[2] as usize; // rank + 1 (the element size)
    if ndims < 2 || ndims != rank + 1 {
        return Err(Corrupt);
    }
    let btree = le(layout.get(3..3 + r.so).ok_or(Corrupt)?);
    if btree == u64::MAX >> (64 - 8 * r.so) {
        return Ok(Vec::new()); // the undefined address: no chunk written yet
    }
    // The chunk dimensions (the last is the element size): libhdf5 compares keys divided by
    // them, so we do too.
    let dims_bytes = layout.get(3 + r.so..3 + r.so + 4 * ndims).ok_or(Corrupt)?;
    let chunk_dims: Vec<u64> = dims_bytes.chunks_exact(4).map(le).collect();
    if chunk_dims.contains(&0) {
        return Err(Corrupt);
    }
    let mut walk = Walk { r: &r, ndims, chunk_dims, max_chunks, out: Vec::new(), visited: HashSet::new() };
    walk.node(btree, None, 0, None).ok_or(Corrupt)?;
    Ok(walk.out)
}

/// Finds the first message of `kind` in an object header, following continuation blocks.
pub(crate) fn find_message<R: ReadAt + ?Sized>(r: &Reader<R>, oh_addr: u64, kind: u16) -> Option<Vec<u8>> {
    let sig = r.bytes(oh_addr, 4)?;
    if sig == b"OHDR" {
        return find_message_v2(r, oh_addr, kind);
    }
    let prefix = r.bytes(oh_addr, 16)?;
    if prefix[0] != 1 {
        return None;
    }
    let header_size = le(&prefix[8..12]) as usize;
    // Blocks of messages to scan: the first follows the 16-byte prefix.
    let mut blocks = vec![(oh_addr.checked_add(16)?, header_size)];
    let mut i = 0;
    while i < blocks.len() && i < MAX_HEADER_BLOCKS {
        let (addr, len) = blocks[i];
        i += 1;
        let block = r.bytes(addr, len)?;
        let mut p = 0;
        while p + 8 <= block.len() {
            let mtype = le(&block[p..p + 2]) as u16;
            let msize = le(&block[p + 2..p + 4]) as usize;
            let data = block.get(p + 8..p + 8 + msize)?;
            if mtype == kind {
                return Some(data.to_vec());
            }
            if mtype == CONTINUATION_MSG {
                blocks.push(continuation(r, data)?);
            }
            p += 8 + msize;
        }
    }
    None
}

/// A continuation message: the address and length of the next block of messages.
fn continuation<R: ReadAt + ?Sized>(r: &Reader<R>, data: &[u8]) -> Option<(u64, usize)> {
    let addr = le(data.get(..r.so)?);
    let len = usize::try_from(le(data.get(r.so..r.so + r.sl)?)).ok()?;
    Some((addr, len))
}

fn find_message_v2<R: ReadAt + ?Sized>(r: &Reader<R>, oh_addr: u64, kind: u16) -> Option<Vec<u8>> {
    // The fixed part is at most 4 + 2 + 16 + 4 + 8 = 34 bytes.
    let head = r.bytes(oh_addr, 34).or_else(|| r.bytes(oh_addr, 8))?;
    if head[4] != 2 {
        return None;
    }
    let flags = head[5];
    let mut p = 6;
    if flags & 0x20 != 0 {
        p += 16; // access/modification/change/birth times
    }
    if flags & 0x10 != 0 {
        p += 4; // attribute storage phase change values
    }
    let width = 1usize << (flags & 0x03);
    let chunk0 = usize::try_from(le(head.get(p..p + width)?)).ok()?;
    p += width;
    let creation_order = flags & 0x04 != 0;
    let mut blocks = vec![(oh_addr.checked_add(p as u64)?, chunk0)];
    let mut i = 0;
    while i < blocks.len() && i < MAX_HEADER_BLOCKS {
        let (addr, len) = blocks[i];
        let first = i == 0;
        i += 1;
        let mut block = r.bytes(addr, len)?;
        if !first {
            // Continuation blocks start with "OCHK" and end with a checksum.
            if block.len() < 8 || &block[..4] != b"OCHK" {
                return None;
            }
            block = block[4..block.len() - 4].to_vec();
        }
        let mut q = 0;
        let hdr = if creation_order { 6 } else { 4 };
        while q + hdr <= block.len() {
            let mtype = block[q] as u16;
            let msize = le(&block[q + 1..q + 3]) as usize;
            let data = block.get(q + hdr..q + hdr + msize)?;
            if mtype == kind {
                return Some(data.to_vec());
            }
            if mtype == CONTINUATION_MSG {
                blocks.push(continuation(r, data)?);
            }
            q += hdr + msize;
        }
    }
    None
}

/// A depth-first walk of a version-1 B-tree of raw-data chunks (node type 1).
struct Walk<'a, 'r, R: ReadAt + ?Sized> {
    r: &'a Reader<'r, R>,
    ndims: usize,
    chunk_dims: Vec<u64>,
    max_chunks: usize,
    out: Vec<ChunkEntry>,
    /// Nodes already read: a node reached twice means a cycle (or a shared subtree), which no
    /// valid index has, and would otherwise make the walk exponential.
    visited: HashSet<u64>,
}

impl<R: ReadAt + ?Sized> Walk<'_, '_, R> {
    /// Reads the node at `node`, whose level must be `level` (one less than its parent's) and
    /// whose keys must lie within `bounds` (the parent's keys either side of it). libhdf5 finds
    /// a chunk by descending through these keys, so a tree whose keys are not strictly
    /// ascending and nested is one where its lookups would miss chunks we list: refused.
    fn node(&mut self, node: u64, level: Option<u8>, depth: usize, bounds: Option<(&[u64], &[u64])>) -> Option<()> {
        if depth > MAX_DEPTH || !self.visited.insert(node) {
            return None;
        }
        let (r, ndims) = (self.r, self.ndims);
        let head_len = 8 + 2 * r.so;
        let head = r.bytes(node, head_len)?;
        if &head[..4] != b"TREE" || head[4] != 1 {
            return None;
        }
        let level_here = head[5];
        if level.is_some_and(|l| l != level_here) {
            return None;
        }
        let level = level_here;
        let entries = le(&head[6..8]) as usize;
        if level == 0 && self.out.len() + entries > self.max_chunks {
            return None;
        }
        let key_len = 8 + 8 * ndims;
        let body_len = (entries + 1) * key_len + entries * r.so;
        let body = r.bytes(node.checked_add(head_len as u64)?, body_len)?;
        if entries == 0 {
            return None;
        }
        // Keys 0..=entries (each a chunk's offsets), with a child address between each pair.
        let key_at = |e: usize| &body[e * (key_len + r.so)..e * (key_len + r.so) + key_len];
        let offsets = |key: &[u8]| (0..ndims).map(|d| le(&key[8 + 8 * d..16 + 8 * d])).collect::<Vec<u64>>();
        let keys: Vec<Vec<u64>> = (0..=entries).map(|e| offsets(key_at(e))).collect();
        // Ordered as libhdf5 orders them: in units of chunks (an offset inside a chunk ties
        // with that chunk's own key, and libhdf5's lookup then misses it).
        let scaled: Vec<Vec<u64>> =
            keys.iter().map(|k| k.iter().zip(&self.chunk_dims).map(|(o, d)| o / d).collect()).collect();
        if scaled.windows(2).any(|w| w[0] >= w[1]) {
            return None;
        }
        // A chunk's key ends with its offset in the element-size dimension, always 0; libhdf5
        // compares it like the others, so a non-zero one hides the chunk from its lookups.
        if keys[..entries].iter().any(|k| k[ndims - 1] != 0) {
            return None;
        }
        if let Some((lo, hi)) = bounds {
            if scaled[0].as_slice() < lo || scaled[entries].as_slice() > hi {
                return None;
            }
        }
        for e in 0..entries {
            let k = e * (key_len + r.so);
            let key = key_at(e);
            let child = le(&body[k + key_len..k + key_len + r.so]);
            if level == 0 {
                self.out.push(ChunkEntry {
                    size: le(&key[0..4]) as u32,
                    filter_mask: le(&key[4..8]) as u32,
                    // The last offset belongs to the element-size dimension and is always 0.
                    offset: keys[e][..ndims - 1].to_vec(),
                    addr: child,
                });
            } else {
                self.node(child, Some(level - 1), depth + 1, Some((&scaled[e], &scaled[e + 1])))?;
            }
        }
        Some(())
    }
}

#[cfg(test)]
#[path = "chunkindex_tests.rs"]
mod tests;
