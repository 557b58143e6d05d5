"""Reference for `contimg mosaic`: the same primary-beam-weighted linear mosaic, computed with
astropy and reproject — each image Iᵢ and beam Bᵢ reprojected onto our mosaic's header with
`reproject_interp(order=ORDER)` (bicubic, the default, or bilinear: `--order`), σᵢ the MAD
noise of Iᵢ, and

    M = Σ Bᵢ·Iᵢ/σᵢ² / Σ Bᵢ²/σᵢ²   where Bᵢ ≥ cutoff (an input counts there), NaN where none does.

Compares with our mosaic and weight map and prints JSON figures: over every pixel both have,
and over the interior — pixels where every input that counts is sampled more than 2 of its
pixels from its edges and from any blank (NaN) pixel. There the two must agree exactly (but
for rounding); at the edges reproject's clipping is the same as ours, but next to a blank
scipy's spline prefilter spreads the NaN over the whole image, ours keeps it local.

usage: mosaic_reference.py MOSAIC.fits WEIGHT.fits PB_CUTOFF IMAGE.fits [IMAGE.fits …] [--order bicubic|bilinear]
(each IMAGE's beam is <prefix>.pb.fits beside it)
"""
import json
import sys
import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import pixel_to_pixel
from scipy.ndimage import binary_dilation
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
    args = sys.argv[1:]
    order = "bicubic"
    if "--order" in args:
        i = args.index("--order")
        order = args[i + 1]
        del args[i : i + 2]
    mosaic_path, weight_path, cutoff = args[0], args[1], float(args[2])
    images = args[3:]
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
    near_edge = np.zeros(shape, dtype=bool)
    yo, xo = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    for path in images:
        img, wcs = plane(path)
        pb, _ = plane(path.replace(".image.fits", ".pb.fits"))
        sigma = mad_sigma(img)
        sigmas.append(sigma)
        i_r, _ = reproject_interp((img, wcs), out_wcs, shape_out=shape, order=order)
        b_r, _ = reproject_interp((pb, wcs), out_wcs, shape_out=shape, order=order)
        use = np.isfinite(b_r) & np.isfinite(i_r) & (b_r >= cutoff)
        # Where this input counts within 2 of its pixels of its edges or of a blank.
        px, py = pixel_to_pixel(out_wcs, wcs, xo, yo)
        ny_in, nx_in = img.shape
        edge = ~((px >= 2) & (px <= nx_in - 3) & (py >= 2) & (py <= ny_in - 3))
        blank = binary_dilation(~(np.isfinite(img) & np.isfinite(pb)), np.ones((5, 5), bool))
        ix = np.clip(np.round(np.nan_to_num(px, nan=-1)), 0, nx_in - 1).astype(int)
        iy = np.clip(np.round(np.nan_to_num(py, nan=-1)), 0, ny_in - 1).astype(int)
        near_edge |= use & (edge | blank[iy, ix])
        num[use] += (b_r * i_r / sigma**2)[use]
        den[use] += (b_r**2 / sigma**2)[use]
    ref = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    ref_weight = np.where(den > 0, den, np.nan)
    both = np.isfinite(ref) & np.isfinite(ours)
    peak = float(np.nanmax(np.abs(ref)))
    diff = np.abs(ours - ref)[both]
    interior = both & ~near_edge
    idiff = np.abs(ours - ref)[interior]
    wdiff = np.abs(our_weight / ref_weight - 1)[both]
    print(json.dumps({
        "peak_jy": peak,
        "compared_pixels": int(both.sum()),
        "ref_only_pixels": int((np.isfinite(ref) & ~np.isfinite(ours)).sum()),
        "ours_only_pixels": int((~np.isfinite(ref) & np.isfinite(ours)).sum()),
        "max_abs_diff_over_peak": float(diff.max() / peak),
        "rms_diff_over_peak": float(np.sqrt(np.mean(diff**2)) / peak),
        "max_weight_rel_diff": float(wdiff.max()),
        "order": order,
        "interior_pixels": int(interior.sum()),
        "interior_max_abs_diff_over_peak": float(idiff.max() / peak),
        "interior_max_weight_rel_diff": float(np.abs(our_weight / ref_weight - 1)[interior].max()),
        "sigmas_jy": [float(s) for s in sigmas],
    }))


if __name__ == "__main__":
    main()
