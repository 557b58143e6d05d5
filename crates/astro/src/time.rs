//! Time scales. Instants are UTC two-part Julian dates split as astropy splits them
//! (`jd1 = round(jd)`, `jd2 = jd − jd1`), so every ERFA call sees the same arguments.

use std::ffi::CString;

use crate::iers::EopValues;
use crate::{MJD_OFFSET_JD, SECONDS_PER_DAY};

/// A UTC instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Utc {
    pub jd1: f64,
    pub jd2: f64,
}

impl Utc {
    pub fn from_jd(jd: f64) -> Self {
        let jd1 = jd.round();
        Utc { jd1, jd2: jd - jd1 }
    }

    pub fn jd(&self) -> f64 {
        self.jd1 + self.jd2
    }

    pub fn parts(&self) -> (f64, f64) {
        (self.jd1, self.jd2)
    }

    /// Terrestrial Time via TAI, as astropy converts UTC.
    pub fn tt(&self) -> (f64, f64) {
        let (mut tai1, mut tai2, mut tt1, mut tt2) = (0.0, 0.0, 0.0, 0.0);
        unsafe {
            erfa_sys::eraUtctai(self.jd1, self.jd2, &mut tai1, &mut tai2);
            erfa_sys::eraTaitt(tai1, tai2, &mut tt1, &mut tt2);
        }
        (tt1, tt2)
    }

    /// UT1 from UT1−UTC.
    pub fn ut1(&self, eop: &EopValues) -> (f64, f64) {
        let (mut u1, mut u2) = (0.0, 0.0);
        unsafe {
            erfa_sys::eraUtcut1(self.jd1, self.jd2, eop.dut1_s, &mut u1, &mut u2);
        }
        (u1, u2)
    }
}

pub fn jd_to_mjd_s(jd: f64) -> f64 {
    (jd - MJD_OFFSET_JD) * SECONDS_PER_DAY
}

pub fn mjd_s_to_jd(mjd_s: f64) -> f64 {
    mjd_s / SECONDS_PER_DAY + MJD_OFFSET_JD
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]` (a trailing `Z` is allowed) as UTC, returning the JD.
/// Leap seconds are handled by ERFA.
pub fn parse_iso_utc(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00:00"));
    let d: Vec<&str> = date.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || t.is_empty() || t.len() > 3 {
        return None;
    }
    let iy: i32 = d[0].parse().ok()?;
    let im: i32 = d[1].parse().ok()?;
    let id: i32 = d[2].parse().ok()?;
    let ihr: i32 = t[0].parse().ok()?;
    let imn: i32 = t.get(1).map_or(Some(0), |v| v.parse().ok())?;
    let sec: f64 = t.get(2).map_or(Some(0.0), |v| v.parse().ok())?;
    let scale = CString::new("UTC").unwrap();
    let (mut d1, mut d2) = (0.0, 0.0);
    let status = unsafe { erfa_sys::eraDtf2d(scale.as_ptr(), iy, im, id, ihr, imn, sec, &mut d1, &mut d2) };
    (status >= 0).then_some(d1 + d2)
}

/// Formats a UTC JD as `YYYY-MM-DDTHH:MM:SS` (rounded to the nearest second), the form used
/// in DSA-110 file names.
pub fn format_iso_utc(jd: f64) -> String {
    format_iso_utc_ndp(jd, 0)
}

pub fn format_iso_utc_ndp(jd: f64, ndp: i32) -> String {
    let u = Utc::from_jd(jd);
    let scale = CString::new("UTC").unwrap();
    let (mut iy, mut im, mut id) = (0, 0, 0);
    let mut ihmsf = [0i32; 4];
    unsafe {
        erfa_sys::eraD2dtf(scale.as_ptr(), ndp, u.jd1, u.jd2, &mut iy, &mut im, &mut id, ihmsf.as_mut_ptr());
    }
    let base = format!("{iy:04}-{im:02}-{id:02}T{:02}:{:02}:{:02}", ihmsf[0], ihmsf[1], ihmsf[2]);
    if ndp > 0 {
        format!("{base}.{:0width$}", ihmsf[3], width = ndp as usize)
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        let jd = parse_iso_utc("2025-10-02T00:00:00").unwrap();
        assert_eq!(jd, 2_460_950.5);
        assert_eq!(format_iso_utc(jd), "2025-10-02T00:00:00");
        let jd = parse_iso_utc("2025-10-02T23:58:17").unwrap();
        assert_eq!(format_iso_utc(jd), "2025-10-02T23:58:17");
        assert!(parse_iso_utc("2025-13-02T00:00:00").is_none());
        assert!(parse_iso_utc("yesterday").is_none());
    }

    #[test]
    fn split_matches_astropy() {
        let u = Utc::from_jd(2_460_950.5 + 0.3);
        assert_eq!(u.jd1, 2_460_951.0);
        assert!((u.jd2 - (-0.2)).abs() < 1e-9);
    }
}
