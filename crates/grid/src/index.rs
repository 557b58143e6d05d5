//! Where every visibility lands: grid geometry, per-row coordinates, and the index that
//! groups (row, channel-range) pieces by grid tile and w-plane.

use rayon::prelude::*;

/// Speed of light (m/s).
pub const SPEED_OF_LIGHT_M_S: f64 = 299_792_458.0;

/// The oversampled grid and the w-planes.
#[derive(Clone, Debug)]
pub(crate) struct Geometry {
    pub nu: usize,
    pub nv: usize,
    pub support: usize,
    /// log2 of the tile side (grid cells).
    pub log2tile: u32,
    pub wgrid: bool,
    pub nplanes: usize,
    /// w (wavelengths) of plane 0.
    pub w0: f64,
    /// plane spacing (wavelengths).
    pub dw: f64,
}

/// Position of one visibility: first grid cell of the support in u, v (may be negative or
/// run past the grid end: wrap when writing), first w-plane, and local kernel coordinates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Loc {
    pub iu0: i32,
    pub iv0: i32,
    pub p0: i32,
    pub xu: f64,
    pub xv: f64,
    pub xw: f64,
}

impl Geometry {
    /// Tile side in cells.
    #[inline(always)]
    pub fn tile(&self) -> usize {
        1 << self.log2tile
    }

    /// Along one axis: `t` in grid periods (u·Δx), wrapped to [0,1), scaled to `n` cells.
    #[inline(always)]
    fn axis(t: f64, n: f64, half: f64) -> (i32, f64) {
        let t = t - t.floor();
        let g = t * n;
        let c = g - half;
        let fl = c.floor();
        (fl as i32 + 1, 1.0 - 2.0 * (c - fl))
    }

    /// Locates a visibility. `au = u·Δx`, `av = v·Δy` per unit of f/c; `aw = w/dw` per unit of
    /// f/c, `cw = w0/dw`. The exact same arithmetic runs when building the index and when
    /// gridding, so a visibility always falls inside its tile.
    #[inline(always)]
    pub fn locate(&self, au: f64, av: f64, aw: f64, cw: f64, fc: f64) -> Loc {
        let half = self.support as f64 * 0.5;
        let (iu0, xu) = Self::axis(au * fc, self.nu as f64, half);
        let (iv0, xv) = Self::axis(av * fc, self.nv as f64, half);
        let (p0, xw) = if self.wgrid {
            let g = aw * fc - cw;
            let c = g - half;
            let fl = c.floor();
            let p = (fl as i32 + 1).clamp(0, (self.nplanes - self.support) as i32);
            (p, 1.0 - 2.0 * (c - fl))
        } else {
            (0, 0.0)
        };
        Loc { iu0, iv0, p0, xu, xv, xw }
    }

    /// (plane, tile u, tile v) packed for sorting.
    #[inline(always)]
    pub fn key(&self, l: &Loc) -> u64 {
        let off = self.support as i32;
        let tu = ((l.iu0 + off) as u64) >> self.log2tile;
        let tv = ((l.iv0 + off) as u64) >> self.log2tile;
        ((l.p0 as u64) << 42) | (tu << 21) | tv
    }

    /// Origin (first grid u, v cell) of the tile buffer of a key.
    #[inline(always)]
    pub fn tile_origin(&self, key: u64) -> (i32, i32) {
        let tu = ((key >> 21) & ((1 << 21) - 1)) as i32;
        let tv = (key & ((1 << 21) - 1)) as i32;
        let off = self.support as i32;
        ((tu << self.log2tile) - off, (tv << self.log2tile) - off)
    }

    #[inline(always)]
    pub fn key_plane(key: u64) -> usize {
        (key >> 42) as usize
    }
}

/// Per-row coordinates, already flipped so that w ≥ 0 (`conj` says the visibility must be
/// conjugated), in units that `Geometry::locate` takes, per unit of f/c.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RowCoord {
    pub au: f64,
    pub av: f64,
    pub aw: f64,
    /// Phase (turns per unit of f/c) of the shift of the image centre and of n.
    pub phase: f64,
    pub conj: bool,
}

/// Channels `ch_begin..ch_end` of `row`, all in one tile and w-plane group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Range {
    pub row: u32,
    pub ch_begin: u32,
    pub ch_end: u32,
}

/// A run of ranges with one key (a tile and a first w-plane).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    pub key: u64,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    pub ranges: Vec<Range>,
    pub blocks: Vec<Block>,
    /// Blocks whose first plane is `p`: `blocks[by_plane[p]..by_plane[p+1]]`.
    pub by_plane: Vec<usize>,
    pub nvis: usize,
    /// The grid rows (u) and columns (v) that any visibility touches, and where they sit in
    /// the compact plane storage.
    pub compact: Compact,
    /// Per plane: the compact rows / columns its visibilities touch.
    pub plane_rows: Vec<Vec<u32>>,
    pub plane_cols: Vec<Vec<u32>>,
}

/// The w-plane grids are stored compactly: only the rows and columns that hold data (for a
/// DSA-110 snapshot, a quarter of the rows and a sixth of the columns of the oversampled
/// grid), so the planes held at once stay small and cache-friendly.
#[derive(Clone, Debug, Default)]
pub(crate) struct Compact {
    /// Grid index of compact row `k` (ascending).
    pub rows: Vec<u32>,
    /// Compact index of grid row `g`, `u32::MAX` if unused.
    pub row_of: Vec<u32>,
    pub cols: Vec<u32>,
    pub col_of: Vec<u32>,
}

impl Compact {
    fn from_flags(rows: &[bool], cols: &[bool]) -> Self {
        let mk = |f: &[bool]| {
            let list: Vec<u32> = (0..f.len() as u32).filter(|&g| f[g as usize]).collect();
            let mut of = vec![u32::MAX; f.len()];
            for (k, &g) in list.iter().enumerate() {
                of[g as usize] = k as u32;
            }
            (list, of)
        };
        let (rows, row_of) = mk(rows);
        let (cols, col_of) = mk(cols);
        Self { rows, row_of, cols, col_of }
    }

    pub fn nrows(&self) -> usize {
        self.rows.len()
    }

    pub fn ncols(&self) -> usize {
        self.cols.len()
    }
}

impl Index {
    /// Groups all active visibilities. `active(row, ch)` is false for masked ones;
    /// `sorted_freq` says the frequencies ascend (then channel runs are split by bisection).
    pub fn build(
        geom: &Geometry,
        rows: &[RowCoord],
        fc: &[f64],
        cw: f64,
        active: &(dyn Fn(usize, usize) -> bool + Sync),
        sorted_freq: bool,
        nthreads: usize,
    ) -> Index {
        let nchan = fc.len();
        let nrow = rows.len();
        let chunk = (nrow / (8 * nthreads.max(1))).clamp(64, 16384);
        let mut items: Vec<(u64, Range)> = (0..nrow)
            .into_par_iter()
            .with_min_len(chunk)
            .fold(Vec::new, |mut out, row| {
                let rc = rows[row];
                let key_of = |ch: usize| {
                    let l = geom.locate(rc.au, rc.av, rc.aw, cw, fc[ch]);
                    geom.key(&l)
                };
                let mut ch = 0;
                while ch < nchan {
                    while ch < nchan && !active(row, ch) {
                        ch += 1;
                    }
                    if ch == nchan {
                        break;
                    }
                    let mut end = ch + 1;
                    while end < nchan && active(row, end) {
                        end += 1;
                    }
                    // active run [ch, end)
                    let push = |out: &mut Vec<(u64, Range)>, k: u64, a: usize, b: usize| {
                        out.push((k, Range { row: row as u32, ch_begin: a as u32, ch_end: b as u32 }));
                    };
                    if sorted_freq {
                        split_run(ch, end, &key_of, &mut |k, a, b| push(&mut out, k, a, b));
                    } else {
                        let mut a = ch;
                        let mut ka = key_of(a);
                        for c in ch + 1..end {
                            let kc = key_of(c);
                            if kc != ka {
                                push(&mut out, ka, a, c);
                                a = c;
                                ka = kc;
                            }
                        }
                        push(&mut out, ka, a, end);
                    }
                    ch = end;
                }
                out
            })
            .reduce(Vec::new, |mut a, mut b| {
                a.append(&mut b);
                a
            });
        items.par_sort_unstable_by_key(|(k, r)| (*k, r.row, r.ch_begin));
        let nvis: usize = items.iter().map(|(_, r)| (r.ch_end - r.ch_begin) as usize).sum();
        // blocks: one per key, split for load balance
        let max_block = (nvis / (64 * nthreads.max(1))).max(2048);
        let mut blocks = Vec::new();
        let mut i = 0;
        while i < items.len() {
            let key = items[i].0;
            let mut j = i;
            let mut acc = 0usize;
            let mut start = i;
            while j < items.len() && items[j].0 == key {
                let n = (items[j].1.ch_end - items[j].1.ch_begin) as usize;
                if acc > 0 && acc + n > max_block {
                    blocks.push(Block { key, start, end: j });
                    start = j;
                    acc = 0;
                }
                acc += n;
                j += 1;
            }
            blocks.push(Block { key, start, end: j });
            i = j;
        }
        let ranges: Vec<Range> = items.into_iter().map(|(_, r)| r).collect();
        let nminplanes = if geom.wgrid { geom.nplanes - geom.support + 1 } else { 1 };
        let mut by_plane = vec![0usize; nminplanes + 1];
        for b in &blocks {
            by_plane[Geometry::key_plane(b.key) + 1] += 1;
        }
        for p in 0..nminplanes {
            by_plane[p + 1] += by_plane[p];
        }
        // grid rows / columns used per plane
        let np = geom.nplanes;
        let mut rows_used = vec![vec![false; geom.nu]; np];
        let mut cols_used = vec![vec![false; geom.nv]; np];
        let t = geom.tile();
        let w = geom.support;
        let span = t + w - 1;
        for b in &blocks {
            let (bu, bv) = geom.tile_origin(b.key);
            let p0 = Geometry::key_plane(b.key);
            let planes = if geom.wgrid { p0..p0 + w } else { 0..1 };
            for p in planes {
                for r in 0..span {
                    let gu = (bu + r as i32).rem_euclid(geom.nu as i32) as usize;
                    rows_used[p][gu] = true;
                }
                for c in 0..span {
                    let gv = (bv + c as i32).rem_euclid(geom.nv as i32) as usize;
                    cols_used[p][gv] = true;
                }
            }
        }
        let any_rows: Vec<bool> = (0..geom.nu).map(|g| rows_used.iter().any(|r| r[g])).collect();
        let any_cols: Vec<bool> = (0..geom.nv).map(|g| cols_used.iter().any(|c| c[g])).collect();
        let compact = Compact::from_flags(&any_rows, &any_cols);
        let plane_rows = rows_used
            .iter()
            .map(|f| (0..geom.nu).filter(|&g| f[g]).map(|g| compact.row_of[g]).collect())
            .collect();
        let plane_cols = cols_used
            .iter()
            .map(|f| (0..geom.nv).filter(|&g| f[g]).map(|g| compact.col_of[g]).collect())
            .collect();
        Index { ranges, blocks, by_plane, nvis, compact, plane_rows, plane_cols }
    }
}

/// Splits the active channel run `[lo, hi)` into pieces of equal key, assuming the key is
/// monotone in the channel (true when the frequencies ascend: u, v, w scale with f).
fn split_run(lo: usize, hi: usize, key_of: &dyn Fn(usize) -> u64, emit: &mut dyn FnMut(u64, usize, usize)) {
    let klo = key_of(lo);
    let khi = key_of(hi - 1);
    if klo == khi {
        emit(klo, lo, hi);
        return;
    }
    // find boundaries recursively
    fn rec(a: usize, ka: u64, b: usize, kb: u64, key_of: &dyn Fn(usize) -> u64, cuts: &mut Vec<(usize, u64)>) {
        // invariant: key(a) = ka != kb = key(b), a < b
        if b == a + 1 {
            cuts.push((b, kb));
            return;
        }
        let m = a + (b - a) / 2;
        let km = key_of(m);
        if km != ka {
            rec(a, ka, m, km, key_of, cuts);
        }
        if km != kb {
            rec(m, km, b, kb, key_of, cuts);
        }
    }
    let mut cuts = Vec::new();
    rec(lo, klo, hi - 1, khi, key_of, &mut cuts);
    let mut a = lo;
    let mut ka = klo;
    for (c, kc) in cuts {
        emit(ka, a, c);
        a = c;
        ka = kc;
    }
    emit(ka, a, hi);
}
