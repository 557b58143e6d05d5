"""The PSF CASA 6.7's tclean makes of a Measurement Set (niter 0, gridder standard, mfs).

Usage: casa_psf.py MS OUT_PREFIX SIZE CELL_ARCSEC WEIGHTING ROBUST [--cross-only]
Writes OUT_PREFIX.psf.fits (exportfits) and prints its path as JSON. tclean grids every unflagged
row, autocorrelations included; --cross-only selects the cross-correlations (antenna='*&').
"""
import json
import shutil
import sys

import casa_env

casa_env.setup()

ms, prefix, size, cell, weighting, robust = sys.argv[1:7]
cross_only = "--cross-only" in sys.argv[7:]
with casa_env.quiet_stdout():
    from casatasks import exportfits, tclean

    for ext in (".psf", ".image", ".residual", ".model", ".pb", ".sumwt"):
        shutil.rmtree(prefix + ext, ignore_errors=True)
    tclean(
        vis=ms,
        imagename=prefix,
        imsize=int(size),
        cell=f"{cell}arcsec",
        niter=0,
        specmode="mfs",
        gridder="standard",
        weighting=weighting,
        robust=float(robust),
        antenna="*&" if cross_only else "",
    )
    exportfits(imagename=prefix + ".psf", fitsimage=prefix + ".psf.fits", overwrite=True)
print(json.dumps(prefix + ".psf.fits"))
