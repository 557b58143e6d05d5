//! Interpolation of an input image at a fractional pixel position: bilinear, or cubic B-spline.
//!
//! Our images are undersampled on the beam's minor axis (≈ 12.5″ with 6″ cells: ~2 pixels per
//! FWHM). Bilinear interpolation of a point source that falls between pixel centres loses up
//! to ~30% of its peak there; the cubic B-spline interpolant of the same samples keeps it
//! within a few per cent, so cubic is the default.
//!
//! [`CubicSpline`] is what scipy's `ndimage.map_coordinates(order=3, mode='constant')` computes,
//! which is `reproject_interp(order='bicubic')`: the image is first turned into B-spline
//! coefficients by a separable recursive filter (pole z = √3 − 2, mirror-symmetric boundary),
//! then a 4×4 cubic B-spline kernel is applied to the coefficients, mirrored about the outer
//! pixel centres near the edges. As in reproject, a position in the outer half of an edge pixel
//! is moved to its centre, and one beyond it is NaN.
//!
//! Blanks: scipy's recursive filter spreads one NaN over the whole image (reproject then
//! returns NaN everywhere). We prefilter with blanks as zero instead and return NaN wherever a
//! blank is among the 4×4 pixels under the kernel; within a few pixels of a blank the values
//! still feel the zero fill (the filter's response decays as |z|ᵏ = 0.27ᵏ).

use std::str::FromStr;

/// How an input is sampled between its pixel centres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// `reproject_interp(order='bilinear')`.
    Bilinear,
    /// `reproject_interp(order='bicubic')`: the cubic B-spline interpolant.
    #[default]
    Cubic,
}

impl Interpolation {
    pub fn name(self) -> &'static str {
        match self {
            Interpolation::Bilinear => "bilinear",
            Interpolation::Cubic => "cubic",
        }
    }
}

impl FromStr for Interpolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bilinear" => Ok(Interpolation::Bilinear),
            "cubic" | "bicubic" => Ok(Interpolation::Cubic),
            _ => Err(format!("interpolation {s:?} is not \"cubic\" or \"bilinear\"")),
        }
    }
}

/// An input's image and primary beam on their common pixel grid, ready to sample.
pub enum Sampler {
    Bilinear { nx: usize, ny: usize, image: Vec<f32>, pb: Vec<f32> },
    Cubic { image: CubicSpline, pb: CubicSpline },
}

impl Sampler {
    /// Prepares both planes (`[y][x]`, nx × ny): for cubic, their prefilters run side by side.
    pub fn new(image: Vec<f32>, pb: Vec<f32>, nx: usize, ny: usize, how: Interpolation) -> Sampler {
        match how {
            Interpolation::Bilinear => Sampler::Bilinear { nx, ny, image, pb },
            Interpolation::Cubic => {
                let (image, pb) = rayon::join(|| CubicSpline::new(image, nx, ny), || CubicSpline::new(pb, nx, ny));
                Sampler::Cubic { image, pb }
            }
        }
    }

    /// (beam, image) at the 0-based input pixel (x, y), where the beam is at least `pb_cutoff`
    /// and both are defined; `None` elsewhere.
    #[inline]
    pub fn beam_and_image(&self, x: f64, y: f64, pb_cutoff: f64) -> Option<(f64, f64)> {
        let (b, v) = match self {
            Sampler::Bilinear { nx, ny, image, pb } => {
                let b = bilinear(pb, *nx, *ny, x, y) as f64;
                // NaN: outside the input, or a blanked beam.
                if !(b >= pb_cutoff) {
                    return None;
                }
                (b, bilinear(image, *nx, *ny, x, y) as f64)
            }
            Sampler::Cubic { image, pb } => {
                let s = Stencil::at(pb.nx, pb.ny, x, y)?;
                let b = pb.sample(&s);
                if !(b >= pb_cutoff) {
                    return None;
                }
                (b, image.sample(&s))
            }
        };
        v.is_finite().then_some((b, v))
    }
}

/// Bilinear interpolation of `data` (`[y][x]`, nx × ny) at the 0-based pixel (x, y), as
/// `reproject_interp(order=1)` does it: defined out to the outer pixels' edges (−0.5 … n−0.5),
/// the edge pixels repeated beyond their centres, NaN outside or next to a NaN pixel.
#[inline]
pub fn bilinear(data: &[f32], nx: usize, ny: usize, x: f64, y: f64) -> f32 {
    if !(x >= -0.5 && x <= nx as f64 - 0.5 && y >= -0.5 && y <= ny as f64 - 0.5) {
        return f32::NAN;
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let clamp = |v: f64, n: usize| (v.max(0.0) as usize).min(n - 1);
    let (xa, xb) = (clamp(x0, nx), clamp(x0 + 1.0, nx));
    let (ya, yb) = (clamp(y0, ny), clamp(y0 + 1.0, ny));
    let v = |xx: usize, yy: usize| data[yy * nx + xx] as f64;
    let lower = (1.0 - fx) * v(xa, ya) + fx * v(xb, ya);
    let upper = (1.0 - fx) * v(xa, yb) + fx * v(xb, yb);
    ((1.0 - fy) * lower + fy * upper) as f32
}

/// The pole of the cubic B-spline's inverse filter, √3 − 2.
const POLE: f64 = -0.267_949_192_431_122_7;
/// Terms of the causal initial sum below this are dropped (|z|ᵏ < 1e-17 after k ≈ 30).
const INIT_TOL: f64 = 1e-17;

/// An image's cubic B-spline coefficients, and where blanks are under the kernel.
pub struct CubicSpline {
    pub nx: usize,
    pub ny: usize,
    coeffs: Vec<f32>,
    /// `[y][x]`: a NaN among input pixels x−1…x+2, y−1…y+2; `None` when there is no NaN.
    blank_near: Option<Vec<bool>>,
}

/// Where the 4×4 kernel sits and its weights, shared by every plane on the same pixel grid.
#[derive(Debug, Clone, Copy)]
pub struct Stencil {
    /// The pixel at or below the position (the kernel's second row and column), and the
    /// mirrored indices of the kernel's four columns and rows.
    x0: usize,
    y0: usize,
    ix: [usize; 4],
    iy: [usize; 4],
    wx: [f64; 4],
    wy: [f64; 4],
}

impl Stencil {
    /// The stencil at the 0-based pixel (x, y) on an nx × ny grid; `None` beyond the outer
    /// pixels' edges (or NaN).
    #[inline]
    pub fn at(nx: usize, ny: usize, x: f64, y: f64) -> Option<Stencil> {
        let (x0, ix, wx) = axis(x, nx)?;
        let (y0, iy, wy) = axis(y, ny)?;
        Some(Stencil { x0, y0, ix, iy, wx, wy })
    }
}

/// One axis of a stencil: the base pixel, the four (mirrored) indices and their weights.
#[inline]
fn axis(p: f64, n: usize) -> Option<(usize, [usize; 4], [f64; 4])> {
    let last = n as f64 - 1.0;
    if !(p >= -0.5 && p <= last + 0.5) {
        return None;
    }
    // reproject: the outer half of an edge pixel takes the value at its centre.
    let p = p.clamp(0.0, last);
    let f = p.floor();
    let t = p - f;
    let i0 = f as isize;
    let s = 1.0 - t;
    let w = [s * s * s / 6.0, 2.0 / 3.0 - t * t + 0.5 * t * t * t, 2.0 / 3.0 - s * s + 0.5 * s * s * s, t * t * t / 6.0];
    let idx = [mirror(i0 - 1, n), mirror(i0, n), mirror(i0 + 1, n), mirror(i0 + 2, n)];
    Some((i0 as usize, idx, w))
}

/// Whole-sample mirror about the outer pixel centres: −1 → 1, n → n − 2.
#[inline]
fn mirror(i: isize, n: usize) -> usize {
    // Inside the image (all but the outermost two rows and columns): no reflection.
    if i >= 0 && (i as usize) < n {
        return i as usize;
    }
    if n == 1 {
        return 0;
    }
    let n = n as isize;
    let period = 2 * n - 2;
    let mut k = i.rem_euclid(period);
    if k >= n {
        k = period - k;
    }
    k as usize
}

impl CubicSpline {
    /// Prefilters `data` (`[y][x]`, nx × ny) into B-spline coefficients, in place.
    pub fn new(mut data: Vec<f32>, nx: usize, ny: usize) -> CubicSpline {
        assert_eq!(data.len(), nx * ny, "data is not nx × ny");
        let blank_near = dilated_blanks(&data, nx, ny);
        if blank_near.is_some() {
            data.iter_mut().filter(|v| v.is_nan()).for_each(|v| *v = 0.0);
        }
        let init = causal_init_weights(nx);
        let mut line = vec![0.0f64; nx];
        for row in data.chunks_exact_mut(nx) {
            line.iter_mut().zip(row.iter()).for_each(|(l, v)| *l = *v as f64);
            filter_line(&mut line, &init);
            row.iter_mut().zip(&line).for_each(|(v, l)| *v = *l as f32);
        }
        filter_columns(&mut data, nx, ny);
        CubicSpline { nx, ny, coeffs: data, blank_near }
    }

    /// The interpolant under `s` (a stencil on this grid); NaN next to a blank.
    #[inline]
    pub fn sample(&self, s: &Stencil) -> f64 {
        if let Some(b) = &self.blank_near {
            if b[s.y0 * self.nx + s.x0] {
                return f64::NAN;
            }
        }
        let mut sum = 0.0;
        for (&yy, &wy) in s.iy.iter().zip(&s.wy) {
            let row = &self.coeffs[yy * self.nx..(yy + 1) * self.nx];
            let r = s.wx[0] * row[s.ix[0]] as f64 + s.wx[1] * row[s.ix[1]] as f64 + s.wx[2] * row[s.ix[2]] as f64 + s.wx[3] * row[s.ix[3]] as f64;
            sum += wy * r;
        }
        sum
    }

    /// The interpolant at the 0-based pixel (x, y): NaN outside or next to a blank.
    pub fn at(&self, x: f64, y: f64) -> f64 {
        Stencil::at(self.nx, self.ny, x, y).map_or(f64::NAN, |s| self.sample(&s))
    }
}

/// `(index, weight)` of the causal filter's first coefficient, Σ zᵏ·c̃ₖ / (1 − z^(2n−2)) over
/// one period of the mirrored line c̃: the pixel j counts with zʲ + z^(2n−2−j).
fn causal_init_weights(n: usize) -> Vec<(usize, f64)> {
    if n < 2 {
        return vec![(0, 1.0)];
    }
    let period = 2 * n as i32 - 2;
    let norm = 1.0 / (1.0 - POLE.powi(period));
    (0..n)
        .map(|j| {
            let direct = POLE.powi(j as i32);
            let mirrored = if j == 0 || j == n - 1 { 0.0 } else { POLE.powi(period - j as i32) };
            (j, (direct + mirrored) * norm)
        })
        .filter(|(_, w)| w.abs() > INIT_TOL)
        .collect()
}

/// The cubic B-spline prefilter of one line, in place: gain 6, a causal then an anticausal
/// first-order recursion, each started as the mirror-symmetric extension requires.
fn filter_line(c: &mut [f64], init: &[(usize, f64)]) {
    let n = c.len();
    if n < 2 {
        return;
    }
    c.iter_mut().for_each(|v| *v *= 6.0);
    c[0] = init.iter().map(|&(j, w)| w * c[j]).sum();
    for k in 1..n {
        c[k] += POLE * c[k - 1];
    }
    c[n - 1] = POLE / (POLE * POLE - 1.0) * (POLE * c[n - 2] + c[n - 1]);
    for k in (0..n - 1).rev() {
        c[k] = POLE * (c[k + 1] - c[k]);
    }
}

/// [`filter_line`] down every column at once, a row at a time, so that memory is read in
/// order: the recursions run on whole rows, with f64 accumulators for the initial sums.
fn filter_columns(data: &mut [f32], nx: usize, ny: usize) {
    if ny < 2 {
        return;
    }
    let init = causal_init_weights(ny);
    let mut acc = vec![0.0f64; nx];
    for &(j, w) in &init {
        acc.iter_mut().zip(&data[j * nx..(j + 1) * nx]).for_each(|(a, v)| *a += w * 6.0 * *v as f64);
    }
    let mut prev = acc;
    data[..nx].iter_mut().zip(&prev).for_each(|(v, p)| *v = *p as f32);
    for k in 1..ny {
        for (v, p) in data[k * nx..(k + 1) * nx].iter_mut().zip(prev.iter_mut()) {
            *p = 6.0 * *v as f64 + POLE * *p;
            *v = *p as f32;
        }
    }
    // prev holds the causal row ny−1 in f64; the anticausal start needs rows ny−2 and ny−1.
    let last = ny - 1;
    let gain = POLE / (POLE * POLE - 1.0);
    for (x, p) in prev.iter_mut().enumerate() {
        *p = gain * (POLE * data[(last - 1) * nx + x] as f64 + *p);
        data[last * nx + x] = *p as f32;
    }
    for k in (0..last).rev() {
        for (v, p) in data[k * nx..(k + 1) * nx].iter_mut().zip(prev.iter_mut()) {
            *p = POLE * (*p - *v as f64);
            *v = *p as f32;
        }
    }
}

/// `Some([y][x])`: a NaN among input pixels x−1…x+2, y−1…y+2 (the kernel's support from the
/// base pixel (x, y), mirrored indices falling inside it); `None` when there is no NaN.
fn dilated_blanks(data: &[f32], nx: usize, ny: usize) -> Option<Vec<bool>> {
    if !data.iter().any(|v| v.is_nan()) {
        return None;
    }
    let window = |i: usize, n: usize| i.saturating_sub(1)..(i + 3).min(n);
    let mut rows = vec![false; nx * ny];
    for y in 0..ny {
        let line = &data[y * nx..(y + 1) * nx];
        for x in 0..nx {
            rows[y * nx + x] = line[window(x, nx)].iter().any(|v| v.is_nan());
        }
    }
    let mut out = vec![false; nx * ny];
    for y in 0..ny {
        for x in 0..nx {
            out[y * nx + x] = window(y, ny).any(|yy| rows[yy * nx + x]);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(nx: usize, ny: usize, f: impl Fn(f64, f64) -> f64) -> Vec<f32> {
        (0..nx * ny).map(|k| f((k % nx) as f64, (k / nx) as f64) as f32).collect()
    }

    #[test]
    fn the_interpolant_passes_through_the_pixels() {
        // After prefiltering, the kernel at integer positions returns the input — everywhere,
        // edges included, on an irregular image.
        let (nx, ny) = (37, 23);
        let data = image(nx, ny, |x, y| ((x * 12.9898 + y * 78.233).sin() * 43758.5453).fract());
        let s = CubicSpline::new(data.clone(), nx, ny);
        let worst = (0..nx * ny).map(|k| (s.at((k % nx) as f64, (k / nx) as f64) - data[k] as f64).abs()).fold(0.0, f64::max);
        assert!(worst < 1e-5, "worst {worst}");
    }

    #[test]
    fn a_cubic_polynomial_is_reproduced_in_the_interior() {
        // Cubic B-splines span the cubics: away from the edges (where the mirror boundary
        // bends the spline) the interpolant is the polynomial itself.
        let (nx, ny) = (64, 48);
        let f = |x: f64, y: f64| 0.5 + 0.02 * x - 0.03 * y + 1e-3 * x * y - 4e-4 * x * x + 2e-5 * x * x * x - 1e-5 * y * y * y;
        let s = CubicSpline::new(image(nx, ny, f), nx, ny);
        let mut worst: f64 = 0.0;
        for (x, y) in [(20.5, 20.5), (31.25, 17.75), (40.9, 30.1), (25.0, 24.5), (44.4, 22.2)] {
            worst = worst.max((s.at(x, y) - f(x, y)).abs() / f(x, y).abs().max(1.0));
        }
        assert!(worst < 1e-5, "worst relative error {worst}");
        // Bilinear gets the curvature wrong: the same test fails for it by far.
        let b = bilinear(&image(nx, ny, f), nx, ny, 31.5, 17.5) as f64;
        assert!((b - f(31.5, 17.5)).abs() > 1e-4, "bilinear error {}", (b - f(31.5, 17.5)).abs());
    }

    #[test]
    fn an_undersampled_gaussian_keeps_its_peak_between_pixels() {
        // A point source of 2–2.5 px FWHM (our beam's minor axis is ~2.1 px) centred between
        // pixels, the interpolant read where the source is. Pointwise, the cubic spline keeps
        // 95.7% of the peak at a half-pixel offset on one axis at 2 px FWHM (scipy's
        // map_coordinates(order=3) gives the same), 98.5% at 2.5 px; bilinear keeps 84% and
        // 89.5%. (A Gaussian fitted to the whole reprojected source, as test/mosaic does, does
        // better: within 3% for cubic at 2.08 × 4.17 px, 14–18% low for bilinear.)
        let n = 32;
        for (fwhm, cx, cy, cubic_min, linear_max) in [
            (2.0, 15.5, 16.0, 0.955, 0.845),
            (2.0, 16.0, 15.5, 0.955, 0.845),
            (2.0, 15.5, 15.5, 0.914, 0.71),
            (2.0, 15.25, 16.0, 0.975, 0.89),
            (2.5, 15.5, 16.0, 0.983, 0.90),
            (2.5, 15.5, 15.5, 0.968, 0.805),
        ] {
            let sig: f64 = fwhm / (8.0f64 * 2f64.ln()).sqrt();
            let g = |x: f64, y: f64| (-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2.0 * sig * sig)).exp();
            let data = image(n, n, g);
            let cubic = CubicSpline::new(data.clone(), n, n).at(cx, cy);
            let linear = bilinear(&data, n, n, cx, cy) as f64;
            assert!(cubic >= cubic_min && cubic <= 1.0, "{fwhm} px at ({cx},{cy}): cubic peak {cubic}");
            assert!(linear <= linear_max, "{fwhm} px at ({cx},{cy}): bilinear peak {linear}");
            if cx.fract() == 0.0 || cy.fract() == 0.0 {
                // One axis between pixels, at 2.5 px FWHM or a quarter-pixel offset: within 3%.
                assert!(fwhm < 2.5 && (cx.fract() == 0.5 || cy.fract() == 0.5) || cubic > 0.97, "{fwhm} px at ({cx},{cy}): {cubic}");
            }
        }
    }

    #[test]
    fn edges_follow_reproject_and_blanks_stay_local() {
        let (nx, ny) = (9, 7);
        let f = |x: f64, y: f64| 1.0 + 0.1 * x + 0.2 * y;
        let s = CubicSpline::new(image(nx, ny, f), nx, ny);
        // The outer half of an edge pixel takes the centre's value; beyond the edge, NaN.
        assert!((s.at(-0.4, 3.0) - s.at(0.0, 3.0)).abs() < 1e-12);
        assert!((s.at(8.49, 6.3) - s.at(8.0, 6.0)).abs() < 1e-12);
        assert!(s.at(-0.6, 3.0).is_nan() && s.at(4.0, 6.6).is_nan() && s.at(f64::NAN, 1.0).is_nan());
        // A blank pixel: NaN while it is under the kernel, finite (and close) beyond.
        let mut holed = image(nx, ny, f);
        holed[3 * nx + 4] = f32::NAN;
        let h = CubicSpline::new(holed, nx, ny);
        assert!(h.at(4.0, 3.0).is_nan() && h.at(2.5, 1.5).is_nan() && h.at(5.9, 4.9).is_nan());
        assert!(h.at(1.0, 3.0).is_finite() && h.at(6.0, 3.0).is_finite() && h.at(4.0, 0.0).is_finite());
    }

    #[test]
    fn bilinear_is_exact_on_a_plane_and_follows_reproject_at_the_edges() {
        let (nx, ny) = (7, 5);
        let plane: Vec<f32> = (0..nx * ny).map(|k| (3.0 + 0.5 * (k % nx) as f64 - 0.25 * (k / nx) as f64) as f32).collect();
        let f = |x: f64, y: f64| 3.0 + 0.5 * x - 0.25 * y;
        for (x, y) in [(0.0, 0.0), (2.3, 1.7), (5.99, 3.01), (6.0, 4.0), (0.5, 3.5)] {
            assert!((bilinear(&plane, nx, ny, x, y) as f64 - f(x, y)).abs() < 1e-5, "({x},{y})");
        }
        // Beyond the outer centres the edge value holds; beyond the outer edges it is NaN.
        assert!((bilinear(&plane, nx, ny, -0.4, 2.0) as f64 - f(0.0, 2.0)).abs() < 1e-5);
        assert!((bilinear(&plane, nx, ny, 6.5, 2.0) as f64 - f(6.0, 2.0)).abs() < 1e-5);
        assert!(bilinear(&plane, nx, ny, -0.6, 2.0).is_nan());
        assert!(bilinear(&plane, nx, ny, 3.0, 4.6).is_nan());
        let mut holed = plane.clone();
        holed[2 * nx + 3] = f32::NAN;
        assert!(bilinear(&holed, nx, ny, 3.5, 2.5).is_nan());
        assert!(bilinear(&holed, nx, ny, 1.5, 2.5).is_finite());
    }

    #[test]
    fn mirror_indices_reflect_about_the_outer_centres() {
        assert_eq!([-2, -1, 0, 4, 5, 6].map(|i| mirror(i, 5)), [2, 1, 0, 4, 3, 2]);
        assert_eq!(mirror(-1, 1), 0);
    }
}
