//! The inputs: each flat-noise image with its primary beam, checked to share a grid, its noise
//! measured and its footprint found; then placed on the output grid.

use std::path::{Path, PathBuf};

use fits::{Beam, CelestialWcs, FitsError};
use rayon::prelude::*;

use crate::combine::Input;
use crate::error::MosaicError;
use crate::grid::{self, Footprint, Grid};
use crate::interp::{Interpolation, Sampler};
use crate::reproject::PixelMap;
use crate::InputSummary;

/// One input as read.
pub struct Read {
    pub image_path: PathBuf,
    pub pb_path: PathBuf,
    pub nx: usize,
    pub ny: usize,
    pub image: Vec<f32>,
    pub pb: Vec<f32>,
    pub wcs: CelestialWcs,
    pub beam: Option<Beam>,
    pub sigma_jy: f64,
    pub footprint: Footprint,
}

impl Read {
    pub fn summary(&self) -> InputSummary {
        InputSummary {
            image: self.image_path.clone(),
            pb: self.pb_path.clone(),
            nx: self.nx,
            ny: self.ny,
            cell_arcsec: grid::cell_deg(&self.wcs) * 3600.0,
            centre_deg: self.footprint.centre_deg,
            sigma_jy: self.sigma_jy,
        }
    }
}

/// Reads every image and beam (in parallel); the first failure in input order is the error.
pub fn read_all(images: &[PathBuf], pbs: &[PathBuf], pb_cutoff: f64) -> Result<Vec<Read>, MosaicError> {
    images.par_iter().zip(pbs).map(|(i, b)| read_one(i, b, pb_cutoff)).collect()
}

fn read_one(image_path: &Path, pb_path: &Path, pb_cutoff: f64) -> Result<Read, MosaicError> {
    let image = fits::read_image(image_path)?;
    image.check_not_empty(image_path)?;
    let pb = fits::read_image(pb_path).map_err(|e| match e {
        FitsError::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => MosaicError::MissingPb { image: image_path.into(), pb: pb_path.into() },
        e => e.into(),
    })?;
    let mismatch = |reason: String| MosaicError::PbMismatch { image: image_path.into(), pb: pb_path.into(), reason };
    if (pb.nx, pb.ny) != (image.nx, image.ny) {
        return Err(mismatch(format!("{}×{} pixels, the image {}×{}", pb.nx, pb.ny, image.nx, image.ny)));
    }
    if !same_grid(&pb.wcs, &image.wcs) {
        return Err(mismatch(format!("its WCS {:?} differs from the image's {:?}", pb.wcs, image.wcs)));
    }
    let sigma_jy = crate::noise::mad_sigma(&image.data).filter(|s| *s > 0.0 && s.is_finite()).ok_or_else(|| MosaicError::NoNoise {
        image: image_path.into(),
        reason: "the median absolute deviation of its finite pixels is zero".into(),
    })?;
    let footprint = grid::footprint(&pb.data, pb.nx, pb.ny, &pb.wcs, pb_cutoff).ok_or_else(|| MosaicError::PbBelowCutoff { pb: pb_path.into(), cutoff: pb_cutoff })?;
    Ok(Read {
        image_path: image_path.into(),
        pb_path: pb_path.into(),
        nx: image.nx,
        ny: image.ny,
        image: image.data,
        pb: pb.data,
        wcs: image.wcs,
        beam: image.beam,
        sigma_jy,
        footprint,
    })
}

/// The same grid to well under a pixel: float formatting of the two headers may differ.
fn same_grid(a: &CelestialWcs, b: &CelestialWcs) -> bool {
    let close = |x: f64, y: f64, tol: f64| (x - y).abs() <= tol;
    let cell = grid::cell_deg(a);
    a.projection == b.projection
        && close(a.ref_ra_deg, b.ref_ra_deg, 1e-3 * cell / a.ref_dec_deg.to_radians().cos().max(1e-3))
        && close(a.ref_dec_deg, b.ref_dec_deg, 1e-3 * cell)
        && close(a.crpix[0], b.crpix[0], 1e-3)
        && close(a.crpix[1], b.crpix[1], 1e-3)
        && (0..4).all(|k| close(a.cd_deg[k / 2][k % 2], b.cd_deg[k / 2][k % 2], 1e-6 * cell))
}

/// `Err(NoOverlap)` unless the footprints form one connected patch of sky.
pub fn check_overlap(read: &[Read], fps: &[Footprint]) -> Result<(), MosaicError> {
    let groups = grid::overlap_groups(fps);
    if groups.len() <= 1 {
        return Ok(());
    }
    let names = |g: &Vec<usize>| g.iter().map(|&i| read[i].image_path.display().to_string()).collect::<Vec<_>>().join(", ");
    Err(MosaicError::NoOverlap { reason: format!("{} separate patches of sky: {}", groups.len(), groups.iter().map(|g| format!("[{}]", names(g))).collect::<Vec<_>>().join(" and ")) })
}

/// The mosaic's restoring beam: the input beam of median area. A linear mosaic of images whose
/// beams differ has no single beam; flux measured against the widest one (one badly flagged
/// input's) would be too low everywhere else, and most inputs of a drift-scan group share a
/// beam, which the median picks.
pub fn typical_beam(read: &[Read]) -> Option<Beam> {
    let mut beams: Vec<Beam> = read.iter().filter_map(|r| r.beam).collect();
    beams.sort_by(|a, b| (a.bmaj_deg * a.bmin_deg).total_cmp(&(b.bmaj_deg * b.bmin_deg)));
    beams.get(beams.len().saturating_sub(1) / 2).copied()
}

/// Each input placed on the output grid: its pixel map and the output rows and columns its
/// footprint reaches (a few pixels of margin; all of them where the outline does not project),
/// its planes prepared for `how` (for cubic, prefiltered once here, the inputs in parallel).
pub fn prepare(read: Vec<Read>, g: &Grid, how: Interpolation) -> Vec<Input> {
    read.into_par_iter()
        .map(|r| {
            let mut bounds = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
            let mut whole = false;
            for &(ra, dec) in &r.footprint.outline_deg {
                match g.wcs.world_to_pixel(ra, dec) {
                    Some((x, y)) => bounds = (bounds.0.min(x), bounds.1.max(x), bounds.2.min(y), bounds.3.max(y)),
                    None => whole = true,
                }
            }
            let span = |lo: f64, hi: f64, n: usize| -> (usize, usize) {
                if whole {
                    return (0, n - 1);
                }
                let (lo, hi) = ((lo - 2.0).floor().max(0.0), (hi + 2.0).ceil().min(n as f64 - 1.0));
                if hi < lo { (1, 0) } else { (lo as usize, hi as usize) }
            };
            Input {
                map: PixelMap::new(&g.wcs, &r.wcs),
                sigma_jy: r.sigma_jy,
                rows: span(bounds.2, bounds.3, g.ny),
                cols: span(bounds.0, bounds.1, g.nx),
                planes: Sampler::new(r.image, r.pb, r.nx, r.ny, how),
            }
        })
        .collect()
}
