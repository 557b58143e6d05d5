//! Observatory location, WGS84.

/// A site on the WGS84 ellipsoid.
///
/// astropy's `EarthLocation.from_geodetic` stores geocentric XYZ and recovers longitude,
/// latitude and height from it; the round trip changes them at the 1e-16 level, and we do
/// the same so that every later ERFA call gets identical arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    pub lon_rad: f64,
    pub lat_rad: f64,
    pub height_m: f64,
    pub ecef_m: [f64; 3],
}

impl Site {
    pub fn from_geodetic_deg(lat_deg: f64, lon_deg: f64, height_m: f64) -> Self {
        let ecef_m = geodetic_to_ecef(lat_deg.to_radians(), lon_deg.to_radians(), height_m);
        let (lat_rad, lon_rad, height_m) = ecef_to_geodetic(ecef_m);
        Site { lon_rad, lat_rad, height_m, ecef_m }
    }
}

/// WGS84 geodetic (radians, metres) → ECEF metres, through ERFA.
pub fn geodetic_to_ecef(lat_rad: f64, lon_rad: f64, height_m: f64) -> [f64; 3] {
    let mut xyz = [0.0f64; 3];
    unsafe {
        erfa_sys::eraGd2gc(1, lon_rad, lat_rad, height_m, xyz.as_mut_ptr());
    }
    xyz
}

/// ECEF metres → WGS84 (lat rad, lon rad, height m), through ERFA.
pub fn ecef_to_geodetic(mut xyz: [f64; 3]) -> (f64, f64, f64) {
    let (mut lon, mut lat, mut h) = (0.0, 0.0, 0.0);
    unsafe {
        erfa_sys::eraGc2gd(1, xyz.as_mut_ptr(), &mut lon, &mut lat, &mut h);
    }
    (lat, lon, h)
}

/// Rotates an ECEF offset into local East, North, Up at the given geodetic position.
pub fn ecef_to_enu(d: [f64; 3], lat_rad: f64, lon_rad: f64) -> [f64; 3] {
    let (sl, cl) = lon_rad.sin_cos();
    let (sp, cp) = lat_rad.sin_cos();
    let e = -sl * d[0] + cl * d[1];
    let n = -sp * cl * d[0] - sp * sl * d[1] + cp * d[2];
    let u = cp * cl * d[0] + cp * sl * d[1] + sp * d[2];
    [e, n, u]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovro_round_trips() {
        let s = Site::from_geodetic_deg(37.233387, -118.283405, 1188.05);
        assert!((s.lat_rad.to_degrees() - 37.233387).abs() < 1e-12);
        assert!((s.lon_rad.to_degrees() + 118.283405).abs() < 1e-12);
        assert!((s.height_m - 1188.05).abs() < 1e-6);
        let r = (s.ecef_m[0].powi(2) + s.ecef_m[1].powi(2) + s.ecef_m[2].powi(2)).sqrt();
        assert!((r - 6_370_000.0).abs() < 10_000.0);
    }
}
