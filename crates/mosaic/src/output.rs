//! Writing the mosaic: weight and noise maps and the quicklook first, the mosaic itself last,
//! each FITS file atomically (crates/fits), so that a present mosaic means a whole set.

use fits::{Beam, CelestialWcs, Header, Value};
use imaging::quicklook::{self, SkyGrid};

use crate::combine::Planes;
use crate::error::MosaicError;
use crate::grid::Grid;
use crate::{InputSummary, MosaicConfig};

pub struct Stats {
    pub covered_fraction: f64,
    pub peak_jy: f64,
    pub min_noise_jy: f64,
    pub median_noise_jy: f64,
}

impl Stats {
    pub fn of(p: &Planes) -> Stats {
        let covered = p.mosaic.iter().filter(|v| v.is_finite()).count();
        let peak_jy = p.mosaic.iter().copied().filter(|v| v.is_finite()).fold(f32::NAN, f32::max) as f64;
        let mut noise: Vec<f32> = p.noise.iter().copied().filter(|v| v.is_finite()).collect();
        let min_noise_jy = noise.iter().copied().fold(f32::NAN, f32::min) as f64;
        let median_noise_jy = if noise.is_empty() {
            f64::NAN
        } else {
            let mid = noise.len() / 2;
            *noise.select_nth_unstable_by(mid, f32::total_cmp).1 as f64
        };
        Stats { covered_fraction: covered as f64 / p.mosaic.len().max(1) as f64, peak_jy, min_noise_jy, median_noise_jy }
    }
}

/// The TAN grid as the quicklook sees it.
struct TanGrid<'a>(&'a CelestialWcs);

impl SkyGrid for TanGrid<'_> {
    fn sky_rad(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        self.0.pixel_to_world(x, y).map(|(ra, dec)| (ra.to_radians(), dec.to_radians()))
    }
    fn cell_deg(&self) -> f64 {
        crate::grid::cell_deg(self.0)
    }
    fn dec_deg(&self) -> f64 {
        self.0.ref_dec_deg
    }
}

pub fn write_all(cfg: &MosaicConfig, g: &Grid, p: &Planes, inputs: &[InputSummary], beam: Option<Beam>) -> Result<(), MosaicError> {
    let o = &cfg.outputs;
    let cards = |bunit: &str, what: &str| {
        let mut h = Header::default();
        h.push("BUNIT", Value::Str(bunit.into()), "");
        h.push("BTYPE", Value::Str(what.into()), "");
        h.push("TELESCOP", Value::Str("DSA-110".into()), "");
        h.push("MOSMETH", Value::Str(cfg.method.clone()), "mosaic weighting: sum B I/s^2 / sum B^2/s^2");
        h.push("MOSINTRP", Value::Str(cfg.interpolation.name().into()), "reprojection: cubic B-spline or bilinear");
        h.push("PBCUTOFF", Value::Float(cfg.pb_cutoff), "inputs count where their beam >= this");
        h.push("NINPUTS", Value::Int(inputs.len() as i64), "images combined");
        if let Some(b) = beam {
            fits::image::beam_cards(&mut h, b);
        }
        for line in &cfg.history {
            h.history(line);
        }
        for (k, i) in inputs.iter().enumerate() {
            h.history(&format!("input {}: {} sigma {:.4e} Jy/beam", k + 1, i.image.display(), i.sigma_jy));
        }
        h
    };
    let (weight_cards, noise_cards) = (cards("1/(Jy/beam)^2", "Weight"), cards("Jy/beam", "Noise"));
    // The companions are independent files, each written atomically: at once, so that their
    // writes and fsyncs overlap. The mosaic still goes last: its presence means the set is complete.
    let (weight, (noise, png)) = rayon::join(
        || fits::write_image(&o.weight, g.nx, g.ny, &p.weight, &g.wcs, &weight_cards),
        || rayon::join(|| fits::write_image(&o.noise, g.nx, g.ny, &p.noise, &g.wcs, &noise_cards), || write_png(&o.png, p, g, &cfg.title)),
    );
    weight?;
    noise?;
    png?;
    fits::write_image(&o.mosaic, g.nx, g.ny, &p.mosaic, &g.wcs, &cards("Jy/beam", "Intensity"))?;
    Ok(())
}

/// The quicklook under a temporary name, then renamed into place (the imager's way).
fn write_png(path: &std::path::Path, p: &Planes, g: &Grid, title: &str) -> Result<(), MosaicError> {
    let io = |source| MosaicError::Fits(fits::FitsError::Io { path: path.to_path_buf(), source });
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    let result = quicklook::write_grid_to(&tmp, &p.mosaic, g.nx, g.ny, &TanGrid(&g.wcs), title, "Jy/beam").and_then(|_| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}
