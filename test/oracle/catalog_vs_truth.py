"""Scores a source catalogue against a known sky, with astropy doing the matching.

Usage: catalog_vs_truth.py CATALOG.csv TRUTH.json [--snr 10] [--radius-beams 0.5]
                           [--columns contimg|aegean] [--rms JY]

Truth sources whose peak is above SNR × rms (the truth file's rms_jy unless --rms) are
matched to the nearest catalogue component within RADIUS beams (geometric mean FWHM).
Prints JSON: completeness, reliability (components within one beam of a truth source, over all
components), the median and scatter of the flux ratio (peak for point sources, integrated for
extended ones), position offsets in beams (median, rms, max), and for extended sources the
deconvolved major axis against the truth (those above --size-snr).
"""
import argparse
import csv
import json
import sys

import numpy as np
from astropy.coordinates import SkyCoord
import astropy.units as u

COLUMNS = {
    "contimg": dict(ra="ra_deg", dec="dec_deg", peak="peak_jy", int="int_jy", maj="deconv_maj_arcsec"),
    # Aegean's table: fluxes in Jy, a/b the fitted FWHM (arcsec), no deconvolved size.
    "aegean": dict(ra="ra", dec="dec", peak="peak_flux", int="int_flux", maj=None),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("catalog")
    ap.add_argument("truth")
    ap.add_argument("--snr", type=float, default=10.0)
    ap.add_argument("--radius-beams", type=float, default=0.5)
    ap.add_argument("--columns", choices=list(COLUMNS), default="contimg")
    ap.add_argument("--rms", type=float)
    ap.add_argument("--intrinsic", action="store_true", help="compare with flux_jy (a primary-beam-corrected catalogue), not apparent_flux_jy")
    ap.add_argument("--beam-arcsec", type=float, help="geometric-mean beam FWHM (default: the truth file's, else the footprint image's BMAJ/BMIN)")
    ap.add_argument("--size-snr", type=float, default=30.0, help="compare sizes of extended sources above this peak S/N only")
    ap.add_argument("--footprint", help="score only truth sources inside the central 90%% of this FITS image")
    a = ap.parse_args()
    col = COLUMNS[a.columns]
    rows = list(csv.DictReader(open(a.catalog)))
    truth = json.load(open(a.truth))
    rms = a.rms if a.rms is not None else truth["rms_jy"]
    if a.beam_arcsec:
        beam = a.beam_arcsec
    elif "beam_arcsec" in truth:
        beam = float(np.sqrt(truth["beam_arcsec"][0] * truth["beam_arcsec"][1]))
    else:
        from astropy.io import fits
        h = fits.getheader(a.footprint)
        beam = float(np.sqrt(h["BMAJ"] * h["BMIN"])) * 3600
    ts = truth["sources"]
    if a.footprint:
        from astropy.io import fits
        from astropy.wcs import WCS
        with fits.open(a.footprint) as hdul:
            h = hdul[0].header
            data = hdul[0].data.squeeze()
        w = WCS(h).celestial
        nx, ny = h["NAXIS1"], h["NAXIS2"]
        xy = w.all_world2pix([[s["ra_deg"], s["dec_deg"]] for s in ts], 0)
        # Inside the central 90% and on a finite pixel (a mosaic is blank beyond its beams).
        ts = [s for s, (x, y) in zip(ts, xy)
              if abs(x - nx / 2) < 0.45 * nx and abs(y - ny / 2) < 0.45 * ny and np.isfinite(data[int(round(y)), int(round(x))])]
    def truth_peak(s):
        return s["flux_jy"] if a.intrinsic else s.get("peak_jy", s["apparent_flux_jy"])
    tpeak = np.array([truth_peak(s) for s in ts])
    tc = SkyCoord([s["ra_deg"] for s in ts] * u.deg, [s["dec_deg"] for s in ts] * u.deg)
    out = {"components": len(rows), "beam_arcsec": beam}
    if not rows:
        out.update(completeness=0.0, reliability=0.0, matched=0, bright=int(np.sum(tpeak >= a.snr * rms)))
        json.dump(out, sys.stdout)
        return
    cc = SkyCoord([float(r[col["ra"]]) for r in rows] * u.deg, [float(r[col["dec"]]) for r in rows] * u.deg)
    peak = np.array([float(r[col["peak"]]) for r in rows])
    integ = np.array([float(r[col["int"]]) for r in rows])

    bright = np.where(tpeak >= a.snr * rms)[0]
    idx, sep, _ = tc[bright].match_to_catalog_sky(cc)
    sep_beams = sep.arcsec / beam
    ok = sep_beams <= a.radius_beams
    ratios, offsets, size_ratios = [], [], []
    for t, i, good, s in zip(bright, idx, ok, sep_beams):
        if not good:
            continue
        src = ts[t]
        extended = src.get("maj_arcsec", 0) > 0
        ratios.append(integ[i] / src["flux_jy"] if extended else peak[i] / truth_peak(src))
        offsets.append(s)
        # Below ~20σ a finder keeps the beam's shape; sizes are compared where they are measured.
        if extended and col["maj"] and tpeak[t] >= a.size_snr * rms:
            size_ratios.append(float(rows[i][col["maj"]]) / src["maj_arcsec"])
    # Reliability: a component is real if some truth source lies within a beam of it.
    _, csep, _ = cc.match_to_catalog_sky(tc)
    real = csep.arcsec / beam <= 1.0
    ratios, offsets = np.array(ratios), np.array(offsets)
    out.update(
        bright=int(len(bright)),
        matched=int(ok.sum()),
        completeness=float(ok.mean()) if len(bright) else 1.0,
        reliability=float(real.mean()),
        spurious=int((~real).sum()),
        flux_ratio_median=float(np.median(ratios)) if len(ratios) else None,
        flux_ratio_scatter=float(1.4826 * np.median(np.abs(ratios - np.median(ratios)))) if len(ratios) else None,
        offset_beams_median=float(np.median(offsets)) if len(offsets) else None,
        offset_beams_rms=float(np.sqrt(np.mean(offsets**2))) if len(offsets) else None,
        offset_beams_max=float(offsets.max()) if len(offsets) else None,
        extended_size_ratio_median=float(np.median(size_ratios)) if size_ratios else None,
        missed=[ts[t]["name"] for t, good in zip(bright, ok) if not good],
    )
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
