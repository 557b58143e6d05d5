//! `GridPlan`: everything about one (uvw, frequencies, image, accuracy) that does not depend
//! on the visibility values, so that the major cycles of an imager reuse it.

use crate::gridder::KernelTables;
use crate::index::{Geometry, Index, RowCoord, SPEED_OF_LIGHT_M_S};
use crate::kernel::{Correction, KernelShape, PolyKernel};
use crate::params::{self, Workload};
use crate::planes::{self, Ffts, ImageGeom};
use crate::simd::{GridFloat, SimdMode, SimdPath};
use crate::GridError;
use num_complex::Complex;
use rayon::prelude::*;

mod passes;

/// What to image and how accurately. Defaults (`GridParams::new`) follow ducc0's `vis2dirty`
/// except `do_wgridding` (on) and `nthreads` (all cores).
#[derive(Clone, Debug, PartialEq)]
pub struct GridParams {
    /// Image size along l (first, slow axis of the image array). Even.
    pub npix_x: usize,
    /// Image size along m (second, fast axis). Even.
    pub npix_y: usize,
    /// Pixel size along l (radians, projected).
    pub pixsize_x_rad: f64,
    /// Pixel size along m (radians, projected).
    pub pixsize_y_rad: f64,
    /// Requested accuracy: relative l2 error of the result (ducc0's definition).
    pub epsilon: f64,
    /// Full w-gridding (the w-term exactly); else w is taken as 0.
    pub do_wgridding: bool,
    /// Threads (0: all cores).
    pub nthreads: usize,
    /// Multiply u (v, w) by −1 first.
    pub flip_u: bool,
    pub flip_v: bool,
    pub flip_w: bool,
    /// Divide the image by n = sqrt(1−l²−m²) (only with w-gridding, as ducc0).
    pub divide_by_n: bool,
    /// Image centre relative to the phase centre (radians, projected).
    pub center_x_rad: f64,
    pub center_y_rad: f64,
    /// Range of oversampling factors the parameter choice may use.
    pub sigma_min: f64,
    pub sigma_max: f64,
    /// Allow shifting n−1 by a constant to halve the w-planes (ducc0's `allow_nshift`).
    pub allow_nshift: bool,
    /// Instruction set of the hot loops.
    pub simd: SimdMode,
    /// Upper bound (bytes) on the w-plane grids held at once. With room for `W` planes every
    /// visibility is visited once; with less, the w-planes are processed in windows and
    /// visibilities are visited more than once.
    pub max_grid_bytes: usize,
}

impl GridParams {
    pub fn new(npix_x: usize, npix_y: usize, pixsize_x_rad: f64, pixsize_y_rad: f64, epsilon: f64) -> Self {
        Self {
            npix_x,
            npix_y,
            pixsize_x_rad,
            pixsize_y_rad,
            epsilon,
            do_wgridding: true,
            nthreads: 0,
            flip_u: false,
            flip_v: false,
            flip_w: false,
            divide_by_n: true,
            center_x_rad: 0.0,
            center_y_rad: 0.0,
            sigma_min: 1.1,
            sigma_max: 2.6,
            allow_nshift: true,
            simd: SimdMode::Auto,
            max_grid_bytes: 8 << 30,
        }
    }
}

/// The parameters a plan settled on.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanInfo {
    /// Oversampled grid size.
    pub nu: usize,
    pub nv: usize,
    /// Kernel support (cells) and shape.
    pub support: usize,
    pub kernel: KernelShape,
    /// Oversampling factor of the kernel table entry (≤ nu/npix_x, nv/npix_y).
    pub sigma: f64,
    /// Estimated relative error (≤ epsilon).
    pub epsilon_estimate: f64,
    /// w-planes, their spacing and the w of the first (wavelengths).
    pub nplanes: usize,
    pub dw: f64,
    pub w0: f64,
    /// The constant added to n−1 (ducc0's nshift).
    pub nshift: f64,
    /// Grids held at once, and the bytes of one (compact: only rows and columns with data).
    pub resident_planes: usize,
    pub plane_bytes: usize,
    /// Visibilities gridded (not masked).
    pub nvis: usize,
    pub nthreads: usize,
    pub simd: SimdPath,
}

/// A reusable gridding plan (see the crate docs).
pub struct GridPlan<T: GridFloat> {
    nrow: usize,
    nchan: usize,
    params: GridParams,
    geom: Geometry,
    kt: KernelTables<T>,
    rows: Vec<RowCoord>,
    fc: Vec<f64>,
    cw: f64,
    shifting: bool,
    index: Index,
    img: ImageGeom,
    /// Per-pixel correction, rows `|i − nx/2|` (or `i` when shifted with w-gridding) × ny.
    corr_tab: Vec<T>,
    ffts: Ffts<T>,
    pool: rayon::ThreadPool,
    info: PlanInfo,
}

fn check_len(what: &'static str, expected: usize, received: usize) -> Result<(), GridError> {
    if expected != received {
        return Err(GridError::BadShape { what, expected, received });
    }
    Ok(())
}

fn invalid(name: &'static str, reason: impl Into<String>) -> GridError {
    GridError::InvalidParameter { name, reason: reason.into() }
}

impl<T: GridFloat> GridPlan<T> {
    /// Plans gridding of visibilities at `uvw_m` (metres, one per row) and `freq_hz` (one per
    /// channel). `mask[row·nchan + ch] == 0` excludes a visibility (e.g. flagged or
    /// zero-weight) from every later call.
    pub fn new(uvw_m: &[[f64; 3]], freq_hz: &[f64], mask: Option<&[u8]>, params: &GridParams) -> Result<Self, GridError> {
        let nrow = uvw_m.len();
        let nchan = freq_hz.len();
        let p = params;
        if let Some(m) = mask {
            check_len("mask", nrow * nchan, m.len())?;
        }
        if p.npix_x < 2 || p.npix_x % 2 != 0 {
            return Err(invalid("npix_x", format!("{} must be even and ≥ 2", p.npix_x)));
        }
        if p.npix_y < 2 || p.npix_y % 2 != 0 {
            return Err(invalid("npix_y", format!("{} must be even and ≥ 2", p.npix_y)));
        }
        if !(p.pixsize_x_rad > 0.0 && p.pixsize_y_rad > 0.0) {
            return Err(invalid("pixsize", "pixel sizes must be positive"));
        }
        if !(p.epsilon > 0.0) {
            return Err(invalid("epsilon", "must be positive"));
        }
        if !(p.sigma_min >= 1.0 && p.sigma_max >= p.sigma_min) {
            return Err(invalid("sigma_min/sigma_max", "need 1 ≤ sigma_min ≤ sigma_max"));
        }
        if nchan >= u32::MAX as usize || nrow >= u32::MAX as usize {
            return Err(GridError::TooLarge { what: "rows or channels", value: nrow.max(nchan), limit: u32::MAX as usize });
        }
        if freq_hz.iter().any(|f| !(*f > 0.0 && f.is_finite())) {
            return Err(invalid("freq_hz", "frequencies must be positive and finite"));
        }
        if uvw_m.iter().any(|r| r.iter().any(|x| !x.is_finite())) {
            return Err(invalid("uvw_m", "coordinates must be finite"));
        }
        let path = p.simd.resolve();
        let nthreads = if p.nthreads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            p.nthreads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(nthreads)
            .thread_name(|i| format!("contimg-grid-{i}"))
            .build()
            .map_err(|e| invalid("nthreads", e.to_string()))?;
        let fc: Vec<f64> = freq_hz.iter().map(|f| f / SPEED_OF_LIGHT_M_S).collect();
        let sorted_freq = fc.windows(2).all(|w| w[0] <= w[1]);
        let fcmax = fc.iter().cloned().fold(0.0, f64::max);
        let (nx, ny) = (p.npix_x, p.npix_y);
        let (psx, psy) = (p.pixsize_x_rad, p.pixsize_y_rad);
        let lshift = if p.flip_u { -p.center_x_rad } else { p.center_x_rad };
        let mshift = if p.flip_v { -p.center_y_rad } else { p.center_y_rad };
        let (su, sv, sw) = (
            if p.flip_u { -1.0 } else { 1.0 },
            if p.flip_v { -1.0 } else { 1.0 },
            if p.flip_w { -1.0 } else { 1.0 },
        );
        // range of n−1 over the image
        let xmin = lshift - 0.5 * nx as f64 * psx;
        let xmax = xmin + (nx - 1) as f64 * psx;
        let ymin = mshift - 0.5 * ny as f64 * psy;
        let ymax = ymin + (ny - 1) as f64 * psy;
        let mut xs = vec![xmin, xmax];
        let mut ys = vec![ymin, ymax];
        if xmin * xmax < 0.0 {
            xs.push(0.0);
        }
        if ymin * ymax < 0.0 {
            ys.push(0.0);
        }
        let (mut nm1min, mut nm1max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &x in &xs {
            for &y in &ys {
                let v = planes::n_minus_1(x * x + y * y);
                nm1min = nm1min.min(v);
                nm1max = nm1max.max(v);
            }
        }
        let wgrid = p.do_wgridding && (nm1max - nm1min).abs() + nm1max.abs() > 0.0;
        let nshift = if wgrid && p.allow_nshift { -0.5 * (nm1max + nm1min) } else { 0.0 };
        let nmax_abs = (nm1max + nshift).abs().max((nm1min + nshift).abs());
        // data extent over active visibilities
        let active = |row: usize, ch: usize| mask.is_none_or(|m| m[row * nchan + ch] != 0);
        let stats = pool.install(|| {
            (0..nrow)
                .into_par_iter()
                .map(|row| {
                    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                    let mut n = 0usize;
                    for ch in 0..nchan {
                        if active(row, ch) {
                            lo = lo.min(fc[ch]);
                            hi = hi.max(fc[ch]);
                            n += 1;
                        }
                    }
                    let [u, v, w] = uvw_m[row];
                    if n == 0 {
                        return (0usize, 0.0f64, 0.0f64, f64::INFINITY, f64::NEG_INFINITY);
                    }
                    let aw = w.abs();
                    (n, u.abs() * hi, v.abs() * hi, aw * lo, aw * hi)
                })
                .reduce(
                    || (0, 0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY),
                    |a, b| (a.0 + b.0, a.1.max(b.1), a.2.max(b.2), a.3.min(b.3), a.4.max(b.4)),
                )
        });
        let (nvis, _umax, vmax, mut wmin, mut wmax) = stats;
        if nvis == 0 {
            wmin = 0.0;
            wmax = 0.0;
        }
        let _ = fcmax;
        // kernel and grid size
        let ndim = if wgrid { 3 } else { 2 };
        let cands = params::candidates(p.epsilon, ndim, T::IS_F64, p.sigma_min, p.sigma_max);
        if cands.is_empty() {
            let best = crate::kernel_table::KERNEL_TABLE
                .iter()
                .filter(|r| r.0 <= params::max_support(T::IS_F64) && r.1 >= p.sigma_min - 1e-9 && r.1 <= p.sigma_max + 1e-9)
                .map(|r| params::table_error(r, ndim, T::IS_F64))
                .fold(f64::INFINITY, f64::min);
            return Err(GridError::AccuracyUnreachable {
                requested: p.epsilon,
                best,
                precision: if T::IS_F64 { "f64" } else { "f32" },
            });
        }
        let wl = Workload {
            nvis,
            nx,
            ny,
            is_f64: T::IS_F64,
            wgrid,
            vmax_frac: vmax * psy,
            w_cycles: (wmax - wmin).max(0.0) * nmax_abs,
            lanes32: 16,
        };
        // tuning aid: CONTIMG_GRID_SUPPORT=W restricts the choice to one support
        let force_w: Option<usize> = std::env::var("CONTIMG_GRID_SUPPORT").ok().and_then(|v| v.parse().ok());
        let best = cands
            .iter()
            .filter(|c| force_w.is_none_or(|w| c.shape.support == w))
            .map(|c| params::size_and_cost(c, &wl))
            .min_by(|a, b| a.cost_s.partial_cmp(&b.cost_s).unwrap())
            .unwrap();
        let (nu, nv) = (best.nu, best.nv);
        let shape = best.cand.shape;
        let w = shape.support;
        let sigma_eff = (nu as f64 / nx as f64).min(nv as f64 / ny as f64);
        let (nplanes, dw, w0) = if wgrid {
            let dw = 0.5 / sigma_eff / nmax_abs;
            let range = (wmax - wmin).max(0.0);
            let nplanes = (range / dw).ceil() as usize + w;
            let slack = (nplanes - w) as f64 * dw - range;
            let w0 = wmin - (0.5 * w as f64 - 0.5) * dw - 0.5 * slack;
            (nplanes, dw, w0)
        } else {
            (1, 1.0, 0.0)
        };
        if nplanes >= 1 << 20 {
            return Err(GridError::TooLarge { what: "w-planes", value: nplanes, limit: 1 << 20 });
        }
        let log2tile = if T::IS_F64 { 4 } else { 5 };
        if (nu >> log2tile) + 4 >= 1 << 21 || (nv >> log2tile) + 4 >= 1 << 21 {
            return Err(GridError::TooLarge { what: "grid size", value: nu.max(nv), limit: 1 << 25 });
        }
        let geom = Geometry { nu, nv, support: w, log2tile, wgrid, nplanes, w0, dw };
        let cw = w0 / dw;
        let inv_dw = 1.0 / dw;
        let rows: Vec<RowCoord> = uvw_m
            .iter()
            .map(|&[u, v, ww]| {
                let (mut u, mut v, mut ww) = (u * su, v * sv, ww * sw);
                let conj = ww < 0.0;
                if conj {
                    u = -u;
                    v = -v;
                    ww = -ww;
                }
                RowCoord {
                    au: u * psx,
                    av: v * psy,
                    aw: if wgrid { ww * inv_dw } else { 0.0 },
                    phase: u * lshift + v * mshift + ww * nshift,
                    conj,
                }
            })
            .collect();
        let shifting = lshift != 0.0 || mshift != 0.0 || nshift != 0.0;
        let index = pool.install(|| Index::build(&geom, &rows, &fc, cw, &active, sorted_freq, nthreads));
        // kernel tables and corrections
        let pk = PolyKernel::new(shape, w + 3);
        let kt = KernelTables::<T>::new(&pk);
        let xi_max = (0.5 * nx as f64 / nu as f64).max(0.5 * ny as f64 / nv as f64).max(if wgrid { nmax_abs * dw } else { 0.0 });
        let corr = Correction::new(&shape, xi_max * 1.01);
        let cfu: Vec<f64> = (0..=nx / 2).map(|q| corr.eval(q as f64 / nu as f64)).collect();
        let cfv: Vec<f64> = (0..=ny / 2).map(|q| corr.eval(q as f64 / nv as f64)).collect();
        let img = pool.install(|| ImageGeom::new(nx, ny, psx, psy, lshift, mshift, nshift, wgrid));
        let corr_tab = pool.install(|| correction_table::<T>(&img, &cfu, &cfv, &corr, wgrid, p.divide_by_n && wgrid, dw));
        let ffts = Ffts::<T>::new(nu, nv, path);
        let grid_bytes = index.compact.nrows() * index.compact.ncols() * std::mem::size_of::<Complex<T>>();
        // a ring of W grids lets every visibility be visited once; more do not help
        let resident = if wgrid { (p.max_grid_bytes / grid_bytes.max(1)).clamp(1, nplanes.min(w)) } else { 1 };
        let info = PlanInfo {
            nu,
            nv,
            support: w,
            kernel: shape,
            sigma: best.cand.sigma,
            epsilon_estimate: best.cand.eps_est,
            nplanes,
            dw: if wgrid { dw } else { 0.0 },
            w0,
            nshift,
            resident_planes: resident,
            plane_bytes: grid_bytes,
            nvis: index.nvis,
            nthreads,
            simd: path,
        };
        Ok(Self {
            nrow,
            nchan,
            params: p.clone(),
            geom,
            kt,
            rows,
            fc,
            cw,
            shifting,
            index,
            img,
            corr_tab,
            ffts,
            pool,
            info,
        })
    }

    /// The chosen grid, kernel and planes.
    pub fn info(&self) -> &PlanInfo {
        &self.info
    }

    /// The parameters the plan was made with.
    pub fn params(&self) -> &GridParams {
        &self.params
    }

}


/// The per-pixel factor applied after gridding (and before degridding): grid correction along
/// u and v, w-kernel correction `1/ψ̂(n'·dw)` and `1/n` (0 beyond the horizon), as ducc0.
/// Rows `|i − nx/2|` when the factor is symmetric (no image shift, or no w-gridding), else all.
fn correction_table<T: GridFloat>(
    img: &ImageGeom,
    cfu: &[f64],
    cfv: &[f64],
    corr: &Correction,
    wgrid: bool,
    divide: bool,
    dw: f64,
) -> Vec<T> {
    let (nx, ny) = (img.nx, img.ny);
    let sym = !wgrid || img.symmetric;
    let nrows = if sym { nx / 2 + 1 } else { nx };
    let h = ny / 2;
    let nshift = img.nshift;
    let mut tab = vec![T::ZERO; nrows * ny];
    tab.par_chunks_mut(ny).enumerate().for_each(|(r, row)| {
        let cu = cfu[if sym { r } else { r.abs_diff(nx / 2) }];
        let factor = |j: usize, tcol: usize| {
            let mut f = cu * cfv[j.abs_diff(h)];
            if wgrid {
                let np = img.nprime[r * img.table_cols() + tcol];
                let nm1 = np - nshift;
                f *= corr.eval(np * dw);
                if divide {
                    // beyond the horizon (n−1 < −1 by convention) the pixel is zeroed
                    f = if nm1 >= -1.0 && nm1 + 1.0 > 0.0 { f / (nm1 + 1.0) } else { 0.0 };
                }
            }
            f
        };
        if sym {
            // quarter: compute j ≥ h, mirror
            for j in h..ny {
                row[j] = T::cast_from(factor(j, j - h));
            }
            for j in 0..h {
                row[j] = if j == 0 { T::cast_from(factor(0, h)) } else { row[2 * h - j] };
            }
        } else {
            for (j, v) in row.iter_mut().enumerate() {
                *v = T::cast_from(factor(j, j));
            }
        }
    });
    tab
}
