//! Minimal FITS image writer: one primary HDU, float32, with a celestial WCS.
//!
//! FITS is 2880-byte records of 80-character header cards followed by big-endian data. The
//! axes are RA---SIN, DEC--SIN, FREQ and STOKES (I), as radio astronomers and astropy expect.

use std::io::Write;
use std::path::Path;

/// The world coordinate system of an image.
#[derive(Debug, Clone)]
pub struct Wcs {
    /// Phase centre (deg) and the 1-based pixel it falls on.
    pub ra_deg: f64,
    pub dec_deg: f64,
    pub crpix_x: f64,
    pub crpix_y: f64,
    /// Pixel size (deg); RA increases to the left, so CDELT1 is negative.
    pub cell_deg: f64,
    pub freq_hz: f64,
    pub bandwidth_hz: f64,
}

/// A restoring beam: FWHM major/minor axes (deg) and position angle (deg, east of north).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Beam {
    pub bmaj_deg: f64,
    pub bmin_deg: f64,
    pub bpa_deg: f64,
}

pub struct FitsImage<'a> {
    /// Row-major `[y][x]` (y = Dec axis, x = RA axis), `nx * ny` values.
    pub data: &'a [f32],
    pub nx: usize,
    pub ny: usize,
    pub wcs: &'a Wcs,
    pub beam: Option<Beam>,
    pub bunit: &'a str,
    pub object: &'a str,
    pub telescope: &'a str,
    /// Array reference position (ITRF = FITS OBSGEO-X/Y/Z, m), when known.
    pub obsgeo_m: Option<[f64; 3]>,
    pub date_obs: &'a str,
    pub history: &'a [String],
    /// Extra cards as (keyword, value already formatted as FITS, comment).
    pub extra: &'a [(String, String, String)],
}

fn card(key: &str, value: &str, comment: &str) -> String {
    let mut c = format!("{key:<8}= {value:>20}");
    if !comment.is_empty() {
        c.push_str(" / ");
        c.push_str(comment);
    }
    let mut c: String = c.chars().take(80).collect();
    while c.len() < 80 {
        c.push(' ');
    }
    c
}

fn string_value(s: &str) -> String {
    format!("'{:<8}'", s.replace('\'', "''"))
}

fn float(v: f64) -> String {
    format!("{v:.15E}")
}

/// Writes the image to `path` atomically (a temporary name, then a rename).
pub fn write(path: &Path, img: &FitsImage) -> std::io::Result<()> {
    let tmp = path.with_extension("fits.partial");
    write_to(&tmp, img)?;
    std::fs::rename(&tmp, path)
}

/// Like [`write`], straight to `path` (flushed to disk); the caller renames it into place.
pub fn write_to(path: &Path, img: &FitsImage) -> std::io::Result<()> {
    assert_eq!(img.data.len(), img.nx * img.ny, "FITS data length");
    let w = img.wcs;
    let mut cards = vec![
        card("SIMPLE", "T", "conforms to FITS standard"),
        card("BITPIX", "-32", "IEEE single precision"),
        card("NAXIS", "4", ""),
        card("NAXIS1", &img.nx.to_string(), "RA"),
        card("NAXIS2", &img.ny.to_string(), "Dec"),
        card("NAXIS3", "1", "frequency"),
        card("NAXIS4", "1", "Stokes"),
        card("EXTEND", "T", ""),
        card("BSCALE", "1.0", ""),
        card("BZERO", "0.0", ""),
        card("BUNIT", &string_value(img.bunit), ""),
        card("BTYPE", &string_value("Intensity"), ""),
        card("OBJECT", &string_value(img.object), ""),
        card("TELESCOP", &string_value(img.telescope), ""),
        card("INSTRUME", &string_value("DSA-110"), ""),
        card("DATE-OBS", &string_value(img.date_obs), ""),
        card("EQUINOX", "2000.0", ""),
        card("RADESYS", &string_value("ICRS"), ""),
        card("CTYPE1", &string_value("RA---SIN"), ""),
        card("CRVAL1", &float(w.ra_deg), "deg"),
        card("CDELT1", &float(-w.cell_deg), "deg"),
        card("CRPIX1", &float(w.crpix_x), ""),
        card("CUNIT1", &string_value("deg"), ""),
        card("CTYPE2", &string_value("DEC--SIN"), ""),
        card("CRVAL2", &float(w.dec_deg), "deg"),
        card("CDELT2", &float(w.cell_deg), "deg"),
        card("CRPIX2", &float(w.crpix_y), ""),
        card("CUNIT2", &string_value("deg"), ""),
        card("CTYPE3", &string_value("FREQ"), ""),
        card("CRVAL3", &float(w.freq_hz), "Hz"),
        card("CDELT3", &float(w.bandwidth_hz), "Hz"),
        card("CRPIX3", "1.0", ""),
        card("CUNIT3", &string_value("Hz"), ""),
        card("CTYPE4", &string_value("STOKES"), ""),
        card("CRVAL4", "1.0", "I"),
        card("CDELT4", "1.0", ""),
        card("CRPIX4", "1.0", ""),
        card("SPECSYS", &string_value("TOPOCENT"), ""),
    ];
    if let Some(g) = img.obsgeo_m {
        // Geocentric ITRF metres (FITS WCS paper III), which astropy reads as the observer.
        for (k, v) in ["OBSGEO-X", "OBSGEO-Y", "OBSGEO-Z"].iter().zip(g) {
            cards.push(card(k, &float(v), "array reference position, ITRF (m)"));
        }
    }
    if let Some(b) = img.beam {
        cards.push(card("BMAJ", &float(b.bmaj_deg), "restoring beam FWHM major axis (deg)"));
        cards.push(card("BMIN", &float(b.bmin_deg), "restoring beam FWHM minor axis (deg)"));
        cards.push(card("BPA", &float(b.bpa_deg), "restoring beam position angle (deg)"));
    }
    for (k, v, c) in img.extra {
        cards.push(card(k, v, c));
    }
    for h in img.history {
        // HISTORY cards hold 72 characters of free text each.
        let chars: Vec<char> = h.chars().collect();
        for piece in chars.chunks(72) {
            let text: String = piece.iter().collect();
            let mut c = format!("HISTORY {text}");
            while c.len() < 80 {
                c.push(' ');
            }
            cards.push(c);
        }
    }
    let mut end = "END".to_string();
    while end.len() < 80 {
        end.push(' ');
    }
    cards.push(end);
    let mut header: Vec<u8> = cards.concat().into_bytes();
    header.resize(header.len().div_ceil(2880) * 2880, b' ');
    let mut data: Vec<u8> = Vec::with_capacity(img.data.len() * 4);
    for v in img.data {
        data.extend_from_slice(&v.to_be_bytes());
    }
    data.resize(data.len().div_ceil(2880) * 2880, 0);

    let mut f = std::fs::File::create(path)?;
    f.write_all(&header)?;
    f.write_all(&data)?;
    f.sync_all()
}
