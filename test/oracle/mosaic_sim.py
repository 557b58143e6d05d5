"""Simulated overlapping images for `contimg mosaic`: N SIN images shaped like our imager's
(crates/imaging/src/fits.rs: RA---SIN, DEC--SIN, FREQ, STOKES; BMAJ/BMIN/BPA), pointing
centres along RA like consecutive DSA-110 drift-scan fields, each with its Gaussian primary
beam B and written as `<prefix>.image.fits` (flat noise: B · sky ⊛ beam + noise) and
`<prefix>.pb.fits`. The noise is white Gaussian convolved with the restoring beam (as an
interferometric image's is), scaled to a known rms σᵢ per image. Writes truth.json: the sources
(RA, Dec, flux in Jy, peak = flux for a point source in Jy/beam), σᵢ, the pointings.

The restoring beam is round, 8 pixels FWHM, unless `--beam-px MAJ MIN` (FWHM in pixels, major
axis north–south, BPA 0): `--beam-px 4.17 2.08` is our 25″ × 12.5″ beam on 6″ cells,
undersampled on the minor axis.

usage: mosaic_sim.py OUTDIR [--n 5] [--size 384] [--dec 55] [--seed 1] [--sources 40] [--beam-px MAJ MIN]
"""
import argparse
import json
import os

import numpy as np
from astropy.io import fits

PB_FWHM_DEG = 3.1  # 1.2 λ/D for the 4.65 m dishes at 1.4 GHz
FREQ_HZ = 1.4e9
BEAM_PX = 8.0  # restoring beam FWHM in pixels
FWHM_TO_SIGMA = 1.0 / np.sqrt(8.0 * np.log(2.0))


def header(ra, dec, n, cell_deg, beam_px):
    h = fits.Header()
    h["SIMPLE"] = True
    h["BITPIX"] = -32
    h["NAXIS"] = 4
    for i, v in enumerate([n, n, 1, 1], start=1):
        h[f"NAXIS{i}"] = v
    h["BUNIT"] = "Jy/beam"
    h["BTYPE"] = "Intensity"
    h["TELESCOP"] = "DSA-110"
    h["EQUINOX"] = 2000.0
    h["RADESYS"] = "ICRS"
    for i, (ct, cv, cd, cp, cu) in enumerate(
        [("RA---SIN", ra, -cell_deg, n / 2 + 1, "deg"), ("DEC--SIN", dec, cell_deg, n / 2 + 1, "deg"),
         ("FREQ", FREQ_HZ, 1.875e8, 1.0, "Hz"), ("STOKES", 1.0, 1.0, 1.0, "")], start=1):
        h[f"CTYPE{i}"], h[f"CRVAL{i}"], h[f"CDELT{i}"], h[f"CRPIX{i}"] = ct, cv, cd, cp
        if cu:
            h[f"CUNIT{i}"] = cu
    h["BMAJ"] = beam_px[0] * cell_deg
    h["BMIN"] = beam_px[1] * cell_deg
    h["BPA"] = 0.0
    return h


def lm_of_pixels(n, cell_deg):
    """Direction cosines of every pixel about the reference point (SIN: x, y = l, m)."""
    idx = np.arange(n) - n / 2  # 0-based pixel minus (CRPIX - 1)
    l = -idx * np.radians(cell_deg)
    m = idx * np.radians(cell_deg)
    return l[None, :], m[:, None]


def lm_of(ra, dec, ra0, dec0):
    ra, dec, ra0, dec0 = map(np.radians, (ra, dec, ra0, dec0))
    l = np.cos(dec) * np.sin(ra - ra0)
    m = np.sin(dec) * np.cos(dec0) - np.cos(dec) * np.sin(dec0) * np.cos(ra - ra0)
    return l, m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--dec", type=float, default=55.0)
    ap.add_argument("--ra", type=float, default=150.0)
    ap.add_argument("--step-ra-deg", type=float, default=1.25, help="RA between fields (5 min of drift)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sources", type=int, default=24)
    ap.add_argument("--sigma-mjy", type=float, default=1.0)
    ap.add_argument("--beam-px", type=float, nargs=2, default=[BEAM_PX, BEAM_PX], metavar=("MAJ", "MIN"), help="restoring beam FWHM in pixels (major N–S, minor E–W)")
    a = ap.parse_args()
    maj_px, min_px = a.beam_px
    rng = np.random.default_rng(a.seed)
    n = a.size
    # The beam fills the image: B = 0.1 near the image edge, as a 3.1° beam does in our images.
    cell_deg = PB_FWHM_DEG / (0.55 * n)
    os.makedirs(a.outdir, exist_ok=True)

    ras = a.ra + a.step_ra_deg * (np.arange(a.n) - (a.n - 1) / 2)
    sigmas = a.sigma_mjy * 1e-3 * np.array([1.0, 1.3, 0.8, 1.6, 1.1, 0.9, 1.2, 1.4, 0.7, 1.0])[np.arange(a.n) % 10]

    # Bright sources where the fields' combined beam is strong (√ΣB² ≥ 0.5: mosaic noise ≤ 2σ),
    # a few faint ones anywhere covered, so that "above 10σ" selects.
    def combined_beam(ra, dec):
        s = 0.0
        for r in ras:
            l, m = lm_of(ra, dec, r, a.dec)
            th = np.degrees(np.arcsin(np.minimum(1.0, np.hypot(l, m))))
            s = s + np.exp(-4 * np.log(2) * (th / PB_FWHM_DEG) ** 2) ** 2
        return np.sqrt(s)

    half_ra = (ras[-1] - ras[0]) / 2 + 0.45 * n * cell_deg / np.cos(np.radians(a.dec))
    half_dec = 0.45 * n * cell_deg
    sources = []
    for _ in range(200 * a.sources):
        if len(sources) == a.sources:
            break
        ra = a.ra + rng.uniform(-half_ra, half_ra)
        dec = a.dec + rng.uniform(-half_dec, half_dec)
        faint = len(sources) % 8 == 7
        if combined_beam(ra, dec) < (0.2 if faint else 0.5):
            continue
        # Well apart, so that each can be measured on its own.
        if any(np.hypot((ra - s["ra_deg"]) * np.cos(np.radians(dec)), dec - s["dec_deg"]) < 4 * max(maj_px, 4.0) * cell_deg for s in sources):
            continue
        flux = float(rng.uniform(2e-3, 6e-3)) if faint else float(10 ** rng.uniform(np.log10(0.15), np.log10(2.0)))
        sources.append({"ra_deg": float(ra), "dec_deg": float(dec), "flux_jy": flux})

    l_px, m_px = lm_of_pixels(n, cell_deg)
    theta_deg = np.degrees(np.arcsin(np.minimum(1.0, np.sqrt(l_px**2 + m_px**2))))
    pb = np.exp(-4 * np.log(2) * (theta_deg / PB_FWHM_DEG) ** 2).astype(np.float32)
    sig_x, sig_y = min_px * FWHM_TO_SIGMA, maj_px * FWHM_TO_SIGMA
    k = np.fft.fftfreq(n)
    kernel_ft = np.exp(-2 * np.pi**2 * ((sig_x * k[None, :]) ** 2 + (sig_y * k[:, None]) ** 2))

    fields = []
    for i, ra0 in enumerate(ras):
        sky = np.zeros((n, n))
        for s in sources:
            l, m = lm_of(s["ra_deg"], s["dec_deg"], ra0, a.dec)
            x, y = -np.degrees(l) / cell_deg + n / 2, np.degrees(m) / cell_deg + n / 2
            x0, y0 = int(round(x)), int(round(y))
            r = int(5 * max(maj_px, min_px))
            if x0 < -r or y0 < -r or x0 >= n + r or y0 >= n + r:
                continue
            ys, xs = slice(max(0, y0 - r), min(n, y0 + r + 1)), slice(max(0, x0 - r), min(n, x0 + r + 1))
            yy, xx = np.mgrid[ys, xs]
            sky[ys, xs] += s["flux_jy"] * np.exp(-((xx - x) ** 2) / (2 * sig_x**2) - ((yy - y) ** 2) / (2 * sig_y**2))
        white = rng.standard_normal((n, n))
        noise = np.fft.ifft2(np.fft.fft2(white) * kernel_ft).real
        noise *= sigmas[i] / noise.std()
        image = (pb * sky + noise).astype(np.float32)
        prefix = os.path.join(a.outdir, f"field{i:02d}")
        h = header(float(ra0), a.dec, n, cell_deg, a.beam_px)
        fits.PrimaryHDU(image[None, None], h).writeto(prefix + ".image.fits", overwrite=True)
        hb = h.copy()
        hb["BUNIT"] = ""
        hb["BTYPE"] = "Beam"
        fits.PrimaryHDU(pb[None, None], hb).writeto(prefix + ".pb.fits", overwrite=True)
        fields.append({"image": prefix + ".image.fits", "pb": prefix + ".pb.fits", "ra_deg": float(ra0), "dec_deg": a.dec, "sigma_jy": float(sigmas[i])})

    truth = {"cell_deg": cell_deg, "beam_fwhm_deg": float(np.sqrt(maj_px * min_px)) * cell_deg, "beam_px": [maj_px, min_px], "pb_fwhm_deg": PB_FWHM_DEG, "fields": fields, "sources": sources}
    with open(os.path.join(a.outdir, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
    print(json.dumps({"images": [f["image"] for f in fields], "truth": os.path.join(a.outdir, "truth.json"), "cell_arcsec": cell_deg * 3600, "sources": len(sources)}))


if __name__ == "__main__":
    main()
