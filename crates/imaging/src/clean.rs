//! Högbom CLEAN: the minor cycles inside Cotton–Schwab major cycles.
//!
//! A minor cycle repeatedly finds the brightest residual pixel and subtracts a scaled, shifted
//! copy of the PSF there, adding the same flux to the model. It stops after `niter` components
//! in all, at `threshold`, or once the peak has fallen by the major-cycle gain `mgain` — at
//! which point the caller recomputes the residual exactly from the visibilities (the major
//! cycle), which removes the errors of the approximate image-domain subtraction: the PSF patch
//! is cut at `patch_half` pixels from its centre, and the image-domain PSF is not exactly
//! shift-invariant for a wide field.
//!
//! The peak search keeps each row's extreme: a subtraction only touches the rows of the patch,
//! so each component costs O(patch × n) rather than O(n²).

/// State carried across minor cycles.
pub struct Clean {
    pub n: usize,
    /// Model flux per pixel (Jy), row-major `[y][x]`.
    pub model: Vec<f32>,
    pub components: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct MinorCycle {
    pub components: usize,
    pub peak_start: f32,
    pub peak_end: f32,
    /// Why it stopped.
    pub stop: Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Niter,
    Threshold,
    MajorCycle,
}

/// Limits of one minor cycle.
#[derive(Debug, Clone, Copy)]
pub struct MinorLimits {
    pub gain: f32,
    pub threshold: f32,
    /// Total components allowed (across all minor cycles).
    pub niter: usize,
    pub mgain: f32,
    /// Half-width of the PSF patch subtracted per component.
    pub patch_half: usize,
}

fn row_peak(row: &[f32], mask: Option<&[bool]>) -> (usize, f32) {
    let mut best = (0usize, 0.0f32);
    for (x, &v) in row.iter().enumerate() {
        if mask.is_some_and(|m| !m[x]) {
            continue;
        }
        if v.abs() > best.1.abs() {
            best = (x, v);
        }
    }
    best
}

impl Clean {
    pub fn new(n: usize) -> Self {
        Clean { n, model: vec![0.0; n * n], components: 0 }
    }

    /// Runs one minor cycle on `residual` (modified in place) with an `n × n` PSF whose peak
    /// (1.0) is at (n/2, n/2). `mask` limits where components may go.
    pub fn minor_cycle(&mut self, residual: &mut [f32], psf: &[f32], lim: &MinorLimits, mask: Option<&[bool]>) -> MinorCycle {
        let n = self.n;
        let c = n / 2;
        let row_mask = |y: usize| mask.map(|m| &m[y * n..(y + 1) * n]);
        let mut peaks: Vec<(usize, f32)> = (0..n).map(|y| row_peak(&residual[y * n..(y + 1) * n], row_mask(y))).collect();
        let global = |peaks: &[(usize, f32)]| -> (usize, usize, f32) {
            let mut best = (0usize, 0usize, 0.0f32);
            for (y, &(x, v)) in peaks.iter().enumerate() {
                if v.abs() > best.2.abs() {
                    best = (y, x, v);
                }
            }
            best
        };
        let (_, _, start) = global(&peaks);
        let stop_at = (start.abs() * (1.0 - lim.mgain)).max(lim.threshold);
        let mut done = 0;
        let mut last = start;
        let h = lim.patch_half.min(c);
        let stop = loop {
            if self.components >= lim.niter {
                break Stop::Niter;
            }
            let (py, px, v) = global(&peaks);
            last = v;
            if v.abs() <= lim.threshold {
                break Stop::Threshold;
            }
            if v.abs() <= stop_at {
                break Stop::MajorCycle;
            }
            let flux = lim.gain * v;
            self.model[py * n + px] += flux;
            self.components += 1;
            done += 1;
            // residual[y][x] −= flux · psf[y − py + c][x − px + c], inside the patch and the image.
            let y0 = py.saturating_sub(h).max(py.saturating_sub(c));
            let y1 = (py + h + 1).min(n).min(py + n - c);
            let x0 = px.saturating_sub(h).max(px.saturating_sub(c));
            let x1 = (px + h + 1).min(n).min(px + n - c);
            for y in y0..y1 {
                let prow = (y + c - py) * n;
                let p = &psf[prow + (x0 + c - px)..prow + (x1 + c - px)];
                let r = &mut residual[y * n + x0..y * n + x1];
                for (r, p) in r.iter_mut().zip(p) {
                    *r -= flux * p;
                }
                peaks[y] = row_peak(&residual[y * n..(y + 1) * n], row_mask(y));
            }
        };
        MinorCycle { components: done, peak_start: start, peak_end: last, stop }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_a_point_source_with_a_delta_psf() {
        let n = 16;
        let mut psf = vec![0.0f32; n * n];
        psf[(n / 2) * n + n / 2] = 1.0;
        let mut residual = vec![0.0f32; n * n];
        residual[5 * n + 7] = 2.0;
        residual[12 * n + 1] = -0.5;
        let mut c = Clean::new(n);
        let lim = MinorLimits { gain: 0.5, threshold: 1e-3, niter: 1000, mgain: 1.0, patch_half: n };
        let r = c.minor_cycle(&mut residual, &psf, &lim, None);
        assert_eq!(r.stop, Stop::Threshold);
        assert!((c.model[5 * n + 7] - 2.0).abs() < 2e-3);
        assert!((c.model[12 * n + 1] + 0.5).abs() < 2e-3);
        assert!(residual.iter().all(|v| v.abs() <= 1e-3));
    }

    #[test]
    fn a_wide_psf_at_the_edge_stays_inside_the_image() {
        // A flat PSF: every component lowers the whole image (within the patch) by flux.
        let n = 8;
        let psf = vec![1.0f32; n * n];
        let mut residual = vec![0.0f32; n * n];
        residual[0] = 1.0;
        let mut c = Clean::new(n);
        let lim = MinorLimits { gain: 1.0, threshold: 0.0, niter: 1, mgain: 1.0, patch_half: 2 };
        c.minor_cycle(&mut residual, &psf, &lim, None);
        assert_eq!(residual[0], 0.0);
        assert_eq!(residual[2 * n + 2], -1.0); // inside the patch
        assert_eq!(residual[3 * n + 3], 0.0); // outside it
    }
}
