//! The celestial WCS of an image: two zenithal projections (SIN, which interferometric images
//! use, and TAN, the usual mosaic grid) between pixels and ICRS right ascension and declination.
//!
//! Both projections have their native pole at the reference point, so the sky position maps to
//! direction cosines (l, m, n) about (CRVAL1, CRVAL2): SIN projects (x, y) = (l, m), TAN
//! (x, y) = (l/n, m/n) (Calabretta & Greisen 2002, §5.1). The linear part is the CD matrix in
//! degrees per pixel, however the file spells it (CDi_j, PCi_j × CDELTi, or CDELTi with CROTA2).

use crate::header::Header;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    Sin,
    Tan,
}

impl Projection {
    pub fn code(self) -> &'static str {
        match self {
            Projection::Sin => "SIN",
            Projection::Tan => "TAN",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CelestialWcs {
    pub projection: Projection,
    /// The reference point (CRVAL1, CRVAL2), degrees.
    pub ref_ra_deg: f64,
    pub ref_dec_deg: f64,
    /// The reference pixel (CRPIX1, CRPIX2), 1-based as FITS counts.
    pub crpix: [f64; 2],
    /// Degrees of intermediate world coordinate per pixel: [[CD1_1, CD1_2], [CD2_1, CD2_2]].
    pub cd_deg: [[f64; 2]; 2],
}

impl CelestialWcs {
    /// A north-up grid with square pixels of `cell_deg`, RA increasing to the left (east left),
    /// centred on (ra, dec) at the middle of an `nx`×`ny` image.
    pub fn north_up(projection: Projection, ra_deg: f64, dec_deg: f64, cell_deg: f64, nx: usize, ny: usize) -> CelestialWcs {
        CelestialWcs {
            projection,
            ref_ra_deg: ra_deg,
            ref_dec_deg: dec_deg,
            crpix: [nx as f64 / 2.0 + 1.0, ny as f64 / 2.0 + 1.0],
            cd_deg: [[-cell_deg, 0.0], [0.0, cell_deg]],
        }
    }

    /// The sky position of a pixel (0-based: the centre of the first pixel is (0, 0)), or
    /// `None` off the projection (beyond the horizon of SIN).
    pub fn pixel_to_world(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let (dx, dy) = (x + 1.0 - self.crpix[0], y + 1.0 - self.crpix[1]);
        let c = &self.cd_deg;
        let xi = (c[0][0] * dx + c[0][1] * dy).to_radians();
        let eta = (c[1][0] * dx + c[1][1] * dy).to_radians();
        let (l, m, n) = match self.projection {
            Projection::Sin => {
                let nn = 1.0 - xi * xi - eta * eta;
                if nn < 0.0 {
                    return None;
                }
                (xi, eta, nn.sqrt())
            }
            Projection::Tan => {
                let s = (1.0 + xi * xi + eta * eta).sqrt();
                (xi / s, eta / s, 1.0 / s)
            }
        };
        let (sd0, cd0) = self.ref_dec_deg.to_radians().sin_cos();
        let dec = (m * cd0 + n * sd0).clamp(-1.0, 1.0).asin();
        let dra = l.atan2(n * cd0 - m * sd0);
        Some(((self.ref_ra_deg + dra.to_degrees()).rem_euclid(360.0), dec.to_degrees()))
    }

    /// The 0-based pixel of a sky position, or `None` where the projection does not reach it
    /// (the far hemisphere).
    pub fn world_to_pixel(&self, ra_deg: f64, dec_deg: f64) -> Option<(f64, f64)> {
        let (l, m, n) = direction_cosines(ra_deg, dec_deg, self.ref_ra_deg, self.ref_dec_deg);
        let (xi, eta) = match self.projection {
            Projection::Sin if n >= 0.0 => (l, m),
            Projection::Tan if n > 0.0 => (l / n, m / n),
            _ => return None,
        };
        let (xi, eta) = (xi.to_degrees(), eta.to_degrees());
        let c = &self.cd_deg;
        let det = c[0][0] * c[1][1] - c[0][1] * c[1][0];
        let dx = (c[1][1] * xi - c[0][1] * eta) / det;
        let dy = (-c[1][0] * xi + c[0][0] * eta) / det;
        Some((dx + self.crpix[0] - 1.0, dy + self.crpix[1] - 1.0))
    }

    /// The solid angle of a pixel near the reference point, in square degrees.
    pub fn pixel_area_deg2(&self) -> f64 {
        let c = &self.cd_deg;
        (c[0][0] * c[1][1] - c[0][1] * c[1][0]).abs()
    }

    /// Writes CTYPE, CRVAL, CRPIX, CDELT and PC for axes 1 and 2.
    pub fn to_header(&self, h: &mut Header) {
        use crate::header::Value::{Float, Str};
        let p = self.projection.code();
        // CDELT carries the scale and PC the rotation, the form CASA and astropy write.
        let s1 = (self.cd_deg[0][0].powi(2) + self.cd_deg[1][0].powi(2)).sqrt() * self.cd_deg[0][0].signum();
        let s2 = (self.cd_deg[0][1].powi(2) + self.cd_deg[1][1].powi(2)).sqrt() * self.cd_deg[1][1].signum();
        h.set("CTYPE1", Str(format!("RA---{p}")), "");
        h.set("CRVAL1", Float(self.ref_ra_deg), "deg");
        h.set("CDELT1", Float(s1), "deg");
        h.set("CRPIX1", Float(self.crpix[0]), "");
        h.set("CUNIT1", Str("deg".into()), "");
        h.set("CTYPE2", Str(format!("DEC--{p}")), "");
        h.set("CRVAL2", Float(self.ref_dec_deg), "deg");
        h.set("CDELT2", Float(s2), "deg");
        h.set("CRPIX2", Float(self.crpix[1]), "");
        h.set("CUNIT2", Str("deg".into()), "");
        if self.cd_deg[0][1] != 0.0 || self.cd_deg[1][0] != 0.0 {
            h.set("PC1_1", Float(self.cd_deg[0][0] / s1), "");
            h.set("PC1_2", Float(self.cd_deg[0][1] / s2), "");
            h.set("PC2_1", Float(self.cd_deg[1][0] / s1), "");
            h.set("PC2_2", Float(self.cd_deg[1][1] / s2), "");
        }
        h.set("RADESYS", Str("ICRS".into()), "");
        h.set("EQUINOX", Float(2000.0), "");
    }

    /// Reads the celestial WCS of axes 1 (RA) and 2 (Dec); `Err` says what is missing or unsupported.
    pub fn from_header(h: &Header) -> Result<CelestialWcs, String> {
        let ctype = |i: usize| h.str(&format!("CTYPE{i}")).map(str::to_string).ok_or_else(|| format!("no CTYPE{i}"));
        let (c1, c2) = (ctype(1)?, ctype(2)?);
        if !c1.starts_with("RA--") || !c2.starts_with("DEC-") {
            return Err(format!("axes 1 and 2 are {c1} and {c2}; contimg reads images whose first two axes are RA and Dec"));
        }
        let projection = match (&c1[5.min(c1.len())..], &c2[5.min(c2.len())..]) {
            ("SIN", "SIN") => Projection::Sin,
            ("TAN", "TAN") => Projection::Tan,
            (a, b) => return Err(format!("projection {a}/{b} is not supported (SIN or TAN)")),
        };
        if let Some(frame) = h.str("RADESYS") {
            if frame != "ICRS" && frame != "FK5" {
                return Err(format!("RADESYS {frame} is not supported (ICRS or FK5)"));
            }
        }
        for key in ["PV2_1", "PV2_2"] {
            if h.f64(key).is_some_and(|v| v != 0.0) {
                return Err(format!("{key} (a slant SIN projection) is not supported"));
            }
        }
        let num = |k: &str| h.f64(k).ok_or_else(|| format!("no {k}"));
        let crval = [num("CRVAL1")?, num("CRVAL2")?];
        let crpix = [num("CRPIX1")?, num("CRPIX2")?];
        let cd_deg = if h.get("CD1_1").is_some() || h.get("CD2_2").is_some() {
            let cd = |k: &str| h.f64(k).unwrap_or(0.0);
            [[cd("CD1_1"), cd("CD1_2")], [cd("CD2_1"), cd("CD2_2")]]
        } else {
            let cdelt = [num("CDELT1")?, num("CDELT2")?];
            let pc = if let Some(rot) = h.f64("CROTA2").filter(|_| h.get("PC1_1").is_none()) {
                let (s, c) = rot.to_radians().sin_cos();
                // CROTA2 in the AIPS convention (Calabretta & Greisen 2002, eq. 189).
                [[c, -s * cdelt[1] / cdelt[0]], [s * cdelt[0] / cdelt[1], c]]
            } else {
                let pc = |k: &str, d: f64| h.f64(k).unwrap_or(d);
                [[pc("PC1_1", 1.0), pc("PC1_2", 0.0)], [pc("PC2_1", 0.0), pc("PC2_2", 1.0)]]
            };
            [[pc[0][0] * cdelt[0], pc[0][1] * cdelt[1]], [pc[1][0] * cdelt[0], pc[1][1] * cdelt[1]]]
        };
        let det = cd_deg[0][0] * cd_deg[1][1] - cd_deg[0][1] * cd_deg[1][0];
        if !det.is_finite() || det == 0.0 {
            return Err(format!("the pixel scale matrix {cd_deg:?} is singular"));
        }
        if !crval.iter().chain(&crpix).all(|v| v.is_finite()) {
            return Err("CRVAL or CRPIX is not finite".into());
        }
        Ok(CelestialWcs { projection, ref_ra_deg: crval[0], ref_dec_deg: crval[1], crpix, cd_deg })
    }
}

/// Direction cosines of (ra, dec) about the reference point (ra0, dec0): l east, m north.
pub fn direction_cosines(ra_deg: f64, dec_deg: f64, ra0_deg: f64, dec0_deg: f64) -> (f64, f64, f64) {
    let (sd, cd) = dec_deg.to_radians().sin_cos();
    let (sd0, cd0) = dec0_deg.to_radians().sin_cos();
    let (sda, cda) = (ra_deg - ra0_deg).to_radians().sin_cos();
    (cd * sda, sd * cd0 - cd * sd0 * cda, sd * sd0 + cd * cd0 * cda)
}

/// Angular separation of two positions, degrees (Vincenty's formula, exact at every distance).
pub fn separation_deg(ra1_deg: f64, dec1_deg: f64, ra2_deg: f64, dec2_deg: f64) -> f64 {
    let (s1, c1) = dec1_deg.to_radians().sin_cos();
    let (s2, c2) = dec2_deg.to_radians().sin_cos();
    let (sd, cd) = (ra2_deg - ra1_deg).to_radians().sin_cos();
    let num = ((c2 * sd).powi(2) + (c1 * s2 - s1 * c2 * cd).powi(2)).sqrt();
    num.atan2(s1 * s2 + c1 * c2 * cd).to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_world_round_trip_both_projections() {
        for p in [Projection::Sin, Projection::Tan] {
            let mut w = CelestialWcs::north_up(p, 350.0, 71.5, 3.0 / 3600.0, 4096, 4096);
            w.cd_deg[0][1] = 1e-5;
            for (x, y) in [(0.0, 0.0), (2048.0, 2048.0), (4095.0, 17.5), (100.25, 3999.0)] {
                let (ra, dec) = w.pixel_to_world(x, y).unwrap();
                let (x2, y2) = w.world_to_pixel(ra, dec).unwrap();
                assert!((x - x2).abs() < 1e-8 && (y - y2).abs() < 1e-8, "{p:?} {x},{y} → {x2},{y2}");
            }
        }
    }

    #[test]
    fn reference_pixel_is_reference_point_and_ra_grows_left() {
        let w = CelestialWcs::north_up(Projection::Sin, 10.0, -30.0, 1.0 / 3600.0, 100, 100);
        let (ra, dec) = w.pixel_to_world(50.0, 50.0).unwrap();
        assert!((ra - 10.0).abs() < 1e-12 && (dec + 30.0).abs() < 1e-12);
        let (ra_left, _) = w.pixel_to_world(40.0, 50.0).unwrap();
        assert!(ra_left > 10.0);
        // 10 pixels of 1″ at dec −30: RA offset 10″ / cos(dec).
        assert!(((ra_left - 10.0) * 3600.0 * 30f64.to_radians().cos() - 10.0).abs() < 1e-6);
    }

    #[test]
    fn separation_is_exact() {
        assert!((separation_deg(0.0, 0.0, 90.0, 0.0) - 90.0).abs() < 1e-12);
        assert!((separation_deg(10.0, 89.0, 190.0, 89.0) - 2.0).abs() < 1e-9);
        assert!((separation_deg(1.0, 2.0, 1.0, 2.0 + 1.0 / 3600.0) * 3600.0 - 1.0).abs() < 1e-9);
    }
}
