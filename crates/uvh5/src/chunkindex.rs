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
//! Reference: the HDF5 File Format Specification, version 2.0 (object headers §IV.A, the
//! data layout message §IV.A.2.i, version 1 B-trees §III.A.1).

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

struct Reader<'a> {
    file: &'a File,
    /// Size of file addresses (the superblock's "size of offsets").
    so: usize,
    /// Size of lengths.
    sl: usize,
}

impl Reader<'_> {
    fn bytes(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, addr).ok()?;
        Some(buf)
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter().enumerate().fold(0u64, |acc, (i, &x)| acc | ((x as u64) << (8 * i)))
}

const LAYOUT_MSG: u16 = 0x0008;
const CONTINUATION_MSG: u16 = 0x0010;

/// The chunks of the dataset whose object header is at `oh_addr`, with `rank` dimensions.
pub fn chunks(file: &File, oh_addr: u64, size_of_offsets: u8, size_of_lengths: u8, rank: usize) -> Option<Vec<ChunkEntry>> {
    let r = Reader { file, so: size_of_offsets as usize, sl: size_of_lengths as usize };
    let layout = find_message(&r, oh_addr, LAYOUT_MSG)?;
    // Layout message version 3, class 2 (chunked): dimensionality, B-tree address, dims.
    if layout.len() < 3 || layout[0] != 3 || layout[1] != 2 {
        return None;
    }
    let ndims = layout[2] as usize; // rank + 1 (the element size)
    if ndims != rank + 1 {
        return None;
    }
    let btree = le(layout.get(3..3 + r.so)?);
    if btree == u64::MAX {
        return Some(Vec::new()); // no chunk written yet
    }
    let mut out = Vec::new();
    walk(&r, btree, ndims, &mut out, 0)?;
    Some(out)
}

/// Finds the first message of `kind` in an object header, following continuation blocks.
fn find_message(r: &Reader, oh_addr: u64, kind: u16) -> Option<Vec<u8>> {
    let sig = r.bytes(oh_addr, 4)?;
    if &sig == b"OHDR" {
        return find_message_v2(r, oh_addr, kind);
    }
    let prefix = r.bytes(oh_addr, 16)?;
    if prefix[0] != 1 {
        return None;
    }
    let header_size = le(&prefix[8..12]) as usize;
    // Blocks of messages to scan: the first follows the 16-byte prefix.
    let mut blocks = vec![(oh_addr + 16, header_size)];
    let mut i = 0;
    while i < blocks.len() && i < 64 {
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
                blocks.push((le(&data[..r.so]), le(&data[r.so..r.so + r.sl]) as usize));
            }
            p += 8 + msize;
        }
    }
    None
}

fn find_message_v2(r: &Reader, oh_addr: u64, kind: u16) -> Option<Vec<u8>> {
    let head = r.bytes(oh_addr, 32)?;
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
    let chunk0 = le(&head[p..p + width]) as usize;
    p += width;
    let creation_order = flags & 0x04 != 0;
    let mut blocks = vec![(oh_addr + p as u64, chunk0)];
    let mut i = 0;
    while i < blocks.len() && i < 64 {
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
                blocks.push((le(&data[..r.so]), le(&data[r.so..r.so + r.sl]) as usize));
            }
            q += hdr + msize;
        }
    }
    None
}

/// Walks a version-1 B-tree of raw-data chunks (node type 1), depth first.
fn walk(r: &Reader, node: u64, ndims: usize, out: &mut Vec<ChunkEntry>, depth: usize) -> Option<()> {
    if depth > 32 {
        return None;
    }
    let head = r.bytes(node, 8 + 2 * r.so)?;
    if &head[..4] != b"TREE" || head[4] != 1 {
        return None;
    }
    let level = head[5];
    let entries = le(&head[6..8]) as usize;
    let key_len = 8 + 8 * ndims;
    let body_len = (entries + 1) * key_len + entries * r.so;
    let body = r.bytes(node + (8 + 2 * r.so) as u64, body_len)?;
    for e in 0..entries {
        let k = e * (key_len + r.so);
        let key = &body[k..k + key_len];
        let child = le(&body[k + key_len..k + key_len + r.so]);
        if level == 0 {
            out.push(ChunkEntry {
                size: le(&key[0..4]) as u32,
                filter_mask: le(&key[4..8]) as u32,
                // The last offset belongs to the element-size dimension and is always 0.
                offset: (0..ndims - 1).map(|d| le(&key[8 + 8 * d..16 + 8 * d])).collect(),
                addr: child,
            });
        } else {
            walk(r, child, ndims, out, depth + 1)?;
        }
    }
    Some(())
}
