//! Choosing the kernel support `W`, the oversampling `σ` (grid size) and the number of
//! w-planes for a requested accuracy, by a cost model of this implementation.

use crate::kernel::KernelShape;
use crate::kernel_table::KERNEL_TABLE;

/// Rounding floor (per dimension) added to the aliasing estimate in single precision.
pub(crate) const F32_FLOOR: f64 = 1e-7;
/// Single-precision rounding noise of the grid, relative to the signal, before the grid
/// correction amplifies it.
pub(crate) const F32_NOISE: f64 = 6e-8;

/// Largest support per precision (f32 tiles are vectorised for up to 8).
pub(crate) fn max_support(is_f64: bool) -> usize {
    if is_f64 {
        16
    } else {
        8
    }
}

/// A kernel that reaches the accuracy, with the oversampling it needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    pub shape: KernelShape,
    pub sigma: f64,
    pub eps_est: f64,
}

/// Estimated error of table entry `(W, σ, e1d, β/W, e0)` in `ndim` dimensions: the aliasing
/// errors of the dimensions add; in single precision the rounding noise of the grid is
/// amplified by the grid correction `1/ψ̂` (by its RMS over the image in each dimension, a
/// factor 1.4–15 that grows as σ shrinks), which is what limits small σ in f32.
pub(crate) fn table_error(row: &(usize, f64, f64, f64, f64), ndim: usize, is_f64: bool) -> f64 {
    let &(w, sigma, e1d, beta, e0) = row;
    let alias = ndim as f64 * e1d;
    if is_f64 {
        return alias;
    }
    let shape = KernelShape { support: w, beta_per_cell: beta, e0 };
    let q = crate::kernel::FourierQuadrature::new(&shape, 96);
    let p0 = q.eval(0.0);
    let n = 16;
    let ms: f64 =
        (0..n).map(|i| (p0 / q.eval(0.5 / sigma * (i as f64 + 0.5) / n as f64)).powi(2)).sum::<f64>() / n as f64;
    alias + ndim as f64 * F32_FLOOR + F32_NOISE * ms.sqrt().powi(ndim as i32)
}

/// For each support, the smallest tabulated σ in `[sigma_min, sigma_max]` that reaches `eps`.
pub(crate) fn candidates(eps: f64, ndim: usize, is_f64: bool, sigma_min: f64, sigma_max: f64) -> Vec<Candidate> {
    let mut out = Vec::new();
    for w in 4..=max_support(is_f64) {
        let best = KERNEL_TABLE
            .iter()
            .filter(|r| r.0 == w && r.1 >= sigma_min - 1e-9 && r.1 <= sigma_max + 1e-9)
            .filter(|r| r.2 * ndim as f64 <= eps)
            .map(|r| (r, table_error(r, ndim, is_f64)))
            .filter(|(_, e)| *e <= eps)
            .min_by(|a, b| a.0 .1.partial_cmp(&b.0 .1).unwrap());
        if let Some((&(w, sigma, _e1d, beta, e0), e)) = best {
            out.push(Candidate { shape: KernelShape { support: w, beta_per_cell: beta, e0 }, sigma, eps_est: e });
        }
    }
    out
}

/// Smallest `n ≥ min` of the form 2^a·3^b·5^c·7^d with a ≥ 3 (FFT lengths rustfft handles
/// fast), at least 16.
pub(crate) fn good_size(min: usize) -> usize {
    let min = min.max(16);
    let mut best = usize::MAX;
    let mut p2 = 8usize;
    while p2 < 2 * min {
        let mut p3 = p2;
        while p3 < 2 * min {
            let mut p5 = p3;
            while p5 < 2 * min {
                let mut p7 = p5;
                while p7 < 2 * min {
                    if p7 >= min && p7 < best {
                        best = p7;
                    }
                    p7 *= 7;
                }
                p5 *= 5;
            }
            p3 *= 3;
        }
        p2 *= 2;
    }
    best
}

/// What the cost model needs to know about the data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Workload {
    pub nvis: usize,
    pub nx: usize,
    pub ny: usize,
    pub is_f64: bool,
    pub wgrid: bool,
    /// |u|max·Δx and |v|max·Δy (grid periods)
    pub vmax_frac: f64,
    /// (w_max − w_min) · max|n−1+n_shift| (cycles)
    pub w_cycles: f64,
    /// f32 lanes of the vector unit assumed (16: 512-bit vectors)
    pub lanes32: usize,
}

/// Planned grid for one candidate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sizing {
    pub cand: Candidate,
    pub nu: usize,
    pub nv: usize,
    pub cost_s: f64,
}

/// Number of w-planes for oversampling `sigma_eff`.
pub(crate) fn nplanes_for(w_cycles: f64, sigma_eff: f64, support: usize) -> usize {
    // dw = 1 / (2σ·max|n'|): the w range spans w_cycles·2σ plane spacings
    (w_cycles * 2.0 * sigma_eff).ceil() as usize + support
}

/// Cost (seconds on one core, roughly) of gridding plus FFTs for a candidate. It depends
/// neither on the thread count nor on the instruction set found at run time, so a plan makes
/// the same choice (and gives the same image, to rounding) everywhere.
pub(crate) fn size_and_cost(c: &Candidate, wl: &Workload) -> Sizing {
    // a tile buffer (tile + W − 1 cells) must not wrap around the grid more than once
    let tile = if wl.is_f64 { 16 } else { 32 };
    let min_n = tile + c.shape.support;
    let nu = good_size(((c.sigma * wl.nx as f64).ceil() as usize).max(min_n));
    let nv = good_size(((c.sigma * wl.ny as f64).ceil() as usize).max(min_n));
    let sigma_eff = (nu as f64 / wl.nx as f64).min(nv as f64 / wl.ny as f64);
    let w = c.shape.support;
    let nplanes = if wl.wgrid { nplanes_for(wl.w_cycles, sigma_eff, w) } else { 1 };
    let lanes = if wl.is_f64 { (wl.lanes32 / 2).max(1) } else { wl.lanes32.max(1) };
    let nvv = (2 * w).div_ceil(lanes) as f64;
    let np = if wl.wgrid { w as f64 } else { 1.0 };
    // per visibility: coordinates and kernel evaluation, then W(·W) row updates
    let per_vis = 12e-9 + 1.5e-9 * (w as f64 + 4.0) * (2.0 + nvv) / 3.0 + 0.45e-9 * np * w as f64 * nvv;
    let prec = if wl.is_f64 { 1.6 } else { 1.0 };
    let grid_s = wl.nvis as f64 * per_vis * prec;
    // per plane: FFTs along u for the data columns, along v for the image rows, screens
    let cols = ((2.0 * wl.vmax_frac * nv as f64 + (w + 32) as f64) / nv as f64).min(1.0) * nv as f64;
    let fft_pts = cols * nu as f64 * (nu as f64).log2() + wl.nx as f64 * nv as f64 * (nv as f64).log2();
    let plane_s = (fft_pts * 1.0e-9 + (wl.nx * wl.ny) as f64 * 2.0e-9 + (nu * nv) as f64 * 0.3e-9) * prec;
    let fft_s = nplanes as f64 * plane_s;
    Sizing { cand: *c, nu, nv, cost_s: grid_s + fft_s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_sizes() {
        assert_eq!(good_size(100), 112);
        assert_eq!(good_size(101), 112);
        assert_eq!(good_size(6145), 6272);
        for n in [17usize, 33, 1000, 4097, 6777] {
            let g = good_size(n);
            assert!(g >= n && g % 8 == 0 && g < n + n / 8 + 8, "{n} {g}");
        }
    }

    #[test]
    fn table_covers_requested_accuracies() {
        for eps in [1e-2, 1e-3, 1e-4, 1e-5] {
            assert!(!candidates(eps, 3, false, 1.1, 2.6).is_empty(), "{eps}");
        }
        for eps in [1e-3, 1e-6, 1e-9, 1e-12] {
            assert!(!candidates(eps, 3, true, 1.1, 2.6).is_empty(), "{eps}");
        }
    }

    #[test]
    fn polynomial_error_below_budget() {
        // The piecewise polynomial (degree W+3) deviates from the kernel by less than the
        // kernel's own aliasing error (at most ~40% of it, in the edge cells where the kernel
        // is ~e^-β and (1−v²)^e0 is not analytic; the end-to-end DFT tests bound the effect).
        for &(w, _s, e1d, beta, e0) in KERNEL_TABLE.iter().step_by(3) {
            let shape = KernelShape { support: w, beta_per_cell: beta, e0 };
            let pk = crate::kernel::PolyKernel::new(shape, w + 3);
            let err = pk.max_error();
            assert!(err < 0.4 * e1d || err < 2e-14, "W={w} poly error {err:e} vs {e1d:e}");
        }
    }
}
