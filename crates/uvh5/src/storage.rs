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

use crate::error::{Result, Uvh5Error};

/// How one element is encoded on disk (all little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    /// Compound {r, i} of float32.
    ComplexF32,
    /// Compound {r, i} of float64.
    ComplexF64,
    /// Compound {r, i} of signed integers of this many bytes.
    ComplexInt(usize),
    /// One byte, non-zero = true (HDF5/h5py booleans are an int8 enum).
    Bool,
    F32,
    F64,
}

impl Elem {
    pub fn size(&self) -> usize {
        match self {
            Elem::ComplexF32 => 8,
            Elem::ComplexF64 => 16,
            Elem::ComplexInt(n) => 2 * n,
            Elem::Bool => 1,
            Elem::F32 => 4,
            Elem::F64 => 8,
        }
    }
}

/// The byte layout of a dataset that can be read directly.
#[derive(Debug, Clone)]
pub enum RawLayout {
    Contiguous { addr: u64 },
    /// A dense grid of chunk addresses in C order; `None` marks a chunk never written
    /// (it reads as the fill value, zero).
    Chunked { chunk: [usize; 3], grid: [usize; 3], addrs: Vec<Option<u64>> },
}

/// Decodes `n` elements from `src` into `dst` (`dst.len() == n`).
pub trait Decode: Sized + Copy + Default + Send {
    fn decode(elem: Elem, src: &[u8], dst: &mut [Self]);
}

impl Decode for num_complex::Complex32 {
    fn decode(elem: Elem, src: &[u8], dst: &mut [Self]) {
        match elem {
            Elem::ComplexF32 => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(8)) {
                    let r = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                    let i = f32::from_le_bytes([s[4], s[5], s[6], s[7]]);
                    *d = num_complex::Complex32::new(r, i);
                }
            }
            Elem::ComplexF64 => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(16)) {
                    let r = f64::from_le_bytes(s[0..8].try_into().unwrap());
                    let i = f64::from_le_bytes(s[8..16].try_into().unwrap());
                    *d = num_complex::Complex32::new(r as f32, i as f32);
                }
            }
            Elem::ComplexInt(n) => {
                let int = |b: &[u8]| -> f32 {
                    match n {
                        1 => b[0] as i8 as f32,
                        2 => i16::from_le_bytes([b[0], b[1]]) as f32,
                        4 => i32::from_le_bytes(b[0..4].try_into().unwrap()) as f32,
                        _ => i64::from_le_bytes(b[0..8].try_into().unwrap()) as f32,
                    }
                };
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(2 * n)) {
                    *d = num_complex::Complex32::new(int(&s[..n]), int(&s[n..]));
                }
            }
            _ => unreachable!("visdata decoded as {elem:?}"),
        }
    }
}

impl Decode for bool {
    fn decode(_elem: Elem, src: &[u8], dst: &mut [Self]) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s != 0;
        }
    }
}

impl Decode for f32 {
    fn decode(elem: Elem, src: &[u8], dst: &mut [Self]) {
        match elem {
            Elem::F32 => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(4)) {
                    *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                }
            }
            Elem::F64 => {
                for (d, s) in dst.iter_mut().zip(src.chunks_exact(8)) {
                    *d = f64::from_le_bytes(s.try_into().unwrap()) as f32;
                }
            }
            _ => unreachable!("nsamples decoded as {elem:?}"),
        }
    }
}

/// Largest single `pread`; bounds the scratch buffer whatever the block size.
const MAX_READ: usize = 8 << 20;

/// Reads the region `blts × chans × all pols` of a 3-D (blt, chan, pol) dataset into `out`
/// (C order, `out.len() == blts.len() * chans.len() * dims[2]`).
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
    let mut buf: Vec<u8> = Vec::new();
    let read = |buf: &mut Vec<u8>, addr: u64, len: usize| -> Result<()> {
        buf.resize(len, 0);
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
            let mut decoded: Vec<T> = vec![T::default(); cb * cf * cp];
            let mut i = 0;
            while i < needed.len() {
                let Some(start_addr) = needed[i].1 else {
                    // Unallocated chunks read as the fill value.
                    for (g, _) in &needed[i..] {
                        decoded.iter_mut().for_each(|d| *d = T::default());
                        scatter(&decoded, *g, *chunk, dims, &blts, &chans, ob, of, out_nf, out);
                    }
                    break;
                };
                // Extend the run while the next chunk follows on directly.
                let mut j = i + 1;
                while j < needed.len()
                    && needed[j].1 == Some(start_addr + ((j - i) * chunk_bytes) as u64)
                    && (j - i + 1) * chunk_bytes <= MAX_READ
                {
                    j += 1;
                }
                read(&mut buf, start_addr, (j - i) * chunk_bytes)?;
                for (k, (g, _)) in needed[i..j].iter().enumerate() {
                    T::decode(elem, &buf[k * chunk_bytes..(k + 1) * chunk_bytes], &mut decoded);
                    scatter(&decoded, *g, *chunk, dims, &blts, &chans, ob, of, out_nf, out);
                }
                i = j;
            }
        }
    }
    Ok(())
}

/// Copies the part of one decoded chunk that lies inside the requested region into `out`.
#[allow(clippy::too_many_arguments)]
fn scatter<T: Copy>(
    chunk_data: &[T],
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
    for b in b_range {
        for f in f_range.clone() {
            let src = ((b - b0) * cf + (f - f0)) * cp;
            let dst = ((b - ob) * out_nf + (f - of)) * np + p0;
            out[dst..dst + run].copy_from_slice(&chunk_data[src..src + run]);
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

/// Builds the chunk grid from the file's own B-tree (see `chunkindex`).
fn chunk_grid_from_btree(
    file: &File,
    superblock: &crate::probe::Superblock,
    ds: &Dataset,
    dims4: &[usize],
    chunk_full: &[usize],
    grid: [usize; 3],
) -> Option<Vec<Option<u64>>> {
    let oh = object_header_address(ds)?;
    let entries = crate::chunkindex::chunks(file, oh, superblock.size_of_offsets, superblock.size_of_lengths, dims4.len())?;
    let elem = ds.dtype().ok()?.size();
    let chunk_bytes: usize = chunk_full.iter().product::<usize>() * elem;
    let mut addrs = vec![None; grid.iter().product()];
    for e in entries {
        // Chunks written with filters, or of an unexpected size, are not raw bytes we can use.
        if e.filter_mask != 0 || e.size as usize != chunk_bytes {
            return None;
        }
        let c: Vec<usize> = e.offset.iter().zip(chunk_full).map(|(&o, &c)| o as usize / c).collect();
        let (gb, gf, gp) = if dims4.len() == 4 { (c[0], c[2], c[3]) } else { (c[0], c[1], c[2]) };
        if gb >= grid[0] || gf >= grid[1] || gp >= grid[2] {
            return None;
        }
        addrs[(gb * grid[1] + gf) * grid[2] + gp] = Some(e.addr);
    }
    Some(addrs)
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
            if let Some(addrs) = chunk_grid_from_btree(file, superblock, ds, dims4, &chunk_full, grid) {
                return Some(RawLayout::Chunked { chunk, grid, addrs });
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
