"""Checks a mosaic of simulated images (mosaic_sim.py) against their truth: the integrated flux
of each truth source (a 2-D Gaussian fitted around its position), with the local effective
noise, and the noise map against the measured scatter of source-free pixels.

Each fitted source also gets its position offset from the truth, in arcsec and in beams (the
geometric mean of the FWHM axes). The beam is the truth's round `beam_fwhm_deg`, or with
`--beam-from IMAGE.fits` the restoring beam (BMAJ, BMIN, BPA) in that image's header: the
mosaic of contimg images, whose beam is elliptical, fitted with a rotated Gaussian.

usage: mosaic_truth.py MOSAIC.fits NOISE.fits truth.json [--beam-from IMAGE.fits]
"""
import json
import sys
import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy.optimize import curve_fit

warnings.filterwarnings("ignore")


def gauss(xy, amp, x0, y0, sx, sy):
    x, y = xy
    return amp * np.exp(-((x - x0) ** 2) / (2 * sx**2) - ((y - y0) ** 2) / (2 * sy**2))


def rotated_gauss(xy, amp, x0, y0, sa, sb, theta):
    x, y = xy
    c, s = np.cos(theta), np.sin(theta)
    u = (x - x0) * c + (y - y0) * s
    v = -(x - x0) * s + (y - y0) * c
    return amp * np.exp(-(u**2) / (2 * sa**2) - (v**2) / (2 * sb**2))


def beam_of(truth, beam_from):
    """(major σ, minor σ) in degrees and the major axis's angle from +x in pixels (radians)."""
    fwhm_to_sig = 1 / np.sqrt(8 * np.log(2))
    if beam_from is None:
        sig = truth["beam_fwhm_deg"] * fwhm_to_sig
        return sig, sig, None
    h = fits.getheader(beam_from)
    bpa = np.radians(h["BPA"])
    # BPA runs from north (+y) through east (−x on a sky image).
    return h["BMAJ"] * fwhm_to_sig, h["BMIN"] * fwhm_to_sig, float(np.arctan2(np.cos(bpa), -np.sin(bpa)))


def main():
    args = sys.argv[1:]
    beam_from = None
    if "--beam-from" in args:
        i = args.index("--beam-from")
        beam_from = args[i + 1]
        del args[i : i + 2]
    mosaic = fits.getdata(args[0]).astype(np.float64)
    noise = fits.getdata(args[1]).astype(np.float64)
    wcs = WCS(fits.getheader(args[0])).celestial
    truth = json.load(open(args[2]))
    cell_deg = abs(wcs.wcs.cdelt[1]) if wcs.wcs.has_cd() is False else abs(wcs.wcs.cd[1][1])
    maj_sig_deg, min_sig_deg, theta0 = beam_of(truth, beam_from)
    beam_sig_px = maj_sig_deg / cell_deg
    min_sig_px = min_sig_deg / cell_deg
    beam_fwhm_arcsec = np.sqrt(maj_sig_deg * min_sig_deg) * np.sqrt(8 * np.log(2)) * 3600
    ny, nx = mosaic.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    free = np.isfinite(mosaic) & np.isfinite(noise)
    results = []
    r = int(np.ceil(4 * beam_sig_px))
    for s in truth["sources"]:
        x, y = wcs.world_to_pixel_values(s["ra_deg"], s["dec_deg"])
        x, y = float(x), float(y)
        free &= (xx - x) ** 2 + (yy - y) ** 2 > (8 * beam_sig_px) ** 2
        xi, yi = int(round(x)), int(round(y))
        ys, xs = slice(max(0, yi - r), min(ny, yi + r + 1)), slice(max(0, xi - r), min(nx, xi + r + 1))
        stamp = mosaic[ys, xs]
        local_noise = float(noise[min(max(yi, 0), ny - 1), min(max(xi, 0), nx - 1)])
        ok = np.isfinite(stamp)
        if ok.sum() < 20 or not np.isfinite(local_noise):
            results.append({**s, "measured_jy": None, "noise_jy": None, "snr": None})
            continue
        sy_, sx_ = np.mgrid[ys, xs]
        try:
            if theta0 is None:
                p0 = [float(np.nanmax(stamp)), x, y, beam_sig_px, beam_sig_px]
                p, _ = curve_fit(gauss, (sx_[ok], sy_[ok]), stamp[ok], p0=p0, maxfev=5000)
            else:
                p0 = [float(np.nanmax(stamp)), x, y, beam_sig_px, min_sig_px, theta0]
                p, _ = curve_fit(rotated_gauss, (sx_[ok], sy_[ok]), stamp[ok], p0=p0, maxfev=5000)
        except RuntimeError:
            # No fit (a source lost in the noise): reported as unmeasured, never as a number.
            results.append({**s, "measured_jy": None, "noise_jy": local_noise, "snr": s["flux_jy"] / local_noise})
            continue
        integrated = p[0] * abs(p[3] * p[4]) / (beam_sig_px * min_sig_px)
        ra, dec = wcs.pixel_to_world_values(p[1], p[2])
        d_ra = (float(ra) - s["ra_deg"] + 180) % 360 - 180
        offset_arcsec = float(np.hypot(d_ra * np.cos(np.radians(s["dec_deg"])), float(dec) - s["dec_deg"]) * 3600)
        results.append({**s, "measured_jy": float(integrated), "peak_fit_jy": float(p[0]), "noise_jy": local_noise,
                        "snr": s["flux_jy"] / local_noise, "rel_err": float(integrated / s["flux_jy"] - 1),
                        "offset_arcsec": offset_arcsec, "offset_beam": offset_arcsec / beam_fwhm_arcsec})
    z = mosaic[free] / noise[free]
    nz = noise[free]
    edges = np.quantile(nz, [0, 1 / 3, 2 / 3, 1])
    bins = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (nz >= lo) & (nz <= hi)
        bins.append({"noise_lo_jy": float(lo), "noise_hi_jy": float(hi), "pixels": int(sel.sum()),
                     "measured_over_map": float(np.std(z[sel]))})
    print(json.dumps({"sources": results, "noise_free_pixels": int(free.sum()),
                      "noise_measured_over_map": float(np.std(z)), "noise_bins": bins}))


if __name__ == "__main__":
    main()
