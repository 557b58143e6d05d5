//! `findSources`: one restored image into a component catalogue (CSV and FITS).

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{js_error, to_js, Coded, Result};
use crate::job::spawn;

impl Coded for sources::SourcesError {
    fn code(&self) -> &str {
        sources::SourcesError::code(self)
    }
}

#[napi(object)]
pub struct SourcesRequest {
    pub image: String,
    /// The primary beam on the image's grid: fluxes are divided by it.
    pub pb: Option<String>,
    pub csv: String,
    pub fits: String,
    /// Also write `<mapsPrefix>.bkg.fits` and `.rms.fits`.
    pub maps_prefix: Option<String>,
    pub detect_sigma: f64,
    pub analysis_sigma: f64,
    pub box_beams: f64,
    pub max_components: u32,
    /// Restoring beam (arcsec, arcsec, deg) for an image that records none.
    pub beam: Option<Vec<f64>>,
    pub history: Vec<String>,
}

fn request(r: SourcesRequest) -> Result<sources::SourcesRequest> {
    let beam = match r.beam.as_deref() {
        None => None,
        Some([maj, min, pa]) if *maj > 0.0 && *min > 0.0 => Some(fits::Beam { bmaj_deg: maj / 3600.0, bmin_deg: min / 3600.0, bpa_deg: *pa }),
        Some(b) => return Err(js_error("SOURCES_INVALID_ARGUMENT", format!("beam {b:?} is not [major arcsec, minor arcsec, pa deg] with positive axes"))),
    };
    Ok(sources::SourcesRequest {
        image: r.image.into(),
        pb: r.pb.map(Into::into),
        csv: r.csv.into(),
        fits: r.fits.into(),
        maps_prefix: r.maps_prefix.map(Into::into),
        config: sources::FindConfig {
            detect_sigma: r.detect_sigma,
            analysis_sigma: r.analysis_sigma,
            box_beams: r.box_beams,
            max_components: r.max_components as usize,
            beam,
        },
        history: r.history,
    })
}

/// Finds the sources of one image; resolves with the summary (counts, noise, outputs, timings).
#[napi(ts_return_type = "Promise<any>")]
pub fn find_sources<'env>(env: &'env Env, request_: SourcesRequest) -> Result<Object<'env>> {
    let r = request(request_)?;
    spawn(env, move || {
        let (summary, _) = sources::run(&r).map_err(to_js)?;
        serde_json::to_value(&summary).map_err(|e| js_error("INTERNAL", e.to_string()))
    })
}
