//! Baseline coordinates.

/// uvw of a baseline given as the ECEF offset `b = x_ant2 − x_ant1` (metres), toward an
/// apparent direction, in the closed form of pyuvdata's `calc_uvw` (`use_ant_pos=True`):
/// rotate by the Greenwich hour angle `g = lst − app_ra − λ` about z, by the apparent
/// declination about y, and by the frame position angle about x; then (u, v, w) = (Y, Z, X).
#[inline]
pub fn uvw_toward(b: [f64; 3], gha_rad: f64, app_dec_rad: f64, frame_pa_rad: f64) -> [f64; 3] {
    let (sg, cg) = gha_rad.sin_cos();
    let (sd, cd) = app_dec_rad.sin_cos();
    let (sp, cp) = frame_pa_rad.sin_cos();
    let x1 = cg * b[0] - sg * b[1];
    let y1 = sg * b[0] + cg * b[1];
    let z1 = b[2];
    let w = cd * x1 + sd * z1;
    let v0 = -sd * x1 + cd * z1;
    let u0 = y1;
    [cp * u0 - sp * v0, sp * u0 + cp * v0, w]
}

/// The Greenwich hour angle pyuvdata uses: `lst − app_ra − λ`.
#[inline]
pub fn greenwich_hour_angle(lst_rad: f64, app_ra_rad: f64, lon_rad: f64) -> f64 {
    lst_rad - app_ra_rad - lon_rad
}

/// uvw toward a fixed local hour angle and declination (the DSA-110 correlator's phase
/// centre, HA = 0 at the pointing declination): constant in time, since both the baseline
/// and the direction are fixed to the Earth.
#[inline]
pub fn uvw_toward_hadec(b: [f64; 3], ha_rad: f64, dec_rad: f64, lon_rad: f64) -> [f64; 3] {
    // With app_ra = lst − ha, g = lst − app_ra − λ = ha − λ.
    uvw_toward(b, ha_rad - lon_rad, dec_rad, 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_preserved_and_w_points_at_the_source() {
        let b = [120.0, -35.0, 17.5];
        let uvw = uvw_toward(b, 0.7, 0.9, 0.01);
        let n = |v: [f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        assert!((n(uvw) - n(b)).abs() < 1e-9);
        // A baseline along the direction of the source has all its length in w.
        let (g, d) = (0.3_f64, 0.4_f64);
        let s = [d.cos() * g.cos(), -d.cos() * g.sin(), d.sin()];
        let uvw = uvw_toward([s[0] * 100.0, s[1] * 100.0, s[2] * 100.0], g, d, 0.0);
        assert!((uvw[2] - 100.0).abs() < 1e-9 && uvw[0].abs() < 1e-9 && uvw[1].abs() < 1e-9);
    }
}
