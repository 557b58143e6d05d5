#!/usr/bin/env python3
"""Turns the VLA calibrator manual's source list into data/calibrators.csv.

Usage: scripts/make-calibrators.py VLACALIBRATORS_TXT > data/calibrators.csv

The input is the text listing of the VLA calibrator manual as the DSA-110 calibration package
ships it (dsa110/dsa110-calib, dsacalib/data/vlacalibrators.txt). Each entry is a J2000 line
(IAU name, equinox, position code, RA, Dec, position reference, alternative name), a B1950
line, and a table of bands with a flux density per band. We keep the entries with a 20 cm
(L band) flux density of at least MIN_FLUX_JY and a declination in [DEC_MIN_DEG, DEC_MAX_DEG];
the spectral index comes from the 20 cm and 6 cm (C band) flux densities when both are given.
Standard library only, so it runs anywhere.
"""
import math
import re
import sys

MIN_FLUX_JY = 1.0
DEC_MIN_DEG, DEC_MAX_DEG = -40.0, 90.0
NU_L_HZ, NU_C_HZ = 1.4e9, 4.86e9
# Tokens after the position that are not source names: position references (survey or date).
NOT_NAMES = {"JVAS", "CJ1", "CJ2", "VERA", "GVAR", "USNO", "VSOP", "AW574"}
DATE = re.compile(r"^[A-Z][a-z]{2}\d{2}$")

J2000 = re.compile(r"^(\d{4}[+-]\d{3})\s+J2000\s+(\S)\s+(\d+)h(\d+)m([\d.]+)s\s+([+-]?)(\d+)d(\d+)'([\d.]+)\"\s*(.*)$")
BAND = re.compile(r"^\s*([\d.]+cm)\s+([A-Z])\s+(?:[A-Z?]\s+){4}([\d.]+)")


def j_name(ra_deg: float, dec_deg: float) -> str:
    """The usual J2000 name hhmm±ddmm, truncated (3C286 = J1331+3030)."""
    ra_min = int(ra_deg / 15 * 60 + 1e-9)
    sign = "-" if dec_deg < 0 else "+"
    dec_min = int(abs(dec_deg) * 60 + 1e-9)
    return f"J{ra_min // 60:02d}{ra_min % 60:02d}{sign}{dec_min // 60:02d}{dec_min % 60:02d}"


def parse(text: str):
    entries = []
    cur = None
    for line in text.splitlines():
        m = J2000.match(line)
        if m:
            iau, _code, rh, rm, rs, sgn, dd, dm, ds, rest = m.groups()
            ra = (int(rh) + int(rm) / 60 + float(rs) / 3600) * 15
            dec = (int(dd) + int(dm) / 60 + float(ds) / 3600) * (-1 if sgn == "-" else 1)
            alt = [t for t in rest.split() if t not in NOT_NAMES and not DATE.match(t)]
            cur = {"iau": iau, "ra": ra, "dec": dec, "alt": alt[0] if alt else None, "flux": {}}
            entries.append(cur)
            continue
        b = BAND.match(line)
        if b and cur is not None:
            band, letter, flux = b.groups()
            cur["flux"].setdefault(letter, float(flux))
    return entries


def main() -> None:
    src = sys.argv[1]
    entries = parse(open(src, encoding="utf-8", errors="replace").read())
    rows = []
    for e in entries:
        s_l = e["flux"].get("L")
        if s_l is None or s_l < MIN_FLUX_JY or not (DEC_MIN_DEG <= e["dec"] <= DEC_MAX_DEG):
            continue
        s_c = e["flux"].get("C")
        alpha = f"{math.log(s_c / s_l) / math.log(NU_C_HZ / NU_L_HZ):.3f}" if s_c and s_c > 0 else ""
        name = e["alt"] or j_name(e["ra"], e["dec"])
        rows.append((name, e["ra"], e["dec"], s_l, alpha))
    names = [r[0] for r in rows]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        sys.exit(f"duplicate names: {sorted(dup)}")
    out = sys.stdout
    out.write(
        "# Calibrators for contimg: every source of the VLA calibrator manual with a 20 cm (L band)\n"
        f"# flux density of at least {MIN_FLUX_JY:g} Jy and a declination in [{DEC_MIN_DEG:g}, {DEC_MAX_DEG:g}] deg.\n"
        "# Source: the manual's source list as shipped by the DSA-110 calibration package,\n"
        "#   github.com/dsa110/dsa110-calib, dsacalib/data/vlacalibrators.txt\n"
        "#   (commit 5f6ae4d77da3ad58db5fc27d16a20b2447c8beba; file last changed in e3cbd7463e0783cab4e044a993bbe281f68f2a55),\n"
        "#   converted by scripts/make-calibrators.py.\n"
        "# name: the manual's alternative name where it gives one (3C286, 3C48, ...), else the J2000 name\n"
        "#   hhmm+ddmm from the position; `simulate --calibrator` also accepts that J name and the manual's\n"
        "#   IAU name (1331+305) for every entry.\n"
        "# ra_deg, dec_deg: J2000 (ICRS), degrees. flux_jy: the manual's 20 cm flux density, Jy, taken as\n"
        "#   the flux at 1.4 GHz (CALIBRATOR_REF_FREQ_HZ); several of these sources are variable.\n"
        "# spectral_index: alpha = ln(S_C / S_L) / ln(nu_C / nu_L), nu_L = 1.4 GHz, nu_C = 4.86 GHz, from the\n"
        "#   manual's 20 cm and 6 cm flux densities; empty where the manual gives no 6 cm flux (alpha = 0).\n"
        "name,ra_deg,dec_deg,flux_jy,spectral_index\n"
    )
    for name, ra, dec, s, alpha in rows:
        out.write(f"{name},{ra:.6f},{dec:.6f},{s:g},{alpha}\n")


if __name__ == "__main__":
    main()
