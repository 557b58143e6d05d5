//! A PNG quicklook: the image in a perceptual colour map, a colour bar with its scale in
//! Jy/beam, and an RA/Dec coordinate grid with labels. Drawn with a built-in 5×7 pixel font,
//! so it needs nothing beyond the `png` encoder.

use std::path::Path;

use crate::fits::Wcs;

const FONT_W: usize = 5;

/// 5×7 glyphs, one byte per row, low 5 bits, MSB on the left.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '+' => [0, 0x04, 0x04, 0x1F, 0x04, 0x04, 0],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '/' => [0x01, 0x01, 0x02, 0x04, 0x08, 0x10, 0x10],
        '\'' => [0x04, 0x04, 0x08, 0, 0, 0, 0],
        '"' => [0x0A, 0x0A, 0x14, 0, 0, 0, 0],
        'h' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11],
        'm' => [0, 0, 0x1A, 0x15, 0x15, 0x11, 0x11],
        's' => [0, 0, 0x0E, 0x10, 0x0E, 0x01, 0x1E],
        'd' => [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F],
        'e' => [0, 0, 0x0E, 0x11, 0x1F, 0x10, 0x0E],
        'a' => [0, 0, 0x0E, 0x01, 0x0F, 0x11, 0x0F],
        'b' => [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E],
        'c' => [0, 0, 0x0E, 0x10, 0x10, 0x11, 0x0E],
        'y' => [0, 0, 0x11, 0x11, 0x0F, 0x01, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'z' => [0, 0, 0x1F, 0x02, 0x04, 0x08, 0x1F],
        'o' => [0, 0, 0x0E, 0x11, 0x11, 0x11, 0x0E],
        'n' => [0, 0, 0x16, 0x19, 0x11, 0x11, 0x11],
        't' => [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06],
        'r' => [0, 0, 0x16, 0x19, 0x10, 0x10, 0x10],
        'i' => [0x04, 0, 0x0C, 0x04, 0x04, 0x04, 0x0E],
        'x' => [0, 0, 0x11, 0x0A, 0x04, 0x0A, 0x11],
        'p' => [0, 0, 0x1E, 0x11, 0x1E, 0x10, 0x10],
        'l' => [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'g' => [0, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E],
        'k' => [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12],
        'u' => [0, 0, 0x11, 0x11, 0x11, 0x13, 0x0D],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'N' => [0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        _ => [0; 7],
    }
}

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<[u8; 3]>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Canvas { w, h, px: vec![[255, 255, 255]; w * h] }
    }
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            self.px[y as usize * self.w + x as usize] = c;
        }
    }
    fn text(&mut self, x: i64, y: i64, s: &str, c: [u8; 3]) {
        for (i, ch) in s.chars().enumerate() {
            let g = glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..FONT_W {
                    if bits & (0x10 >> col) != 0 {
                        self.set(x + (i * (FONT_W + 1) + col) as i64, y + row as i64, c);
                    }
                }
            }
        }
    }
    fn text_width(s: &str) -> i64 {
        (s.chars().count() * (FONT_W + 1)) as i64
    }
}

/// The "inferno"-like perceptual colour map (dark to bright), interpolated from 9 stops.
fn colour(t: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 9] = [
        [0.0, 0.0, 4.0],
        [31.0, 12.0, 72.0],
        [85.0, 15.0, 109.0],
        [136.0, 34.0, 106.0],
        [186.0, 54.0, 85.0],
        [227.0, 89.0, 51.0],
        [249.0, 140.0, 10.0],
        [249.0, 201.0, 50.0],
        [252.0, 255.0, 164.0],
    ];
    let t = t.clamp(0.0, 1.0) * 8.0;
    let i = (t.floor() as usize).min(7);
    let f = t - i as f32;
    let a = STOPS[i];
    let b = STOPS[i + 1];
    [(a[0] + f * (b[0] - a[0])) as u8, (a[1] + f * (b[1] - a[1])) as u8, (a[2] + f * (b[2] - a[2])) as u8]
}

/// Pixel (0-based, x = RA axis, y = Dec axis) → (RA, Dec) in radians, inverse SIN projection.
pub fn pixel_to_sky(wcs: &Wcs, x: f64, y: f64) -> Option<(f64, f64)> {
    let l = -(x + 1.0 - wcs.crpix_x) * wcs.cell_deg.to_radians();
    let m = (y + 1.0 - wcs.crpix_y) * wcs.cell_deg.to_radians();
    let r2 = l * l + m * m;
    if r2 >= 1.0 {
        return None;
    }
    let n = (1.0 - r2).sqrt();
    let (ra0, dec0) = (wcs.ra_deg.to_radians(), wcs.dec_deg.to_radians());
    let dec = (m * dec0.cos() + n * dec0.sin()).asin();
    let ra = ra0 + l.atan2(n * dec0.cos() - m * dec0.sin());
    Some((ra.rem_euclid(std::f64::consts::TAU), dec))
}

fn format_ra(rad: f64, step_s: f64) -> String {
    let s = (rad.to_degrees().rem_euclid(360.0) / 15.0 * 3600.0 / step_s).round() * step_s;
    let h = (s / 3600.0).floor();
    let m = ((s - h * 3600.0) / 60.0).floor();
    let sec = s - h * 3600.0 - m * 60.0;
    if step_s >= 60.0 {
        format!("{:02}h{:02}m", h as i64 % 24, m as i64)
    } else {
        format!("{:02}h{:02}m{:02}s", h as i64 % 24, m as i64, sec.round() as i64)
    }
}

fn format_dec(rad: f64, step_arcsec: f64) -> String {
    let a = (rad.to_degrees() * 3600.0 / step_arcsec).round() * step_arcsec;
    let sign = if a < 0.0 { '-' } else { '+' };
    let a = a.abs();
    let d = (a / 3600.0).floor();
    let m = ((a - d * 3600.0) / 60.0).round();
    format!("{sign}{:02}d{:02}'", d as i64, m as i64)
}

/// A "nice" step (1, 2, 5 × 10^k) near `raw`, from the given ladder.
fn nice(raw: f64, ladder: &[f64]) -> f64 {
    *ladder.iter().find(|&&s| s >= raw).unwrap_or(ladder.last().expect("ladder"))
}

/// What the quicklook needs of an image's coordinates: the sky position of a pixel for the
/// RA/Dec grid, and the scale and declination that choose its spacing. The imager's SIN [`Wcs`]
/// is one; a mosaic's TAN grid (crates/mosaic) is another.
pub trait SkyGrid {
    /// (RA, Dec) in radians of the 0-based pixel (x, y), or `None` off the projection.
    fn sky_rad(&self, x: f64, y: f64) -> Option<(f64, f64)>;
    /// Pixel size, degrees.
    fn cell_deg(&self) -> f64;
    /// Declination of the image centre, degrees (sets the RA grid spacing).
    fn dec_deg(&self) -> f64;
}

impl SkyGrid for Wcs {
    fn sky_rad(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        pixel_to_sky(self, x, y)
    }
    fn cell_deg(&self) -> f64 {
        self.cell_deg
    }
    fn dec_deg(&self) -> f64 {
        self.dec_deg
    }
}

/// Renders `image` (`[y][x]`, n × n, y = Dec increasing upward) to `path` (atomically).
pub fn write(path: &Path, image: &[f32], n: usize, wcs: &Wcs, title: &str, unit: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("png.partial");
    write_to(&tmp, image, n, wcs, title, unit)?;
    std::fs::rename(&tmp, path)
}

/// Like [`write`], straight to `path` (flushed to disk); the caller renames it into place.
pub fn write_to(path: &Path, image: &[f32], n: usize, wcs: &Wcs, title: &str, unit: &str) -> std::io::Result<()> {
    write_grid_to(path, image, n, n, wcs, title, unit)
}

/// Like [`write_to`] for an `nx` × `ny` image on any [`SkyGrid`]; blank (NaN) pixels are white.
pub fn write_grid_to(path: &Path, image: &[f32], nx: usize, ny: usize, wcs: &dyn SkyGrid, title: &str, unit: &str) -> std::io::Result<()> {
    // Display at most 768 pixels along the longer side: block-average larger images, over the
    // finite pixels of each block.
    let f = nx.max(ny).div_ceil(768).max(1);
    let (dx, dy) = ((nx / f).max(1), (ny / f).max(1));
    let mut disp = vec![f32::NAN; dx * dy];
    for y in 0..dy {
        for x in 0..dx {
            let (mut s, mut k) = (0.0, 0);
            for yy in (y * f)..((y + 1) * f).min(ny) {
                for xx in (x * f)..((x + 1) * f).min(nx) {
                    let v = image[yy * nx + xx];
                    if v.is_finite() {
                        s += v;
                        k += 1;
                    }
                }
            }
            if k > 0 {
                disp[y * dx + x] = s / k as f32;
            }
        }
    }
    // Scale: from the 1st percentile to the maximum, with a square-root stretch so faint
    // sources show next to bright ones.
    let mut sorted: Vec<f32> = disp.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let lo = sorted.get(sorted.len() / 100).copied().unwrap_or(0.0);
    let hi = sorted.last().copied().unwrap_or(1.0).max(lo + 1e-12);
    let stretch = |v: f32| ((v - lo) / (hi - lo)).clamp(0.0, 1.0).sqrt();

    let (left, right, top, bottom) = (70usize, 110usize, 28usize, 40usize);
    let (w, h) = (left + dx + right, top + dy + bottom);
    let mut c = Canvas::new(w, h);
    for y in 0..dy {
        for x in 0..dx {
            // FITS rows go up in Dec; PNG rows go down.
            let v = disp[(dy - 1 - y) * dx + x];
            if v.is_finite() {
                c.set((left + x) as i64, (top + y) as i64, colour(stretch(v)));
            }
        }
    }
    // Frame.
    for x in left..left + dx {
        c.set(x as i64, top as i64 - 1, [0, 0, 0]);
        c.set(x as i64, (top + dy) as i64, [0, 0, 0]);
    }
    for y in top..top + dy {
        c.set(left as i64 - 1, y as i64, [0, 0, 0]);
        c.set((left + dx) as i64, y as i64, [0, 0, 0]);
    }
    c.text(left as i64, 8, title, [0, 0, 0]);

    // Coordinate grid: lines of constant RA and Dec, labelled at the bottom and left edges.
    let sky = |x: f64, y: f64| wcs.sky_rad(x * f as f64, (dy as f64 - 1.0 - y) * f as f64);
    let fov_deg = nx.min(ny) as f64 * wcs.cell_deg();
    let dec_step = nice(fov_deg * 3600.0 / 4.0, &[1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 18000.0]);
    let ra_step = nice(fov_deg / wcs.dec_deg().to_radians().cos().max(0.05) * 240.0 / 4.0, &[1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0]);
    let grey = [200, 200, 200];
    let mut last_label_x = -1000i64;
    let mut last_label_y = -1000i64;
    let mut prev_row: Vec<Option<(f64, f64)>> = (0..dx).map(|x| sky(x as f64, 0.0)).collect();
    for y in 0..dy {
        let row: Vec<Option<(f64, f64)>> = (0..dx).map(|x| sky(x as f64, y as f64)).collect();
        for x in 0..dx {
            let (Some((ra, dec)), Some((ra_up, dec_up))) = (row[x], prev_row[x]) else { continue };
            let cell_ra = |r: f64| (r.to_degrees().rem_euclid(360.0) * 240.0 / ra_step).floor();
            let cell_dec = |d: f64| (d.to_degrees() * 3600.0 / dec_step).floor();
            let right = row.get(x + 1).copied().flatten();
            let ra_cross = cell_ra(ra) != cell_ra(ra_up) || right.is_some_and(|(r, _)| cell_ra(r) != cell_ra(ra));
            let dec_cross = cell_dec(dec) != cell_dec(dec_up) || right.is_some_and(|(_, dd)| cell_dec(dd) != cell_dec(dec));
            if ra_cross || dec_cross {
                c.set((left + x) as i64, (top + y) as i64, grey);
            }
            if y == dy - 1 && right.is_some_and(|(r, _)| cell_ra(r) != cell_ra(ra)) && (x as i64 - last_label_x) > 60 {
                let s = format_ra(ra, ra_step);
                c.text((left + x) as i64 - Canvas::text_width(&s) / 2, (top + dy + 6) as i64, &s, [0, 0, 0]);
                last_label_x = x as i64;
            }
            if x == 0 && y > 0 && cell_dec(dec) != cell_dec(dec_up) && (y as i64 - last_label_y) > 20 {
                let s = format_dec(dec, dec_step);
                c.text(4, (top + y) as i64 - 3, &s, [0, 0, 0]);
                last_label_y = y as i64;
            }
        }
        prev_row = row;
    }
    c.text((left + dx / 2) as i64 - 6, (top + dy + 22) as i64, "RA", [0, 0, 0]);
    c.text(4, (top + dy / 2) as i64 + 12, "Dec", [0, 0, 0]);

    // Colour bar with five labelled ticks.
    let bx = left + dx + 14;
    for y in 0..dy {
        let t = 1.0 - y as f32 / (dy - 1).max(1) as f32;
        for x in bx..bx + 16 {
            c.set(x as i64, (top + y) as i64, colour(t));
        }
    }
    for k in 0..5 {
        let t = k as f32 / 4.0;
        let v = lo + (hi - lo) * t * t; // inverse of the square-root stretch
        let y = top as i64 + ((1.0 - t) * (dy - 1) as f32) as i64;
        for x in bx + 16..bx + 20 {
            c.set(x as i64, y, [0, 0, 0]);
        }
        c.text((bx + 22) as i64, y - 3, &format!("{v:.2e}"), [0, 0, 0]);
    }
    c.text(bx as i64, top as i64 - 12, unit, [0, 0, 0]);

    let file = std::fs::File::create(path)?;
    let mut buf = std::io::BufWriter::new(file);
    {
        let mut enc = png::Encoder::new(&mut buf, w as u32, h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(std::io::Error::other)?;
        let bytes: Vec<u8> = c.px.iter().flat_map(|p| p.iter().copied()).collect();
        writer.write_image_data(&bytes).map_err(std::io::Error::other)?;
    }
    buf.into_inner().map_err(|e| e.into_error())?.sync_all()
}
