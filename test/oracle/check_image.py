"""Measures a contimg FITS image against simulated truth, with astropy reading the FITS/WCS.

Usage: check_image.py IMAGE.fits TRUTH.json [--inner FRACTION] [--snr 20]

For every truth source inside the inner part of the image (the central FRACTION of each axis)
whose apparent flux is above SNR × the residual's noise (the image's RMS card), it finds the
brightest pixel within two beams of the true position, refines it with a parabola through the
3×3 neighbourhood (position and value), and reports the offset in units of the restoring beam's FWHM (geometric
mean of BMAJ and BMIN) and the ratio of the peak to the apparent flux. Prints JSON.
"""
import argparse
import json
import sys

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
import astropy.units as u


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("image")
    ap.add_argument("truth")
    ap.add_argument("--inner", type=float, default=0.8)
    ap.add_argument("--snr", type=float, default=20.0)
    a = ap.parse_args()

    with fits.open(a.image) as hdul:
        h = hdul[0].header
        data = hdul[0].data
    w = WCS(h).celestial
    img = np.asarray(data[0, 0], dtype=np.float64)  # [y][x]
    ny, nx = img.shape
    rms = float(h["RMS"])
    beam_deg = float(np.sqrt(h["BMAJ"] * h["BMIN"]))
    cell_deg = abs(float(h["CDELT1"]))
    truth = json.load(open(a.truth))
    out = {
        "header": {k: h.get(k) for k in ["BUNIT", "BMAJ", "BMIN", "BPA", "CTYPE1", "CTYPE2", "CTYPE3", "CTYPE4", "CRVAL1", "CRVAL2", "RADESYS", "RMS"]},
        "wcs_naxis": w.pixel_n_dim,
        "rms_jy": rms,
        "beam_deg": beam_deg,
        "sources": [],
    }
    half = int(np.ceil(2 * beam_deg / cell_deg))
    for s in truth["sources"]:
        c = SkyCoord(s["ra_deg"] * u.deg, s["dec_deg"] * u.deg, frame="icrs")
        x, y = w.world_to_pixel(c)
        x, y = float(x), float(y)
        inner = abs(x - nx / 2) < a.inner * nx / 2 and abs(y - ny / 2) < a.inner * ny / 2
        rec = {"name": s["name"], "apparent_flux_jy": s["apparent_flux_jy"], "x": x, "y": y, "inner": bool(inner),
               "expected_snr": s["apparent_flux_jy"] / rms if rms > 0 else None}
        if inner:
            xi, yi = int(round(x)), int(round(y))
            box = img[max(0, yi - half):yi + half + 1, max(0, xi - half):xi + half + 1]
            j, i = np.unravel_index(np.argmax(box), box.shape)
            py, px = max(0, yi - half) + j, max(0, xi - half) + i
            # Parabolic refinement of the peak position.
            # The peak value too: a source between pixels peaks between them.
            dx = dy = 0.0
            peak = float(img[py, px])
            if 0 < px < nx - 1 and 0 < py < ny - 1:
                l, c0, r = img[py, px - 1], img[py, px], img[py, px + 1]
                den = l - 2 * c0 + r
                dx = 0.5 * (l - r) / den if den != 0 else 0.0
                d, c0, up = img[py - 1, px], img[py, px], img[py + 1, px]
                den = d - 2 * c0 + up
                dy = 0.5 * (d - up) / den if den != 0 else 0.0
                peak = float(c0 - 0.25 * (l - r) * dx - 0.25 * (d - up) * dy)
            pk = w.pixel_to_world(px + dx, py + dy)
            sep = pk.separation(c).deg
            rec.update({
                "peak_jy": peak,
                "peak_x": px + dx,
                "peak_y": py + dy,
                "offset_beams": sep / beam_deg,
                "flux_ratio": peak / s["apparent_flux_jy"],
            })
        out["sources"].append(rec)
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
