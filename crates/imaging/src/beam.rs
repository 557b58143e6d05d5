//! Fitting the restoring beam to the PSF's main lobe.
//!
//! The main lobe of a PSF is close to an elliptical Gaussian. Taking logarithms turns
//! `P(x, y) = exp(−(a x² + 2b xy + c y²))` into a linear model, fitted by least squares to the
//! pixels of the central lobe above 35% of the peak (where the Gaussian describes it well and
//! sidelobes do not reach). The quadratic form's eigenvalues give the FWHM axes.

use crate::fits::Beam;

/// `psf` is row-major `[y][x]`, `n × n`, peak at (n/2, n/2); `cell_rad` the pixel size.
/// Returns the beam in degrees, with the position angle east of north.
pub fn fit_beam(psf: &[f32], n: usize, cell_rad: f64) -> Option<Beam> {
    let c = n / 2;
    let peak = psf[c * n + c] as f64;
    if !(peak > 0.0) {
        return None;
    }
    // Grow the connected region above the threshold from the centre.
    let thr = 0.35 * peak;
    let mut inside = vec![false; n * n];
    let mut stack = vec![(c, c)];
    inside[c * n + c] = true;
    let mut pts: Vec<(f64, f64, f64)> = Vec::new();
    while let Some((y, x)) = stack.pop() {
        let v = psf[y * n + x] as f64;
        pts.push(((x as f64 - c as f64), (y as f64 - c as f64), (v / peak).ln()));
        for (dy, dx) in [(0i64, 1i64), (0, -1), (1, 0), (-1, 0)] {
            let (yy, xx) = (y as i64 + dy, x as i64 + dx);
            if yy < 0 || xx < 0 || yy >= n as i64 || xx >= n as i64 {
                continue;
            }
            let k = yy as usize * n + xx as usize;
            if !inside[k] && psf[k] as f64 > thr {
                inside[k] = true;
                stack.push((yy as usize, xx as usize));
            }
            if pts.len() > 100_000 {
                return None;
            }
        }
    }
    if pts.len() < 5 {
        // An unresolved beam: fall back to one pixel.
        let d = cell_rad.to_degrees();
        return Some(Beam { bmaj_deg: d, bmin_deg: d, bpa_deg: 0.0 });
    }
    // Least squares for −ln(P) = a x² + 2b xy + c y² (in pixel units).
    let mut m = [[0.0f64; 3]; 3];
    let mut rhs = [0.0f64; 3];
    for &(x, y, l) in &pts {
        let f = [x * x, 2.0 * x * y, y * y];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] += f[i] * f[j];
            }
            rhs[i] += f[i] * (-l);
        }
    }
    let [a, b, cc] = solve3(m, rhs)?;
    // Eigenvalues of [[a, b], [b, c]].
    let tr = a + cc;
    let det = a * cc - b * b;
    let disc = ((tr * tr) / 4.0 - det).max(0.0).sqrt();
    let (l1, l2) = (tr / 2.0 - disc, tr / 2.0 + disc); // l1 ≤ l2: l1 is the major axis
    if !(l1 > 0.0 && l2 > 0.0) {
        return None;
    }
    // exp(−λ r²) has FWHM 2 sqrt(ln 2 / λ).
    let fwhm = |l: f64| 2.0 * (std::f64::consts::LN_2 / l).sqrt() * cell_rad;
    // Direction of the major axis in pixel coordinates (x = RA pixels, y = Dec pixels).
    let (vx, vy) = if b.abs() > 1e-15 { (b, l1 - a) } else if a <= cc { (1.0, 0.0) } else { (0.0, 1.0) };
    // Pixel x increases westward (RA decreases), so east is −x; PA from north (+y) to east.
    let pa = (-vx).atan2(vy).to_degrees();
    let pa = ((pa + 90.0).rem_euclid(180.0)) - 90.0;
    Some(Beam { bmaj_deg: fwhm(l1).to_degrees(), bmin_deg: fwhm(l2).to_degrees(), bpa_deg: pa })
}

fn solve3(m: [[f64; 3]; 3], r: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(m);
    if d.abs() < 1e-300 {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut mk = m;
        for i in 0..3 {
            mk[i][k] = r[i];
        }
        *o = det(mk) / d;
    }
    Some(out)
}

/// A normalised elliptical Gaussian (peak 1) with the beam's shape, sampled on the image grid
/// centred at (cx, cy): what the model is convolved with when restoring.
pub fn gaussian_kernel(beam: &Beam, cell_rad: f64, half: usize) -> (Vec<f32>, usize) {
    let n = 2 * half + 1;
    let sig = |fwhm_deg: f64| fwhm_deg.to_radians() / cell_rad / (2.0 * (2.0 * std::f64::consts::LN_2).sqrt());
    let (smaj, smin) = (sig(beam.bmaj_deg), sig(beam.bmin_deg));
    let pa = beam.bpa_deg.to_radians();
    // Major axis direction: PA east of north; east is −x, north +y.
    let (ux, uy) = (-pa.sin(), pa.cos());
    let mut k = vec![0.0f32; n * n];
    for y in 0..n {
        for x in 0..n {
            let (dx, dy) = (x as f64 - half as f64, y as f64 - half as f64);
            let along = dx * ux + dy * uy;
            let across = -dx * uy + dy * ux;
            k[y * n + x] = (-0.5 * ((along / smaj).powi(2) + (across / smin).powi(2))).exp() as f32;
        }
    }
    (k, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_elliptical_gaussian() {
        let n = 128;
        let cell: f64 = 1e-5;
        let truth = Beam { bmaj_deg: 8.0 * cell.to_degrees(), bmin_deg: 5.0 * cell.to_degrees(), bpa_deg: 30.0 };
        let (k, kn) = gaussian_kernel(&truth, cell, n / 2);
        // Embed the (2·half+1)² kernel in the n² image with its peak at (n/2, n/2).
        let mut psf = vec![0.0f32; n * n];
        for y in 0..n {
            for x in 0..n {
                psf[y * n + x] = k[y * kn + x];
            }
        }
        let b = fit_beam(&psf, n, cell).unwrap();
        assert!((b.bmaj_deg / truth.bmaj_deg - 1.0).abs() < 1e-3, "{b:?}");
        assert!((b.bmin_deg / truth.bmin_deg - 1.0).abs() < 1e-3, "{b:?}");
        assert!((b.bpa_deg - 30.0).abs() < 0.1, "{b:?}");
    }
}
