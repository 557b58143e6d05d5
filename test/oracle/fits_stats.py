"""Reads a contimg image set with astropy: PREFIX.{psf,model,residual}.fits. Prints JSON with
the PSF's centre value and maximum, the model's total flux, the units and the HISTORY.
With a second prefix, also the largest difference between the two restored images relative to
the first one's peak (`image_max_rel_diff`)."""
import json
import sys

import numpy as np
from astropy.io import fits

prefix = sys.argv[1]
with fits.open(prefix + ".psf.fits") as h:
    psf = h[0].data[0, 0]
    n = psf.shape[0]
    psf_centre = float(psf[n // 2, n // 2])
    psf_max = float(np.nanmax(psf))
with fits.open(prefix + ".model.fits") as h:
    model_sum = float(np.sum(h[0].data, dtype=np.float64))
    model_bunit = h[0].header["BUNIT"]
with fits.open(prefix + ".residual.fits") as h:
    residual_bunit = h[0].header["BUNIT"]
    history = [str(x) for x in h[0].header.get("HISTORY", [])]
out = {"psf_centre": psf_centre, "psf_max": psf_max, "model_sum": model_sum, "model_bunit": model_bunit,
       "residual_bunit": residual_bunit, "history": history}
if len(sys.argv) > 2:
    with fits.open(prefix + ".image.fits") as a, fits.open(sys.argv[2] + ".image.fits") as b:
        x = np.asarray(a[0].data, dtype=np.float64)
        y = np.asarray(b[0].data, dtype=np.float64)
        out["image_max_rel_diff"] = float(np.max(np.abs(x - y)) / np.max(np.abs(x)))
json.dump(out, sys.stdout)
