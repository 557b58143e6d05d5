//! What image parameters make sense, decided before any large buffer exists: an image that cannot
//! fit in memory is refused with an estimate (not an allocation failure that aborts the process),
//! and a pixel size that makes no sense for the MS is refused with the one that would.

use crate::error::ImagingError;

/// Bytes per pixel of an `n × n` imaging run, counted from what the imager holds at once: the
/// PSF, residual, model and restored images and the beam-convolution scratch (f32 each), the
/// primary-beam image and its correction with `--pbcor`, and the gridder's oversampled complex
/// grid (σ ≈ 2 per axis, 8 bytes per cell) with its FFT work copy.
pub fn bytes_per_pixel(pbcor: bool) -> u64 {
    let images = if pbcor { 7 } else { 5 };
    let grid = 2 * 4 * 8;
    images * 4 + grid
}

/// Estimated peak memory of the images and grids of an `n × n` run (visibilities not included:
/// they are 12 bytes each and read in chunks).
pub fn image_bytes(n: usize, pbcor: bool) -> u64 {
    (n as u64).saturating_mul(n as u64).saturating_mul(bytes_per_pixel(pbcor))
}

/// Memory the system can give this process: `MemAvailable` plus free swap, from /proc/meminfo.
/// `None` where that cannot be read (then only the address-space limit below applies).
pub fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    };
    Some(field("MemAvailable:")? + field("SwapFree:").unwrap_or(0))
}

/// Refuses an image size whose buffers cannot fit in `available` bytes, naming the largest size
/// that would.
pub fn check_size(n: usize, pbcor: bool, available: Option<u64>) -> Result<(), ImagingError> {
    let need = image_bytes(n, pbcor);
    // No system this runs on has 2^46 bytes (64 TiB): anything beyond is refused even when
    // /proc/meminfo is unreadable, before an allocation can abort.
    let limit = available.unwrap_or(1 << 46);
    if need <= limit {
        return Ok(());
    }
    let max_n = (((limit / bytes_per_pixel(pbcor)) as f64).sqrt() as usize) & !1;
    Err(ImagingError::TooLarge {
        size: n,
        need_bytes: need,
        available_bytes: limit,
        max_size: max_n,
    })
}

/// Half-power width (rad) of the 4.65 m dish's primary beam at `freq_hz` (≈ 1.2 λ/D).
pub fn primary_beam_fwhm_rad(freq_hz: f64) -> f64 {
    1.2 * crate::C_M_S / (freq_hz * dsa110::DISH_DIAMETER_M)
}

/// The default pixel: a third of the finest fringe, 1/(3 u_max), rounded down to 0.1″.
pub fn default_cell_rad(max_uv_lambda: f64) -> f64 {
    let c = (1.0 / (3.0 * max_uv_lambda)).to_degrees() * 3600.0;
    ((c * 10.0).floor().max(1.0) / 10.0 / 3600.0).to_radians()
}

/// The shortest projected baseline (wavelengths, at the lowest frequency) of the samples that
/// carry weight: a pixel so large that even it is beyond the grid leaves nothing to image.
pub fn min_uv_lambda(spws: &[crate::vis::SpwVis]) -> f64 {
    let mut best = f64::INFINITY;
    for s in spws {
        let fmin = s.freq_hz.iter().copied().fold(f64::INFINITY, f64::min);
        for uvw in &s.uvw_m {
            let b = (uvw[0] * uvw[0] + uvw[1] * uvw[1]).sqrt();
            if b > 0.0 {
                best = best.min(b * fmin / crate::C_M_S);
            }
        }
    }
    best
}

/// The smallest field (as a fraction of the primary beam's half-power width) an image may cover:
/// below it, the image shows a sliver of one synthesized beam and nothing astronomical.
pub const MIN_FIELD_FRACTION_OF_BEAM: f64 = 1e-3;

/// Refuses a pixel size that makes no sense for this MS: a field of view (`n × cell`) below
/// [`MIN_FIELD_FRACTION_OF_BEAM`] of the primary beam, a pixel larger than the primary beam
/// itself, or one so large that even the shortest baseline is beyond the grid (nothing would be
/// imaged). The error says what a sensible cell is, from the longest baseline.
pub fn check_cell(n: usize, cell_rad: f64, max_uv_lambda: f64, min_uv_lambda: f64, freq_hz: f64) -> Result<(), ImagingError> {
    let arcsec = |r: f64| r.to_degrees() * 3600.0;
    let pb = primary_beam_fwhm_rad(freq_hz);
    let sensible = default_cell_rad(max_uv_lambda);
    let baseline_m = max_uv_lambda * crate::C_M_S / freq_hz;
    let hint = format!(
        "the longest baseline ({:.0} m, {:.0} wavelengths at {:.1} MHz) resolves {:.1}\", so a sensible cell is about {:.1}\" (the default, 1/(3 u_max)); the primary beam is {:.2}° wide",
        baseline_m,
        max_uv_lambda,
        freq_hz / 1e6,
        arcsec(1.0 / max_uv_lambda),
        arcsec(sensible),
        pb.to_degrees()
    );
    let reason = if n as f64 * cell_rad < MIN_FIELD_FRACTION_OF_BEAM * pb {
        format!(
            "a cell of {:e}\" makes the field of view {:.3e}\" ({n} pixels), less than {} of the primary beam: the image would show nothing; {hint}",
            arcsec(cell_rad),
            arcsec(n as f64 * cell_rad),
            MIN_FIELD_FRACTION_OF_BEAM
        )
    } else if cell_rad > pb {
        format!("a cell of {:.0}\" is larger than the primary beam, the whole field in one pixel; {hint}", arcsec(cell_rad))
    } else if 0.5 / cell_rad < min_uv_lambda {
        format!(
            "a cell of {:.0}\" samples baselines only up to {:.1} wavelengths, shorter than the shortest baseline ({:.1}): every sample would be dropped; {hint}",
            arcsec(cell_rad),
            0.5 / cell_rad,
            min_uv_lambda
        )
    } else {
        return Ok(());
    };
    Err(ImagingError::InvalidArgument { name: "cell-arcsec", reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A DSA-110-like MS: 2.6 km longest baseline, 1.4 GHz, shortest cross baseline ~10 m.
    const F: f64 = 1.4e9;
    fn uv(m: f64) -> f64 {
        m * F / crate::C_M_S
    }

    #[test]
    fn sizes_that_cannot_fit_are_refused_with_the_largest_that_would() {
        let gb = 1u64 << 30;
        assert!(check_size(2048, false, Some(24 * gb)).is_ok());
        let e = check_size(100_000, false, Some(24 * gb)).unwrap_err();
        assert_eq!(e.code(), "IMAGE_TOO_LARGE");
        let ImagingError::TooLarge { need_bytes, max_size, .. } = e else { unreachable!() };
        assert!(need_bytes > 700 * gb, "{need_bytes}");
        // The suggested size fits, and 10% more would not.
        assert!(check_size(max_size, false, Some(24 * gb)).is_ok());
        assert!(check_size(max_size * 11 / 10, false, Some(24 * gb)).is_err());
        assert!(check_size(1 << 24, false, None).is_err());
    }

    #[test]
    fn nonsense_cells_are_refused_and_sensible_ones_pass() {
        let (umax, umin) = (uv(2600.0), uv(10.0));
        let sensible = default_cell_rad(umax);
        assert!((2.0..8.0).contains(&(sensible.to_degrees() * 3600.0)), "{}", sensible.to_degrees() * 3600.0);
        assert!(check_cell(2048, sensible, umax, umin, F).is_ok());
        for cell_arcsec in [1e-9, 1e6, 3600.0 * 5.0] {
            let e = check_cell(2048, (cell_arcsec / 3600.0f64).to_radians(), umax, umin, F).unwrap_err();
            assert_eq!(e.code(), "IMAGE_INVALID_ARGUMENT", "{cell_arcsec}");
            let msg = e.to_string();
            assert!(msg.contains("cell-arcsec") && msg.contains("sensible cell is about"), "{msg}");
        }
        // Coarse pixels that still hold short baselines are the user's choice (a warning).
        assert!(check_cell(256, (60.0f64 / 3600.0).to_radians(), umax, umin, F).is_ok());
    }
}
