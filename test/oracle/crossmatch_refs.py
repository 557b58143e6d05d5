"""Reference catalogues for testing contimg crossmatch, and astropy's matching to compare with.

Usage:
  crossmatch_refs.py write TRUTH.json OUTDIR   # the truth as NVSS-like FITS, FIRST-like CSV,
                                               # RACS-like VOTable, and a copy with fluxes × 1.5
  crossmatch_refs.py pairs OURS.csv TRUTH.json RADIUS_ARCSEC
                                               # (truth name, our id) of nearest neighbours within
                                               # the radius, both ways (match_to_catalog_sky)
Prints JSON.
"""
import json
import os
import sys

import numpy as np
import astropy.units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table


def truth_table(path):
    src = json.load(open(path))["sources"]
    return src, np.array([s["ra_deg"] for s in src]), np.array([s["dec_deg"] for s in src]), np.array([s["apparent_flux_jy"] for s in src])


def write(truth, out):
    os.makedirs(out, exist_ok=True)
    src, ra, dec, flux = truth_table(truth)
    names = [s["name"] for s in src]
    t = Table()
    t["NVSS"] = names
    t["RAJ2000"] = ra * u.deg
    t["DEJ2000"] = dec * u.deg
    t["S1.4"] = flux * 1e3 * u.mJy
    t.write(os.path.join(out, "nvss.fits"), overwrite=True)

    c = SkyCoord(ra * u.deg, dec * u.deg)
    first = Table()
    first["RA"] = c.ra.to_string(unit=u.hourangle, sep=":", precision=5, pad=True)
    first["DEC"] = c.dec.to_string(unit=u.deg, sep=":", precision=4, alwayssign=True, pad=True)
    first["Fint"] = flux * 1e3
    first["Fpeak"] = flux * 1e3
    first.write(os.path.join(out, "first.csv"), format="csv", overwrite=True)

    racs = Table()
    racs["source_name"] = names
    racs["ra"] = ra * u.deg
    racs["dec"] = dec * u.deg
    racs["total_flux_source"] = flux * 1e3 * u.mJy
    racs["peak_flux"] = flux * 1e3 * u.mJy / u.beam
    racs.write(os.path.join(out, "racs.vot"), format="votable", overwrite=True)

    doc = json.load(open(truth))
    for s in doc["sources"]:
        for k in ("flux_jy", "apparent_flux_jy", "peak_jy"):
            s[k] *= 1.5
    json.dump(doc, open(os.path.join(out, "scaled.truth.json"), "w"))
    json.dump({k: os.path.join(out, f) for k, f in [("fits", "nvss.fits"), ("csv", "first.csv"), ("votable", "racs.vot"), ("scaled", "scaled.truth.json")]}, sys.stdout)


def pairs(ours_csv, truth, radius):
    ours = Table.read(ours_csv, format="csv")
    src, ra, dec, _ = truth_table(truth)
    t = SkyCoord(ra * u.deg, dec * u.deg)
    o = SkyCoord(np.asarray(ours["ra_deg"]) * u.deg, np.asarray(ours["dec_deg"]) * u.deg)
    found = set()
    idx, sep, _ = t.match_to_catalog_sky(o)
    for i, (j, s) in enumerate(zip(idx, sep.arcsec)):
        if s <= radius:
            found.add((src[i]["name"], str(ours["id"][j])))
    idx, sep, _ = o.match_to_catalog_sky(t)
    for j, (i, s) in enumerate(zip(idx, sep.arcsec)):
        if s <= radius:
            found.add((src[i]["name"], str(ours["id"][j])))
    json.dump(sorted(found), sys.stdout)


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3])
    else:
        pairs(sys.argv[2], sys.argv[3], float(sys.argv[4]))
