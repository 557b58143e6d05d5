"""The main lobe of PSF images: the pixels above half the peak connected to it.

Usage: psf_lobe.py PSF.fits…   Prints JSON, one entry per file: the pixel count of the lobe, its
extent along the image rows and columns (pixels), the pixel size (arcsec) and the restoring beam
the header records (BMAJ/BMIN in arcsec, when present).
"""
import json
import sys

import numpy as np
from astropy.io import fits
from scipy import ndimage


def lobe(path):
    h = fits.getheader(path)
    d = np.squeeze(fits.getdata(path)).astype(float)
    peak = np.unravel_index(np.argmax(d), d.shape)
    d = d / d[peak]
    labels, _ = ndimage.label(d > 0.5)
    m = labels == labels[peak]
    ys, xs = np.nonzero(m)
    out = {
        "pixels": int(m.sum()),
        "extent_x": int(xs.max() - xs.min() + 1),
        "extent_y": int(ys.max() - ys.min() + 1),
        "cell_arcsec": abs(h["CDELT2"]) * 3600,
        "peak_offset": [int(peak[1] - d.shape[1] // 2), int(peak[0] - d.shape[0] // 2)],
    }
    if "BMAJ" in h:
        out["bmaj_arcsec"] = h["BMAJ"] * 3600
        out["bmin_arcsec"] = h["BMIN"] * 3600
    return out


print(json.dumps([lobe(p) for p in sys.argv[1:]]))
