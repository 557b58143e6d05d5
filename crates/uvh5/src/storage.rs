//! Where a dataset's bytes sit in the file, and reading them without libhdf5.
//!
//! libhdf5 serialises every call behind one global lock, so sixteen subband files read
//! through it take sixteen times as long as one. For datasets stored without filters —
//! which is how the DSA-110 correlator writes, and how pyuvdata writes by default for
//! visibilities — the file holds the raw little-endian elements at addresses libhdf5 will
//! tell us once. We ask once per chunk (under the lock, at open time), then read with
//! `pread` from any number of threads. Anything else (compression, big-endian types,
//! user blocks) goes through libhdf5 instead, which is always correct, just serial.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use hdf5::Dataset;

use crate::chunkindex::Unusable;
use crate::decode::{Decode, Elem};
use crate::error::{Result, Uvh5Error};
use crate::place::{place_chunk, place_lines, Lines, Placement, Sink};

/// The byte layout of a dataset that can be read directly.
#[derive(Debug, Clone)]
pub enum RawLayout {
    Contiguous { addr: u64 },
    /// A dense grid of chunk addresses in C order; `None` marks a chunk never written
    /// (it reads as the fill value, zero).
    Chunked { chunk: [usize; 3], grid: [usize; 3], addrs: Vec<Option<u64>> },
}

/// Largest single `pread`; bounds the scratch buffer whatever the block size.
const MAX_READ: usize = 8 << 20;

thread_local! {
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Puts the read buffer back into the thread-local slot when a read function returns.
struct ReturnBuf(*mut Vec<u8>);

impl Drop for ReturnBuf {
    fn drop(&mut self) {
        // SAFETY: points at the caller's local `buf`, which outlives this guard (declared
        // after it, so dropped before it).
        let buf = unsafe { std::mem::take(&mut *self.0) };
        READ_BUF.with(|b| *b.borrow_mut() = buf);
    }
}

/// Reads the region `blts × chans × all pols` of a 3-D (blt, chan, pol) dataset into `out`
/// (C order, `out.len() == blts.len() * chans.len() * dims[2]`).
#[allow(clippy::too_many_arguments)]
pub fn read_region<T: Decode>(
    file: &File,
    path: &Path,
    name: &str,
    layout: &RawLayout,
    elem: Elem,
    dims: [usize; 3],
    blts: Range<usize>,
    chans: Range<usize>,
    out: &mut [T],
) -> Result<()> {
    let es = elem.size();
    let (nf, np) = (dims[1], dims[2]);
    let (ob, of) = (blts.start, chans.start);
    let out_nf = chans.len();
    debug_assert_eq!(out.len(), blts.len() * out_nf * np);
    // A per-thread buffer that outlives the call: allocating (and faulting in) up to 8 MB per
    // file per block showed up as a third of the kernel time.
    let mut buf: Vec<u8> = READ_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let _return_buf = ReturnBuf(&mut buf as *mut Vec<u8>);
    let read = |buf: &mut Vec<u8>, addr: u64, len: usize| -> Result<()> {
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let buf = &mut buf[..len];
        file.read_exact_at(buf, addr).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Uvh5Error::Truncated {
                    path: path.to_owned(),
                    detail: format!("{name}: {len} bytes at offset {addr} lie past the end of the file"),
                }
            } else {
                Uvh5Error::io(path, format!("reading {name}"), e)
            }
        })
    };
    match layout {
        RawLayout::Contiguous { addr } => {
            let row_bytes = nf * np * es;
            if chans.start == 0 && chans.end == nf {
                // Whole rows: the region is one contiguous byte range, read in pieces.
                let rows_per_read = (MAX_READ / row_bytes).max(1);
                let mut b = blts.start;
                while b < blts.end {
                    let n = rows_per_read.min(blts.end - b);
                    read(&mut buf, addr + (b * row_bytes) as u64, n * row_bytes)?;
                    let o = (b - ob) * nf * np;
                    T::decode(elem, &buf, &mut out[o..o + n * nf * np]);
                    b += n;
                }
            } else {
                let run = out_nf * np;
                for b in blts.clone() {
                    read(&mut buf, addr + ((b * nf + chans.start) * np * es) as u64, run * es)?;
                    let o = (b - ob) * run;
                    T::decode(elem, &buf, &mut out[o..o + run]);
                }
            }
        }
        RawLayout::Chunked { chunk, grid, addrs } => {
            let [cb, cf, cp] = *chunk;
            let chunk_bytes = cb * cf * cp * es;
            // The chunks that intersect the region, in file order so reads coalesce.
            let mut needed: Vec<([usize; 3], Option<u64>)> = Vec::new();
            for gb in blts.start / cb..blts.end.div_ceil(cb) {
                for gf in chans.start / cf..chans.end.div_ceil(cf) {
                    for gp in 0..grid[2] {
                        let idx = (gb * grid[1] + gf) * grid[2] + gp;
                        needed.push(([gb, gf, gp], addrs[idx]));
                    }
                }
            }
            needed.sort_by_key(|(_, a)| a.unwrap_or(u64::MAX));
            let mut i = 0;
            while i < needed.len() {
                let Some(start_addr) = needed[i].1 else {
                    // Unallocated chunks read as the fill value.
                    let zeros = vec![0u8; chunk_bytes];
                    for (g, _) in &needed[i..] {
                        scatter(&zeros, elem, *g, *chunk, dims, &blts, &chans, ob, of, out_nf, out);
                    }
                    break;
                };
                // Extend the run while the next chunk follows on directly.
                let mut j = i + 1;
                while j < needed.len()
                    && needed[j].1.is_some() && needed[j].1 == start_addr.checked_add(((j - i) * chunk_bytes) as u64)
                    && (j - i + 1) * chunk_bytes <= MAX_READ
                {
                    j += 1;
                }
                read(&mut buf, start_addr, (j - i) * chunk_bytes)?;
                for (k, (g, _)) in needed[i..j].iter().enumerate() {
                    scatter(&buf[k * chunk_bytes..(k + 1) * chunk_bytes], elem, *g, *chunk, dims, &blts, &chans, ob, of, out_nf, out);
                }
                i = j;
            }
        }
    }
    Ok(())
}

/// Like [`read_region`] (all channels), but places each element with `place` into `sink`.
#[allow(clippy::too_many_arguments)]
pub fn read_region_placed<T: Decode>(
    file: &File,
    path: &Path,
    name: &str,
    layout: &RawLayout,
    elem: Elem,
    dims: [usize; 3],
    blts: Range<usize>,
    place: &Placement,
    sink: &Sink<T>,
) -> Result<()> {
    let es = elem.size();
    let (nf, np) = (dims[1], dims[2]);
    let ob = blts.start;
    // A per-thread buffer that outlives the call: allocating (and faulting in) up to 8 MB per
    // file per block showed up as a third of the kernel time.
    let mut buf: Vec<u8> = READ_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let _return_buf = ReturnBuf(&mut buf as *mut Vec<u8>);
    let read = |buf: &mut Vec<u8>, addr: u64, len: usize| -> Result<()> {
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let buf = &mut buf[..len];
        file.read_exact_at(buf, addr).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Uvh5Error::Truncated {
                    path: path.to_owned(),
                    detail: format!("{name}: {len} bytes at offset {addr} lie past the end of the file"),
                }
            } else {
                Uvh5Error::io(path, format!("reading {name}"), e)
            }
        })
    };
    match layout {
        RawLayout::Contiguous { addr } => {
            let row_bytes = nf * np * es;
            let rows_per_read = (MAX_READ / row_bytes).max(1);
            let mut b = blts.start;
            while b < blts.end {
                let n = rows_per_read.min(blts.end - b);
                read(&mut buf, addr + (b * row_bytes) as u64, n * row_bytes)?;
                let lines = Lines { rows: n, row_elems: nf * np, chan_elems: np, pols: 0..np };
                place_lines(&buf, elem, &lines, (b - ob) * place.row_stride, place.chan_offset, place, sink);
                b += n;
            }
        }
        RawLayout::Chunked { chunk, grid, addrs } => {
            let [cb, cf, cp] = *chunk;
            let chunk_bytes = cb * cf * cp * es;
            let mut needed: Vec<([usize; 3], Option<u64>)> = Vec::new();
            for gb in blts.start / cb..blts.end.div_ceil(cb) {
                for gf in 0..grid[1] {
                    for gp in 0..grid[2] {
                        needed.push(([gb, gf, gp], addrs[(gb * grid[1] + gf) * grid[2] + gp]));
                    }
                }
            }
            needed.sort_by_key(|(_, a)| a.unwrap_or(u64::MAX));
            let zeros = vec![0u8; chunk_bytes];
            let mut i = 0;
            while i < needed.len() {
                let Some(start_addr) = needed[i].1 else {
                    for (g, _) in &needed[i..] {
                        place_chunk(&zeros, elem, *g, *chunk, dims, &blts, place, sink);
                    }
                    break;
                };
                let mut j = i + 1;
                while j < needed.len()
                    && needed[j].1.is_some() && needed[j].1 == start_addr.checked_add(((j - i) * chunk_bytes) as u64)
                    && (j - i + 1) * chunk_bytes <= MAX_READ
                {
                    j += 1;
                }
                read(&mut buf, start_addr, (j - i) * chunk_bytes)?;
                for (k, (g, _)) in needed[i..j].iter().enumerate() {
                    place_chunk(&buf[k * chunk_bytes..(k + 1) * chunk_bytes], elem, *g, *chunk, dims, &blts, place, sink);
                }
                i = j;
            }
        }
    }
    Ok(())
}

/// Decodes the part of one raw chunk that lies inside the requested region into `out`.
#[allow(clippy::too_many_arguments)]
fn scatter<T: Decode>(
    chunk_bytes: &[u8],
    elem: Elem,
    g: [usize; 3],
    chunk: [usize; 3],
    dims: [usize; 3],
    blts: &Range<usize>,
    chans: &Range<usize>,
    ob: usize,
    of: usize,
    out_nf: usize,
    out: &mut [T],
) {
    let [cb, cf, cp] = chunk;
    let np = dims[2];
    let (b0, f0, p0) = (g[0] * cb, g[1] * cf, g[2] * cp);
    let b_range = b0.max(blts.start)..(b0 + cb).min(blts.end);
    let f_range = f0.max(chans.start)..(f0 + cf).min(chans.end);
    let p_range = p0..(p0 + cp).min(np);
    let run = p_range.len();
    let es = elem.size();
    for b in b_range {
        for f in f_range.clone() {
            let src = ((b - b0) * cf + (f - f0)) * cp * es;
            let dst = ((b - ob) * out_nf + (f - of)) * np + p0;
            T::decode(elem, &chunk_bytes[src..src + run * es], &mut out[dst..dst + run]);
        }
    }
}

/// The address of a dataset's object header, from libhdf5 1.10.3+ (`H5Oget_info2`); other
/// library versions return `None` and chunk maps come from libhdf5 itself.
fn object_header_address(ds: &Dataset) -> Option<u64> {
    use hdf5_sys::h5o::H5O_info1_t;
    extern "C" {
        fn H5Oget_info2(loc_id: hdf5_sys::h5i::hid_t, oinfo: *mut H5O_info1_t, fields: std::ffi::c_uint) -> i32;
    }
    hdf5::sync::sync(|| {
        let (mut maj, mut min, mut rel) = (0u32, 0u32, 0u32);
        unsafe { hdf5_sys::h5::H5get_libversion(&mut maj, &mut min, &mut rel) };
        if (maj, min) != (1, 10) || rel < 3 {
            return None;
        }
        let mut info = H5O_info1_t::default();
        // H5O_INFO_BASIC = 1: only fileno, addr, type and refcount.
        let status = unsafe { H5Oget_info2(ds.id(), &mut info, 1) };
        (status >= 0).then_some(info.addr)
    })
}

/// Builds the chunk grid from the file's own B-tree (see `chunkindex`). `Unsupported` when
/// the index is of another kind (ask libhdf5 chunk by chunk); `Corrupt` when it is malformed or
/// lists a chunk that is not a whole unfiltered chunk of this grid, exactly once.
fn chunk_grid_from_btree(
    file: &File,
    superblock: &crate::probe::Superblock,
    ds: &Dataset,
    dims4: &[usize],
    chunk_full: &[usize],
    grid: [usize; 3],
) -> Result<Vec<Option<u64>>, Unusable> {
    let oh = object_header_address(ds).ok_or(Unusable::Unsupported)?;
    let n_chunks = grid.iter().product();
    let entries =
        crate::chunkindex::chunks(file, oh, superblock.size_of_offsets, superblock.size_of_lengths, dims4.len(), n_chunks)?;
    let elem = ds.dtype().map_err(|_| Unusable::Unsupported)?.size();
    let chunk_bytes = chunk_full.iter().try_fold(elem, |acc, &c| acc.checked_mul(c)).ok_or(Unusable::Corrupt)?;
    let mut addrs = vec![None; n_chunks];
    for e in entries {
        // The dataset has no filters, so every chunk must be raw bytes of the full chunk size,
        // at a chunk boundary inside the grid, listed once.
        if e.filter_mask != 0 || e.size as usize != chunk_bytes {
            return Err(Unusable::Corrupt);
        }
        if e.offset.iter().zip(chunk_full).any(|(&o, &c)| o % c as u64 != 0) {
            return Err(Unusable::Corrupt);
        }
        let c: Vec<u64> = e.offset.iter().zip(chunk_full).map(|(&o, &c)| o / c as u64).collect();
        let (gb, gf, gp) = if dims4.len() == 4 { (c[0], c[2], c[3]) } else { (c[0], c[1], c[2]) };
        if (dims4.len() == 4 && c[1] != 0) || gb >= grid[0] as u64 || gf >= grid[1] as u64 || gp >= grid[2] as u64 {
            return Err(Unusable::Corrupt);
        }
        let slot = &mut addrs[(gb as usize * grid[1] + gf as usize) * grid[2] + gp as usize];
        if slot.replace(e.addr).is_some() {
            return Err(Unusable::Corrupt);
        }
    }
    Ok(addrs)
}

/// Asks libhdf5 where the dataset's raw bytes are, if they can be read directly.
/// Returns `None` when the dataset must be read through libhdf5 (filters, odd layouts).
pub fn raw_layout(
    ds: &Dataset,
    dims4: &[usize],
    file: &File,
    superblock: &crate::probe::Superblock,
) -> Option<RawLayout> {
    use hdf5::dataset::Layout;
    if !ds.filters().is_empty() {
        return None;
    }
    match ds.layout() {
        Layout::Contiguous => {
            let addr = ds.offset()?;
            Some(RawLayout::Contiguous { addr })
        }
        Layout::Chunked => {
            let chunk_full = ds.chunk()?;
            // Normalise away the legacy length-1 spw axis.
            let (chunk, dims) = if dims4.len() == 4 {
                ([chunk_full[0], chunk_full[2], chunk_full[3]], [dims4[0], dims4[2], dims4[3]])
            } else {
                ([chunk_full[0], chunk_full[1], chunk_full[2]], [dims4[0], dims4[1], dims4[2]])
            };
            let grid = [dims[0].div_ceil(chunk[0]), dims[1].div_ceil(chunk[1]), dims[2].div_ceil(chunk[2])];
            // The chunk map costs 16 bytes a chunk. Each chunk written takes more than 32
            // bytes of the file (its B-tree entry alone), so a grid larger than that is mostly
            // unwritten — a header claiming far more data than the file holds — and is read
            // through libhdf5, block by block, rather than mapped.
            let n_chunks = grid.iter().try_fold(1usize, |acc, &g| acc.checked_mul(g))?;
            if n_chunks as u64 > file.metadata().ok()?.len() / 32 + 1 {
                return None;
            }
            match chunk_grid_from_btree(file, superblock, ds, dims4, &chunk_full, grid) {
                Ok(addrs) => return Some(RawLayout::Chunked { chunk, grid, addrs }),
                // A malformed index: libhdf5's per-chunk lookup and its reads can disagree on
                // it (found by fuzzing), so read only through libhdf5, as pyuvdata does.
                Err(Unusable::Corrupt) => return None,
                Err(Unusable::Unsupported) => {}
            }
            // Slow path: one libhdf5 lookup per chunk.
            let mut addrs = Vec::with_capacity(grid.iter().product());
            let ok = hdf5::sync::sync(|| {
                let space = match ds.space() {
                    Ok(s) => s,
                    Err(_) => return false,
                };
                let mut coord = vec![0u64; dims4.len()];
                for gb in 0..grid[0] {
                    for gf in 0..grid[1] {
                        for gp in 0..grid[2] {
                            let c = [gb * chunk[0], gf * chunk[1], gp * chunk[2]];
                            if dims4.len() == 4 {
                                coord.copy_from_slice(&[c[0] as u64, 0, c[1] as u64, c[2] as u64]);
                            } else {
                                coord.copy_from_slice(&[c[0] as u64, c[1] as u64, c[2] as u64]);
                            }
                            let mut filter_mask: u32 = 0;
                            let mut addr: u64 = 0;
                            let mut size: u64 = 0;
                            let status = unsafe {
                                hdf5_sys::h5d::H5Dget_chunk_info_by_coord(
                                    ds.id(),
                                    coord.as_ptr(),
                                    &mut filter_mask,
                                    &mut addr,
                                    &mut size,
                                )
                            };
                            if status < 0 {
                                return false;
                            }
                            // HADDR_UNDEF (all ones) marks a chunk that was never written.
                            addrs.push(if addr == u64::MAX { None } else { Some(addr) });
                        }
                    }
                }
                drop(space);
                true
            });
            ok.then_some(RawLayout::Chunked { chunk, grid, addrs })
        }
        _ => None,
    }
}
