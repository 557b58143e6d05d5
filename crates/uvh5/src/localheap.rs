//! Checks the local heaps of symbol-table groups before libhdf5 reads them.
//!
//! A group in the earliest HDF5 format (h5py's default, so every UVH5 file pyuvdata writes) keeps
//! its link names in a "local heap": a prefix (signature "HEAP", version 0, data segment size,
//! offset of the first free block, data segment address) and a data segment in which each free
//! block starts with the offset of the next (1 ends the list) and its own size. libhdf5 checks
//! that free list when it first loads the data segment and, if it is bad, fails that lookup
//! ("bad heap free list") — but it has already kept the segment, and every later load of the
//! same heap in the same open file skips the check and succeeds (1.10.8 and 2.0 alike). So the
//! first lookup in such a group fails and the rest succeed: contimg took `Header/version` for
//! absent on a first open and read it on a second open of the same file while the first was
//! open (they share libhdf5's cache), and the two opens disagreed (fuzzing:
//! fuzz/regressions/uvh5_file/libhdf5-overread-heapfree-*).
//!
//! [`check`] walks the file's groups from the root — each group's object header, the Symbol
//! Table message in it, the heap it names and, through the group's B-tree and symbol nodes, its
//! members — and refuses a heap that libhdf5 2.x (h5py's) refuses on its first load, so every
//! open of such a file fails the same way. (1.10.8 refuses the same free lists but one: it does not
//! require a free block's own two fields to lie inside the segment, and reads them from past
//! its end.) It rejects nothing else: a malformed B-tree, symbol node or object header only ends
//! the walk there (libhdf5 judges those itself), and a group in the newer format (link
//! messages, no local heap) is not looked into. One addition: a free list that loops back on
//! itself, on which libhdf5 loops for ever (allocating as it goes).
//!
//! Everything read is bounded by the file's length (checked before allocating) and by a budget
//! of twice that in all; each object header and B-tree node is visited once.

use std::collections::HashSet;
use std::path::Path;

use crate::chunkindex::{find_message, ReadAt, Reader};
use crate::error::{Result, Uvh5Error};
use crate::probe::Superblock;

/// The Symbol Table message: the group's v1 B-tree address and local heap address.
const SYMBOL_TABLE_MSG: u16 = 0x0011;
/// libhdf5's end of a local heap's free list (`H5HL_FREE_NULL`).
const FREE_NULL: u64 = 1;
/// B-tree depth limit, as in `chunkindex`.
const MAX_DEPTH: usize = 32;

fn le(b: &[u8]) -> u64 {
    b.iter().take(8).enumerate().fold(0u64, |acc, (i, &x)| acc | ((x as u64) << (8 * i)))
}

/// The undefined address of a file whose addresses are `so` bytes wide: all ones.
fn undefined(so: usize) -> u64 {
    u64::MAX >> (64 - 8 * so.clamp(1, 8))
}

/// A file seen from its base address, to which every address inside it is relative.
struct Based<'a, R: ReadAt + ?Sized> {
    file: &'a R,
    base: u64,
}

impl<R: ReadAt + ?Sized> ReadAt for Based<'_, R> {
    fn len_bytes(&self) -> u64 {
        self.file.len_bytes().saturating_sub(self.base)
    }
    fn read_exact_at_addr(&self, buf: &mut [u8], addr: u64) -> bool {
        addr.checked_add(self.base).is_some_and(|a| self.file.read_exact_at_addr(buf, a))
    }
}

/// Checks the local heap of every symbol-table group in the file at `path` (see the module
/// documentation): `UVH5_CORRUPT` naming the group and what is wrong with its heap.
pub(crate) fn check(path: &Path, sb: &Superblock) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Uvh5Error::io(path, "open", e))?;
    check_groups(&file, sb).map_err(|detail| Uvh5Error::Corrupt { path: path.to_owned(), detail })
}

/// [`check`] over any [`ReadAt`]; the error says which group's heap is corrupt and how.
pub(crate) fn check_groups<R: ReadAt + ?Sized>(file: &R, sb: &Superblock) -> std::result::Result<(), String> {
    let (so, sl) = (sb.size_of_offsets as usize, sb.size_of_lengths as usize);
    if !(1..=8).contains(&so) || !(1..=8).contains(&sl) {
        return Ok(()); // not a superblock libhdf5 opens
    }
    let Some(root) = root_object_header(file, sb) else { return Ok(()) };
    let based = Based { file, base: sb.base_addr };
    let r = Reader::new(&based, so, sl);
    // Object headers already looked at (a group reached twice, by a second hard link or a
    // cycle, is checked once) and B-tree nodes already read.
    let mut headers = HashSet::new();
    let mut nodes = HashSet::new();
    let mut stack = vec![(root, String::new())];
    while let Some((oh, name)) = stack.pop() {
        if !headers.insert(oh) {
            continue;
        }
        // No Symbol Table message: not a group, or one in the newer format; or a header we
        // cannot parse, which libhdf5 judges for itself.
        let Some(stab) = find_message(&r, oh, SYMBOL_TABLE_MSG) else { continue };
        let (Some(btree), Some(heap_addr)) = (stab.get(..so).map(le), stab.get(so..2 * so).map(le)) else { continue };
        let group = if name.is_empty() { "the root group" } else { &name };
        let heap = match check_heap(&r, heap_addr) {
            Ok(Some(heap)) => heap,
            Ok(None) => return Ok(()), // the read budget is spent: stop here
            Err(what) => return Err(format!("{group}: corrupt local heap at address {heap_addr} ({what})")),
        };
        let mut leaves = Vec::new();
        // A malformed B-tree ends the walk below this group (its members listed so far stay).
        let _ = btree_leaves(&r, btree, None, 0, &mut nodes, &mut leaves);
        for snod in leaves {
            let Some((n, entries)) = symbol_node(&r, snod) else { continue };
            let entry_len = 2 * so + 24;
            for e in entries.chunks_exact(entry_len).take(n) {
                let member = name_in(&heap, le(&e[..so]));
                let path = if name.is_empty() { member } else { format!("{name}/{member}") };
                stack.push((le(&e[so..2 * so]), path));
            }
        }
    }
    Ok(())
}

/// The root group's object header address (relative to the base), from the superblock: in
/// versions 0 and 1 inside the root group's symbol table entry, in 2 and 3 a field of its own.
fn root_object_header<R: ReadAt + ?Sized>(file: &R, sb: &Superblock) -> Option<u64> {
    let so = sb.size_of_offsets as usize;
    let pos = match sb.version {
        // Fixed fields, then base, free-space, end-of-file and driver addresses, then the
        // entry: link name offset, object header address.
        0 => 24 + 4 * so + so,
        1 => 28 + 4 * so + so,
        // Fixed fields, then base, extension and end-of-file addresses.
        2 | 3 => 12 + 3 * so,
        _ => return None,
    };
    let mut buf = vec![0u8; so];
    file.read_exact_at_addr(&mut buf, sb.offset.checked_add(pos as u64)?).then(|| le(&buf))
}

/// Checks the local heap whose prefix is at `addr` as libhdf5 2.x does when it loads one
/// (`H5HL__hdr_deserialize`, `H5HL__fl_deserialize`), plus a free list that loops. Its data
/// segment, or `None` when the read budget is spent.
fn check_heap<R: ReadAt + ?Sized>(r: &Reader<R>, addr: u64) -> std::result::Result<Option<Vec<u8>>, String> {
    let (so, sl) = (r.so, r.sl);
    let file_len = r.file_len();
    let prefix_len = 8 + 2 * sl + so;
    if addr.checked_add(prefix_len as u64).is_none_or(|end| end > file_len) {
        return Err(format!("it lies past the end of the file ({file_len} bytes)"));
    }
    let Some(prefix) = r.bytes(addr, prefix_len) else { return Ok(None) };
    if &prefix[..4] != b"HEAP" {
        return Err("no local heap signature".into());
    }
    if prefix[4] != 0 {
        return Err(format!("version {}, expected 0", prefix[4]));
    }
    let size = le(&prefix[8..8 + sl]);
    let head = le(&prefix[8 + sl..8 + 2 * sl]);
    let data_addr = le(&prefix[8 + 2 * sl..]);
    if head != FREE_NULL && head >= size {
        return Err(format!("bad free list: it starts at offset {head}, past the {size}-byte data segment"));
    }
    if data_addr == undefined(so) {
        return Err("undefined data segment address".into());
    }
    if size == 0 {
        return Ok(Some(Vec::new()));
    }
    if data_addr.checked_add(size).is_none_or(|end| end > file_len) {
        return Err(format!("its {size}-byte data segment at address {data_addr} runs past the end of the file ({file_len} bytes)"));
    }
    let Some(data) = r.bytes(data_addr, size as usize) else { return Ok(None) };
    free_list(&data, head, sl)?;
    Ok(Some(data))
}

/// Walks a data segment's free list from `head`: each block inside the segment, header and
/// all, not linking to offset 0 (libhdf5's "free block size is zero?"), and no block twice.
fn free_list(data: &[u8], head: u64, sl: usize) -> std::result::Result<(), String> {
    let size = data.len() as u64;
    let mut seen = vec![0u64; data.len().div_ceil(64)];
    let mut off = head;
    while off != FREE_NULL {
        if off.checked_add(2 * sl as u64).is_none_or(|end| end > size) {
            return Err(format!("bad free list: a free block at offset {off} runs past the {size}-byte data segment"));
        }
        let o = off as usize; // < size, which is data.len()
        if seen[o / 64] & (1 << (o % 64)) != 0 {
            return Err(format!("bad free list: it loops back to offset {off}"));
        }
        seen[o / 64] |= 1 << (o % 64);
        let next = le(&data[o..o + sl]);
        let len = le(&data[o + sl..o + 2 * sl]);
        if next == 0 {
            return Err(format!("bad free list: the free block at offset {off} links to offset 0"));
        }
        if off.checked_add(len).is_none_or(|end| end > size) {
            return Err(format!("bad free list: the free block at offset {off} of {len} bytes runs past the {size}-byte data segment"));
        }
        off = next;
    }
    Ok(())
}

/// The addresses of the symbol nodes under the group B-tree node at `addr` (node type 0),
/// appended to `out`; `None` where the tree is malformed.
fn btree_leaves<R: ReadAt + ?Sized>(
    r: &Reader<R>,
    addr: u64,
    level: Option<u8>,
    depth: usize,
    visited: &mut HashSet<u64>,
    out: &mut Vec<u64>,
) -> Option<()> {
    if depth > MAX_DEPTH || addr == undefined(r.so) || !visited.insert(addr) {
        return None;
    }
    let (so, sl) = (r.so, r.sl);
    let head_len = 8 + 2 * so;
    let head = r.bytes(addr, head_len)?;
    if &head[..4] != b"TREE" || head[4] != 0 || level.is_some_and(|l| l != head[5]) {
        return None;
    }
    let level = head[5];
    let entries = le(&head[6..8]) as usize;
    // Keys (offsets into the heap, of length size) with a child address between each pair.
    let body = r.bytes(addr.checked_add(head_len as u64)?, (entries + 1) * sl + entries * so)?;
    for e in 0..entries {
        let at = e * (sl + so) + sl;
        let child = le(&body[at..at + so]);
        if level == 0 {
            out.push(child);
        } else {
            btree_leaves(r, child, Some(level - 1), depth + 1, visited, out)?;
        }
    }
    Some(())
}

/// A symbol node ("SNOD"): its number of entries and their bytes.
fn symbol_node<R: ReadAt + ?Sized>(r: &Reader<R>, addr: u64) -> Option<(usize, Vec<u8>)> {
    let head = r.bytes(addr, 8)?;
    if &head[..4] != b"SNOD" || head[4] != 1 {
        return None;
    }
    let n = le(&head[6..8]) as usize;
    let entries = r.bytes(addr.checked_add(8)?, n * (2 * r.so + 24))?;
    Some((n, entries))
}

/// The link name at `offset` in a heap's data segment, for messages.
fn name_in(heap: &[u8], offset: u64) -> String {
    let name = usize::try_from(offset).ok().and_then(|o| heap.get(o..)).and_then(|s| s.split(|&b| b == 0).next().filter(|_| s.contains(&0)));
    match name {
        Some(n) => String::from_utf8_lossy(n).into_owned(),
        None => format!("(name at heap offset {offset})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A superblock as `probe` gives it for a file without a user block, 8-byte addresses and lengths.
    fn sb() -> Superblock {
        Superblock { offset: 0, version: 0, eof_addr: 0, base_addr: 0, size_of_offsets: 8, size_of_lengths: 8 }
    }

    fn put(buf: &mut Vec<u8>, at: usize, bytes: &[u8]) {
        if buf.len() < at + bytes.len() {
            buf.resize(at + bytes.len(), 0);
        }
        buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn u64s(v: &[u64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// A heap prefix at `at`: data segment of `size` bytes at `data`, free list from `head`.
    fn heap(buf: &mut Vec<u8>, at: usize, size: u64, head: u64, data: u64) {
        put(buf, at, b"HEAP\0\0\0\0");
        put(buf, at + 8, &u64s(&[size, head, data]));
    }

    fn check_heap_at(file: &[u8], at: u64) -> std::result::Result<Option<Vec<u8>>, String> {
        check_heap(&Reader::new(file, 8, 8), at)
    }

    #[test]
    fn valid_heaps_pass() {
        // Names "" and "Header", then one free block of 64 bytes that ends the list (h5py's
        // root group heap).
        let mut f = vec![0u8; 32 + 88];
        heap(&mut f, 0, 88, 24, 32);
        put(&mut f, 32 + 8, b"Header\0");
        put(&mut f, 32 + 24, &u64s(&[FREE_NULL, 64]));
        let data = check_heap_at(&f, 0).unwrap().unwrap();
        assert_eq!(data.len(), 88);
        assert_eq!(name_in(&data, 8), "Header");
        // No free block at all.
        heap(&mut f, 0, 88, FREE_NULL, 32);
        assert!(check_heap_at(&f, 0).is_ok());
        // An empty heap.
        heap(&mut f, 0, 0, FREE_NULL, 32);
        assert_eq!(check_heap_at(&f, 0).unwrap().unwrap().len(), 0);
        // Two free blocks, the second before the first.
        heap(&mut f, 0, 88, 48, 32);
        put(&mut f, 32 + 48, &u64s(&[16, 40]));
        put(&mut f, 32 + 16, &u64s(&[FREE_NULL, 16]));
        assert!(check_heap_at(&f, 0).is_ok());
    }

    #[test]
    fn bad_free_lists_are_refused() {
        let base = || {
            let mut f = vec![0u8; 32 + 88];
            heap(&mut f, 0, 88, 24, 32);
            f
        };
        let err = |f: &[u8]| check_heap_at(f, 0).unwrap_err();
        // Head past the segment (libhdf5's header check).
        let mut f = base();
        heap(&mut f, 0, 88, 88, 32);
        assert!(err(&f).contains("starts at offset 88, past the 88-byte data segment"), "{}", err(&f));
        // A block whose size runs past the end (the fuzzed file's: 268435712 bytes at 584 of 704).
        let mut f = base();
        put(&mut f, 32 + 24, &u64s(&[FREE_NULL, 65]));
        assert!(err(&f).contains("free block at offset 24 of 65 bytes runs past the 88-byte"), "{}", err(&f));
        // A block whose own header would be read from past the end (libhdf5 1.10 reads it).
        let mut f = base();
        put(&mut f, 32 + 24, &u64s(&[80, 8]));
        assert!(err(&f).contains("a free block at offset 80 runs past"), "{}", err(&f));
        // A link to offset 0.
        let mut f = base();
        put(&mut f, 32 + 24, &u64s(&[0, 16]));
        assert!(err(&f).contains("links to offset 0"), "{}", err(&f));
        // A loop: 24 -> 48 -> 24.
        let mut f = base();
        put(&mut f, 32 + 24, &u64s(&[48, 16]));
        put(&mut f, 32 + 48, &u64s(&[24, 16]));
        assert!(err(&f).contains("loops back to offset 24"), "{}", err(&f));
        // A block that links to itself.
        let mut f = base();
        put(&mut f, 32 + 24, &u64s(&[24, 16]));
        assert!(err(&f).contains("loops back to offset 24"), "{}", err(&f));
        // A zero-size block is accepted, as libhdf5 accepts it.
        let mut f = base();
        put(&mut f, 32 + 24, &u64s(&[FREE_NULL, 0]));
        assert!(check_heap_at(&f, 0).is_ok());
    }

    #[test]
    fn bad_prefixes_are_refused() {
        let mut f = vec![0u8; 32 + 88];
        heap(&mut f, 0, 88, FREE_NULL, 32);
        assert!(check_heap_at(&f, 0).is_ok());
        assert!(check_heap_at(&f, 100).unwrap_err().contains("past the end of the file"));
        let mut g = f.clone();
        g[0] = b'X';
        assert!(check_heap_at(&g, 0).unwrap_err().contains("no local heap signature"));
        let mut g = f.clone();
        g[4] = 1;
        assert!(check_heap_at(&g, 0).unwrap_err().contains("version 1"));
        let mut g = f.clone();
        heap(&mut g, 0, 88, FREE_NULL, u64::MAX);
        assert!(check_heap_at(&g, 0).unwrap_err().contains("undefined data segment address"));
        let mut g = f.clone();
        heap(&mut g, 0, 1 << 40, FREE_NULL, 32);
        assert!(check_heap_at(&g, 0).unwrap_err().contains("runs past the end of the file"));
        let mut g = f.clone();
        heap(&mut g, 0, u64::MAX, FREE_NULL, 32);
        assert!(check_heap_at(&g, 0).unwrap_err().contains("runs past the end of the file"));
    }

    /// A v1 object header at `at` holding one Symbol Table message.
    fn group_header(f: &mut Vec<u8>, at: usize, btree: u64, heap: u64) {
        put(f, at, &[1, 0, 1, 0, 1, 0, 0, 0]);
        put(f, at + 8, &24u32.to_le_bytes());
        put(f, at + 16, &[0x11, 0, 16, 0, 0, 0, 0, 0]);
        put(f, at + 24, &u64s(&[btree, heap]));
    }

    /// A minimal file: superblock v0 whose root group (object header at 200) has heap at 300
    /// (data at 340) and B-tree at 400 with one symbol node at 500 holding "sub", a group whose
    /// object header is at 600 and heap at 700 (data at 740).
    fn tree() -> Vec<u8> {
        let mut f = vec![0u8; 1000];
        put(&mut f, 64, &u64s(&[200])); // root entry's object header address
        group_header(&mut f, 200, 400, 300);
        heap(&mut f, 300, 16, FREE_NULL, 340);
        put(&mut f, 340 + 8, b"sub\0");
        put(&mut f, 400, b"TREE\0\0\x01\0");
        put(&mut f, 408, &u64s(&[u64::MAX, u64::MAX, 0, 500, 8]));
        put(&mut f, 500, b"SNOD\x01\0\x01\0");
        put(&mut f, 508, &u64s(&[8, 600]));
        group_header(&mut f, 600, u64::MAX, 700);
        heap(&mut f, 700, 16, FREE_NULL, 740);
        f
    }

    #[test]
    fn the_walk_reaches_subgroups_and_names_them() {
        let f = tree();
        check_groups(f.as_slice(), &sb()).unwrap();
        let mut g = f.clone();
        heap(&mut g, 700, 32, 8, 740); // a free block at 8 whose link (the bytes there) is 0
        let e = check_groups(g.as_slice(), &sb()).unwrap_err();
        assert_eq!(e, "sub: corrupt local heap at address 700 (bad free list: the free block at offset 8 links to offset 0)");
        let mut g = f.clone();
        heap(&mut g, 300, 16, 16, 340);
        let e = check_groups(g.as_slice(), &sb()).unwrap_err();
        assert!(e.starts_with("the root group: corrupt local heap at address 300 (bad free list"), "{e}");
    }

    #[test]
    fn malformed_structures_around_heaps_end_the_walk_quietly() {
        // A B-tree that points to itself, a symbol node that is not one, a header that is no
        // group, a group reached twice: none is an error, and nothing loops.
        let mut f = tree();
        put(&mut f, 400, b"TREE\0\x01\x01\0"); // level 1 ...
        put(&mut f, 408 + 24, &u64s(&[400])); // ... whose child is itself
        check_groups(f.as_slice(), &sb()).unwrap();
        let mut f = tree();
        put(&mut f, 408 + 24, &u64s(&[400])); // level 0: the "symbol node" is the B-tree node
        check_groups(f.as_slice(), &sb()).unwrap();
        let mut f = tree();
        put(&mut f, 400, b"TREE\0\x01\x01\0"); // level 1: its child 500 is no B-tree node
        check_groups(f.as_slice(), &sb()).unwrap();
        let mut f = tree();
        put(&mut f, 508 + 8, &u64s(&[200])); // "sub" is the root group again
        check_groups(f.as_slice(), &sb()).unwrap();
        let mut f = tree();
        put(&mut f, 504, &u16::MAX.to_le_bytes()); // 65535 entries: past the end of the file
        check_groups(f.as_slice(), &sb()).unwrap();
        // Truncated anywhere: no panic.
        let f = tree();
        for n in 0..f.len() {
            let _ = check_groups(&f[..n], &sb());
        }
    }
}
