//! Sidereal time and apparent coordinates, exactly as pyuvdata computes them.

use std::f64::consts::{PI, TAU};
use std::ffi::CString;

use crate::iers::{EopTable, EopValues};
use crate::site::Site;
use crate::time::Utc;

/// Apparent (topocentric, equinox-based) coordinates of a direction at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Apparent {
    pub ra_rad: f64,
    pub dec_rad: f64,
}

/// Local apparent sidereal time, as pyuvdata's `get_lst_for_time` (erfa path):
/// `gst06a(UT1, TT) + sp00(TT) + λ`, wrapped to [0, 2π). Polar motion enters only through
/// the TIO locator s′.
pub fn lst_rad(jd_utc: f64, site: &Site, table: &EopTable) -> f64 {
    let utc = Utc::from_jd(jd_utc);
    let eop = table.at(utc.parts());
    lst_rad_with(utc, site, &eop)
}

pub fn lst_rad_with(utc: Utc, site: &Site, eop: &EopValues) -> f64 {
    let (ut1a, ut1b) = utc.ut1(eop);
    let (tt1, tt2) = utc.tt();
    let gst = unsafe { erfa_sys::eraGst06a(ut1a, ut1b, tt1, tt2) };
    let sp = unsafe { erfa_sys::eraSp00(tt1, tt2) };
    (gst + sp + site.lon_rad).rem_euclid(TAU)
}

/// ICRS → apparent, as pyuvdata's `transform_icrs_to_app` (erfa path): `atco13` with no
/// proper motion, parallax or radial velocity and refraction off; the apparent RA is the
/// observed (CIO-based) RA minus the equation of the origins.
pub fn icrs_to_app(ra_rad: f64, dec_rad: f64, jd_utc: f64, site: &Site, table: &EopTable) -> Apparent {
    let utc = Utc::from_jd(jd_utc);
    let eop = table.at(utc.parts());
    icrs_to_app_with(ra_rad, dec_rad, utc, site, &eop)
}

pub fn icrs_to_app_with(ra_rad: f64, dec_rad: f64, utc: Utc, site: &Site, eop: &EopValues) -> Apparent {
    let (mut aob, mut zob, mut hob, mut dob, mut rob, mut eo) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    unsafe {
        erfa_sys::eraAtco13(
            ra_rad, dec_rad, 0.0, 0.0, 0.0, 0.0, utc.jd1, utc.jd2, eop.dut1_s, site.lon_rad, site.lat_rad,
            site.height_m, eop.pm_x_rad, eop.pm_y_rad, 0.0, 0.0, 0.0, 0.0, &mut aob, &mut zob, &mut hob,
            &mut dob, &mut rob, &mut eo,
        );
    }
    Apparent { ra_rad: (rob - eo).rem_euclid(TAU), dec_rad: dob }
}

/// The equation of the origins at an instant (IAU 2006/2000A), as pyuvdata computes it for
/// `transform_app_to_icrs`.
fn equation_of_origins(utc: Utc) -> f64 {
    let (tt1, tt2) = utc.tt();
    let mut rnpb = [[0.0f64; 3]; 3];
    let (mut x, mut y) = (0.0, 0.0);
    unsafe {
        erfa_sys::eraPnm06a(tt1, tt2, rnpb.as_mut_ptr());
        erfa_sys::eraBpn2xy(rnpb.as_mut_ptr(), &mut x, &mut y);
        let s = erfa_sys::eraS06(tt1, tt2, x, y);
        erfa_sys::eraEors(rnpb.as_mut_ptr(), s)
    }
}

/// Apparent → ICRS, as pyuvdata's `transform_app_to_icrs` (erfa path).
pub fn app_to_icrs(app: Apparent, jd_utc: f64, site: &Site, table: &EopTable) -> (f64, f64) {
    let utc = Utc::from_jd(jd_utc);
    let eop = table.at(utc.parts());
    app_to_icrs_with(app, utc, site, &eop, equation_of_origins(utc))
}

fn app_to_icrs_with(app: Apparent, utc: Utc, site: &Site, eop: &EopValues, eo: f64) -> (f64, f64) {
    let kind = CString::new("R").unwrap();
    let (mut rc, mut dc) = (0.0, 0.0);
    unsafe {
        erfa_sys::eraAtoc13(
            kind.as_ptr(), app.ra_rad + eo, app.dec_rad, utc.jd1, utc.jd2, eop.dut1_s, site.lon_rad,
            site.lat_rad, site.height_m, eop.pm_x_rad, eop.pm_y_rad, 0.0, 0.0, 0.0, 0.0, &mut rc, &mut dc,
        );
    }
    (rc, dc)
}

/// The position angle between the apparent frame and ICRS at an apparent position, as
/// pyuvdata's `calc_frame_pos_angle`: points 0.5° north and south are taken to ICRS and the
/// angle of the line joining them is measured.
pub fn frame_pos_angle(app: Apparent, jd_utc: f64, site: &Site, table: &EopTable) -> f64 {
    let utc = Utc::from_jd(jd_utc);
    let eop = table.at(utc.parts());
    let eo = equation_of_origins(utc);
    let offset = PI / 360.0;
    let shifted = |ddec: f64| {
        let mut ra = app.ra_rad;
        let mut dec = app.dec_rad + ddec;
        // Wrap over the poles as pyuvdata does.
        if dec > PI / 2.0 {
            ra = (ra + PI).rem_euclid(TAU);
            dec = PI - dec;
        } else if dec < -PI / 2.0 {
            ra = (ra + PI).rem_euclid(TAU);
            dec = -PI - dec;
        }
        app_to_icrs_with(Apparent { ra_rad: ra, dec_rad: dec }, utc, site, &eop, eo)
    };
    let (ra_up, dec_up) = shifted(offset);
    let (ra_dn, dec_dn) = shifted(-offset);
    -unsafe { erfa_sys::eraPas(ra_dn, dec_dn, ra_up, dec_up) }
}
