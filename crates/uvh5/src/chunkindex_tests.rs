//! Hostile chunk indexes, built byte by byte. The short continuation message and the short v2
//! header panicked the parser before it checked what it read, and the oversized header
//! allocated 4 GiB (verified against the previous parser); the others pin the new limits.

use super::*;

const SO: u8 = 8;

/// A v1 object header at 0 holding `messages` (type, data), in a 16-byte prefix + message block.
fn v1_header(messages: &[(u16, Vec<u8>)], header_size: Option<u32>) -> Vec<u8> {
    let mut block = Vec::new();
    for (kind, data) in messages {
        block.extend_from_slice(&kind.to_le_bytes());
        block.extend_from_slice(&(data.len() as u16).to_le_bytes());
        block.extend_from_slice(&[0, 0, 0, 0]);
        block.extend_from_slice(data);
    }
    let mut out = vec![1, 0];
    out.extend_from_slice(&(messages.len() as u16).to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&header_size.unwrap_or(block.len() as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&block);
    out
}

/// A chunked layout message (v3) for rank 3 whose B-tree root is at `btree`.
fn layout(btree: u64) -> Vec<u8> {
    let mut m = vec![3, 2, 4];
    m.extend_from_slice(&btree.to_le_bytes());
    for d in [2u32, 2, 2, 8] {
        m.extend_from_slice(&d.to_le_bytes());
    }
    m
}

/// A v1 B-tree node of raw-data chunks (rank 3) with the given level and (key offset, child).
fn tree_node(level: u8, entries: &[([u64; 3], u64)]) -> Vec<u8> {
    let mut n = b"TREE".to_vec();
    n.extend_from_slice(&[1, level]);
    n.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    n.extend_from_slice(&u64::MAX.to_le_bytes());
    n.extend_from_slice(&u64::MAX.to_le_bytes());
    let key = |off: [u64; 3]| {
        let mut k = 64u32.to_le_bytes().to_vec();
        k.extend_from_slice(&0u32.to_le_bytes());
        for o in off.iter().chain(&[0]) {
            k.extend_from_slice(&o.to_le_bytes());
        }
        k
    };
    for (off, child) in entries {
        n.extend(key(*off));
        n.extend_from_slice(&child.to_le_bytes());
    }
    n.extend(key([u64::MAX; 3])); // the final key
    n
}

/// An object header at 0 whose layout points at a node placed right after it.
fn file_with_tree(node: impl Fn(u64) -> Vec<u8>) -> Vec<u8> {
    let len = v1_header(&[(LAYOUT_MSG, layout(0))], None).len() as u64;
    let mut f = v1_header(&[(LAYOUT_MSG, layout(len))], None);
    f.extend(node(len));
    f
}

#[test]
fn a_well_formed_leaf_lists_its_chunks() {
    let f = file_with_tree(|_| tree_node(0, &[([0, 0, 0], 4096), ([2, 0, 0], 8192)]));
    let got = chunks(f.as_slice(), 0, SO, 8, 3, 100).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((got[1].offset.clone(), got[1].addr, got[1].size), (vec![2, 0, 0], 8192, 64));
}

#[test]
fn a_node_that_points_at_itself_ends_the_walk_at_once() {
    // A shared or cyclic subtree is never valid; it is refused at the first repeated node
    // (before, only the depth limit ended it, after 33 reads).
    let f = file_with_tree(|at| tree_node(1, &[([0, 0, 0], at), ([2, 0, 0], at)]));
    let t = std::time::Instant::now();
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
    assert!(t.elapsed().as_secs() < 1);
}

#[test]
fn a_child_whose_level_is_not_one_less_is_refused() {
    let f = file_with_tree(|at| {
        let leaf_at = at + tree_node(1, &[([0, 0, 0], 0)]).len() as u64;
        let mut n = tree_node(1, &[([0, 0, 0], leaf_at)]);
        n.extend(tree_node(1, &[([0, 0, 0], 4096)])); // should be level 0
        n
    });
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
}

#[test]
fn more_chunks_than_the_shape_allows_is_refused() {
    let f = file_with_tree(|_| tree_node(0, &[([0, 0, 0], 4096), ([2, 0, 0], 8192)]));
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 1), Err(Unusable::Corrupt));
}

#[test]
fn a_continuation_message_too_short_for_its_address_is_refused() {
    // Before: `data[..size_of_offsets]` on a 2-byte message panicked.
    let f = v1_header(&[(CONTINUATION_MSG, vec![1, 2])], None);
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
}

#[test]
fn a_v2_header_cut_short_is_refused() {
    // Before: the fixed part was read as 32 bytes but can be 34 (times, phase-change values
    // and an 8-byte chunk size): slicing past it panicked.
    let mut f = b"OHDR".to_vec();
    f.extend_from_slice(&[2, 0x33]);
    f.extend_from_slice(&[0; 20]);
    f.extend_from_slice(&[0xff; 8]); // chunk-0 size field starts at 26: bytes 26..34
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
    assert_eq!(chunks(&f[..30], 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
}

#[test]
fn a_header_size_larger_than_the_file_allocates_nothing() {
    // Before: a 4 GiB buffer was allocated (and zeroed) before the read failed.
    let f = v1_header(&[(LAYOUT_MSG, layout(0))], Some(u32::MAX));
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
    let r = Reader { file: f.as_slice(), file_len: f.len() as u64, so: 8, sl: 8, budget: std::cell::Cell::new(u64::MAX) };
    assert_eq!(r.bytes(16, u32::MAX as usize), None);
    assert_eq!(r.bytes(u64::MAX - 2, 8), None);
}

#[test]
fn address_sizes_other_than_1_to_8_bytes_are_refused() {
    let f = file_with_tree(|_| tree_node(0, &[([0, 0, 0], 4096)]));
    assert_eq!(chunks(f.as_slice(), 0, 0, 8, 3, 100), Err(Unusable::Corrupt));
    assert_eq!(chunks(f.as_slice(), 0, 16, 8, 3, 100), Err(Unusable::Corrupt));
}

#[test]
fn a_final_key_inside_the_last_chunk_is_refused() {
    // Found by fuzzing (fuzz/regressions/uvh5_file/direct-vs-libhdf5-*): keys ascended as offsets, but
    // libhdf5 compares them in chunks (offset / chunk size), where the final key (3, 0, 0)
    // ties with the last chunk's (2, 0, 0) for chunks 2 long: its lookup misses that chunk.
    let mut n = tree_node(0, &[([0, 0, 0], 4096), ([2, 0, 0], 8192)]);
    let final_key = n.len() - 8 * 4; // the final key's 4 offsets end the node
    n[final_key..final_key + 8].copy_from_slice(&3u64.to_le_bytes());
    n[final_key + 8..].fill(0);
    let f = file_with_tree(|_| n.clone());
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
}

#[test]
fn keys_out_of_order_are_refused() {
    // libhdf5 finds chunks by binary search over these keys, so it would miss a chunk listed
    // out of order while we would read it: the direct and libhdf5 reads would disagree.
    let f = file_with_tree(|_| tree_node(0, &[([2, 0, 0], 4096), ([0, 0, 0], 8192)]));
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
}

#[test]
fn a_child_with_keys_outside_its_parents_keys_is_refused() {
    let f = file_with_tree(|at| {
        let leaf_at = at + tree_node(1, &[([4, 0, 0], 0)]).len() as u64;
        let mut n = tree_node(1, &[([4, 0, 0], leaf_at)]);
        n.extend(tree_node(0, &[([0, 0, 0], 4096)])); // below the parent's key (4, 0, 0)
        n
    });
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
}

#[test]
fn another_layout_version_is_unsupported_not_corrupt() {
    let mut m = layout(0);
    m[0] = 4;
    let f = v1_header(&[(LAYOUT_MSG, m)], None);
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Unsupported));
}

#[test]
fn a_chunk_key_with_an_element_offset_is_refused() {
    // Found by fuzzing (fuzz/regressions/uvh5_file/direct-vs-libhdf5-b1e6c9e4): a key's last
    // offset (the element-size dimension, always 0) set to 2^52. Keys still ascend, but
    // libhdf5's lookup misses that chunk and reads the fill value where we read the data.
    let mut n = tree_node(0, &[([0, 0, 0], 4096), ([2, 0, 0], 8192)]);
    let second_key_last = 24 + (8 + 32 + 8) + 8 + 24; // header, first key + child, size/mask, 3 offsets
    n[second_key_last..second_key_last + 8].copy_from_slice(&(1u64 << 52).to_le_bytes());
    let f = file_with_tree(|_| n.clone());
    assert_eq!(chunks(f.as_slice(), 0, SO, 8, 3, 100), Err(Unusable::Corrupt));
}
