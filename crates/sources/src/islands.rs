//! Islands: 8-connected regions of pixels above the analysis threshold (in units of the local
//! noise) that hold at least one pixel above the detection threshold, and the peaks within them
//! that seed the Gaussian components.

/// One island: its pixels (x, y) and its signal-to-noise peaks, brightest first.
#[derive(Debug, Clone)]
pub struct Island {
    pub pixels: Vec<(u32, u32)>,
    pub peaks: Vec<(u32, u32)>,
    pub peak_snr: f32,
}

/// `snr` is (image − background) / rms, NaN where blank. A peak is a pixel above `detect` that is
/// the maximum within `peak_radius_px` (a fraction of the beam, so that noise on the flank of a
/// source does not seed a component of its own).
pub fn find(snr: &[f32], nx: usize, ny: usize, detect: f32, analysis: f32, peak_radius_px: usize) -> Vec<Island> {
    let mut label = vec![false; nx * ny];
    let mut islands = Vec::new();
    let mut stack = Vec::new();
    for start in 0..nx * ny {
        if label[start] || snr[start].is_nan() || snr[start] < detect {
            continue;
        }
        // Flood fill from a detection pixel over the analysis-threshold pixels.
        let mut pixels = Vec::new();
        label[start] = true;
        stack.push(start);
        while let Some(k) = stack.pop() {
            let (x, y) = (k % nx, k / nx);
            pixels.push((x as u32, y as u32));
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                    if xx < 0 || yy < 0 || xx >= nx as i64 || yy >= ny as i64 {
                        continue;
                    }
                    let kk = yy as usize * nx + xx as usize;
                    if !label[kk] && snr[kk] >= analysis {
                        label[kk] = true;
                        stack.push(kk);
                    }
                }
            }
        }
        let mut peaks: Vec<(u32, u32)> = pixels
            .iter()
            .copied()
            .filter(|&(x, y)| snr[y as usize * nx + x as usize] >= detect && is_local_max(snr, nx, ny, x as usize, y as usize, peak_radius_px))
            .collect();
        peaks.sort_by(|a, b| snr[b.1 as usize * nx + b.0 as usize].total_cmp(&snr[a.1 as usize * nx + a.0 as usize]));
        let peaks = deblend(snr, nx, peaks);
        let mut peaks = peaks;
        if peaks.is_empty() {
            // A brighter pixel of a neighbouring island lies within the radius: the island's
            // own brightest pixel seeds it.
            let at = |p: &(u32, u32)| snr[p.1 as usize * nx + p.0 as usize];
            peaks.push(*pixels.iter().max_by(|a, b| at(a).total_cmp(&at(b))).unwrap());
        }
        let peak_snr = snr[peaks[0].1 as usize * nx + peaks[0].0 as usize];
        islands.push(Island { pixels, peaks, peak_snr });
    }
    islands
}

/// How deep (in sigma) the dip between two peaks must be for the fainter to count as a source
/// of its own rather than a bump on the brighter one's flank (a sidelobe, a CLEAN artefact).
const SADDLE_SIGMA: f32 = 1.5;

/// Keeps the peaks (brightest first) that are separated from every brighter kept peak by a dip
/// of at least [`SADDLE_SIGMA`] along the straight line between them.
fn deblend(snr: &[f32], nx: usize, peaks: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    let at = |x: f64, y: f64| snr[y.round() as usize * nx + x.round() as usize];
    let mut kept: Vec<(u32, u32)> = Vec::with_capacity(peaks.len());
    for p in peaks {
        let v = at(p.0 as f64, p.1 as f64);
        let separate = kept.iter().all(|q| {
            let (dx, dy) = (q.0 as f64 - p.0 as f64, q.1 as f64 - p.1 as f64);
            let steps = (2.0 * dx.hypot(dy)).ceil().max(1.0) as usize;
            let dip = (0..=steps).map(|i| at(p.0 as f64 + dx * i as f64 / steps as f64, p.1 as f64 + dy * i as f64 / steps as f64)).fold(f32::INFINITY, f32::min);
            v - dip >= SADDLE_SIGMA
        });
        if separate {
            kept.push(p);
        }
    }
    kept
}

fn is_local_max(snr: &[f32], nx: usize, ny: usize, x: usize, y: usize, r: usize) -> bool {
    let v = snr[y * nx + x];
    for yy in y.saturating_sub(r)..=(y + r).min(ny - 1) {
        for xx in x.saturating_sub(r)..=(x + r).min(nx - 1) {
            let w = snr[yy * nx + xx];
            // Ties go to the first pixel in raster order, so a flat top yields one peak.
            if w > v || (w == v && (yy, xx) < (y, x)) {
                return false;
            }
        }
    }
    true
}
