//! The hot loops: spreading visibilities onto a tile buffer (gridding) and interpolating
//! them back (degridding), for one tile and all `W` w-planes a visibility touches at once.
//!
//! Layout. A tile buffer holds `W` planes (one when not w-gridding) of `su` rows (grid u) by
//! `rs` reals, complex values interleaved (re, im) along grid v. The kernel along v is
//! evaluated duplicated (`k0,k0,k1,k1,…`), multiplied by the visibility pattern
//! (`re,im,re,im,…`), so one fused multiply-add per vector updates `lanes/2` complex cells
//! of a grid row: with AVX-512 and `W ≤ 8` in single precision, a whole kernel row is one
//! load, one FMA and one store.

use crate::index::{Block, Compact, Geometry, Range, RowCoord};
use crate::simd::{dispatch, expi_turns, GridFloat, SimdPath};
use num_complex::Complex;
use pulp::Simd;
use std::sync::Mutex;

/// Padded lane counts of the kernel coefficient tables.
pub(crate) const PLAIN_PAD: usize = 16;
pub(crate) const DUP_PAD: usize = 32;

/// Polynomial kernel coefficients in the layouts the SIMD loops read.
#[derive(Clone, Debug)]
pub(crate) struct KernelTables<T> {
    /// `plain[d * PLAIN_PAD + k]`: coefficient of piece `k` (Horner order d = 0 highest).
    pub plain: Vec<T>,
    /// `dup[d * DUP_PAD + 2k + {0,1}]`: the same, each piece twice.
    pub dup: Vec<T>,
}

impl<T: GridFloat> KernelTables<T> {
    pub fn new(pk: &crate::kernel::PolyKernel) -> Self {
        let w = pk.shape.support;
        let d = pk.degree;
        let mut plain = vec![T::ZERO; (d + 1) * PLAIN_PAD];
        let mut dup = vec![T::ZERO; (d + 1) * DUP_PAD];
        for di in 0..=d {
            for k in 0..w {
                let c = T::cast_from(pk.coeff[di * w + k]);
                plain[di * PLAIN_PAD + k] = c;
                dup[di * DUP_PAD + 2 * k] = c;
                dup[di * DUP_PAD + 2 * k + 1] = c;
            }
        }
        Self { plain, dup }
    }
}

/// Shape of a tile buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TileLayout {
    /// Tile side (cells).
    pub ts: usize,
    /// Rows and complex columns a tile's visibilities can touch: `ts + W − 1`.
    pub span: usize,
    /// Row stride in reals.
    pub rs: usize,
    /// Plane stride in reals.
    pub ps: usize,
    /// Planes in the buffer.
    pub np: usize,
}

impl TileLayout {
    pub fn new(geom: &Geometry) -> Self {
        let ts = geom.tile();
        let w = geom.support;
        let span = ts + w - 1;
        // vector writes may run past the used columns by up to DUP_PAD reals
        let rs = 2 * ts + 2 * w + DUP_PAD;
        let ps = (span + 1) * rs;
        let np = if geom.wgrid { w } else { 1 };
        Self { ts, span, rs, ps, np }
    }

    pub fn len(&self) -> usize {
        self.ps * self.np
    }
}

/// Everything a pass over visibilities reads.
pub(crate) struct PassCtx<'a, T> {
    pub geom: &'a Geometry,
    /// Compact storage of the plane grids (`compact.nrows() × compact.ncols()` each).
    pub compact: &'a Compact,
    pub layout: TileLayout,
    pub kt: &'a KernelTables<T>,
    pub rows: &'a [RowCoord],
    pub fc: &'a [f64],
    pub cw: f64,
    pub ranges: &'a [Range],
    pub nchan: usize,
    pub shifting: bool,
    pub path: SimdPath,
}

/// A raw pointer that may cross threads (disjoint or lock-protected writes only).
#[derive(Clone, Copy)]
pub(crate) struct SyncPtr<T>(pub *mut T);
unsafe impl<T> Send for SyncPtr<T> {}
unsafe impl<T> Sync for SyncPtr<T> {}

impl<T> SyncPtr<T> {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper).
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}

#[inline(always)]
pub(crate) fn cmul<T: GridFloat>(a: Complex<T>, b: Complex<T>) -> Complex<T> {
    Complex::new(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
}

/// Evaluates `nvec` vectors of piecewise polynomials of degree `degree` (table rows in
/// Horner order, highest power first) at `x`, splitting even and odd powers
/// (`p(x) = E(x²) + x·O(x²)`) so that two short dependency chains replace one long one.
#[inline(always)]
fn poly<T: GridFloat, S: Simd>(
    s: S,
    coef: &[T],
    stride: usize,
    degree: usize,
    nvec: usize,
    x: T,
    out: &mut [T::V<S>; 32],
) {
    let l = T::lanes::<S>();
    let xv = T::vsplat(s, x);
    let yv = T::vsplat(s, x * x);
    let me = degree / 2; // highest power of y in E
    let mo = (degree - 1) / 2; // highest power of y in O
    // SAFETY: the tables hold (degree+1)·stride values and nvec·l ≤ stride.
    let ld = |row: usize, j: usize| unsafe { T::vload::<S>(coef.as_ptr().add(row * stride + j * l)) };
    let mut e = [T::vsplat(s, T::ZERO); 4];
    let mut o = [T::vsplat(s, T::ZERO); 4];
    if nvec <= 4 {
        for j in 0..nvec {
            e[j] = ld(degree - 2 * me, j);
            o[j] = ld(degree - 2 * mo - 1, j);
        }
        for m in (0..me).rev() {
            for j in 0..nvec {
                e[j] = T::vfma(s, e[j], yv, ld(degree - 2 * m, j));
                if m < mo {
                    o[j] = T::vfma(s, o[j], yv, ld(degree - 2 * m - 1, j));
                }
            }
        }
        for j in 0..nvec {
            out[j] = T::vfma(s, o[j], xv, e[j]);
        }
    } else {
        // many vectors (narrow lanes): plain Horner, the vectors are independent chains
        for j in 0..nvec {
            out[j] = ld(0, j);
        }
        for d in 1..degree + 1 {
            for j in 0..nvec {
                out[j] = T::vfma(s, out[j], xv, ld(d, j));
            }
        }
    }
}

/// Number of w-planes per visibility; opaque to the optimiser for large supports so that
/// the plane loop stays a loop (code size) while the row and lane loops unroll.
#[inline(always)]
fn planes_loop(w: usize, wg: bool) -> usize {
    match (wg, w > 8) {
        (false, _) => 1,
        (true, false) => w,
        (true, true) => std::hint::black_box(w),
    }
}

#[inline(always)]
fn zero_vecs<T: GridFloat, S: Simd>(s: S) -> [T::V<S>; 32] {
    [T::vsplat(s, T::ZERO); 32]
}

/// Kernel values of one visibility: `ku`, `kw` as scalars, `kv` duplicated as vectors.
#[inline(always)]
fn eval_kernels<T: GridFloat, S: Simd, const WG: bool>(
    s: S,
    w: usize,
    kt: &KernelTables<T>,
    xu: T,
    xv: T,
    xw: T,
    ku: &mut [T; 32],
    kw: &mut [T; 32],
    kv: &mut [T::V<S>; 32],
) {
    let l = T::lanes::<S>();
    let d = w + 3;
    let nvu = w.div_ceil(l);
    let nvv = (2 * w).div_ceil(l);
    let mut tu = zero_vecs::<T, S>(s);
    let mut tw = zero_vecs::<T, S>(s);
    poly::<T, S>(s, &kt.plain, PLAIN_PAD, d, nvu, xu, &mut tu);
    if WG {
        poly::<T, S>(s, &kt.plain, PLAIN_PAD, d, nvu, xw, &mut tw);
    }
    poly::<T, S>(s, &kt.dup, DUP_PAD, d, nvv, xv, kv);
    for j in 0..nvu {
        // SAFETY: ku, kw hold 32 ≥ nvu·l values.
        unsafe { T::vstore::<S>(ku.as_mut_ptr().add(j * l), tu[j]) };
        if WG {
            unsafe { T::vstore::<S>(kw.as_mut_ptr().add(j * l), tw[j]) };
        }
    }
}

/// Adds one visibility to the tile buffer at `base` (first cell of its support).
///
/// # Safety
/// `base` must point into a tile buffer with room for `w` planes × `w` rows × `nvv·l` reals
/// from there on.
#[inline(always)]
unsafe fn spread<T: GridFloat, S: Simd, const WG: bool>(
    s: S,
    w: usize,
    kt: &KernelTables<T>,
    lay: &TileLayout,
    base: *mut T,
    xu: T,
    xv: T,
    xw: T,
    vr: T,
    vi: T,
) {
    let l = T::lanes::<S>();
    let nvv = (2 * w).div_ceil(l);
    let mut ku = [T::ZERO; 32];
    let mut kw = [T::ZERO; 32];
    let mut kv = zero_vecs::<T, S>(s);
    eval_kernels::<T, S, WG>(s, w, kt, xu, xv, xw, &mut ku, &mut kw, &mut kv);
    // kv ⊙ (re, im, re, im, …)
    if l >= 2 {
        let pat = T::vsplat_pair(s, vr, vi);
        for j in 0..nvv {
            kv[j] = T::vmul(s, kv[j], pat);
        }
    } else {
        for j in 0..nvv {
            let p = T::vsplat(s, if j % 2 == 0 { vr } else { vi });
            kv[j] = T::vmul(s, kv[j], p);
        }
    }
    let mut kur = zero_vecs::<T, S>(s);
    for r in 0..w {
        kur[r] = T::vsplat(s, ku[r]);
    }
    let np = planes_loop(w, WG);
    for p in 0..np {
        let mut t = zero_vecs::<T, S>(s);
        if WG {
            let k = T::vsplat(s, kw[p]);
            for j in 0..nvv {
                t[j] = T::vmul(s, kv[j], k);
            }
        } else {
            t = kv;
        }
        let pb = unsafe { base.add(p * lay.ps) };
        for r in 0..w {
            let rp = unsafe { pb.add(r * lay.rs) };
            for j in 0..nvv {
                unsafe {
                    let q = rp.add(j * l);
                    T::vstore::<S>(q, T::vfma(s, kur[r], t[j], T::vload::<S>(q)));
                }
            }
        }
    }
}

/// Interpolates one visibility from the tile buffer at `base`.
///
/// # Safety
/// As for `spread`.
#[inline(always)]
unsafe fn interpolate<T: GridFloat, S: Simd, const WG: bool>(
    s: S,
    w: usize,
    kt: &KernelTables<T>,
    lay: &TileLayout,
    base: *const T,
    xu: T,
    xv: T,
    xw: T,
) -> (T, T) {
    let l = T::lanes::<S>();
    let nvv = (2 * w).div_ceil(l);
    let mut ku = [T::ZERO; 32];
    let mut kw = [T::ZERO; 32];
    let mut kv = zero_vecs::<T, S>(s);
    eval_kernels::<T, S, WG>(s, w, kt, xu, xv, xw, &mut ku, &mut kw, &mut kv);
    let mut acc = zero_vecs::<T, S>(s);
    let np = planes_loop(w, WG);
    for p in 0..np {
        let mut t = zero_vecs::<T, S>(s);
        let pb = unsafe { base.add(p * lay.ps) };
        for r in 0..w {
            let k = T::vsplat(s, ku[r]);
            let rp = unsafe { pb.add(r * lay.rs) };
            for j in 0..nvv {
                t[j] = T::vfma(s, k, unsafe { T::vload::<S>(rp.add(j * l)) }, t[j]);
            }
        }
        if WG {
            let k = T::vsplat(s, kw[p]);
            for j in 0..nvv {
                acc[j] = T::vfma(s, k, t[j], acc[j]);
            }
        } else {
            acc = t;
        }
    }
    if l >= 2 {
        let mut sum = T::vmul(s, acc[0], kv[0]);
        for j in 1..nvv {
            sum = T::vfma(s, acc[j], kv[j], sum);
        }
        T::vsum_pairs(s, sum)
    } else {
        let mut re = T::ZERO;
        let mut im = T::ZERO;
        for j in 0..nvv {
            let v = T::vsum(s, T::vmul(s, acc[j], kv[j]));
            if j % 2 == 0 {
                re += v;
            } else {
                im += v;
            }
        }
        (re, im)
    }
}

/// Hint to load a cache line (x86-64; no-op elsewhere).
#[inline(always)]
fn prefetch<X>(p: *const X) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint and never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch(p as *const i8, core::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Visibility data a pass reads or writes.
pub(crate) enum VisData<'a, T> {
    In { vis: &'a [Complex<T>], weight: Option<&'a [T]> },
    Out { vis: SyncPtr<Complex<T>>, weight: Option<&'a [T]> },
}

/// Per-thread scratch.
pub(crate) struct Scratch<T> {
    pub tile: Vec<T>,
    pub phasor: Vec<Complex<T>>,
    pub turns: Vec<f64>,
}

impl<T: GridFloat> Scratch<T> {
    pub fn new(layout: &TileLayout, nchan: usize) -> Self {
        Self {
            tile: vec![T::ZERO; layout.len() + DUP_PAD],
            phasor: vec![Complex::new(T::ZERO, T::ZERO); nchan],
            turns: vec![0.0; nchan],
        }
    }
}

struct BlockOp<'a, 'b, T> {
    ctx: &'a PassCtx<'a, T>,
    blk: &'a Block,
    data: &'a VisData<'a, T>,
    scratch: &'b mut Scratch<T>,
    /// degridding: add to the output instead of overwriting it
    accumulate: bool,
}

impl<T: GridFloat> pulp::WithSimd for BlockOp<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let w = self.ctx.geom.support;
        let wg = self.ctx.geom.wgrid;
        if S::IS_SCALAR {
            // one copy with the support as a run-time value
            return if wg { block::<T, S, true>(s, self, w) } else { block::<T, S, false>(s, self, w) };
        }
        // SIMD: one specialised copy per support (constant-folded loops)
        macro_rules! go {
            ($($n:literal)*) => {
                match (w, wg) {
                    $(($n, true) => block::<T, S, true>(s, self, $n),
                      ($n, false) => block::<T, S, false>(s, self, $n),)*
                    _ => unreachable!("support {w} out of range"),
                }
            };
        }
        if T::IS_F64 {
            go!(4 5 6 7 8 9 10 11 12 13 14 15 16)
        } else {
            go!(4 5 6 7 8)
        }
    }
}

#[inline(always)]
fn block<T: GridFloat, S: Simd, const WG: bool>(s: S, op: BlockOp<'_, '_, T>, w: usize) {
    let ctx = op.ctx;
    let geom = ctx.geom;
    let lay = &ctx.layout;
    let (bu0, bv0) = geom.tile_origin(op.blk.key);
    let p_first = Geometry::key_plane(op.blk.key) as i32;
    let ts = lay.ts as u32;
    let tile = op.scratch.tile.as_mut_ptr();
    let phasor = &mut op.scratch.phasor;
    let turns = &mut op.scratch.turns;
    let _ = p_first;
    let ranges = &ctx.ranges[op.blk.start..op.blk.end];
    for (ri, rg) in ranges.iter().enumerate() {
        // the visibilities of the next ranges are elsewhere in memory: fetch them early
        for ahead in [1usize, 2] {
            if let Some(nx) = ranges.get(ri + ahead) {
                let k = nx.row as usize * ctx.nchan + nx.ch_begin as usize;
                match op.data {
                    VisData::In { vis, weight } => {
                        prefetch(vis.as_ptr().wrapping_add(k));
                        if let Some(w) = weight {
                            prefetch(w.as_ptr().wrapping_add(k));
                        }
                    }
                    VisData::Out { vis, .. } => prefetch(vis.get().wrapping_add(k) as *const Complex<T>),
                }
                prefetch(ctx.rows.as_ptr().wrapping_add(nx.row as usize));
            }
        }
        let row = rg.row as usize;
        let rc = ctx.rows[row];
        let (cb, ce) = (rg.ch_begin as usize, rg.ch_end as usize);
        if ctx.shifting {
            for (t, f) in turns[..ce - cb].iter_mut().zip(&ctx.fc[cb..ce]) {
                *t = rc.phase * f;
            }
            expi_turns::<T, S>(s, &turns[..ce - cb], &mut phasor[..ce - cb]);
        }
        let off = row * ctx.nchan;
        for ch in cb..ce {
            let loc = geom.locate(rc.au, rc.av, rc.aw, ctx.cw, ctx.fc[ch]);
            let du = (loc.iu0 - bu0) as u32;
            let dv = (loc.iv0 - bv0) as u32;
            assert!(du < ts && dv < ts && (!WG || loc.p0 == p_first), "visibility outside its tile");
            let base_off = du as usize * lay.rs + 2 * dv as usize;
            let (xu, xv, xw) = (T::cast_from(loc.xu), T::cast_from(loc.xv), T::cast_from(loc.xw));
            match op.data {
                VisData::In { vis, weight } => {
                    let mut v = vis[off + ch];
                    if rc.conj {
                        v = v.conj();
                    }
                    if let Some(wt) = weight {
                        let wv = wt[off + ch];
                        v = Complex::new(v.re * wv, v.im * wv);
                    }
                    if ctx.shifting {
                        v = cmul(v, phasor[ch - cb]);
                    }
                    // SAFETY: du, dv < ts, so the support fits in the buffer (TileLayout).
                    unsafe { spread::<T, S, WG>(s, w, ctx.kt, lay, tile.add(base_off), xu, xv, xw, v.re, v.im) };
                }
                VisData::Out { vis, weight } => {
                    let (re, im) = unsafe {
                        interpolate::<T, S, WG>(s, w, ctx.kt, lay, tile.add(base_off), xu, xv, xw)
                    };
                    let mut v = Complex::new(re, im);
                    if ctx.shifting {
                        v = cmul(v, phasor[ch - cb].conj());
                    }
                    if rc.conj {
                        v = v.conj();
                    }
                    if let Some(wt) = weight {
                        let wv = wt[off + ch];
                        v = Complex::new(v.re * wv, v.im * wv);
                    }
                    // SAFETY: every (row, ch) belongs to exactly one range, so threads write
                    // disjoint elements.
                    unsafe {
                        let p = vis.get().add(off + ch);
                        if op.accumulate {
                            *p = Complex::new((*p).re + v.re, (*p).im + v.im);
                        } else {
                            *p = v;
                        }
                    }
                }
            }
        }
    }
}

/// Grids `blocks` and adds their tile buffers to the grids of planes `deposit` (a
/// plane's grid is `grids[plane % grids.len()]`, each `nu × nv`, row locks in `locks`).
pub(crate) fn grid_blocks<T: GridFloat>(
    ctx: &PassCtx<'_, T>,
    blocks: &[Block],
    vis: &[Complex<T>],
    weight: Option<&[T]>,
    grids: &[SyncPtr<Complex<T>>],
    deposit: std::ops::Range<usize>,
    locks: &[Mutex<()>],
    scratch: &[Mutex<Scratch<T>>],
) {
    use rayon::prelude::*;
    let data = VisData::In { vis, weight };
    blocks.par_iter().for_each(|blk| {
        let tid = rayon::current_thread_index().unwrap_or(0) % scratch.len();
        let mut sc = scratch[tid].lock().unwrap();
        dispatch(ctx.path, BlockOp { ctx, blk, data: &data, scratch: &mut sc, accumulate: false });
        flush(ctx, blk, &mut sc.tile, grids, &deposit, locks);
    });
}

/// Where a tile's rows and columns sit in the compact plane storage: per tile row the
/// compact row, and the (at most two, at the wrap of v) runs of contiguous columns as
/// (first tile column, first compact column, length).
fn tile_map(ctx: &PassCtx<'_, impl Sized>, blk: &Block) -> (i32, [(usize, usize, usize); 2]) {
    let geom = ctx.geom;
    let lay = &ctx.layout;
    let (bu0, bv0) = geom.tile_origin(blk.key);
    let v0 = bv0.rem_euclid(geom.nv as i32) as usize;
    let first = lay.span.min(geom.nv - v0);
    let c0 = ctx.compact.col_of[v0] as usize;
    let runs = if first < lay.span {
        [(0, c0, first), (first, ctx.compact.col_of[0] as usize, lay.span - first)]
    } else {
        [(0, c0, first), (0, 0, 0)]
    };
    (bu0, runs)
}

/// Adds a tile buffer to the plane grids and zeroes it.
fn flush<T: GridFloat>(
    ctx: &PassCtx<'_, T>,
    blk: &Block,
    tile: &mut [T],
    grids: &[SyncPtr<Complex<T>>],
    deposit: &std::ops::Range<usize>,
    locks: &[Mutex<()>],
) {
    let geom = ctx.geom;
    let lay = &ctx.layout;
    let (bu0, runs) = tile_map(ctx, blk);
    let p_first = if geom.wgrid { Geometry::key_plane(blk.key) } else { 0 };
    let nu = geom.nu as i32;
    let ncols = ctx.compact.ncols();
    for p in 0..lay.np {
        let plane = p_first + p;
        let pt = &mut tile[p * lay.ps..(p + 1) * lay.ps];
        if !deposit.contains(&plane) {
            for r in 0..lay.span {
                pt[r * lay.rs..r * lay.rs + 2 * lay.span].fill(T::ZERO);
            }
            continue;
        }
        let g = grids[plane % grids.len()].get();
        for r in 0..lay.span {
            let gu = (bu0 + r as i32).rem_euclid(nu) as usize;
            let cr = ctx.compact.row_of[gu] as usize;
            let src = &mut pt[r * lay.rs..r * lay.rs + 2 * lay.span];
            let _guard = locks[cr].lock().unwrap();
            // SAFETY: compact row cr of this grid is only written under its lock.
            let dst = unsafe { std::slice::from_raw_parts_mut(g.add(cr * ncols), ncols) };
            for &(t0, c0, len) in &runs {
                for (k, d) in dst[c0..c0 + len].iter_mut().enumerate() {
                    d.re += src[2 * (t0 + k)];
                    d.im += src[2 * (t0 + k) + 1];
                }
            }
            src.fill(T::ZERO);
        }
    }
}

/// Degrids `blocks` from the grids of planes `use_planes` (others are skipped by zeroing
/// their part of the tile buffer), writing (or adding to) the output visibilities.
#[allow(clippy::too_many_arguments)]
pub(crate) fn degrid_blocks<T: GridFloat>(
    ctx: &PassCtx<'_, T>,
    blocks: &[Block],
    out: SyncPtr<Complex<T>>,
    weight: Option<&[T]>,
    grids: &[SyncPtr<Complex<T>>],
    use_planes: std::ops::Range<usize>,
    accumulate: bool,
    scratch: &[Mutex<Scratch<T>>],
) {
    use rayon::prelude::*;
    let data = VisData::Out { vis: out, weight };
    blocks.par_iter().for_each(|blk| {
        let tid = rayon::current_thread_index().unwrap_or(0) % scratch.len();
        let mut sc = scratch[tid].lock().unwrap();
        load(ctx, blk, &mut sc.tile, grids, &use_planes);
        dispatch(ctx.path, BlockOp { ctx, blk, data: &data, scratch: &mut sc, accumulate });
    });
}

/// Copies a tile's region of the plane grids into the tile buffer.
fn load<T: GridFloat>(
    ctx: &PassCtx<'_, T>,
    blk: &Block,
    tile: &mut [T],
    grids: &[SyncPtr<Complex<T>>],
    use_planes: &std::ops::Range<usize>,
) {
    let geom = ctx.geom;
    let lay = &ctx.layout;
    let (bu0, runs) = tile_map(ctx, blk);
    let p_first = if geom.wgrid { Geometry::key_plane(blk.key) } else { 0 };
    let nu = geom.nu as i32;
    let ncols = ctx.compact.ncols();
    for p in 0..lay.np {
        let plane = p_first + p;
        let pt = &mut tile[p * lay.ps..(p + 1) * lay.ps];
        if !use_planes.contains(&plane) {
            for r in 0..lay.span {
                pt[r * lay.rs..r * lay.rs + 2 * lay.span].fill(T::ZERO);
            }
            continue;
        }
        let g = grids[plane % grids.len()].get();
        for r in 0..lay.span {
            let gu = (bu0 + r as i32).rem_euclid(nu) as usize;
            let cr = ctx.compact.row_of[gu] as usize;
            let dst = &mut pt[r * lay.rs..r * lay.rs + 2 * lay.span];
            // SAFETY: grids are only read during degridding.
            let src = unsafe { std::slice::from_raw_parts(g.add(cr * ncols) as *const Complex<T>, ncols) };
            for &(t0, c0, len) in &runs {
                for (k, s) in src[c0..c0 + len].iter().enumerate() {
                    dst[2 * (t0 + k)] = s.re;
                    dst[2 * (t0 + k) + 1] = s.im;
                }
            }
        }
    }
}
