//! Wide-field gridding and degridding for radio interferometric imaging: the engine under
//! `contimg image`.
//!
//! Two operators, adjoint to each other, with the conventions of ducc0's `wgridder`
//! (Arras et al. 2021, Ye et al. 2022), so results compare number for number:
//!
//! ```text
//! ms2dirty:  I(l,m) = Σ_rc Re( w_rc V_rc exp(2πi f_c/c (u_r l + v_r m − w_r (n−1))) ) / n
//! dirty2ms:  V_rc   = w_rc Σ_lm I(l,m)/n · exp(−2πi f_c/c (u_r l + v_r m − w_r (n−1)))
//! ```
//!
//! with `n = sqrt(1 − l² − m²)`, pixel `(i, j)` of the `[npix_x][npix_y]` image (row-major, `j`
//! fastest) at `l = l₀ + (i − npix_x/2)·Δl`, `m = m₀ + (j − npix_y/2)·Δm` (`l` pairs with u,
//! `m` with v), and `(l₀, m₀)` the image centre (`center_*`, 0 by default). `flip_u/v/w`
//! negate a coordinate first; `divide_by_n` applies `1/n` (only with w-gridding, as in
//! ducc0); without w-gridding `n − 1 = 0`. Beyond the horizon (`l² + m² > 1`) ducc0's
//! conventions are kept.
//!
//! # API
//!
//! * [`ms2dirty`], [`dirty2ms`]: one call each way.
//! * [`GridPlan`]: everything that depends only on uvw, frequencies, flags and the image —
//!   parameters, kernel tables, corrections, the visibility index — built once and reused by
//!   the major cycles of CLEAN ([`GridPlan::ms2dirty`], [`GridPlan::dirty2ms`] and their
//!   `_into` forms that write into the caller's buffers). Weights may change between calls.
//! * [`GridParams`] (ducc0's knobs plus `simd`, `nthreads`, `max_grid_bytes`), [`PlanInfo`]
//!   (what a plan chose), [`GridError`].
//! * [`dft`]: the brute-force operators with the same conventions (tests, small checks).
//! * Precision follows the data: `Complex<f32>` visibilities run in single precision
//!   (ε ≥ ~1e-5), `Complex<f64>` in double (ε down to ~1e-13).
//! * Memory stays bounded by `max_grid_bytes` for the w-plane grids plus the plan's index
//!   (8 bytes per (row, channel range) piece, typically a few per row); visibilities are not
//!   copied. The operators are linear, so an imager short of memory can plan and grid row
//!   chunks separately and add the images (at the price of one set of FFTs per chunk).
//!
//! # Algorithm
//!
//! **Gridding kernel.** Each visibility is spread over `W × W` cells of a grid oversampled by
//! `σ` (`nu ≥ σ·npix_x`), and over `W` w-planes, with the separable kernel
//! `φ(v) = exp(β((1−v²)^e0 − 1))`, `|v| ≤ 1` spanning `W` cells: the exponential of a
//! semicircle for `e0 = 1/2` (Barnett et al. 2019); `e0` is tuned per entry (0.50–0.58), as
//! ducc0 does, which lowers the aliasing error 2–6× at equal `W`, `σ`.
//!
//! **Parameters.** For each `W` and `σ ∈ {1.20, 1.25, …, 2.50}` the table in
//! `kernel_table.rs` holds the `(β, e0)` minimising the aliasing error (derived here, by
//! `examples/kernel_table.rs`, with Nelder–Mead on the estimate below). A plan takes, for each
//! `W` (4…8 in f32, 4…16 in f64), the smallest tabulated `σ` within `[sigma_min, sigma_max]`
//! whose estimated error reaches ε, sizes the grid to a 2^a3^b5^c7^d FFT length, counts the
//! w-planes, and keeps the candidate of least modelled time (gridding ∝ visibilities × W³
//! with w-gridding, FFTs ∝ planes × grid size).
//!
//! **Error budget.** Spreading with `φ` and dividing the image by its Fourier transform `ψ̂`
//! (the grid correction) leaves, at image frequency `ξ` (cycles per cell, `|ξ| ≤ 1/(2σ)`),
//! the aliases `ψ̂(ξ+m)/ψ̂(ξ)`, `m ≠ 0`. For visibilities at random positions they add
//! incoherently, so the relative RMS error of a pixel is
//! `E(ξ) = sqrt(Σ_{m≠0} ψ̂(ξ+m)²) / ψ̂(ξ)`. The estimate per dimension is `max_ξ E(ξ)`;
//! errors of the dimensions (u, v and, with w-gridding, w) add, so a plan needs
//! `ndim · (max_ξ E + floor) ≤ ε`, with a rounding floor of 3e-7 per dimension in single
//! precision. (This is ducc0's definition: our estimate of its tabulated kernels agrees to
//! 1%.) `ψ̂` comes from Gauss–Legendre quadrature of the kernel in `v = sin θ` (smooth
//! integrand), accurate to ~1e-14; the per-pixel w-correction uses an even Chebyshev fit of
//! `ln ψ̂`. The kernel itself is evaluated as a piecewise polynomial of degree `W+3` per
//! cell (Chebyshev interpolation), whose error is checked to be below a quarter of the
//! aliasing error for every table entry. Measured errors against the direct DFT are typically
//! 3–10× below ε (see the tests).
//!
//! **w-gridding.** With `n' = n − 1 + n_shift` (`n_shift` centres the range of `n − 1` over
//! the image, halving the planes), `exp(−2πi w n')` is approximated exactly like the u and v
//! factors: planes `w_p = w₀ + p·dw` with `dw = 1/(2σ·max|n'|)`, the kernel along w, and in
//! the image the screens `exp(−2πi w_p n')` per plane and the correction `1/ψ̂(n'·dw)` once.
//! Visibilities with `w < 0` are conjugated with `(u,v,w) → −(u,v,w)` (the image is real),
//! and each visibility carries the phase `exp(2πi f/c (u l₀ + v m₀ + w n_shift))`.
//!
//! # Why it is fast
//!
//! * **Every visibility is visited once**, for all its `W` w-planes: the planes it touches
//!   are kept in memory together (a ring of `W` grids, recycled as planes complete), so the
//!   kernel is evaluated once per visibility instead of once per plane. (With less memory
//!   than `max_grid_bytes` allows for `W` grids, planes are processed in windows.)
//! * **Tiles.** Visibilities are sorted once (in the plan) by (w-plane, 32×32 tile) with
//!   channel runs of one row kept together; a thread spreads a tile's visibilities into a
//!   private, L1/L2-resident buffer for the `W` planes and adds it to the shared grids under
//!   per-row locks — no atomics in the inner loop.
//! * **SIMD.** The kernel is a per-cell polynomial evaluated with vector FMAs (Horner over the
//!   `W` cells in the lanes); along v it is evaluated duplicated for interleaved complex
//!   cells, so with AVX-512 one load/FMA/store updates a whole kernel row (`W ≤ 8`, f32).
//!   Paths: AVX-512, AVX2+FMA, NEON and scalar, chosen at run time through `pulp`;
//!   `CONTIMG_GRID_SIMD=scalar|avx2|avx512` or [`GridParams::simd`] force one.
//! * **Pruned FFTs** (rustfft): along u only the grid columns holding data, along v only the
//!   rows that become image pixels; the w-screens use the symmetry of `n(l, m)` (a quarter of
//!   the phases) and a vectorised `sincos`.
//! * Threads: rayon, one pool per plan (`nthreads`).

pub mod dft;
pub mod kernel;
mod gridder;
mod index;
mod kernel_table;
mod params;
mod plan;
mod planes;
pub mod simd;

pub use index::SPEED_OF_LIGHT_M_S;
pub use num_complex::Complex;
pub use plan::{GridParams, GridPlan, PlanInfo};
pub use simd::{GridFloat, SimdMode, SimdPath};

/// Errors of the gridder.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum GridError {
    #[error("{what} has {received} values, expected {expected}")]
    BadShape { what: &'static str, expected: usize, received: usize },
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    #[error("accuracy {requested:e} is out of reach in {precision} (best reachable {best:e}); use f64 or a larger epsilon")]
    AccuracyUnreachable { requested: f64, best: f64, precision: &'static str },
    #[error("too many {what}: {value} (limit {limit})")]
    TooLarge { what: &'static str, value: usize, limit: usize },
}

/// Visibilities to dirty image in one call (plans, grids, forgets the plan).
/// Samples with `mask == 0` or zero weight are skipped.
pub fn ms2dirty<T: GridFloat>(
    uvw_m: &[[f64; 3]],
    freq_hz: &[f64],
    vis: &[Complex<T>],
    weight: Option<&[T]>,
    mask: Option<&[u8]>,
    params: &GridParams,
) -> Result<Vec<T>, GridError> {
    let m = combined_mask(uvw_m.len() * freq_hz.len(), weight, mask)?;
    GridPlan::<T>::new(uvw_m, freq_hz, m.as_deref().or(mask), params)?.ms2dirty(vis, weight)
}

/// Dirty image to visibilities in one call (the adjoint of `ms2dirty`).
pub fn dirty2ms<T: GridFloat>(
    uvw_m: &[[f64; 3]],
    freq_hz: &[f64],
    dirty: &[T],
    weight: Option<&[T]>,
    mask: Option<&[u8]>,
    params: &GridParams,
) -> Result<Vec<Complex<T>>, GridError> {
    let m = combined_mask(uvw_m.len() * freq_hz.len(), weight, mask)?;
    GridPlan::<T>::new(uvw_m, freq_hz, m.as_deref().or(mask), params)?.dirty2ms(dirty, weight)
}

fn combined_mask<T: GridFloat>(n: usize, weight: Option<&[T]>, mask: Option<&[u8]>) -> Result<Option<Vec<u8>>, GridError> {
    let Some(w) = weight else { return Ok(None) };
    if w.len() != n {
        return Err(GridError::BadShape { what: "weight", expected: n, received: w.len() });
    }
    if let Some(m) = mask {
        if m.len() != n {
            return Err(GridError::BadShape { what: "mask", expected: n, received: m.len() });
        }
    }
    if w.iter().all(|x| *x != T::ZERO) {
        return Ok(None);
    }
    Ok(Some(
        w.iter()
            .enumerate()
            .map(|(k, x)| u8::from(*x != T::ZERO && mask.is_none_or(|m| m[k] != 0)))
            .collect(),
    ))
}
