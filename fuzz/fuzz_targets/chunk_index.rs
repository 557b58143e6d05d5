//! The chunk B-tree parser over bytes in memory.
//!
//! Input: 1 byte picks the address size (2, 4 or 8 bytes) and the rank (1–4), 4 bytes give the
//! object header's address (little-endian), and the rest is the file image. Seeds are real
//! dataset headers from small UVH5 files (see benches/fuzz/make_seeds.py). Whatever the bytes,
//! the parser must return (chunks or a reason it cannot) without panicking, hanging or allocating more than
//! the image holds, and whatever it returns must be bounded by `max_chunks`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let sizes = [2u8, 4, 8, 8];
    let so = sizes[(data[0] & 0x03) as usize];
    let rank = 1 + ((data[0] >> 2) & 0x03) as usize;
    let max_chunks = 1 + ((data[0] >> 4) as usize) * 64;
    let oh = u32::from_le_bytes([data[1], data[2], data[3], data[4]]) as u64;
    let image = &data[5..];
    if let Ok(entries) = uvh5::fuzzing::chunks(image, oh, so, 8, rank, max_chunks) {
        assert!(entries.len() <= max_chunks);
        assert!(entries.iter().all(|e| e.offset.len() == rank));
    }
});
