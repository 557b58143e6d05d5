//! Phasing visibilities to a sky position, as pyuvdata's `UVData.phase()` does it.
//!
//! For every integration: the field centre's apparent position (`atco13`) and the frame
//! position angle between apparent and ICRS axes; new uvw from the antenna positions
//! (`R_x(pa) R_y(δ_app) R_z(lst − α_app − λ)` applied to `x_ant2 − x_ant1`); and the
//! visibilities rotated by `exp(−2πi (w_new − w_old) ν / c)`. What `w_old` is — the phase
//! already in the data — is the one policy choice, see [`InputPhase`].

mod rotate;

use astro::{Apparent, EopTable, Site, Utc};
use serde::Serialize;

pub use rotate::{rotate_row, Phasor};

/// What phase the input visibilities already carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputPhase {
    /// The stored `uvw_array` w describes it: true of DSA-110 files (fringe-stopped to the
    /// meridian and labelled "drift"), of data phased to a zenith drift, and of any projected
    /// data. This is contimg's default.
    StoredUvw,
    /// pyuvdata's reading of "drift"/unprojected data: no phase at all (w_old = 0), the stored
    /// uvw being only the baseline's ENU orientation. Matches `UVData.phase()` bit for bit.
    Zero,
}

/// The per-integration quantities every baseline of that integration shares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epoch {
    pub jd: f64,
    pub lst_rad: f64,
    /// The field centre's apparent position at this instant.
    pub app: Apparent,
    pub frame_pa_rad: f64,
    /// Whether the Earth orientation values were measured, predicted or extrapolated.
    pub eop: astro::EopStatus,
}

/// Computes an integration's geometry for a field at ICRS (ra, dec), as pyuvdata's
/// `calc_app_coords` + `calc_frame_pos_angle` do. `lst_rad` is the file's LST when it has one
/// (pyuvdata uses it verbatim), else computed.
pub fn epoch(jd: f64, lst_rad: Option<f64>, field_ra_rad: f64, field_dec_rad: f64, site: &Site, table: &EopTable) -> Epoch {
    let utc = Utc::from_jd(jd);
    let eop = table.at(utc.parts());
    let lst = lst_rad.unwrap_or_else(|| astro::sky::lst_rad_with(utc, site, &eop));
    let app = astro::sky::icrs_to_app_with(field_ra_rad, field_dec_rad, utc, site, &eop);
    let frame_pa_rad = astro::frame_pos_angle(app, jd, site, table);
    Epoch { jd, lst_rad: lst, app, frame_pa_rad, eop: eop.status }
}

/// uvw of the baseline `b = x_ant2 − x_ant1` (ECEF offsets, m) toward the epoch's field.
#[inline]
pub fn uvw(b: [f64; 3], e: &Epoch, site: &Site) -> [f64; 3] {
    astro::uvw_toward(b, astro::greenwich_hour_angle(e.lst_rad, e.app.ra_rad, site.lon_rad), e.app.dec_rad, e.frame_pa_rad)
}

/// The ICRS position of the meridian at declination `dec_app_rad` (of date) at an instant:
/// the direction the DSA-110 correlator fringe-stops to, expressed as a catalogue position.
pub fn meridian_icrs(jd: f64, dec_app_rad: f64, site: &Site, table: &EopTable) -> (f64, f64) {
    let lst = astro::lst_rad(jd, site, table);
    astro::app_to_icrs(Apparent { ra_rad: lst, dec_rad: dec_app_rad }, jd, site, table)
}

/// Which sign convention a file's stored uvw follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UvwConvention {
    /// uvw = x_ant2 − x_ant1 (pyuvdata's; the DSA-110 writer's since 2020).
    Ant2MinusAnt1,
    /// uvw = x_ant1 − x_ant2, with data conjugated to match (older writers).
    Ant1MinusAnt2,
}

/// The outcome of comparing stored uvw with uvw computed from antenna positions.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ConventionCheck {
    pub convention: UvwConvention,
    /// Largest |stored − expected| under the chosen convention (m).
    pub max_residual_m: f64,
    /// Largest |stored + expected| (m): the residual had the other convention been chosen.
    pub max_residual_other_m: f64,
    pub max_baseline_m: f64,
}

/// Decides the convention from pairs (stored, expected-for-ant2−ant1). Expected uvw only need
/// to point the right way: the residual of the wrong convention is about twice the baseline.
pub fn detect_convention(pairs: impl Iterator<Item = ([f64; 3], [f64; 3])>) -> ConventionCheck {
    let (mut same, mut flip, mut longest) = (0.0f64, 0.0f64, 0.0f64);
    for (s, e) in pairs {
        let d = |sign: f64| ((s[0] - sign * e[0]).powi(2) + (s[1] - sign * e[1]).powi(2) + (s[2] - sign * e[2]).powi(2)).sqrt();
        same = same.max(d(1.0));
        flip = flip.max(d(-1.0));
        longest = longest.max((e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt());
    }
    if flip < same {
        ConventionCheck { convention: UvwConvention::Ant1MinusAnt2, max_residual_m: flip, max_residual_other_m: same, max_baseline_m: longest }
    } else {
        ConventionCheck { convention: UvwConvention::Ant2MinusAnt1, max_residual_m: same, max_residual_other_m: flip, max_baseline_m: longest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_either_sign() {
        let e = [[100.0, 20.0, -3.0], [0.0, 0.0, 0.0], [-400.0, 5.0, 1.0]];
        let c = detect_convention(e.iter().map(|&x| (x, x)));
        assert_eq!(c.convention, UvwConvention::Ant2MinusAnt1);
        assert_eq!(c.max_residual_m, 0.0);
        let c = detect_convention(e.iter().map(|&x| ([-x[0], -x[1], -x[2]], x)));
        assert_eq!(c.convention, UvwConvention::Ant1MinusAnt2);
        assert!(c.max_residual_other_m > 800.0);
    }
}
