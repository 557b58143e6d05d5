//! The output grid: TAN, north up, square pixels of the finest input cell, covering the union
//! of the inputs' footprints (where their primary beam reaches the cutoff), with the reference
//! point at the centre of that union.

use fits::{CelestialWcs, Projection};

/// Output pixels beyond this many are refused rather than allocated (4 planes of f32 and the
/// accumulation would need tens of GB).
pub const MAX_PIXELS: usize = 400_000_000;

#[derive(Debug, Clone)]
pub struct Grid {
    pub nx: usize,
    pub ny: usize,
    pub wcs: CelestialWcs,
}

/// Where an input counts: sky positions (deg) around the box of its pixels whose beam is at
/// least the cutoff, with its centre and radius for overlap tests.
#[derive(Debug, Clone)]
pub struct Footprint {
    pub outline_deg: Vec<(f64, f64)>,
    pub centre_deg: (f64, f64),
    pub radius_deg: f64,
}

/// The footprint of an image from its beam, or `None` when the beam is nowhere ≥ `cutoff`.
pub fn footprint(pb: &[f32], nx: usize, ny: usize, wcs: &CelestialWcs, cutoff: f64) -> Option<Footprint> {
    debug_assert_eq!(pb.len(), nx * ny, "beam data length");
    let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0, usize::MAX, 0);
    for (k, &b) in pb.iter().enumerate() {
        if b as f64 >= cutoff {
            let (x, y) = (k % nx, k / nx);
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
    }
    if x0 > x1 {
        return None;
    }
    // The outer edges of the box's pixels, 32 points a side.
    let (ax, bx, ay, by) = (x0 as f64 - 0.5, x1 as f64 + 0.5, y0 as f64 - 0.5, y1 as f64 + 0.5);
    let mut outline = Vec::with_capacity(128);
    for i in 0..32 {
        let t = i as f64 / 32.0;
        for (x, y) in [(ax + t * (bx - ax), ay), (bx, ay + t * (by - ay)), (bx - t * (bx - ax), by), (ax, by - t * (by - ay))] {
            outline.extend(wcs.pixel_to_world(x, y));
        }
    }
    let centre_deg = wcs.pixel_to_world((ax + bx) / 2.0, (ay + by) / 2.0)?;
    let radius_deg = outline.iter().map(|&(r, d)| fits::wcs::separation_deg(r, d, centre_deg.0, centre_deg.1)).fold(0.0, f64::max);
    Some(Footprint { outline_deg: outline, centre_deg, radius_deg })
}

/// Groups of footprints connected by overlap (circles of their radii); one group is a mosaic.
pub fn overlap_groups(fps: &[Footprint]) -> Vec<Vec<usize>> {
    let mut group: Vec<usize> = (0..fps.len()).collect();
    fn root(g: &mut [usize], mut i: usize) -> usize {
        while g[i] != i {
            g[i] = g[g[i]];
            i = g[i];
        }
        i
    }
    for i in 0..fps.len() {
        for j in i + 1..fps.len() {
            let (a, b) = (&fps[i], &fps[j]);
            if fits::wcs::separation_deg(a.centre_deg.0, a.centre_deg.1, b.centre_deg.0, b.centre_deg.1) < a.radius_deg + b.radius_deg {
                let (ri, rj) = (root(&mut group, i), root(&mut group, j));
                group[ri] = rj;
            }
        }
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    for i in 0..fps.len() {
        let r = root(&mut group, i);
        match roots.iter().position(|&x| x == r) {
            Some(k) => out[k].push(i),
            None => {
                roots.push(r);
                out.push(vec![i]);
            }
        }
    }
    out
}

/// The centre of the footprints: the normalised mean of their outline points' unit vectors.
pub fn centre_deg(fps: &[Footprint]) -> (f64, f64) {
    let mut v = [0.0f64; 3];
    for &(ra, dec) in fps.iter().flat_map(|f| &f.outline_deg) {
        let (sa, ca) = ra.to_radians().sin_cos();
        let (sd, cd) = dec.to_radians().sin_cos();
        v[0] += cd * ca;
        v[1] += cd * sa;
        v[2] += sd;
    }
    let r = (v[0] * v[0] + v[1] * v[1]).sqrt();
    (v[1].atan2(v[0]).to_degrees().rem_euclid(360.0), v[2].atan2(r).to_degrees())
}

/// The TAN grid covering every footprint, referenced at their centre; `Err` says why not.
pub fn covering(fps: &[Footprint], cell_deg: f64) -> Result<Grid, String> {
    let (ra0, dec0) = centre_deg(fps);
    // With nx = ny = 0, CRPIX is 1 and world_to_pixel gives offsets from the reference pixel.
    let probe = CelestialWcs::north_up(Projection::Tan, ra0, dec0, cell_deg, 0, 0);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(ra, dec) in fps.iter().flat_map(|f| &f.outline_deg) {
        let (x, y) = probe.world_to_pixel(ra, dec).filter(|p| p.0.abs() < 1e9 && p.1.abs() < 1e9).ok_or_else(|| format!("({ra:.3}, {dec:.3}) is 90° or more from the centre ({ra0:.3}, {dec0:.3})"))?;
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    // Pixel centres on whole offsets from the reference, the outline inside the outer edges.
    let (ix0, iy0) = ((x0 + 0.5).floor(), (y0 + 0.5).floor());
    let nx = ((x1 - 0.5).ceil() - ix0) as usize + 1;
    let ny = ((y1 - 0.5).ceil() - iy0) as usize + 1;
    if nx.saturating_mul(ny) > MAX_PIXELS {
        return Err(format!("{nx}×{ny} pixels of {:.2}″ (at most {MAX_PIXELS}); give a coarser --cell-arcsec", cell_deg * 3600.0));
    }
    let mut wcs = probe;
    wcs.crpix = [1.0 - ix0, 1.0 - iy0];
    Ok(Grid { nx, ny, wcs })
}

/// An explicit grid: `nx`×`ny` pixels centred on (ra, dec).
pub fn explicit(ra_deg: f64, dec_deg: f64, cell_deg: f64, nx: usize, ny: usize) -> Grid {
    Grid { nx, ny, wcs: CelestialWcs::north_up(Projection::Tan, ra_deg, dec_deg, cell_deg, nx, ny) }
}

/// The pixel size of a grid near its reference point, degrees (the geometric mean of the axes).
pub fn cell_deg(w: &CelestialWcs) -> f64 {
    w.pixel_area_deg2().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(ra: f64, dec: f64) -> (Vec<f32>, CelestialWcs) {
        let w = CelestialWcs::north_up(Projection::Sin, ra, dec, 60.0 / 3600.0, 100, 100);
        (vec![1.0; 100 * 100], w)
    }

    #[test]
    fn a_single_field_is_covered_by_its_own_size() {
        let (pb, w) = field(120.0, 50.0);
        let f = footprint(&pb, 100, 100, &w, 0.1).unwrap();
        let g = covering(&[f], 60.0 / 3600.0).unwrap();
        // The reference point is the centre of the field's box of pixels (half a pixel from its
        // CRPIX pixel; the mean of the outline on the sphere, within 0.04″), so pixel centres fall
        // half-way between the field's: 100 edges need 101.
        assert_eq!((g.nx, g.ny), (101, 101));
        let (ra, dec) = w.pixel_to_world(49.5, 49.5).unwrap();
        assert!(fits::wcs::separation_deg(ra, dec, g.wcs.ref_ra_deg, g.wcs.ref_dec_deg) < 1e-5, "({ra},{dec}) vs {:?}", g.wcs);
        assert!((g.wcs.crpix[0] - 51.0).abs() < 1e-9 && (g.wcs.crpix[1] - 51.0).abs() < 1e-9, "{:?}", g.wcs.crpix);
    }

    #[test]
    fn fields_along_ra_make_one_wide_grid_and_apart_two_groups() {
        let fields: Vec<_> = (0..3).map(|i| field(120.0 + 1.2 * i as f64, 50.0)).collect();
        let fps: Vec<_> = fields.iter().map(|(pb, w)| footprint(pb, 100, 100, w, 0.1).unwrap()).collect();
        assert_eq!(overlap_groups(&fps), vec![vec![0, 1, 2]]);
        let g = covering(&fps, 60.0 / 3600.0).unwrap();
        // 2 × 1.2° × cos 50° ≈ 1.54° ≈ 93 pixels of RA offset beyond one field's 100.
        assert!((190..=196).contains(&g.nx) && (100..=103).contains(&g.ny), "{}×{}", g.nx, g.ny);
        // Every field corner lands inside the grid.
        for (_, w) in &fields {
            for (x, y) in [(-0.5, -0.5), (99.5, 99.5), (-0.5, 99.5), (99.5, -0.5)] {
                let (ra, dec) = w.pixel_to_world(x, y).unwrap();
                let (gx, gy) = g.wcs.world_to_pixel(ra, dec).unwrap();
                assert!(gx >= -0.5 - 1e-6 && gx <= g.nx as f64 - 0.5 + 1e-6 && gy >= -0.5 - 1e-6 && gy <= g.ny as f64 - 0.5 + 1e-6, "({gx},{gy})");
            }
        }
        let far = [fps[0].clone(), footprint(&fields[0].0, 100, 100, &field(140.0, 50.0).1, 0.1).unwrap()];
        assert_eq!(overlap_groups(&far), vec![vec![0], vec![1]]);
    }

    #[test]
    fn a_beam_below_the_cutoff_has_no_footprint() {
        let (_, w) = field(0.0, 0.0);
        assert!(footprint(&vec![0.05; 100 * 100], 100, 100, &w, 0.1).is_none());
    }
}
