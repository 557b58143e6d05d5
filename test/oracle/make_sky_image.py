"""Writes a restored-image-like FITS file with a known sky, for testing source finders.

Usage: make_sky_image.py OUT_PREFIX [--size 1024] [--cell-arcsec 5] [--sources 150]
                         [--extended 10] [--rms 1e-3] [--seed 1]

Writes OUT_PREFIX.image.fits (4 axes RA---SIN, DEC--SIN, FREQ, STOKES like contimg's imager,
BMAJ/BMIN/BPA, Jy/beam) and OUT_PREFIX.truth.json. The image is the sky convolved with an
elliptical Gaussian restoring beam, plus Gaussian noise correlated on the beam's scale as a
synthesis image's is, scaled to --rms. Point sources sit on a jittered grid (no blends) with
peak S/N log-uniform from 5 to 500; --extended of them are Gaussians of 10–30″ FWHM.
Everything is written by astropy, so the file is foreign to contimg's own FITS code.
"""
import argparse
import json
import os
import sys

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

FWHM = 2 * np.sqrt(2 * np.log(2))


def covariance(maj, mnr, pa_deg):
    """Second moments (FWHM² units) in (east, north) of a Gaussian with PA east of north."""
    pa = np.radians(pa_deg)
    d = np.array([np.sin(pa), np.cos(pa)])
    e = np.array([np.cos(pa), -np.sin(pa)])
    return maj**2 * np.outer(d, d) + mnr**2 * np.outer(e, e)


def gaussian_on_grid(cov_fwhm2_px, x0, y0, xs, ys):
    """exp(-½ rᵀ Σ⁻¹ r) with Σ = cov/(8 ln 2), on pixel offsets where +x is west (RA left)."""
    sigma = cov_fwhm2_px / FWHM**2
    inv = np.linalg.inv(sigma)
    # Pixel x grows to the west, so east = -(x - x0); north = y - y0.
    de, dn = -(xs - x0), ys - y0
    q = inv[0, 0] * de * de + 2 * inv[0, 1] * de * dn + inv[1, 1] * dn * dn
    return np.exp(-0.5 * q)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--cell-arcsec", type=float, default=5.0)
    ap.add_argument("--sources", type=int, default=150)
    ap.add_argument("--extended", type=int, default=10)
    ap.add_argument("--rms", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n, cell = a.size, a.cell_arcsec
    bmaj, bmin, bpa = 28.4, 14.6, -89.5  # arcsec, arcsec, deg: a DSA-110 beam near dec 55

    h = fits.Header()
    h["NAXIS"] = 4
    for k, v in [("CTYPE1", "RA---SIN"), ("CRVAL1", 253.0), ("CDELT1", -cell / 3600), ("CRPIX1", n / 2 + 1), ("CUNIT1", "deg"),
                 ("CTYPE2", "DEC--SIN"), ("CRVAL2", 54.6), ("CDELT2", cell / 3600), ("CRPIX2", n / 2 + 1), ("CUNIT2", "deg"),
                 ("CTYPE3", "FREQ"), ("CRVAL3", 1.405e9), ("CDELT3", 1.875e8), ("CRPIX3", 1.0), ("CUNIT3", "Hz"),
                 ("CTYPE4", "STOKES"), ("CRVAL4", 1.0), ("CDELT4", 1.0), ("CRPIX4", 1.0)]:
        h[k] = v
    h["RADESYS"] = "ICRS"
    h["EQUINOX"] = 2000.0
    w = WCS(h).celestial

    beam_cov_px = covariance(bmaj / cell, bmin / cell, bpa)
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float64)

    # Correlated noise: white noise convolved with the beam (FFT, periodic), scaled to rms.
    white = rng.standard_normal((n, n))
    kern = gaussian_on_grid(beam_cov_px, n / 2, n / 2, xs, ys)
    noise = np.real(np.fft.ifft2(np.fft.fft2(white) * np.fft.fft2(np.fft.ifftshift(kern))))
    img = noise / noise.std() * a.rms

    # Sources on a jittered grid with margins of 8 beams from the edges.
    margin = int(8 * bmaj / cell)
    k = int(np.ceil(np.sqrt(a.sources)))
    step = (n - 2 * margin) / k
    cells = rng.permutation(k * k)[: a.sources]
    truth = []
    for i, c in enumerate(cells):
        x = margin + (c % k + 0.5 + rng.uniform(-0.3, 0.3)) * step
        y = margin + (c // k + 0.5 + rng.uniform(-0.3, 0.3)) * step
        snr = np.exp(rng.uniform(np.log(5), np.log(500)))
        flux = snr * a.rms
        if i < a.extended:
            smaj = rng.uniform(10, 30)
            smin = rng.uniform(0.4, 1.0) * smaj
            spa = rng.uniform(0, 180)
        else:
            smaj = smin = spa = 0.0
        cov = beam_cov_px + covariance(smaj / cell, smin / cell, spa)
        # Peak (Jy/beam) of a source of integrated flux `flux`: its area grows by the ratio of
        # the determinants' square roots.
        peak = flux * np.sqrt(np.linalg.det(beam_cov_px) / np.linalg.det(cov))
        r = int(5 * np.sqrt(np.max(np.linalg.eigvalsh(cov))) / FWHM) + 2
        x0, x1, y0, y1 = int(x) - r, int(x) + r + 1, int(y) - r, int(y) + r + 1
        img[y0:y1, x0:x1] += peak * gaussian_on_grid(cov, x, y, xs[y0:y1, x0:x1], ys[y0:y1, x0:x1])
        ra, dec = w.pixel_to_world_values(x, y)
        truth.append({"name": f"T{i:04d}", "ra_deg": float(ra), "dec_deg": float(dec), "flux_jy": float(flux),
                      "apparent_flux_jy": float(flux), "peak_jy": float(peak), "maj_arcsec": smaj, "min_arcsec": smin,
                      "pa_deg": spa, "x": float(x), "y": float(y)})

    h["BMAJ"], h["BMIN"], h["BPA"] = bmaj / 3600, bmin / 3600, bpa
    h["BUNIT"] = "Jy/beam"
    h["RMS"] = a.rms
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    fits.PrimaryHDU(img[None, None].astype(np.float32), header=h).writeto(a.out + ".image.fits", overwrite=True)
    json.dump({"rms_jy": a.rms, "beam_arcsec": [bmaj, bmin, bpa], "cell_arcsec": cell, "sources": truth},
              open(a.out + ".truth.json", "w"), indent=1)
    json.dump({"image": a.out + ".image.fits", "truth": a.out + ".truth.json", "sources": len(truth)}, sys.stdout)


if __name__ == "__main__":
    main()
