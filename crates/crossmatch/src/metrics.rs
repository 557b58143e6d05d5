//! The QA figures of a cross-match: flux ratio, astrometric offsets, completeness,
//! reliability and dynamic range, each checked against a threshold.

use crate::columns::Source;
use crate::matching::{centroid, offset_arcsec, Group, Kind, Pos};
use crate::ours::Component;

/// The pass/fail limits; the defaults are the issue's.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Thresholds {
    /// |median(ours/reference) − 1| at most this.
    pub flux_ratio_tolerance: f64,
    pub completeness_min: f64,
    pub astrometry_rms_max_arcsec: f64,
    pub dynamic_range_min: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { flux_ratio_tolerance: 0.2, completeness_min: 0.7, astrometry_rms_max_arcsec: 1.0, dynamic_range_min: 50.0 }
    }
}

/// One match, ready for the table and the statistics.
#[derive(Debug, Clone)]
pub struct Match {
    pub group: Group,
    pub kind: Kind,
    pub ref_pos: Pos,
    /// Summed over the group's reference sources; NaN when the reference has no flux.
    pub ref_flux_jy: f64,
    pub our_pos: Pos,
    /// Summed integrated flux of our components.
    pub our_int_jy: f64,
    pub our_peak_jy: f64,
    pub separation_arcsec: f64,
    pub dra_arcsec: f64,
    pub ddec_arcsec: f64,
    pub flux_ratio: f64,
    /// Counted in the flux and astrometry statistics: not a blend, the reference in the
    /// footprint and above the flux limit.
    pub used: bool,
}

pub fn build_match(group: Group, refs: &[Source], ours: &[Component], in_footprint: &[bool], flux_limit_jy: f64) -> Match {
    let kind = group.kind();
    let ref_flux_jy: f64 = group.refs.iter().map(|&i| refs[i].flux_jy).sum();
    let ref_pos = centroid(&group.refs.iter().map(|&i| (Pos { ra_deg: refs[i].ra_deg, dec_deg: refs[i].dec_deg }, refs[i].flux_jy)).collect::<Vec<_>>());
    let our_pos = centroid(&group.ours.iter().map(|&i| (ours[i].pos, ours[i].int_jy)).collect::<Vec<_>>());
    let our_int_jy: f64 = group.ours.iter().map(|&i| ours[i].int_jy).sum();
    let our_peak_jy = group.ours.iter().map(|&i| ours[i].peak_jy).fold(f64::NAN, f64::max);
    let (dra_arcsec, ddec_arcsec) = offset_arcsec(our_pos, ref_pos);
    let separation_arcsec = fits::wcs::separation_deg(our_pos.ra_deg, our_pos.dec_deg, ref_pos.ra_deg, ref_pos.dec_deg) * 3600.0;
    let bright = if ref_flux_jy.is_finite() { ref_flux_jy >= flux_limit_jy } else { our_int_jy >= flux_limit_jy };
    let used = kind != Kind::Blend && group.refs.iter().all(|&i| in_footprint[i]) && bright;
    let flux_ratio = if ref_flux_jy > 0.0 { our_int_jy / ref_flux_jy } else { f64::NAN };
    Match { group, kind, ref_pos, ref_flux_jy, our_pos, our_int_jy, our_peak_jy, separation_arcsec, dra_arcsec, ddec_arcsec, flux_ratio, used }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FluxRatio {
    pub median: Option<f64>,
    /// 1.4826 × the median absolute deviation: the standard deviation for Gaussian scatter.
    pub robust_scatter: Option<f64>,
    pub n: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Astrometry {
    pub median_dra_arcsec: Option<f64>,
    pub median_ddec_arcsec: Option<f64>,
    /// √mean(ΔRA·cos δ² + ΔDec²): the total offset, systematic and random.
    pub rms_arcsec: Option<f64>,
    pub n: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Fraction {
    pub value: Option<f64>,
    pub matched: usize,
    pub total: usize,
}

impl Fraction {
    fn of(matched: usize, total: usize) -> Fraction {
        Fraction { value: (total > 0).then(|| matched as f64 / total as f64), matched, total }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DynamicRange {
    pub value: Option<f64>,
    pub peak_jy: f64,
    pub rms_jy: f64,
    /// `catalogue` (brightest peak / median local rms) or `image` (brightest pixel / robust rms of the pixels).
    pub from: &'static str,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub value: Option<f64>,
    /// `value` must be `comparison` `limit` (for the flux ratio: |value − 1| ≤ limit).
    pub comparison: &'static str,
    pub limit: f64,
    pub passed: bool,
}

pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

pub fn flux_ratio(matches: &[Match]) -> FluxRatio {
    let mut r: Vec<f64> = matches.iter().filter(|m| m.used && m.flux_ratio.is_finite()).map(|m| m.flux_ratio).collect();
    let n = r.len();
    let med = median(&mut r);
    let scatter = med.and_then(|m| median(&mut r.iter().map(|x| (x - m).abs()).collect::<Vec<_>>())).map(|mad| 1.4826 * mad);
    FluxRatio { median: med, robust_scatter: scatter, n }
}

pub fn astrometry(matches: &[Match]) -> Astrometry {
    let used: Vec<&Match> = matches.iter().filter(|m| m.used).collect();
    let n = used.len();
    let rms = (n > 0).then(|| (used.iter().map(|m| m.dra_arcsec.powi(2) + m.ddec_arcsec.powi(2)).sum::<f64>() / n as f64).sqrt());
    Astrometry {
        median_dra_arcsec: median(&mut used.iter().map(|m| m.dra_arcsec).collect::<Vec<_>>()),
        median_ddec_arcsec: median(&mut used.iter().map(|m| m.ddec_arcsec).collect::<Vec<_>>()),
        rms_arcsec: rms,
        n,
    }
}

/// Reference sources in the footprint and above the limit (all of them when the reference
/// has no fluxes) that some component of ours matched.
pub fn completeness(refs: &[Source], in_footprint: &[bool], matched: &[bool], flux_limit_jy: f64) -> Fraction {
    let counted: Vec<usize> = (0..refs.len()).filter(|&i| in_footprint[i] && (refs[i].flux_jy.is_nan() || refs[i].flux_jy >= flux_limit_jy)).collect();
    Fraction::of(counted.iter().filter(|&&i| matched[i]).count(), counted.len())
}

/// Our components above the limit that lie within the radius of a reference source.
pub fn reliability(ours: &[Component], matched: &[bool], flux_limit_jy: f64) -> Fraction {
    let counted: Vec<usize> = (0..ours.len()).filter(|&i| ours[i].int_jy >= flux_limit_jy).collect();
    Fraction::of(counted.iter().filter(|&&i| matched[i]).count(), counted.len())
}

pub fn dynamic_range_of_catalogue(ours: &[Component]) -> DynamicRange {
    let peak = ours.iter().map(|c| c.peak_jy).filter(|v| v.is_finite()).fold(f64::NAN, f64::max);
    let rms = median(&mut ours.iter().map(|c| c.local_rms_jy).filter(|v| v.is_finite() && *v > 0.0).collect::<Vec<_>>()).unwrap_or(f64::NAN);
    DynamicRange { value: Some(peak / rms).filter(|v| v.is_finite()), peak_jy: peak, rms_jy: rms, from: "catalogue" }
}

/// Brightest pixel over 1.4826 × MAD of the finite pixels (sources barely move the MAD).
pub fn dynamic_range_of_image(data: &[f32]) -> DynamicRange {
    let step = (data.len() / 1_000_000).max(1);
    let mut v: Vec<f64> = data.iter().step_by(step).filter(|x| x.is_finite()).map(|&x| x as f64).collect();
    let peak = data.iter().filter(|x| x.is_finite()).fold(f32::NAN, |a, &b| a.max(b)) as f64;
    let med = median(&mut v).unwrap_or(f64::NAN);
    let rms = 1.4826 * median(&mut v.iter().map(|x| (x - med).abs()).collect::<Vec<_>>()).unwrap_or(f64::NAN);
    DynamicRange { value: Some(peak / rms).filter(|v| v.is_finite()), peak_jy: peak, rms_jy: rms, from: "image" }
}

pub fn checks(t: &Thresholds, flux: &FluxRatio, astro: &Astrometry, completeness: &Fraction, dr: &DynamicRange) -> Vec<Check> {
    let check = |name, value: Option<f64>, comparison, limit, ok: &dyn Fn(f64) -> bool| Check { name, value, comparison, limit, passed: value.is_some_and(ok) };
    vec![
        check("flux_ratio", flux.median, "|value - 1| <=", t.flux_ratio_tolerance, &|v| (v - 1.0).abs() <= t.flux_ratio_tolerance),
        check("completeness", completeness.value, ">=", t.completeness_min, &|v| v >= t.completeness_min),
        check("astrometry_rms", astro.rms_arcsec, "<=", t.astrometry_rms_max_arcsec, &|v| v <= t.astrometry_rms_max_arcsec),
        check("dynamic_range", dr.value, ">=", t.dynamic_range_min, &|v| v >= t.dynamic_range_min),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_robust_scatter() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
        let m = |r: f64| Match {
            group: Group { refs: vec![0], ours: vec![0] },
            kind: Kind::OneToOne,
            ref_pos: Pos { ra_deg: 0.0, dec_deg: 0.0 },
            ref_flux_jy: 1.0,
            our_pos: Pos { ra_deg: 0.0, dec_deg: 0.0 },
            our_int_jy: r,
            our_peak_jy: r,
            separation_arcsec: 0.0,
            dra_arcsec: 3.0,
            ddec_arcsec: 4.0,
            flux_ratio: r,
            used: true,
        };
        let f = flux_ratio(&[m(0.9), m(1.0), m(1.1), m(5.0)]);
        assert_eq!((f.median, f.n), (Some(1.05), 4));
        assert!((f.robust_scatter.unwrap() - 1.4826 * 0.1).abs() < 1e-12);
        assert_eq!(astrometry(&[m(1.0), m(1.0)]).rms_arcsec, Some(5.0));
    }

    #[test]
    fn a_missing_figure_fails_its_check() {
        let none = FluxRatio { median: None, robust_scatter: None, n: 0 };
        let astro = Astrometry { median_dra_arcsec: None, median_ddec_arcsec: None, rms_arcsec: Some(0.5), n: 3 };
        let c = checks(&Thresholds::default(), &none, &astro, &Fraction::of(7, 10), &DynamicRange { value: Some(49.0), peak_jy: 0.0, rms_jy: 0.0, from: "catalogue" });
        let passed: Vec<(&str, bool)> = c.iter().map(|c| (c.name, c.passed)).collect();
        assert_eq!(passed, vec![("flux_ratio", false), ("completeness", true), ("astrometry_rms", true), ("dynamic_range", false)]);
    }
}
