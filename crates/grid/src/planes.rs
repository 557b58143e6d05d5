//! From one w-plane's uv grid to the dirty image and back: the FFTs (pruned to the columns
//! that hold data and the rows that become image pixels), the w-screens
//! `exp(∓2πi·w·(n−1+n_shift))`, and the per-pixel correction.

use crate::gridder::SyncPtr;
use crate::simd::{dispatch, sincos_turns, GridFloat, SimdPath};
use num_complex::Complex;
use pulp::Simd;
use rayon::prelude::*;
use rustfft::Fft;
use std::sync::{Arc, Mutex};

/// Columns gathered per batch for the FFTs along u.
const BATCH: usize = 16;

/// The image and its geometry on the sky.
#[derive(Clone, Debug)]
pub(crate) struct ImageGeom {
    pub nx: usize,
    pub ny: usize,
    pub nshift: f64,
    /// No centre shift: n depends on |i−nx/2|, |j−ny/2| only, and the per-pixel tables hold
    /// the quarter `(nx/2+1) × (ny/2+1)`; else the full `nx × ny`.
    pub symmetric: bool,
    /// `n − 1 + nshift` per pixel (quarter or full); empty without w-gridding.
    pub nprime: Vec<f64>,
}

impl ImageGeom {
    pub fn new(nx: usize, ny: usize, psx: f64, psy: f64, lshift: f64, mshift: f64, nshift: f64, wgrid: bool) -> Self {
        let x0 = lshift - 0.5 * nx as f64 * psx;
        let y0 = mshift - 0.5 * ny as f64 * psy;
        let symmetric = lshift == 0.0 && mshift == 0.0;
        let (ni, nj) = if symmetric { (nx / 2 + 1, ny / 2 + 1) } else { (nx, ny) };
        let mut nprime = vec![0.0; if wgrid { ni * nj } else { 0 }];
        nprime.par_chunks_mut(nj).enumerate().for_each(|(a, row)| {
            let x = if symmetric { a as f64 * psx } else { x0 + a as f64 * psx };
            for (b, v) in row.iter_mut().enumerate() {
                let y = if symmetric { b as f64 * psy } else { y0 + b as f64 * psy };
                *v = n_minus_1(x * x + y * y) + nshift;
            }
        });
        Self { nx, ny, nshift, symmetric, nprime }
    }

    /// Row length of the per-pixel tables.
    pub fn table_cols(&self) -> usize {
        if self.symmetric {
            self.ny / 2 + 1
        } else {
            self.ny
        }
    }

    /// Table row of image row `i`.
    pub fn table_row(&self, i: usize) -> usize {
        if self.symmetric {
            i.abs_diff(self.nx / 2)
        } else {
            i
        }
    }
}

/// `n − 1 = sqrt(1 − l² − m²) − 1` in a form accurate near the centre; beyond the horizon
/// (`l²+m² > 1`) `−sqrt(l²+m²−1) − 1`, as ducc0 does.
#[inline]
pub(crate) fn n_minus_1(r2: f64) -> f64 {
    let t = 1.0 - r2;
    if t >= 0.0 {
        -r2 / (t.sqrt() + 1.0)
    } else {
        -(-t).sqrt() - 1.0
    }
}

/// The four 1-D FFTs.
pub(crate) struct Ffts<T: GridFloat> {
    pub inv_u: Arc<dyn Fft<T>>,
    pub fwd_u: Arc<dyn Fft<T>>,
    pub inv_v: Arc<dyn Fft<T>>,
    pub fwd_v: Arc<dyn Fft<T>>,
}

impl<T: GridFloat> Ffts<T> {
    pub fn new(nu: usize, nv: usize, path: SimdPath) -> Self {
        if path == SimdPath::Scalar {
            let mut p = rustfft::FftPlannerScalar::<T>::new();
            Self { inv_u: p.plan_fft_inverse(nu), fwd_u: p.plan_fft_forward(nu), inv_v: p.plan_fft_inverse(nv), fwd_v: p.plan_fft_forward(nv) }
        } else {
            let mut p = rustfft::FftPlanner::<T>::new();
            Self { inv_u: p.plan_fft_inverse(nu), fwd_u: p.plan_fft_forward(nu), inv_v: p.plan_fft_inverse(nv), fwd_v: p.plan_fft_forward(nv) }
        }
    }
}

/// Per-thread buffers of the FFT stages.
pub(crate) struct FftScratch<T> {
    cols: Vec<Complex<T>>,
    fft: Vec<Complex<T>>,
    /// two full grid rows (length nv)
    row0: Vec<Complex<T>>,
    row1: Vec<Complex<T>>,
    /// phasors of one image row (re, im), full row order
    c: Vec<T>,
    s: Vec<T>,
    /// reduced angles (turns)
    t: Vec<T>,
}

impl<T: GridFloat> FftScratch<T> {
    pub fn new(nu: usize, nv: usize, ny: usize, ffts: &Ffts<T>) -> Self {
        let z = Complex::new(T::ZERO, T::ZERO);
        let fl = ffts
            .inv_u
            .get_inplace_scratch_len()
            .max(ffts.fwd_u.get_inplace_scratch_len())
            .max(ffts.inv_v.get_inplace_scratch_len())
            .max(ffts.fwd_v.get_inplace_scratch_len());
        let pad = 64;
        Self {
            cols: vec![z; BATCH * nu],
            fft: vec![z; fl],
            row0: vec![z; nv],
            row1: vec![z; nv],
            c: vec![T::ZERO; ny + pad],
            s: vec![T::ZERO; ny + pad],
            t: vec![T::ZERO; ny + pad],
        }
    }
}

/// One plane's grid and what it needs.
pub(crate) struct PlaneJob<'a, T: GridFloat> {
    /// The plane's compact grid (`compact.nrows() × compact.ncols()`).
    pub grid: SyncPtr<Complex<T>>,
    pub nu: usize,
    pub compact: &'a crate::index::Compact,
    /// Compact rows and columns this plane's visibilities touch.
    pub rows: &'a [u32],
    pub cols: &'a [u32],
    /// Image rows (`nx × compact.ncols()`), half transformed; shared by all planes.
    pub ir: SyncPtr<Complex<T>>,
    /// w of the plane (wavelengths), `None` without w-gridding.
    pub w: Option<f64>,
}

#[inline]
fn image_row(i: usize, nx: usize, nu: usize) -> usize {
    (i + nu - nx / 2) % nu
}

fn scratch_of<'a, T>(pool: &'a [Mutex<FftScratch<T>>]) -> std::sync::MutexGuard<'a, FftScratch<T>> {
    let tid = rayon::current_thread_index().unwrap_or(0) % pool.len();
    pool[tid].lock().unwrap()
}

/// The image rows that share a row of the per-pixel tables (a mirror pair when the image is
/// centred on the phase centre).
fn row_groups(img: &ImageGeom) -> Vec<[usize; 2]> {
    let nx = img.nx;
    if img.symmetric {
        // [i, i2] with i2 = usize::MAX for none
        (0..=nx / 2)
            .map(|q| {
                let lo = nx / 2 - q;
                let hi = nx / 2 + q;
                if q == 0 || hi >= nx {
                    [lo, usize::MAX]
                } else {
                    [lo, hi]
                }
            })
            .collect()
    } else {
        (0..nx).map(|i| [i, usize::MAX]).collect()
    }
}

/// Phasor buffers of one row (padded).
pub(crate) struct Phasors<'a, T> {
    c: &'a mut [T],
    s: &'a mut [T],
    t: &'a mut [T],
}

/// Fills `c[j] + i·s[j] = exp(2πi·w·n'(i, j))` for `j < ny` (full row order).
#[inline(always)]
fn phasors<T: GridFloat, S: Simd>(s: S, img: &ImageGeom, trow: usize, w: f64, ph: &mut Phasors<'_, T>) {
    let sc = ph;
    let ny = img.ny;
    let nc = img.table_cols();
    let q = &img.nprime[trow * nc..(trow + 1) * nc];
    for (t, n) in sc.t[..nc].iter_mut().zip(q) {
        let a = w * n;
        *t = T::cast_from(a - a.round_ties_even());
    }
    let l = T::lanes::<S>();
    let mut k = 0;
    while k < nc {
        // SAFETY: the buffers are padded by ≥ 64 ≥ l values.
        unsafe {
            let (c, sn) = sincos_turns::<T, S>(s, T::vload::<S>(sc.t.as_ptr().add(k)));
            T::vstore::<S>(sc.c.as_mut_ptr().add(k), c);
            T::vstore::<S>(sc.s.as_mut_ptr().add(k), sn);
        }
        k += l;
    }
    if img.symmetric {
        // quarter (index q = |j − ny/2|, q ≤ h) to full row order
        let h = ny / 2;
        let (ch, sh) = (sc.c[h], sc.s[h]);
        for j in (h..ny).rev() {
            sc.c[j] = sc.c[j - h];
            sc.s[j] = sc.s[j - h];
        }
        // quarter index q < h now sits at h + q
        sc.c[0] = ch;
        sc.s[0] = sh;
        for j in 1..h {
            sc.c[j] = sc.c[2 * h - j];
            sc.s[j] = sc.s[2 * h - j];
        }
    }
}

/// Adds the screened real part of one or two transformed image rows (length nv, in grid
/// order) to the image.
struct PostRows<'a, T: GridFloat> {
    img: &'a ImageGeom,
    w: Option<f64>,
    rows: [Option<(usize, &'a [Complex<T>])>; 2],
    dirty: SyncPtr<T>,
    ph: Phasors<'a, T>,
}

impl<T: GridFloat> pulp::WithSimd for PostRows<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let PostRows { img, w, rows, dirty, mut ph } = self;
        let ny = img.ny;
        let h = ny / 2;
        if let Some(w) = w {
            let i0 = rows[0].unwrap().0;
            phasors::<T, S>(s, img, img.table_row(i0), w, &mut ph);
        }
        for (i, z) in rows.into_iter().flatten() {
            let nv = z.len();
            // SAFETY: each task owns its image rows.
            let d = unsafe { std::slice::from_raw_parts_mut(dirty.get().add(i * ny), ny) };
            let (dl, dh) = d.split_at_mut(h);
            let (zl, zh) = (&z[nv - h..], &z[..h]);
            if w.is_some() {
                let (cl, ch) = ph.c[..ny].split_at(h);
                let (sl, sh) = ph.s[..ny].split_at(h);
                for (((d, z), c), sn) in dl.iter_mut().zip(zl).zip(cl).zip(sl) {
                    *d += z.re * *c + z.im * *sn;
                }
                for (((d, z), c), sn) in dh.iter_mut().zip(zh).zip(ch).zip(sh) {
                    *d += z.re * *c + z.im * *sn;
                }
            } else {
                for (d, z) in dl.iter_mut().zip(zl) {
                    *d += z.re;
                }
                for (d, z) in dh.iter_mut().zip(zh) {
                    *d += z.re;
                }
            }
        }
    }
}

/// Fills one or two full grid rows (length nv) with the screened image rows (zero elsewhere).
struct PreRows<'a, T: GridFloat> {
    img: &'a ImageGeom,
    w: Option<f64>,
    rows: [Option<(usize, &'a mut [Complex<T>])>; 2],
    dirty: &'a [T],
    ph: Phasors<'a, T>,
}

impl<T: GridFloat> pulp::WithSimd for PreRows<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, s: S) {
        let PreRows { img, w, rows, dirty, mut ph } = self;
        let ny = img.ny;
        let h = ny / 2;
        if let Some(w) = w {
            let i0 = rows[0].as_ref().unwrap().0;
            phasors::<T, S>(s, img, img.table_row(i0), w, &mut ph);
        }
        let zero = Complex::new(T::ZERO, T::ZERO);
        for (i, z) in rows.into_iter().flatten() {
            let nv = z.len();
            let d = &dirty[i * ny..(i + 1) * ny];
            let (dl, dh) = d.split_at(h);
            z[h..nv - h].fill(zero);
            let (zh, rest) = z.split_at_mut(h);
            let zl = &mut rest[nv - 2 * h..];
            if w.is_some() {
                let (cl, ch) = ph.c[..ny].split_at(h);
                let (sl, sh) = ph.s[..ny].split_at(h);
                for (((z, d), c), sn) in zl.iter_mut().zip(dl).zip(cl).zip(sl) {
                    *z = Complex::new(*d * *c, *d * *sn);
                }
                for (((z, d), c), sn) in zh.iter_mut().zip(dh).zip(ch).zip(sh) {
                    *z = Complex::new(*d * *c, *d * *sn);
                }
            } else {
                for (z, d) in zl.iter_mut().zip(dl) {
                    *z = Complex::new(*d, T::ZERO);
                }
                for (z, d) in zh.iter_mut().zip(dh) {
                    *z = Complex::new(*d, T::ZERO);
                }
            }
        }
    }
}

/// Transforms one plane's grid to the image and adds `Re(F·exp(−2πi w n'))` to `dirty`
/// (`nx × ny`, uncorrected); leaves the plane's rows of the grid zeroed.
pub(crate) fn grid_to_dirty<T: GridFloat>(
    job: &PlaneJob<'_, T>,
    img: &ImageGeom,
    ffts: &Ffts<T>,
    dirty: &mut [T],
    scratch: &[Mutex<FftScratch<T>>],
    path: SimdPath,
) {
    let (nu, nx) = (job.nu, img.nx);
    let nc = job.compact.ncols();
    let (g, ir) = (job.grid, job.ir);
    // Stage 1: along u, for the columns that hold data; keep the image rows.
    job.cols.par_chunks(BATCH).for_each(|cols| {
        let mut sc = scratch_of(scratch);
        let sc = &mut *sc;
        let nb = cols.len();
        let buf = &mut sc.cols[..nb * nu];
        buf.fill(Complex::new(T::ZERO, T::ZERO));
        // SAFETY (gather and scatter): this task only touches its own columns, through raw
        // pointers (other tasks work on other columns of the same rows).
        for &cr in job.rows {
            let gu = job.compact.rows[cr as usize] as usize;
            let row = unsafe { g.get().add(cr as usize * nc) };
            for (b, &c) in cols.iter().enumerate() {
                buf[b * nu + gu] = unsafe { row.add(c as usize).read() };
            }
        }
        ffts.inv_u.process_with_scratch(buf, &mut sc.fft);
        for i in 0..nx {
            let ix = image_row(i, nx, nu);
            let row = unsafe { ir.get().add(i * nc) };
            for (b, &c) in cols.iter().enumerate() {
                unsafe { row.add(c as usize).write(buf[b * nu + ix]) };
            }
        }
    });
    // Stage 2: along v for the image rows, w-screen, accumulate.
    let dirty_p = SyncPtr(dirty.as_mut_ptr());
    row_groups(img).par_iter().for_each(|grp| {
        let mut sc = scratch_of(scratch);
        let FftScratch { fft, row0, row1, c, s, t, .. } = &mut *sc;
        for (&i, row) in grp.iter().zip([&mut *row0, &mut *row1]) {
            if i == usize::MAX {
                continue;
            }
            row.fill(Complex::new(T::ZERO, T::ZERO));
            // SAFETY: this task owns image row i of `ir`.
            let src = unsafe { std::slice::from_raw_parts(ir.get().add(i * nc) as *const Complex<T>, nc) };
            for &cc in job.cols {
                row[job.compact.cols[cc as usize] as usize] = src[cc as usize];
            }
            ffts.inv_v.process_with_scratch(row, fft);
        }
        let r0 = (grp[0] != usize::MAX).then(|| (grp[0], &row0[..]));
        let r1 = (grp[1] != usize::MAX).then(|| (grp[1], &row1[..]));
        let ph = Phasors { c, s, t };
        dispatch(path, PostRows { img, w: job.w, rows: [r0, r1], dirty: dirty_p, ph });
    });
    // zero the plane's rows for the next plane that uses this grid
    job.rows.par_iter().for_each(|&cr| {
        let row = unsafe { std::slice::from_raw_parts_mut(g.get().add(cr as usize * nc), nc) };
        row.fill(Complex::new(T::ZERO, T::ZERO));
    });
}

/// Fills one plane's grid from the (corrected) image: the adjoint of `grid_to_dirty`. Only
/// the plane's rows and columns are valid afterwards.
pub(crate) fn dirty_to_grid<T: GridFloat>(
    job: &PlaneJob<'_, T>,
    img: &ImageGeom,
    ffts: &Ffts<T>,
    dirty: &[T],
    scratch: &[Mutex<FftScratch<T>>],
    path: SimdPath,
) {
    let (nu, nx) = (job.nu, img.nx);
    let nc = job.compact.ncols();
    let (g, ir) = (job.grid, job.ir);
    // Stage 2 adjoint: image rows, screen, FFT along v, keep the data columns.
    row_groups(img).par_iter().for_each(|grp| {
        let mut sc = scratch_of(scratch);
        let FftScratch { fft, row0, row1, c, s, t, .. } = &mut *sc;
        {
            let r0 = (grp[0] != usize::MAX).then(|| (grp[0], &mut row0[..]));
            let r1 = (grp[1] != usize::MAX).then(|| (grp[1], &mut row1[..]));
            let ph = Phasors { c: &mut c[..], s: &mut s[..], t: &mut t[..] };
            dispatch(path, PreRows { img, w: job.w, rows: [r0, r1], dirty, ph });
        }
        for (&i, row) in grp.iter().zip([&mut *row0, &mut *row1]) {
            if i == usize::MAX {
                continue;
            }
            ffts.fwd_v.process_with_scratch(row, fft);
            // SAFETY: this task owns image row i of `ir`.
            let dst = unsafe { std::slice::from_raw_parts_mut(ir.get().add(i * nc), nc) };
            for &cc in job.cols {
                dst[cc as usize] = row[job.compact.cols[cc as usize] as usize];
            }
        }
    });
    // Stage 1 adjoint: along u for the data columns, from the image rows to the data rows.
    job.cols.par_chunks(BATCH).for_each(|cols| {
        let mut sc = scratch_of(scratch);
        let sc = &mut *sc;
        let nb = cols.len();
        let buf = &mut sc.cols[..nb * nu];
        buf.fill(Complex::new(T::ZERO, T::ZERO));
        // SAFETY: as in grid_to_dirty, own columns only, raw pointers.
        for i in 0..nx {
            let ix = image_row(i, nx, nu);
            let row = unsafe { ir.get().add(i * nc) };
            for (b, &c) in cols.iter().enumerate() {
                buf[b * nu + ix] = unsafe { row.add(c as usize).read() };
            }
        }
        ffts.fwd_u.process_with_scratch(buf, &mut sc.fft);
        for &cr in job.rows {
            let gu = job.compact.rows[cr as usize] as usize;
            let row = unsafe { g.get().add(cr as usize * nc) };
            for (b, &c) in cols.iter().enumerate() {
                unsafe { row.add(c as usize).write(buf[b * nu + gu]) };
            }
        }
    });
}
