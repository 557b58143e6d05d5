//! The primary beam of a DSA-110 dish.
//!
//! Fact (dsa110-calib `fringestopping.pb_resp`): a tapered-illumination model,
//! `A(θ) = [cos(πx) / (1 − 4x²)]²` with `x = 1.2 θ D / λ`. `A` multiplies a source's flux in
//! the visibilities (the power pattern of one dish = the voltage patterns of two). With
//! D = 4.65 m its half-power width is ≈ λ/D, 2.6° at 1.4 GHz.

use crate::DISH_DIAMETER_M;

const C_M_S: f64 = 299_792_458.0;

/// Power response at angular distance `theta_rad` from the pointing centre.
pub fn primary_beam_power(theta_rad: f64, freq_hz: f64) -> f64 {
    let x = 1.2 * theta_rad.abs() * DISH_DIAMETER_M * freq_hz / C_M_S;
    let d = 1.0 - 4.0 * x * x;
    // cos(πx)/(1 − 4x²) has a removable singularity at x = ½, where it equals π/4.
    let v = if d.abs() < 1e-9 { std::f64::consts::FRAC_PI_4 } else { (std::f64::consts::PI * x).cos() / d };
    v * v
}

/// Angular distance between two directions (radians), by the haversine-safe Vincenty form.
pub fn angular_distance(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let dra = ra2 - ra1;
    let (s1, c1) = dec1.sin_cos();
    let (s2, c2) = dec2.sin_cos();
    let num = ((c2 * dra.sin()).powi(2) + (c1 * s2 - s1 * c2 * dra.cos()).powi(2)).sqrt();
    let den = s1 * s2 + c1 * c2 * dra.cos();
    num.atan2(den)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unity_on_axis_and_half_near_lambda_over_d() {
        assert_eq!(primary_beam_power(0.0, 1.4e9), 1.0);
        let lambda_over_d = C_M_S / 1.4e9 / DISH_DIAMETER_M;
        let half = primary_beam_power(0.5 * lambda_over_d, 1.4e9);
        assert!((half - 0.5).abs() < 0.03, "{half}");
        // Continuous through the removable singularity.
        let x_half = 0.5 / (1.2 * DISH_DIAMETER_M * 1.4e9 / C_M_S);
        let a = primary_beam_power(x_half * (1.0 - 1e-6), 1.4e9);
        let b = primary_beam_power(x_half, 1.4e9);
        assert!((a - b).abs() < 1e-5);
    }
}
