//! Placing decoded elements straight into interleaved output rows: how several subband files
//! fill one block of MeasurementSet rows without an intermediate copy.

use std::ops::Range;

use crate::decode::{Decode, Elem};

/// Where the elements of a region go: element (row r, channel c, polarisation p) of the region
/// lands at `r * row_stride + chan_offset[c] + pol_offset[p]` of the destination, and channels
/// whose offset is `SKIP` are not written. Lets several files decode straight into the
/// interleaved rows of one output buffer.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub row_stride: usize,
    pub chan_offset: &'a [usize],
    pub pol_offset: &'a [usize],
}

pub const SKIP: usize = usize::MAX;

/// A destination buffer shared by threads that each write disjoint elements of it.
pub struct Sink<'a, T> {
    ptr: *mut T,
    len: usize,
    _life: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: a Sink only hands out writes through `put`, and its users guarantee (see
// `Uvh5File::read_block_placed`) that no two threads write the same element.
unsafe impl<T: Send> Send for Sink<'_, T> {}
unsafe impl<T: Send> Sync for Sink<'_, T> {}

impl<'a, T> Sink<'a, T> {
    pub fn new(buf: &'a mut [T]) -> Self {
        Sink { ptr: buf.as_mut_ptr(), len: buf.len(), _life: std::marker::PhantomData }
    }

    #[inline]
    pub(crate) fn put_at(&self, i: usize, v: T) {
        self.put(i, v)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes element `i`. Callers validate their placement against `len` once per block
    /// (`Uvh5File::read_block_placed`), so this hot path only debug-checks.
    #[inline(always)]
    fn put(&self, i: usize, v: T) {
        debug_assert!(i < self.len, "sink index {i} out of {}", self.len);
        // SAFETY: in bounds by the validated placement; exclusive per element by the Sink's
        // contract.
        unsafe { self.ptr.add(i).write(v) }
    }

    /// Writes elements `i..i + N`, under the same contract as `put`.
    #[inline(always)]
    fn put_n<const N: usize>(&self, i: usize, v: [T; N]) {
        debug_assert!(i + N <= self.len, "sink run {i}+{N} out of {}", self.len);
        // SAFETY: as for `put`; [T; N] has T's alignment.
        unsafe { self.ptr.add(i).cast::<[T; N]>().write(v) }
    }
}

/// Decodes the part of one raw chunk inside the requested rows straight to its places.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn place_chunk<T: Decode>(
    chunk_bytes: &[u8],
    elem: Elem,
    g: [usize; 3],
    chunk: [usize; 3],
    dims: [usize; 3],
    blts: &Range<usize>,
    place: &Placement,
    sink: &Sink<T>,
) {
    let [cb, cf, cp] = chunk;
    let (b0, f0, p0) = (g[0] * cb, g[1] * cf, g[2] * cp);
    let b_range = b0.max(blts.start)..(b0 + cb).min(blts.end);
    if b_range.is_empty() {
        return;
    }
    let f_end = (f0 + cf).min(dims[1]);
    let lines = Lines { rows: b_range.len(), row_elems: cf * cp, chan_elems: cp, pols: p0..(p0 + cp).min(dims[2]) };
    let src = &chunk_bytes[(b_range.start - b0) * cf * cp * elem.size()..];
    place_lines(src, elem, &lines, (b_range.start - blts.start) * place.row_stride, &place.chan_offset[f0..f_end], place, sink);
}

/// The shape of decoded source bytes: `rows` rows of `row_elems` elements; in each row, one
/// line of `chan_elems` elements per channel, of which the first `pols.len()` are the
/// polarisations `pols`.
pub(crate) struct Lines {
    pub(crate) rows: usize,
    pub(crate) row_elems: usize,
    pub(crate) chan_elems: usize,
    pub(crate) pols: Range<usize>,
}

/// Decodes `lines` from `src` to their places: source row `r`, channel `k` (whose output
/// offset is `chan_offset[k]`), polarisation `p` lands at
/// `out_row0 + r * row_stride + chan_offset[k] + pol_offset[p]`.
///
/// This is most of the conversion's decode time (0.5 G elements a full group), so the usual
/// case, polarisations that stay in order, moves each channel's run as one fixed-size copy;
/// the element-by-element loop is kept for permuted polarisations.
pub(crate) fn place_lines<T: Decode>(src: &[u8], elem: Elem, lines: &Lines, out_row0: usize, chan_offset: &[usize], place: &Placement, sink: &Sink<T>) {
    let pol_base = place.pol_offset[lines.pols.start];
    let in_order = lines.pols.clone().all(|p| place.pol_offset[p] == pol_base + (p - lines.pols.start));
    match (in_order, lines.pols.len()) {
        (true, 1) => place_runs::<T, 1>(src, elem, lines, out_row0 + pol_base, chan_offset, place.row_stride, sink),
        (true, 2) => place_runs::<T, 2>(src, elem, lines, out_row0 + pol_base, chan_offset, place.row_stride, sink),
        (true, 4) => place_runs::<T, 4>(src, elem, lines, out_row0 + pol_base, chan_offset, place.row_stride, sink),
        _ => {
            let es = elem.size();
            for r in 0..lines.rows {
                let out_row = out_row0 + r * place.row_stride;
                for (k, &co) in chan_offset.iter().enumerate() {
                    if co == SKIP {
                        continue;
                    }
                    let line = r * lines.row_elems + k * lines.chan_elems;
                    for (i, p) in lines.pols.clone().enumerate() {
                        let s = (line + i) * es;
                        sink.put(out_row + co + place.pol_offset[p], T::decode_one(elem, &src[s..s + es]));
                    }
                }
            }
        }
    }
}

#[inline(always)]
fn place_runs<T: Decode, const N: usize>(
    src: &[u8],
    elem: Elem,
    lines: &Lines,
    out_row0: usize,
    chan_offset: &[usize],
    row_stride: usize,
    sink: &Sink<T>,
) {
    let es = elem.size();
    for r in 0..lines.rows {
        let out_row = out_row0 + r * row_stride;
        let row = &src[r * lines.row_elems * es..];
        for (k, &co) in chan_offset.iter().enumerate() {
            if co == SKIP {
                continue;
            }
            let s = k * lines.chan_elems * es;
            sink.put_n(out_row + co, T::decode_n::<N>(elem, &row[s..s + N * es]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex32;

    /// Element (b, f, p) of a chunk, as distinct bytes for every element.
    fn chunk_bytes(elem: Elem, chunk: [usize; 3]) -> Vec<u8> {
        let n = chunk.iter().product::<usize>();
        (0..n * elem.size()).map(|i| (i * 7 + 3) as u8).collect()
    }

    /// The placement rule written out element by element: the reference for `place_chunk`.
    #[allow(clippy::too_many_arguments)]
    fn reference<T: Decode>(bytes: &[u8], elem: Elem, g: [usize; 3], chunk: [usize; 3], dims: [usize; 3], blts: &Range<usize>, place: &Placement, out: &mut [T]) {
        let [cb, cf, cp] = chunk;
        let es = elem.size();
        for b in g[0] * cb..(g[0] * cb + cb).min(blts.end) {
            if b < blts.start {
                continue;
            }
            for f in g[1] * cf..(g[1] * cf + cf).min(dims[1]) {
                for p in g[2] * cp..(g[2] * cp + cp).min(dims[2]) {
                    if place.chan_offset[f] == SKIP {
                        continue;
                    }
                    let s = (((b - g[0] * cb) * cf + (f - g[1] * cf)) * cp + (p - g[2] * cp)) * es;
                    out[(b - blts.start) * place.row_stride + place.chan_offset[f] + place.pol_offset[p]] = T::decode_one(elem, &bytes[s..s + es]);
                }
            }
        }
    }

    fn check<T: Decode + PartialEq + std::fmt::Debug>(elem: Elem) {
        // Polarisation counts 1-4 in order and permuted, channels reversed with a skipped one,
        // chunks split along every axis (partial at the edges), and a block of rows that
        // starts inside a chunk.
        for np in 1..=4usize {
            let perms: Vec<Vec<usize>> = vec![(0..np).collect(), (0..np).rev().collect()];
            for pol_offset in perms {
                let dims = [7, 5, np];
                for chunk in [[3, 5, np], [2, 2, np], [4, 3, 1], [7, 5, np]] {
                    let grid = [dims[0].div_ceil(chunk[0]), dims[1].div_ceil(chunk[1]), dims[2].div_ceil(chunk[2])];
                    let chan_offset: Vec<usize> = (0..dims[1]).map(|f| if f == 2 { SKIP } else { (dims[1] - 1 - f) * np }).collect();
                    let place = Placement { row_stride: dims[1] * np + 3, chan_offset: &chan_offset, pol_offset: &pol_offset };
                    let blts = 1..6;
                    let bytes = chunk_bytes(elem, chunk);
                    let n = blts.len() * place.row_stride;
                    let (mut want, mut got) = (vec![T::default(); n], vec![T::default(); n]);
                    let sink = Sink::new(&mut got);
                    for gb in 0..grid[0] {
                        for gf in 0..grid[1] {
                            for gp in 0..grid[2] {
                                place_chunk(&bytes, elem, [gb, gf, gp], chunk, dims, &blts, &place, &sink);
                                reference(&bytes, elem, [gb, gf, gp], chunk, dims, &blts, &place, &mut want);
                            }
                        }
                    }
                    assert_eq!(got, want, "{elem:?} np {np} pols {pol_offset:?} chunk {chunk:?}");
                }
            }
        }
    }

    #[test]
    fn place_chunk_matches_the_placement_rule() {
        check::<bool>(Elem::Bool);
        for elem in [Elem::ComplexF32, Elem::ComplexF64, Elem::ComplexInt(2), Elem::ComplexInt(4)] {
            check_bits_c(elem);
        }
        for elem in [Elem::F32, Elem::F64] {
            check_bits_f(elem);
        }
    }

    // Floats compare by their bits: the generated bytes include NaN patterns.
    fn check_bits_c(elem: Elem) {
        #[derive(Clone, Copy, Default, Debug, PartialEq)]
        struct C(u32, u32);
        impl Decode for C {
            fn decode(elem: Elem, src: &[u8], dst: &mut [Self]) {
                let mut v = vec![Complex32::default(); dst.len()];
                Complex32::decode(elem, src, &mut v);
                for (d, c) in dst.iter_mut().zip(v) {
                    *d = C(c.re.to_bits(), c.im.to_bits());
                }
            }
            fn decode_n<const N: usize>(elem: Elem, src: &[u8]) -> [Self; N] {
                Complex32::decode_n::<N>(elem, src).map(|c| C(c.re.to_bits(), c.im.to_bits()))
            }
        }
        check::<C>(elem);
    }

    fn check_bits_f(elem: Elem) {
        #[derive(Clone, Copy, Default, Debug, PartialEq)]
        struct F(u32);
        impl Decode for F {
            fn decode(elem: Elem, src: &[u8], dst: &mut [Self]) {
                let mut v = vec![0f32; dst.len()];
                f32::decode(elem, src, &mut v);
                for (d, x) in dst.iter_mut().zip(v) {
                    *d = F(x.to_bits());
                }
            }
            fn decode_n<const N: usize>(elem: Elem, src: &[u8]) -> [Self; N] {
                f32::decode_n::<N>(elem, src).map(|x| F(x.to_bits()))
            }
        }
        check::<F>(elem);
    }
}
