//! Stage 8, second half: cross-matching our component catalogue against a reference (a survey
//! catalogue or the simulated truth) and the QA metrics that say whether an image is good.
//!
//! [`readers`] reads any catalogue (FITS table, CSV, VOTable, truth JSON) into named columns,
//! [`columns`] decides which hold positions and fluxes, [`matching`] pairs sources within the
//! radius and groups split sources and blends, [`metrics`] computes the figures and checks, and
//! [`output`] writes the matched table and the QA report.

pub mod columns;
pub mod csv;
pub mod error;
pub mod matching;
pub mod metrics;
pub mod ours;
pub mod output;
pub mod readers;
pub mod votable;

use std::path::{Path, PathBuf};

pub use columns::Overrides;
pub use error::CrossmatchError;
pub use metrics::Thresholds;

use matching::Pos;

#[derive(Debug, Clone)]
pub struct CrossmatchRequest {
    /// Our catalogue (`<stem>.sources.csv` or `.sources.fits`).
    pub catalog: PathBuf,
    pub reference: PathBuf,
    /// The image the catalogue came from: its footprint, and its pixels for the dynamic range.
    pub image: Option<PathBuf>,
    pub matches_csv: PathBuf,
    pub qa_json: PathBuf,
    pub radius_arcsec: f64,
    /// The flux limit for completeness, reliability and the statistics; default
    /// `flux_limit_rms` × our median local rms.
    pub flux_limit_jy: Option<f64>,
    pub flux_limit_rms: f64,
    pub overrides: Overrides,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ReferenceInfo {
    pub path: String,
    pub format: readers::Format,
    pub rows: usize,
    pub sources: usize,
    pub skipped_rows: usize,
    pub columns: columns::Detected,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Footprint {
    /// `image` (finite pixels of the image) or `catalogue` (the disc about our components'
    /// centroid that holds them all).
    pub from: &'static str,
    pub centre_ra_deg: f64,
    pub centre_dec_deg: f64,
    pub radius_arcsec: Option<f64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Counts {
    pub ours: usize,
    pub reference: usize,
    pub reference_in_footprint: usize,
    pub matches: usize,
    pub one_to_one: usize,
    pub many_to_one: usize,
    pub blends: usize,
    pub ours_matched: usize,
    pub reference_matched: usize,
}

/// The QA report: the JSON written to `qa_json` (schema in the README).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Qa {
    pub schema: &'static str,
    pub catalog: String,
    pub reference: ReferenceInfo,
    pub image: Option<String>,
    pub radius_arcsec: f64,
    pub flux_limit_jy: f64,
    pub flux_limit_from: String,
    pub footprint: Footprint,
    pub counts: Counts,
    pub flux_ratio: metrics::FluxRatio,
    pub astrometry: metrics::Astrometry,
    pub completeness: metrics::Fraction,
    pub reliability: metrics::Fraction,
    pub dynamic_range: metrics::DynamicRange,
    pub thresholds: Thresholds,
    pub checks: Vec<metrics::Check>,
    pub passed: bool,
    pub failed_checks: Vec<&'static str>,
    pub outputs: Vec<String>,
}

pub fn run(r: &CrossmatchRequest) -> Result<Qa, CrossmatchError> {
    validate(r)?;
    let ours = ours::read(&r.catalog)?;
    let comps = &ours.components;
    let ref_table = readers::read(&r.reference)?;
    let uncorrected = comps.iter().all(|c| c.pb == 1.0);
    let reference = columns::reference(&ref_table, &r.overrides, uncorrected)?;
    let refs = &reference.sources;

    let median_rms = metrics::median(&mut comps.iter().map(|c| c.local_rms_jy).filter(|v| v.is_finite() && *v > 0.0).collect::<Vec<_>>());
    let (flux_limit_jy, flux_limit_from) = match (r.flux_limit_jy, median_rms) {
        (Some(f), _) => (f, "option".to_string()),
        (None, Some(rms)) => (r.flux_limit_rms * rms, format!("{} x the median local rms ({rms:.3e} Jy/beam)", r.flux_limit_rms)),
        (None, None) => (0.0, "none: the catalogue has no local rms".to_string()),
    };

    let image = r.image.as_deref().map(fits::read_image).transpose()?;
    let (in_footprint, footprint) = footprint(refs, comps, image.as_ref());
    let ref_pos: Vec<Pos> = refs.iter().map(|s| Pos { ra_deg: s.ra_deg, dec_deg: s.dec_deg }).collect();
    let our_pos: Vec<Pos> = comps.iter().map(|c| c.pos).collect();
    let pairs = matching::pairs_within(&ref_pos, &our_pos, r.radius_arcsec / 3600.0);
    let groups = matching::groups(refs.len(), comps.len(), &pairs);
    let (mut ref_matched, mut ours_matched) = (vec![false; refs.len()], vec![false; comps.len()]);
    for g in &groups {
        g.refs.iter().for_each(|&i| ref_matched[i] = true);
        g.ours.iter().for_each(|&i| ours_matched[i] = true);
    }
    let matches: Vec<metrics::Match> = groups.into_iter().map(|g| metrics::build_match(g, refs, comps, &in_footprint, flux_limit_jy)).collect();

    let flux_ratio = metrics::flux_ratio(&matches);
    let astrometry = metrics::astrometry(&matches);
    let completeness = metrics::completeness(refs, &in_footprint, &ref_matched, flux_limit_jy);
    let reliability = metrics::reliability(comps, &ours_matched, flux_limit_jy);
    let dynamic_range = match &image {
        Some(img) => metrics::dynamic_range_of_image(&img.data),
        None => metrics::dynamic_range_of_catalogue(comps),
    };
    let checks = metrics::checks(&r.thresholds, &flux_ratio, &astrometry, &completeness, &dynamic_range);
    let failed_checks: Vec<&'static str> = checks.iter().filter(|c| !c.passed).map(|c| c.name).collect();
    let count = |k| matches.iter().filter(|m| m.kind == k).count();
    let counts = Counts {
        ours: comps.len(),
        reference: refs.len(),
        reference_in_footprint: in_footprint.iter().filter(|b| **b).count(),
        matches: matches.len(),
        one_to_one: count(matching::Kind::OneToOne),
        many_to_one: count(matching::Kind::ManyToOne),
        blends: count(matching::Kind::Blend),
        ours_matched: ours_matched.iter().filter(|b| **b).count(),
        reference_matched: ref_matched.iter().filter(|b| **b).count(),
    };

    output::write_matches(&r.matches_csv, &matches, refs, &ref_table, &ours)?;
    let qa = Qa {
        schema: "contimg.crossmatch.qa/1",
        catalog: r.catalog.display().to_string(),
        reference: ReferenceInfo { path: r.reference.display().to_string(), format: ref_table.format, rows: ref_table.rows, sources: refs.len(), skipped_rows: reference.skipped_rows, columns: reference.detected },
        image: r.image.as_ref().map(|p| p.display().to_string()),
        radius_arcsec: r.radius_arcsec,
        flux_limit_jy,
        flux_limit_from,
        footprint,
        counts,
        flux_ratio,
        astrometry,
        completeness,
        reliability,
        dynamic_range,
        thresholds: r.thresholds,
        passed: failed_checks.is_empty(),
        checks,
        failed_checks,
        outputs: vec![r.matches_csv.display().to_string(), r.qa_json.display().to_string()],
    };
    // The report last: its presence stands for the whole cross-match.
    output::write_json(&r.qa_json, &qa)?;
    Ok(qa)
}

fn validate(r: &CrossmatchRequest) -> Result<(), CrossmatchError> {
    let bad = |name, reason: String| Err(CrossmatchError::InvalidArgument { name, reason });
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !positive(r.radius_arcsec) {
        return bad("radius", format!("must be a positive number of arcsec (got {})", r.radius_arcsec));
    }
    if !positive(r.flux_limit_rms) || r.flux_limit_jy.is_some_and(|f| !f.is_finite() || f < 0.0) {
        return bad("flux limit", "must be a non-negative number".into());
    }
    let t = r.thresholds;
    if [t.flux_ratio_tolerance, t.completeness_min, t.astrometry_rms_max_arcsec, t.dynamic_range_min].iter().any(|v| !v.is_finite() || *v < 0.0) {
        return bad("threshold", format!("thresholds must be non-negative numbers ({t:?})"));
    }
    Ok(())
}

/// Which reference sources lie where we could have found them: on a finite pixel of the image,
/// or, without one, within the disc about our components' centroid that holds them all.
fn footprint(refs: &[columns::Source], comps: &[ours::Component], image: Option<&fits::Image>) -> (Vec<bool>, Footprint) {
    if let Some(img) = image {
        let inside = refs
            .iter()
            .map(|s| match img.wcs.world_to_pixel(s.ra_deg, s.dec_deg) {
                Some((x, y)) => {
                    let (xi, yi) = (x.round(), y.round());
                    xi >= 0.0 && yi >= 0.0 && (xi as usize) < img.nx && (yi as usize) < img.ny && img.at(xi as usize, yi as usize).is_finite()
                }
                None => false,
            })
            .collect();
        let (ra, dec) = img.wcs.pixel_to_world((img.nx as f64 - 1.0) / 2.0, (img.ny as f64 - 1.0) / 2.0).unwrap_or((f64::NAN, f64::NAN));
        return (inside, Footprint { from: "image", centre_ra_deg: ra, centre_dec_deg: dec, radius_arcsec: None });
    }
    let centre = matching::centroid(&comps.iter().map(|c| (c.pos, 1.0)).collect::<Vec<_>>());
    let sep = |ra: f64, dec: f64| fits::wcs::separation_deg(centre.ra_deg, centre.dec_deg, ra, dec);
    let radius_deg = comps.iter().map(|c| sep(c.pos.ra_deg, c.pos.dec_deg)).fold(0.0, f64::max);
    let inside = refs.iter().map(|s| !comps.is_empty() && sep(s.ra_deg, s.dec_deg) <= radius_deg).collect();
    (inside, Footprint { from: "catalogue", centre_ra_deg: centre.ra_deg, centre_dec_deg: centre.dec_deg, radius_arcsec: Some(radius_deg * 3600.0) })
}

/// `<dir>/x.sources.csv` → `x`.
pub fn catalogue_stem(p: &Path) -> String {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.trim_end_matches(".csv").trim_end_matches(".fits").trim_end_matches(".sources").to_string()
}
