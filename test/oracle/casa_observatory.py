"""Where CASA 6.7, pyuvdata and a FITS header place the array of a Measurement Set.

Usage: casa_observatory.py MS WORKDIR [OUR_IMAGE.fits]

Prints JSON: the observatory name and position CASA uses (msmd), the largest antenna offsets
from it reported by `listobs` and by `msmd.antennaoffset`, OBSGEO-X/Y/Z of a `tclean` image
exported with `exportfits`, pyuvdata's telescope location, OBSGEO of our own image, each as a
distance (m) from the DSA-110 array centre, and the array's diameter (longest distance between
two unflagged antennas) for scale.
"""
import json
import os
import re
import sys

import casa_env

casa_env.setup()

import numpy as np  # noqa: E402
from astropy.coordinates import EarthLocation  # noqa: E402
from astropy.io import fits  # noqa: E402
import astropy.units as u  # noqa: E402

# The DSA-110 site as the correlator writes it in every UVH5 header (crates/dsa110).
SITE = EarthLocation.from_geodetic(-118.283405 * u.deg, 37.233387 * u.deg, 1188.05 * u.m)
SITE_XYZ = np.array([c.to_value(u.m) for c in SITE.to_geocentric()])


def dist(xyz):
    return float(np.linalg.norm(np.asarray(xyz, float) - SITE_XYZ))


def obsgeo(path):
    h = fits.getheader(path)
    if "OBSGEO-X" not in h:
        return None
    return [h["OBSGEO-X"], h["OBSGEO-Y"], h["OBSGEO-Z"]]


ms, work = sys.argv[1], sys.argv[2]
ours = sys.argv[3] if len(sys.argv) > 3 else None
out = {}
with casa_env.quiet_stdout():
    from casatasks import exportfits, listobs, tclean
    from casatools import measures, msmetadata, table

    tb = table()
    tb.open(os.path.join(ms, "ANTENNA"))
    pos = tb.getcol("POSITION").T
    used = ~tb.getcol("FLAG_ROW")
    tb.close()
    p = pos[used]
    out["array_diameter_m"] = float(max(np.linalg.norm(p - q, axis=1).max() for q in p))

    md = msmetadata()
    md.open(ms)
    out["casa_observatory"] = md.observatorynames()[0]
    me = measures()
    itrf = me.measure(md.observatoryposition(), "ITRF")
    lon, lat, r = itrf["m0"]["value"], itrf["m1"]["value"], itrf["m2"]["value"]
    xyz = r * np.array([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    out["casa_observatory_m"] = dist(xyz)
    offs = []
    for a in np.nonzero(used)[0]:
        o = md.antennaoffset(int(a))
        offs.append([o["longitude offset"]["value"], o["latitude offset"]["value"], o["elevation offset"]["value"]])
    md.close()
    offs = np.abs(np.array(offs))
    out["msmd_max_horizontal_offset_m"] = float(np.hypot(offs[:, 0], offs[:, 1]).max())
    out["msmd_max_elevation_offset_m"] = float(offs[:, 2].max())

    listfile = os.path.join(work, "listobs.txt")
    listobs(vis=ms, listfile=listfile, overwrite=True, verbose=True)
    rows = []
    for line in open(listfile):
        # ID Name Station Diam. Long. Lat. East North Elevation x y z
        m = re.match(r"\s*\d+\s+\S+\s+\S+\s+[\d.]+\s+m\s+\S+\s+\S+\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+\s+\S+\s+\S+\s*$", line)
        if m:
            rows.append([float(v) for v in m.groups()])
    rows = np.abs(np.array(rows))
    out["listobs_antennas"] = len(rows)
    out["listobs_max_horizontal_offset_m"] = float(np.hypot(rows[:, 0], rows[:, 1]).max())
    out["listobs_max_elevation_offset_m"] = float(rows[:, 2].max())

    im = os.path.join(work, "casa")
    tclean(vis=ms, imagename=im, imsize=64, cell="10arcsec", niter=0, specmode="mfs", weighting="natural")
    exportfits(imagename=im + ".image", fitsimage=im + ".image.fits", overwrite=True)
    g = obsgeo(im + ".image.fits")
    out["casa_exportfits_obsgeo_m"] = None if g is None else dist(g)

from pyuvdata import UVData  # noqa: E402

uv = UVData.from_file(ms, file_type="ms")
out["pyuvdata_telescope"] = uv.telescope.name
out["pyuvdata_location_m"] = dist(uv.telescope._location.xyz())
if ours:
    g = obsgeo(ours)
    out["ours_obsgeo_m"] = None if g is None else dist(g)
    out["ours_telescop"] = fits.getheader(ours).get("TELESCOP")
print(json.dumps(out))
