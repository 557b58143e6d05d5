"""Oracle for ts/layout/calibrators.ts: astropy's sidereal time and apparent places.

Reads a JSON request on stdin, prints JSON. UT1 is taken as UTC on both sides (as contimg does
for this purpose), so the comparison measures the formulas, not the Earth-orientation tables.
"""
import json
import sys
import warnings

import numpy as np
from astropy import units as u
from astropy.coordinates import TETE, SkyCoord
from astropy.time import Time
from astropy.utils import iers

iers.conf.auto_download = False
warnings.simplefilter("ignore")

LON = -118.283405 * u.deg


def times(mjds):
    t = Time(np.asarray(mjds, dtype=float), format="mjd", scale="utc")
    t.delta_ut1_utc = np.zeros(len(mjds))
    return t


def main():
    req = json.load(sys.stdin)
    out = {}
    if "lst_mjds" in req:
        t = times(req["lst_mjds"])
        out["last_deg"] = t.sidereal_time("apparent", longitude=LON, model="IAU2006A").deg.tolist()
    if "apparent" in req:
        a = req["apparent"]
        t = times([a["mjd"]])
        c = SkyCoord(a["ra_deg"] * u.deg, a["dec_deg"] * u.deg, frame="icrs").transform_to(TETE(obstime=t[0]))
        out["apparent"] = {"ra_deg": float(c.ra.deg), "dec_deg": float(c.dec.deg)}
    if "closest" in req:
        res = []
        for q in req["closest"]:
            grid = np.linspace(q["start_mjd"], q["end_mjd"], 721)
            t = times(grid)
            src = SkyCoord(q["ra_deg"] * u.deg, q["dec_deg"] * u.deg, frame="icrs").transform_to(TETE(obstime=t))
            last = t.sidereal_time("apparent", longitude=LON, model="IAU2006A").rad
            beam = SkyCoord(last * u.rad, np.full(len(grid), q["pointing_dec_deg"]) * u.deg, frame=TETE(obstime=t))
            sep = src.separation(beam).deg
            i = int(np.argmin(sep))
            res.append({"min_sep_deg": float(sep[i]), "at_mjd": float(grid[i])})
        out["closest"] = res
    if "transit" in req:
        # When does the source cross the meridian (HA = 0) on the given day?
        q = req["transit"]
        grid = np.linspace(q["day_mjd"], q["day_mjd"] + 1, 86401)
        t = times(grid)
        src = SkyCoord(q["ra_deg"] * u.deg, q["dec_deg"] * u.deg, frame="icrs").transform_to(TETE(obstime=times([q["day_mjd"] + 0.5])[0]))
        ha = (t.sidereal_time("apparent", longitude=LON, model="IAU2006A").deg - src.ra.deg + 180) % 360 - 180
        i = int(np.argmin(np.abs(ha)))
        out["transit_mjd"] = float(grid[i])
        out["apparent_dec_deg"] = float(src.dec.deg)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
