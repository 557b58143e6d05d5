//! Stage 8: source finding on a restored image.
//!
//! [`background`] maps the local background and noise, [`islands`] finds the connected regions
//! above threshold and their peaks, [`gauss`] fits elliptical Gaussians to each island, [`shape`]
//! turns them into sky positions, sizes, fluxes and errors, and [`catalogue`] writes the result.

pub mod background;
pub mod catalogue;
pub mod error;
pub mod find;
pub mod gauss;
pub mod islands;
pub mod shape;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use catalogue::Component;
pub use error::SourcesError;
pub use find::{find, FindConfig, Found};

/// One run of `contimg sources`: the image, optionally its primary beam, and where to write.
#[derive(Debug, Clone)]
pub struct SourcesRequest {
    pub image: PathBuf,
    pub pb: Option<PathBuf>,
    pub csv: PathBuf,
    pub fits: PathBuf,
    /// Also write the background and noise maps (`<prefix>.bkg.fits`, `.rms.fits`).
    pub maps_prefix: Option<PathBuf>,
    pub config: FindConfig,
    pub history: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourcesSummary {
    pub image: String,
    pub components: usize,
    pub islands: usize,
    pub resolved: usize,
    pub beam_arcsec: [f64; 3],
    pub median_rms_jy: f64,
    pub peak_jy: f64,
    pub detect_sigma: f64,
    pub analysis_sigma: f64,
    pub pb_corrected: bool,
    pub outputs: Vec<String>,
    pub timings_s: std::collections::BTreeMap<String, f64>,
}

pub fn run(r: &SourcesRequest) -> Result<(SourcesSummary, Vec<Component>), SourcesError> {
    validate(&r.config)?;
    let mut timings = std::collections::BTreeMap::new();
    let t = Instant::now();
    let img = fits::read_image(&r.image)?;
    img.check_not_empty(&r.image)?;
    let beam = r.config.beam.or(img.beam).ok_or_else(|| SourcesError::NoBeam { path: r.image.clone() })?;
    let pb = match &r.pb {
        Some(p) => {
            let pb = fits::read_image(p)?;
            if (pb.nx, pb.ny) != (img.nx, img.ny) {
                return Err(SourcesError::PbShape { path: p.clone(), pb_nx: pb.nx, pb_ny: pb.ny, nx: img.nx, ny: img.ny });
            }
            Some(pb.data)
        }
        None => None,
    };
    timings.insert("read".into(), t.elapsed().as_secs_f64());
    let t = Instant::now();
    let found = find(&img, beam, pb.as_deref(), &r.config);
    timings.insert("find".into(), t.elapsed().as_secs_f64());
    let median_rms = {
        let mut v: Vec<f32> = found.background.rms.iter().copied().filter(|v| v.is_finite() && *v > 0.0).step_by(97).collect();
        if v.is_empty() {
            return Err(SourcesError::NoNoise { path: r.image.clone() });
        }
        background::median(&mut v) as f64
    };

    let t = Instant::now();
    let mut cards = fits::Header::default();
    provenance(&mut cards, r, &beam);
    let mut outputs = vec![];
    if let Some(prefix) = &r.maps_prefix {
        for (suffix, data) in [(".bkg.fits", &found.background.bkg), (".rms.fits", &found.background.rms)] {
            let path = PathBuf::from(format!("{}{suffix}", prefix.display()));
            let mut c = cards.clone();
            c.set("BUNIT", fits::Value::Str(img.bunit.clone()), "");
            fits::write_image(&path, img.nx, img.ny, data, &img.wcs, &c)?;
            outputs.push(path.display().to_string());
        }
    }
    catalogue::write_fits(&r.fits, &found.components, &cards)?;
    // The CSV last: the pipeline takes its presence as the catalogue's.
    catalogue::write_csv(&r.csv, &found.components)?;
    outputs.push(r.fits.display().to_string());
    outputs.push(r.csv.display().to_string());
    timings.insert("write".into(), t.elapsed().as_secs_f64());

    let summary = SourcesSummary {
        image: r.image.display().to_string(),
        components: found.components.len(),
        islands: found.islands,
        resolved: found.components.iter().filter(|c| c.resolved).count(),
        beam_arcsec: [beam.bmaj_deg * 3600.0, beam.bmin_deg * 3600.0, beam.bpa_deg],
        median_rms_jy: median_rms,
        peak_jy: found.components.first().map_or(0.0, |c| c.peak_jy),
        detect_sigma: r.config.detect_sigma,
        analysis_sigma: r.config.analysis_sigma,
        pb_corrected: pb.is_some(),
        outputs,
        timings_s: timings,
    };
    Ok((summary, found.components))
}

fn validate(c: &FindConfig) -> Result<(), SourcesError> {
    let bad = |name, reason: String| Err(SourcesError::InvalidArgument { name, reason });
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !positive(c.detect_sigma) || !positive(c.analysis_sigma) || c.analysis_sigma > c.detect_sigma {
        return bad("threshold", format!("need 0 < analysis ({}) ≤ detection ({})", c.analysis_sigma, c.detect_sigma));
    }
    if c.box_beams.is_nan() || c.box_beams < 2.0 {
        return bad("box", format!("the background box must be at least 2 beams (got {})", c.box_beams));
    }
    if c.max_components == 0 {
        return bad("max components", "must be at least 1".into());
    }
    Ok(())
}

fn provenance(h: &mut fits::Header, r: &SourcesRequest, beam: &fits::Beam) {
    use fits::Value::{Float, Str};
    h.set("ORIGIN", Str("contimg".into()), "");
    h.set("IMAGE", Str(file_name(&r.image)), "image searched");
    h.set("DETECT", Float(r.config.detect_sigma), "detection threshold (sigma)");
    h.set("ANALYSIS", Float(r.config.analysis_sigma), "analysis threshold (sigma)");
    h.set("BOXBEAMS", Float(r.config.box_beams), "background box (beams)");
    fits::image::beam_cards(h, *beam);
    for line in &r.history {
        h.history(line);
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
