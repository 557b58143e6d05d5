"""Writes FITS files that `contimg sources` must refuse. Usage: write_bad_fits.py DIR
DIR/nowcs.fits (an image without celestial axes), DIR/empty.fits (all zeros, with a WCS and beam),
DIR/nobeam.fits (noise with a WCS but no BMAJ/BMIN), DIR/cube.fits (16 frequency planes)."""
import os
import sys

import numpy as np
from astropy.io import fits

d = sys.argv[1]
rng = np.random.default_rng(1)


def header(naxis3=1):
    h = fits.Header()
    for k, v in [("CTYPE1", "RA---SIN"), ("CRVAL1", 10.0), ("CDELT1", -1 / 720), ("CRPIX1", 33.0),
                 ("CTYPE2", "DEC--SIN"), ("CRVAL2", 40.0), ("CDELT2", 1 / 720), ("CRPIX2", 33.0),
                 ("CTYPE3", "FREQ"), ("CRVAL3", 1.4e9), ("CDELT3", 1e6), ("CRPIX3", 1.0)]:
        h[k] = v
    h["BMAJ"], h["BMIN"], h["BPA"] = 20 / 3600, 15 / 3600, 0.0
    return h


fits.PrimaryHDU(rng.standard_normal((64, 64)).astype(np.float32)).writeto(os.path.join(d, "nowcs.fits"), overwrite=True)
fits.PrimaryHDU(np.zeros((1, 64, 64), np.float32), header=header()).writeto(os.path.join(d, "empty.fits"), overwrite=True)
h = header()
del h["BMAJ"], h["BMIN"], h["BPA"]
fits.PrimaryHDU(rng.standard_normal((1, 64, 64)).astype(np.float32), header=h).writeto(os.path.join(d, "nobeam.fits"), overwrite=True)
fits.PrimaryHDU(rng.standard_normal((16, 64, 64)).astype(np.float32), header=header()).writeto(os.path.join(d, "cube.fits"), overwrite=True)
print("{}")
