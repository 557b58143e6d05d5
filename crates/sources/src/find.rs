//! The finder: noise maps, islands, a joint Gaussian fit per island, and the sky quantities of
//! every component.

use rayon::prelude::*;

use fits::{Beam, Image};

use crate::background::{self, Background, BackgroundConfig};
use crate::catalogue::Component;
use crate::gauss::{self, Bounds, Gaussian, Samples};
use crate::islands::{self, Island};
use crate::shape;

#[derive(Debug, Clone)]
pub struct FindConfig {
    /// Islands must reach this many times the local noise above the background…
    pub detect_sigma: f64,
    /// …and grow over the pixels above this many.
    pub analysis_sigma: f64,
    /// The background box, in beams (its grid step is a quarter of it).
    pub box_beams: f64,
    /// At most this many components per island (its brightest peaks).
    pub max_components: usize,
    /// Restoring beam, when the image records none.
    pub beam: Option<Beam>,
}

impl Default for FindConfig {
    fn default() -> FindConfig {
        FindConfig { detect_sigma: 5.0, analysis_sigma: 3.0, box_beams: 20.0, max_components: 8, beam: None }
    }
}

/// Everything the finder produced for one image.
pub struct Found {
    pub components: Vec<Component>,
    pub islands: usize,
    pub background: Background,
    pub beam: Beam,
}

/// Finds the sources of `img`. `beam` is the restoring beam; `pb`, when given, is the primary
/// beam on the same grid, and the fluxes are divided by it (the image stays flat-noise for
/// detection).
pub fn find(img: &Image, beam: Beam, pb: Option<&[f32]>, c: &FindConfig) -> Found {
    let cell_deg = img.wcs.pixel_area_deg2().sqrt();
    let beam_px = (beam.bmaj_deg * beam.bmin_deg).sqrt() / cell_deg;
    let mut bc = BackgroundConfig::for_beam(beam_px, img.nx, img.ny);
    bc.box_px = ((c.box_beams * beam_px).round() as usize).max(32).min(img.nx.max(img.ny));
    bc.step_px = (bc.box_px / 4).max(1);
    let background = background::estimate(&img.data, img.nx, img.ny, &bc);
    let snr: Vec<f32> = img
        .data
        .par_iter()
        .zip(background.bkg.par_iter().zip(&background.rms))
        .map(|(&v, (&b, &r))| if r > 0.0 { (v - b) / r } else { f32::NAN })
        .collect();
    let peak_radius = ((beam_px / 2.0).round() as usize).max(1);
    let islands = islands::find(&snr, img.nx, img.ny, c.detect_sigma as f32, c.analysis_sigma as f32, peak_radius);
    let mut components: Vec<Component> = islands
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, isl)| fit_island(img, &background, isl, i as u32, &beam, pb, c))
        .collect();
    // Brightest first, numbered in that order, as catalogues are read.
    components.sort_by(|a, b| b.peak_jy.total_cmp(&a.peak_jy));
    for (k, comp) in components.iter_mut().enumerate() {
        comp.id = k as u32;
    }
    Found { components, islands: islands.len(), background, beam }
}

/// The pixels a component's fit sees reach down to this fraction of its peak. Below it, a
/// bright source's image is dominated by what a Gaussian does not model (the pedestal of CLEAN's
/// pixelation errors and near sidelobes, a few per cent of the peak), which would pull the fit.
const CORE_FRACTION: f64 = 0.1;

/// Components fainter than this (peak over local noise) are fitted with the beam's shape.
const MIN_SHAPE_SNR: f64 = 20.0;

/// The island's pixels and a one-pixel ring around them (the ring pins the wings of a faint
/// source's fit, which the threshold alone would leave free), less those fainter than
/// [`CORE_FRACTION`] of the seed that dominates them.
fn samples(img: &Image, bg: &Background, isl: &Island, seeds: &[Gaussian], analysis_sigma: f64) -> (Samples, (f64, f64), (f64, f64)) {
    let (nx, ny) = (img.nx, img.ny);
    let mut seen = std::collections::HashSet::with_capacity(isl.pixels.len() * 2);
    let mut s = Samples { x: vec![], y: vec![], value: vec![], weight: vec![] };
    let (mut xr, mut yr) = ((f64::MAX, f64::MIN), (f64::MAX, f64::MIN));
    for &(x, y) in &isl.pixels {
        for dy in -1i64..=1 {
            for dx in -1i64..=1 {
                let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                if xx < 0 || yy < 0 || xx >= nx as i64 || yy >= ny as i64 || !seen.insert((xx, yy)) {
                    continue;
                }
                let k = yy as usize * nx + xx as usize;
                let (v, b, r) = (img.data[k], bg.bkg[k], bg.rms[k]);
                if !(v.is_finite() && b.is_finite() && r > 0.0) {
                    continue;
                }
                let dominant = seeds.iter().max_by(|p, q| p.eval(xx as f64, yy as f64).total_cmp(&q.eval(xx as f64, yy as f64)));
                // Only where the cut lies above the analysis threshold: for a faint source it would
                // drop the ring's low pixels, and so bias the peak up.
                let cut = dominant.map_or(0.0, |g| CORE_FRACTION * g.amp);
                if cut > analysis_sigma * r as f64 && ((v - b) as f64) < cut {
                    continue;
                }
                s.x.push(xx as f64);
                s.y.push(yy as f64);
                s.value.push((v - b) as f64);
                s.weight.push(1.0 / (r as f64 * r as f64));
                xr = (xr.0.min(xx as f64), xr.1.max(xx as f64));
                yr = (yr.0.min(yy as f64), yr.1.max(yy as f64));
            }
        }
    }
    (s, xr, yr)
}

fn fit_island(img: &Image, bg: &Background, isl: &Island, island_id: u32, beam: &Beam, pb: Option<&[f32]>, c: &FindConfig) -> Vec<Component> {
    let at = |x: u32, y: u32| y as usize * img.nx + x as usize;
    let mut init: Vec<Gaussian> = isl
        .peaks
        .iter()
        .take(c.max_components)
        .filter_map(|&(x, y)| {
            let mut g = shape::beam_in_pixels(beam, &img.wcs, x as f64, y as f64)?;
            g.amp = (img.data[at(x, y)] - bg.bkg[at(x, y)]) as f64;
            Some(g)
        })
        .collect();
    let Some(beam_g) = init.first().copied() else { return vec![] };
    let (s, xr, yr) = samples(img, bg, isl, &init, c.analysis_sigma);
    let bounds = Bounds {
        x_range: (xr.0 - 1.0, xr.1 + 1.0),
        y_range: (yr.0 - 1.0, yr.1 + 1.0),
        // No feature of a restored image is narrower than the beam (less a margin for noise).
        // A component wider than a few beams is a blend of the island's faint structure (the
        // sidelobes of a bright neighbour), which a wide Gaussian would swallow whole: larger
        // sources are fitted as several components.
        sigma_range_px: (0.8 * beam_g.sigma_minor_px, 4.0 * beam_g.sigma_major_px),
    };
    // A shape needs signal and pixels. Below 20σ a component's size is uncertain by more than
    // the difference between a point source and a resolved one (Condon 1997), and a free faint
    // Gaussian beside a bright source would stretch over its flank and steal its flux: faint
    // components keep the beam's shape, as do all of an island with too few pixels (about 4
    // per free parameter).
    let rms_at = |g: &Gaussian| bg.rms[(g.y0.round().clamp(0.0, (img.ny - 1) as f64) as usize) * img.nx + g.x0.round().clamp(0.0, (img.nx - 1) as f64) as usize] as f64;
    let few_pixels = s.x.len() < 24 * init.len();
    let fixed_shape = |gs: &[Gaussian]| -> Vec<bool> { gs.iter().map(|g| few_pixels || g.amp < MIN_SHAPE_SNR * rms_at(g)).collect() };
    let mut fitted = None;
    while !init.is_empty() {
        let Some(f) = gauss::fit(&s, &init, &bounds, &fixed_shape(&init), 200) else { break };
        let keep: Vec<bool> = f.components.iter().map(|g| g.amp >= c.detect_sigma * rms_at(g)).collect();
        if keep.iter().all(|&k| k) || init.len() == 1 {
            fitted = Some(f);
            break;
        }
        init = init.into_iter().zip(&keep).filter(|(_, &k)| k).map(|(g, _)| g).collect();
        if init.is_empty() {
            // Every component fell below the threshold together: keep the brightest peak's.
            init = vec![f.components.iter().copied().max_by(|a, b| a.amp.total_cmp(&b.amp)).expect("a component")];
            init[0].amp = init[0].amp.max(1e-30);
            init[0].sigma_major_px = beam_g.sigma_major_px;
            init[0].sigma_minor_px = beam_g.sigma_minor_px;
            init[0].theta_rad = beam_g.theta_rad;
        }
    }
    let Some(f) = fitted else { return vec![] };
    f.components
        .iter()
        .enumerate()
        .filter_map(|(k, g)| component(img, bg, g, island_id, k as u32, beam, pb, !f.converged))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn component(img: &Image, bg: &Background, g: &Gaussian, island: u32, k: u32, beam: &Beam, pb: Option<&[f32]>, not_converged: bool) -> Option<Component> {
    let (ra, dec, sky) = shape::sky_shape(g, &img.wcs)?;
    let (px, py) = (g.x0.round().clamp(0.0, (img.nx - 1) as f64) as usize, g.y0.round().clamp(0.0, (img.ny - 1) as f64) as usize);
    let k_pix = py * img.nx + px;
    let rms = bg.rms[k_pix] as f64;
    let pb_gain = pb.map_or(1.0, |p| p[k_pix] as f64);
    if pb_gain.is_nan() || pb_gain <= 0.0 {
        return None;
    }
    let u = shape::condon_errors(g.amp, rms, &sky, beam);
    let (ra_err_sky, dec_err) = shape::position_errors(&u, sky.pa_deg);
    let int = shape::integrated_flux(g.amp, &sky, beam);
    let deconv = shape::deconvolve(&sky, beam);
    let arcsec = 3600.0;
    Some(Component {
        id: 0,
        island,
        component: k,
        ra_deg: ra,
        // The uncertainty of the coordinate: an arc on the sky over cos(dec).
        ra_deg_err: ra_err_sky / dec.to_radians().cos().max(1e-9),
        dec_deg: dec,
        dec_deg_err: dec_err,
        peak_jy: g.amp / pb_gain,
        peak_jy_err: u.peak / pb_gain,
        int_jy: int / pb_gain,
        int_jy_err: int * u.integrated / pb_gain,
        maj_arcsec: sky.major_deg * arcsec,
        maj_arcsec_err: u.major_deg * arcsec,
        min_arcsec: sky.minor_deg * arcsec,
        min_arcsec_err: u.minor_deg * arcsec,
        pa_deg: sky.pa_deg,
        pa_deg_err: u.pa_deg,
        deconv_maj_arcsec: deconv.major_deg * arcsec,
        deconv_min_arcsec: deconv.minor_deg * arcsec,
        deconv_pa_deg: deconv.pa_deg,
        // Resolved when the fitted major axis exceeds the beam's by more than three times its error
        // (at twice, one point source in twenty would be called resolved).
        resolved: sky.major_deg - beam.bmaj_deg > 3.0 * u.major_deg,
        background_jy: bg.bkg[k_pix] as f64,
        local_rms_jy: rms,
        snr: g.amp / rms,
        pb: pb_gain,
        x_pix: g.x0,
        y_pix: g.y0,
        flags: if not_converged { 1 } else { 0 },
    })
}
