//! The passes a [`GridPlan`] runs: visibilities to the dirty image (gridding, FFT, correction)
//! and back (degridding), with their scratch buffers and phase timers.

use super::{check_len, GridPlan};
use crate::gridder::{self, PassCtx, Scratch, SyncPtr, TileLayout};
use crate::planes::{self, FftScratch, PlaneJob};
use crate::simd::GridFloat;
use crate::GridError;
use num_complex::Complex;
use rayon::prelude::*;
use std::sync::Mutex;

impl<T: GridFloat> GridPlan<T> {
    fn ctx(&self) -> PassCtx<'_, T> {
        PassCtx {
            geom: &self.geom,
            compact: &self.index.compact,
            layout: TileLayout::new(&self.geom),
            kt: &self.kt,
            rows: &self.rows,
            fc: &self.fc,
            cw: self.cw,
            ranges: &self.index.ranges,
            nchan: self.nchan,
            shifting: self.shifting,
            path: self.info.simd,
        }
    }

    /// Multiplies the image by the per-pixel correction.
    fn apply_correction(&self, img: &mut [T]) {
        let (nx, ny) = (self.params.npix_x, self.params.npix_y);
        let mirrored = self.corr_tab.len() < nx * ny;
        img.par_chunks_mut(ny).enumerate().for_each(|(i, row)| {
            let r = if mirrored { i.abs_diff(nx / 2) } else { i };
            for (v, f) in row.iter_mut().zip(&self.corr_tab[r * ny..(r + 1) * ny]) {
                *v *= *f;
            }
        });
    }

    fn thread_scratch(&self) -> (Vec<Mutex<Scratch<T>>>, Vec<Mutex<FftScratch<T>>>) {
        let n = self.info.nthreads;
        let lay = TileLayout::new(&self.geom);
        let s = (0..n).map(|_| Mutex::new(Scratch::new(&lay, self.nchan))).collect();
        let f = (0..n)
            .map(|_| Mutex::new(FftScratch::new(self.geom.nu, self.geom.nv, self.params.npix_y, &self.ffts)))
            .collect();
        (s, f)
    }

    fn blocks_of(&self, minplane: usize) -> &[crate::index::Block] {
        let bp = &self.index.by_plane;
        &self.index.blocks[bp[minplane]..bp[minplane + 1]]
    }

    fn plane_job<'a>(&'a self, grids: &[SyncPtr<Complex<T>>], ir: SyncPtr<Complex<T>>, plane: usize) -> PlaneJob<'a, T> {
        PlaneJob {
            grid: grids[plane % grids.len()],
            nu: self.geom.nu,
            compact: &self.index.compact,
            rows: &self.index.plane_rows[plane],
            cols: &self.index.plane_cols[plane],
            ir,
            w: if self.geom.wgrid { Some(self.geom.w0 + plane as f64 * self.geom.dw) } else { None },
        }
    }

    /// Visibilities (`[nrow][nchan]`, optionally weighted) to the dirty image
    /// (`[npix_x][npix_y]`).
    pub fn ms2dirty(&self, vis: &[Complex<T>], weight: Option<&[T]>) -> Result<Vec<T>, GridError> {
        let mut dirty = vec![T::ZERO; self.params.npix_x * self.params.npix_y];
        self.ms2dirty_into(vis, weight, &mut dirty)?;
        Ok(dirty)
    }

    /// As `ms2dirty`, into a caller's image buffer (overwritten).
    pub fn ms2dirty_into(&self, vis: &[Complex<T>], weight: Option<&[T]>, dirty: &mut [T]) -> Result<(), GridError> {
        let n = self.nrow * self.nchan;
        check_len("vis", n, vis.len())?;
        if let Some(w) = weight {
            check_len("weight", n, w.len())?;
        }
        check_len("dirty", self.params.npix_x * self.params.npix_y, dirty.len())?;
        dirty.fill(T::ZERO);
        if self.index.nvis == 0 {
            return Ok(());
        }
        self.pool.install(|| self.x2dirty(vis, weight, dirty));
        Ok(())
    }

    /// The resident w-plane grids (compact: only the rows and columns with data), zeroed, and
    /// the buffer of half-transformed image rows. Stored as reals.
    fn alloc_grids(&self) -> (Vec<Vec<T>>, Vec<SyncPtr<Complex<T>>>, SyncPtr<Complex<T>>) {
        let k = self.info.resident_planes;
        let c = &self.index.compact;
        let n = 2 * c.nrows() * c.ncols();
        let mut grids: Vec<Vec<T>> = (0..k).map(|_| vec![T::ZERO; n]).collect();
        for g in &mut grids {
            advise_huge_pages(g);
        }
        // Complex<T> is repr(C) {re, im}: a slice of 2n reals is one of n complex values.
        let mut gp: Vec<SyncPtr<Complex<T>>> =
            grids.iter_mut().map(|g| SyncPtr(g.as_mut_ptr() as *mut Complex<T>)).collect();
        let mut ir = vec![T::ZERO; 2 * self.params.npix_x * c.ncols()];
        advise_huge_pages(&mut ir);
        let irp = SyncPtr(ir.as_mut_ptr() as *mut Complex<T>);
        grids.push(ir);
        gp.truncate(k);
        (grids, gp, irp)
    }

    fn x2dirty(&self, vis: &[Complex<T>], weight: Option<&[T]>, dirty: &mut [T]) {
        let ctx = self.ctx();
        let mut tm = Timers::new();
        let (grids, gp, ir) = self.alloc_grids();
        let locks: Vec<Mutex<()>> = (0..self.index.compact.nrows()).map(|_| Mutex::new(())).collect();
        let (tsc, fsc) = self.thread_scratch();
        tm.lap("setup");
        let path = self.info.simd;
        let w = self.geom.support;
        let grid = |blocks: &[crate::index::Block], deposit: std::ops::Range<usize>, tm: &mut Timers| {
            gridder::grid_blocks(&ctx, blocks, vis, weight, &gp, deposit, &locks, &tsc);
            tm.lap("grid");
        };
        let fft = |pl: usize, dirty: &mut [T], tm: &mut Timers| {
            planes::grid_to_dirty(&self.plane_job(&gp, ir, pl), &self.img, &self.ffts, dirty, &fsc, path);
            tm.lap("fft+screen");
        };
        if !self.geom.wgrid {
            grid(&self.index.blocks, 0..1, &mut tm);
            fft(0, dirty, &mut tm);
        } else {
            let np = self.geom.nplanes;
            let nmin = np - w + 1;
            let k = gp.len();
            if k >= w {
                for m in 0..nmin {
                    grid(self.blocks_of(m), m..m + w, &mut tm);
                    fft(m, dirty, &mut tm);
                }
                for pl in nmin..np {
                    fft(pl, dirty, &mut tm);
                }
            } else {
                let mut lo = 0;
                while lo < np {
                    let hi = (lo + k).min(np);
                    for m in lo.saturating_sub(w - 1)..hi.min(nmin) {
                        grid(self.blocks_of(m), lo..hi, &mut tm);
                    }
                    for pl in lo..hi {
                        fft(pl, dirty, &mut tm);
                    }
                    lo = hi;
                }
            }
        }
        drop(grids);
        tm.lap("free");
        self.apply_correction(dirty);
        tm.lap("correction");
        tm.report("ms2dirty");
    }

    /// Dirty image (`[npix_x][npix_y]`) to visibilities (`[nrow][nchan]`, multiplied by the
    /// weights if given; masked ones are 0): the adjoint of `ms2dirty`.
    pub fn dirty2ms(&self, dirty: &[T], weight: Option<&[T]>) -> Result<Vec<Complex<T>>, GridError> {
        let mut vis = vec![Complex::new(T::ZERO, T::ZERO); self.nrow * self.nchan];
        self.dirty2ms_into(dirty, weight, &mut vis)?;
        Ok(vis)
    }

    /// As `dirty2ms`, into a caller's buffer (overwritten).
    pub fn dirty2ms_into(&self, dirty: &[T], weight: Option<&[T]>, vis: &mut [Complex<T>]) -> Result<(), GridError> {
        let n = self.nrow * self.nchan;
        check_len("vis", n, vis.len())?;
        if let Some(w) = weight {
            check_len("weight", n, w.len())?;
        }
        check_len("dirty", self.params.npix_x * self.params.npix_y, dirty.len())?;
        self.pool.install(|| {
            vis.par_iter_mut().for_each(|v| *v = Complex::new(T::ZERO, T::ZERO));
        });
        if self.index.nvis == 0 {
            return Ok(());
        }
        self.pool.install(|| self.dirty2x(dirty, weight, vis));
        Ok(())
    }

    fn dirty2x(&self, dirty: &[T], weight: Option<&[T]>, vis: &mut [Complex<T>]) {
        let ctx = self.ctx();
        let mut tm = Timers::new();
        let mut corrected = dirty.to_vec();
        self.apply_correction(&mut corrected);
        tm.lap("correction");
        let (_grids, gp, ir) = self.alloc_grids();
        let (tsc, fsc) = self.thread_scratch();
        tm.lap("setup");
        let path = self.info.simd;
        let out = SyncPtr(vis.as_mut_ptr());
        let w = self.geom.support;
        let fft = |pl: usize, tm: &mut Timers| {
            planes::dirty_to_grid(&self.plane_job(&gp, ir, pl), &self.img, &self.ffts, &corrected, &fsc, path);
            tm.lap("fft+screen");
        };
        let degrid = |blocks: &[crate::index::Block], use_planes: std::ops::Range<usize>, acc: bool, tm: &mut Timers| {
            gridder::degrid_blocks(&ctx, blocks, out, weight, &gp, use_planes, acc, &tsc);
            tm.lap("degrid");
        };
        if !self.geom.wgrid {
            fft(0, &mut tm);
            degrid(&self.index.blocks, 0..1, false, &mut tm);
        } else {
            let np = self.geom.nplanes;
            let nmin = np - w + 1;
            let k = gp.len();
            if k >= w {
                for pl in 0..w - 1 {
                    fft(pl, &mut tm);
                }
                for m in 0..nmin {
                    fft(m + w - 1, &mut tm);
                    degrid(self.blocks_of(m), m..m + w, false, &mut tm);
                }
            } else {
                let mut lo = 0;
                while lo < np {
                    let hi = (lo + k).min(np);
                    for pl in lo..hi {
                        fft(pl, &mut tm);
                    }
                    for m in lo.saturating_sub(w - 1)..hi.min(nmin) {
                        degrid(self.blocks_of(m), lo..hi, m < lo, &mut tm);
                    }
                    lo = hi;
                }
            }
        }
        tm.report("dirty2ms");
    }
}


/// Asks the kernel for transparent huge pages on a large buffer not touched yet (fewer page
/// faults and TLB misses on the w-plane grids). Best effort, Linux only.
fn advise_huge_pages<T>(v: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(v);
        let a = start.div_ceil(HUGE) * HUGE;
        if end > a + HUGE {
            let len = (end - a) / HUGE * HUGE;
            // SAFETY: the range lies inside the allocation; MADV_HUGEPAGE does not change its
            // contents.
            unsafe {
                libc::madvise(a as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// Phase timings, printed to stderr when `CONTIMG_GRID_VERBOSE` is set.
struct Timers {
    on: bool,
    last: std::time::Instant,
    acc: Vec<(&'static str, f64)>,
}

impl Timers {
    fn new() -> Self {
        Self { on: std::env::var_os("CONTIMG_GRID_VERBOSE").is_some(), last: std::time::Instant::now(), acc: Vec::new() }
    }

    fn lap(&mut self, what: &'static str) {
        if !self.on {
            return;
        }
        let now = std::time::Instant::now();
        let dt = (now - self.last).as_secs_f64();
        self.last = now;
        match self.acc.iter_mut().find(|(k, _)| *k == what) {
            Some(e) => e.1 += dt,
            None => self.acc.push((what, dt)),
        }
    }

    fn report(&self, op: &str) {
        if self.on {
            let parts: Vec<String> = self.acc.iter().map(|(k, v)| format!("{k} {v:.3}s")).collect();
            eprintln!("grid: {op}: {}", parts.join(", "));
        }
    }
}
