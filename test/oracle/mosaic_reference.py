"""Reference for `contimg mosaic`: the same primary-beam-weighted linear mosaic, computed with
astropy and reproject — each image Iᵢ and beam Bᵢ reprojected onto our mosaic's header with
`reproject_interp(order='bilinear')`, σᵢ the MAD noise of Iᵢ, and

    M = Σ Bᵢ·Iᵢ/σᵢ² / Σ Bᵢ²/σᵢ²   where Bᵢ ≥ cutoff (an input counts there), NaN where none does.

Compares with our mosaic and weight map and prints JSON figures.

usage: mosaic_reference.py MOSAIC.fits WEIGHT.fits PB_CUTOFF IMAGE.fits [IMAGE.fits …]
(each IMAGE's beam is <prefix>.pb.fits beside it)
"""
import json
import sys
import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from reproject import reproject_interp

warnings.filterwarnings("ignore")


def plane(path):
    with fits.open(path) as h:
        data = np.asarray(h[0].data, dtype=np.float64)
        hdr = h[0].header
    while data.ndim > 2:
        data = data[0]
    return data, WCS(hdr).celestial


def mad_sigma(x):
    x = x[np.isfinite(x)]
    med = np.median(x)
    return 1.4826 * np.median(np.abs(x - med))


def main():
    mosaic_path, weight_path, cutoff = sys.argv[1], sys.argv[2], float(sys.argv[3])
    images = sys.argv[4:]
    with fits.open(mosaic_path) as h:
        ours = np.asarray(h[0].data, dtype=np.float64)
        out_header = h[0].header
    with fits.open(weight_path) as h:
        our_weight = np.asarray(h[0].data, dtype=np.float64)
    out_wcs = WCS(out_header).celestial
    shape = ours.shape
    num = np.zeros(shape)
    den = np.zeros(shape)
    sigmas = []
    for path in images:
        img, wcs = plane(path)
        pb, _ = plane(path.replace(".image.fits", ".pb.fits"))
        sigma = mad_sigma(img)
        sigmas.append(sigma)
        i_r, _ = reproject_interp((img, wcs), out_wcs, shape_out=shape, order="bilinear")
        b_r, _ = reproject_interp((pb, wcs), out_wcs, shape_out=shape, order="bilinear")
        use = np.isfinite(b_r) & np.isfinite(i_r) & (b_r >= cutoff)
        num[use] += (b_r * i_r / sigma**2)[use]
        den[use] += (b_r**2 / sigma**2)[use]
    ref = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    ref_weight = np.where(den > 0, den, np.nan)
    both = np.isfinite(ref) & np.isfinite(ours)
    peak = float(np.nanmax(np.abs(ref)))
    diff = np.abs(ours - ref)[both]
    wdiff = np.abs(our_weight / ref_weight - 1)[both]
    print(json.dumps({
        "peak_jy": peak,
        "compared_pixels": int(both.sum()),
        "ref_only_pixels": int((np.isfinite(ref) & ~np.isfinite(ours)).sum()),
        "ours_only_pixels": int((~np.isfinite(ref) & np.isfinite(ours)).sum()),
        "max_abs_diff_over_peak": float(diff.max() / peak),
        "rms_diff_over_peak": float(np.sqrt(np.mean(diff**2)) / peak),
        "max_weight_rel_diff": float(wdiff.max()),
        "sigmas_jy": [float(s) for s in sigmas],
    }))


if __name__ == "__main__":
    main()
