//! `crossmatch`: our catalogue against a reference catalogue, into a matched table and a QA report.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::error::{to_js, Coded, Result};
use crate::job::spawn;

impl Coded for crossmatch::CrossmatchError {
    fn code(&self) -> &str {
        crossmatch::CrossmatchError::code(self)
    }
}

#[napi(object)]
pub struct CrossmatchRequest {
    pub catalog: String,
    pub reference: String,
    pub image: Option<String>,
    pub matches_csv: String,
    pub qa_json: String,
    pub radius_arcsec: f64,
    pub flux_limit_jy: Option<f64>,
    pub flux_limit_rms: f64,
    pub ref_ra: Option<String>,
    pub ref_dec: Option<String>,
    pub ref_flux: Option<String>,
    pub ref_flux_unit: Option<String>,
    pub flux_ratio_tolerance: f64,
    pub completeness_min: f64,
    pub astrometry_rms_max_arcsec: f64,
    pub dynamic_range_min: f64,
}

/// Cross-matches and writes both products; resolves with the QA report (snake_case, as written).
#[napi(ts_return_type = "Promise<any>")]
pub fn crossmatch<'env>(env: &'env Env, request: CrossmatchRequest) -> Result<Object<'env>> {
    let r = crossmatch::CrossmatchRequest {
        catalog: request.catalog.into(),
        reference: request.reference.into(),
        image: request.image.map(Into::into),
        matches_csv: request.matches_csv.into(),
        qa_json: request.qa_json.into(),
        radius_arcsec: request.radius_arcsec,
        flux_limit_jy: request.flux_limit_jy,
        flux_limit_rms: request.flux_limit_rms,
        overrides: crossmatch::Overrides { ra: request.ref_ra, dec: request.ref_dec, flux: request.ref_flux, flux_unit: request.ref_flux_unit },
        thresholds: crossmatch::Thresholds {
            flux_ratio_tolerance: request.flux_ratio_tolerance,
            completeness_min: request.completeness_min,
            astrometry_rms_max_arcsec: request.astrometry_rms_max_arcsec,
            dynamic_range_min: request.dynamic_range_min,
        },
    };
    spawn(env, move || {
        let qa = crossmatch::run(&r).map_err(to_js)?;
        serde_json::to_value(&qa).map_err(|e| crate::error::js_error("INTERNAL", e.to_string()))
    })
}
