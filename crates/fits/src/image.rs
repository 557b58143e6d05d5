//! Images: one primary HDU whose first two axes are RA and Dec, read into f32 with its WCS,
//! restoring beam and frequency, and written back atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::FitsError;
use crate::header::{Card, Header, Value};
use crate::wcs::CelestialWcs;
use crate::RECORD;

/// A restoring beam: FWHM major and minor axes and position angle (east of north), degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beam {
    pub bmaj_deg: f64,
    pub bmin_deg: f64,
    pub bpa_deg: f64,
}

#[derive(Debug, Clone)]
pub struct Image {
    pub nx: usize,
    pub ny: usize,
    /// Row-major `[y][x]`, x along RA (axis 1); blanked pixels are NaN.
    pub data: Vec<f32>,
    pub wcs: CelestialWcs,
    pub beam: Option<Beam>,
    /// The frequency axis' value, when the image has one.
    pub freq_hz: Option<f64>,
    pub bunit: String,
    /// The primary header as read.
    pub header: Header,
}

impl Image {
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.nx + x]
    }

    /// `Err(Empty)` when no pixel holds a finite, non-zero value: nothing to measure.
    pub fn check_not_empty(&self, path: &Path) -> Result<(), FitsError> {
        if self.data.iter().any(|v| v.is_finite() && *v != 0.0) {
            Ok(())
        } else {
            Err(FitsError::Empty { path: path.to_path_buf(), reason: format!("all {}×{} pixels are blank or zero", self.nx, self.ny) })
        }
    }
}

/// Reads the primary image of a FITS file.
pub fn read_image(path: &Path) -> Result<Image, FitsError> {
    let io = |source| FitsError::Io { path: path.to_path_buf(), source };
    let bytes = std::fs::read(path).map_err(io)?;
    let (header, data_start) = parse_header(path, &bytes)?;
    let bad = |reason: String| FitsError::BadHeader { path: path.to_path_buf(), reason };
    if header.cards.first().map(|c| (c.key.as_str(), &c.value)) != Some(("SIMPLE", &Value::Logical(true))) {
        return Err(FitsError::NotFits { path: path.to_path_buf(), reason: "the first card is not SIMPLE = T".into() });
    }
    let bitpix = header.i64("BITPIX").ok_or_else(|| bad("no BITPIX".into()))?;
    let naxis = header.i64("NAXIS").ok_or_else(|| bad("no NAXIS".into()))?;
    if !(0..=999).contains(&naxis) {
        return Err(bad(format!("NAXIS = {naxis}")));
    }
    let mut dims = Vec::new();
    for i in 1..=naxis {
        let n = header.i64(&format!("NAXIS{i}")).ok_or_else(|| bad(format!("no NAXIS{i}")))?;
        if n < 0 {
            return Err(bad(format!("NAXIS{i} = {n}")));
        }
        dims.push(n as u64);
    }
    if dims.len() < 2 || dims[0] == 0 || dims[1] == 0 {
        return Err(FitsError::Empty { path: path.to_path_buf(), reason: format!("the primary HDU has no image (NAXIS = {naxis}, axes {dims:?})") });
    }
    for (i, &n) in dims.iter().enumerate().skip(2) {
        if n != 1 {
            let what = header.str(&format!("CTYPE{}", i + 1)).unwrap_or("?").to_string();
            return Err(FitsError::Unsupported { path: path.to_path_buf(), reason: format!("axis {} ({what}) has {n} planes; contimg reads single-plane images", i + 1) });
        }
    }
    let width = match bitpix {
        8 | 16 | 32 | 64 | -32 | -64 => bitpix.unsigned_abs() / 8,
        b => return Err(bad(format!("BITPIX = {b}"))),
    };
    let (nx, ny) = (dims[0] as usize, dims[1] as usize);
    let want = (nx as u64).checked_mul(ny as u64).and_then(|n| n.checked_mul(width)).ok_or_else(|| bad(format!("{nx}×{ny} pixels overflow")))?;
    let have = bytes.len() as u64 - data_start as u64;
    if have < want {
        return Err(FitsError::Truncated { path: path.to_path_buf(), have: bytes.len() as u64, want: data_start as u64 + want });
    }
    let wcs = CelestialWcs::from_header(&header).map_err(|reason| FitsError::NoWcs { path: path.to_path_buf(), reason })?;
    let data = decode(&bytes[data_start..data_start + want as usize], bitpix, &header);
    Ok(Image {
        nx,
        ny,
        data,
        wcs,
        beam: beam_of(&header),
        freq_hz: freq_of(&header, dims.len()),
        bunit: header.str("BUNIT").unwrap_or("").to_string(),
        header,
    })
}

/// The header cards up to END, and where the data begin.
pub(crate) fn parse_header(path: &Path, bytes: &[u8]) -> Result<(Header, usize), FitsError> {
    let mut header = Header::default();
    for (i, record) in bytes.chunks(80).enumerate() {
        if record.len() < 80 {
            break;
        }
        let card = Card::parse(record).ok_or_else(|| FitsError::NotFits { path: path.to_path_buf(), reason: format!("header card {} is not ASCII", i + 1) })?;
        if card.key == "END" {
            let end = (i + 1) * 80;
            return Ok((header, end.div_ceil(RECORD) * RECORD));
        }
        header.cards.push(card);
    }
    let reason = if bytes.len() < 80 { "shorter than one header card".to_string() } else { "no END card".to_string() };
    Err(FitsError::NotFits { path: path.to_path_buf(), reason })
}

/// Big-endian pixels to f32, applying BSCALE/BZERO and BLANK (integer images).
fn decode(raw: &[u8], bitpix: i64, h: &Header) -> Vec<f32> {
    let scale = h.f64("BSCALE").unwrap_or(1.0);
    let zero = h.f64("BZERO").unwrap_or(0.0);
    let blank = h.i64("BLANK");
    let int = |v: i64| if Some(v) == blank { f32::NAN } else { (zero + scale * v as f64) as f32 };
    let float = |v: f64| (zero + scale * v) as f32;
    match bitpix {
        -32 => raw.chunks_exact(4).map(|b| float(f32::from_be_bytes(b.try_into().unwrap()) as f64)).collect(),
        -64 => raw.chunks_exact(8).map(|b| float(f64::from_be_bytes(b.try_into().unwrap()))).collect(),
        8 => raw.iter().map(|&b| int(b as i64)).collect(),
        16 => raw.chunks_exact(2).map(|b| int(i16::from_be_bytes(b.try_into().unwrap()) as i64)).collect(),
        32 => raw.chunks_exact(4).map(|b| int(i32::from_be_bytes(b.try_into().unwrap()) as i64)).collect(),
        _ => raw.chunks_exact(8).map(|b| int(i64::from_be_bytes(b.try_into().unwrap()))).collect(),
    }
}

fn beam_of(h: &Header) -> Option<Beam> {
    let (bmaj, bmin) = (h.f64("BMAJ")?, h.f64("BMIN")?);
    (bmaj > 0.0 && bmin > 0.0).then(|| Beam { bmaj_deg: bmaj, bmin_deg: bmin, bpa_deg: h.f64("BPA").unwrap_or(0.0) })
}

fn freq_of(h: &Header, naxis: usize) -> Option<f64> {
    (3..=naxis.max(4)).find_map(|i| h.str(&format!("CTYPE{i}")).filter(|t| t.starts_with("FREQ")).and_then(|_| h.f64(&format!("CRVAL{i}"))))
}

/// Writes a 2-D float32 image atomically: `<path>.partial`, fsync, rename, fsync the directory.
/// `cards` follow the structural and WCS cards (BUNIT, BMAJ, HISTORY, …).
pub fn write_image(path: &Path, nx: usize, ny: usize, data: &[f32], wcs: &CelestialWcs, cards: &Header) -> Result<(), FitsError> {
    assert_eq!(data.len(), nx * ny, "image data length");
    let mut h = Header::default();
    h.push("SIMPLE", Value::Logical(true), "conforms to FITS standard");
    h.push("BITPIX", Value::Int(-32), "IEEE single precision");
    h.push("NAXIS", Value::Int(2), "");
    h.push("NAXIS1", Value::Int(nx as i64), "RA");
    h.push("NAXIS2", Value::Int(ny as i64), "Dec");
    h.push("EXTEND", Value::Logical(true), "");
    wcs.to_header(&mut h);
    h.cards.extend(cards.cards.iter().cloned());
    let mut bytes = h.to_bytes();
    bytes.reserve(data.len() * 4 + RECORD);
    for v in data {
        bytes.extend_from_slice(&v.to_be_bytes());
    }
    bytes.resize(bytes.len().div_ceil(RECORD) * RECORD, 0);
    write_atomically(path, &bytes)
}

/// Adds BMAJ, BMIN and BPA for a restoring beam.
pub fn beam_cards(h: &mut Header, b: Beam) {
    h.set("BMAJ", Value::Float(b.bmaj_deg), "restoring beam FWHM major axis (deg)");
    h.set("BMIN", Value::Float(b.bmin_deg), "restoring beam FWHM minor axis (deg)");
    h.set("BPA", Value::Float(b.bpa_deg), "restoring beam position angle (deg)");
}

/// The bytes under a temporary name, fsynced, renamed into place, and the directory fsynced, so
/// that a crash leaves either no file or the whole one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FitsError> {
    let tmp = partial_name(path);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| FitsError::Io { path: p, source }
    };
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn partial_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wcs::Projection;

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.fits");
        let wcs = CelestialWcs::north_up(Projection::Tan, 123.4, 56.7, 2.0 / 3600.0, 30, 20);
        let data: Vec<f32> = (0..600).map(|i| i as f32 * 0.5 - 7.0).collect();
        let mut cards = Header::default();
        cards.push("BUNIT", Value::Str("Jy/beam".into()), "");
        beam_cards(&mut cards, Beam { bmaj_deg: 0.01, bmin_deg: 0.005, bpa_deg: 30.0 });
        write_image(&path, 30, 20, &data, &wcs, &cards).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len() % RECORD as u64, 0);
        let img = read_image(&path).unwrap();
        assert_eq!((img.nx, img.ny), (30, 20));
        assert_eq!(img.data, data);
        assert_eq!(img.wcs, wcs);
        assert_eq!(img.bunit, "Jy/beam");
        assert_eq!(img.beam.unwrap().bpa_deg, 30.0);
        assert!(!dir.path().join("a.fits.partial").exists());
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.fits");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(read_image(&p).unwrap_err().code(), "FITS_NOT_FITS");
        let wcs = CelestialWcs::north_up(Projection::Sin, 0.0, 0.0, 1.0, 4, 4);
        write_image(&p, 4, 4, &[0.0; 16], &wcs, &Header::default()).unwrap();
        let img = read_image(&p).unwrap();
        assert_eq!(img.check_not_empty(&p).unwrap_err().code(), "FITS_EMPTY_IMAGE");
        let full = std::fs::read(&p).unwrap();
        std::fs::write(&p, &full[..RECORD + 10]).unwrap();
        assert_eq!(read_image(&p).unwrap_err().code(), "FITS_TRUNCATED");
        let text = String::from_utf8(full[..RECORD].to_vec()).unwrap().replace("RA---SIN", "GLON-SIN");
        let mut f = text.into_bytes();
        f.extend_from_slice(&full[RECORD..]);
        std::fs::write(&p, &f).unwrap();
        let e = read_image(&p).unwrap_err();
        assert_eq!(e.code(), "FITS_NO_WCS");
        assert!(e.to_string().contains("x.fits"), "{e}");
    }
}
